"""The node's side of the wire: three POSTs, each answer decoded or turned into a typed error.

The aiohttp session is injected (the worker owns it), so every request shares one connection pool.
"""

from __future__ import annotations

import email.utils
import time

import aiohttp
from google.protobuf.message import Message

from zkray.orchestrator.errors import NoTasks, OrchestratorHttpError, RateLimited
from zkray.orchestrator.keys import NodeKey
from zkray.orchestrator.signing import SIGNATURE_VERSION, proof_hash, sign_submission
from zkray.orchestrator.wire import CONTENT_TYPE, M, decode, pb

_MAX_DETAIL = 300  # characters of an error body kept in the exception message


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def submission_request(node_id: str, key: NodeKey, task_id: str, proof: bytes) -> pb.SubmitProofRequest:
    """The signed submission of `proof` for `task_id` (see `signing` for exactly what is signed)."""
    hash_hex = proof_hash(proof)
    return pb.SubmitProofRequest(
        task_id=task_id,
        node_id=node_id,
        node_type=pb.CLI_PROVER,
        proof=proof,
        proof_hash=hash_hex,
        signature=sign_submission(key.private, task_id, hash_hex),
        ed25519_public_key=key.public_bytes,
        signature_version=SIGNATURE_VERSION,
    )


class OrchestratorClient:
    """POSTs protobuf to one orchestrator; raises `OrchestratorHttpError` (status 0: no answer)."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def _post(self, path: str, message: Message, answer: type[M], *, tasks: bool = False) -> M:
        try:
            async with self.session.post(
                self.base_url + path,
                data=message.SerializeToString(),
                headers={"Content-Type": CONTENT_TYPE},
                timeout=self.timeout,
            ) as resp:
                body = await resp.read()
                if resp.status == 200:
                    return decode(answer, body)
                detail = body[:_MAX_DETAIL].decode("utf-8", "replace") or resp.reason or ""
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            raise OrchestratorHttpError(0, f"{type(e).__name__}: {e} ({self.base_url}{path})") from e
        if resp.status == 429:
            raise RateLimited(429, detail, retry_after)
        if resp.status == 404 and tasks:
            raise NoTasks(404, detail, retry_after)
        raise OrchestratorHttpError(resp.status, detail, retry_after)

    async def get_tasks(self, node_id: str, key: NodeKey, max_tasks: int) -> list[pb.Task]:
        """Up to `max_tasks` tasks; `NoTasks` when there are none, `RateLimited` when polled too fast."""
        req = pb.GetProofTaskRequest(
            node_id=node_id, node_type=pb.CLI_PROVER, ed25519_public_key=key.public_bytes, max_tasks=max_tasks
        )
        return list((await self._post("/v3/tasks", req, pb.GetProofTaskResponse, tasks=True)).tasks)

    async def submit(self, node_id: str, key: NodeKey, task_id: str, proof: bytes) -> pb.SubmitProofResponse:
        """Hash, sign and submit one proof; a refusal raises `OrchestratorHttpError` with its status."""
        req = submission_request(node_id, key, task_id, proof)
        return await self._post("/v3/tasks/submit", req, pb.SubmitProofResponse)

    async def report_stats(self, report: pb.NodeStatsReport) -> pb.NodeStatsAck:
        return await self._post("/v3/nodes/stats", report, pb.NodeStatsAck)
