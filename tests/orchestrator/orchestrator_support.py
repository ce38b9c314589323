"""Helpers shared by the orchestrator tests: task inputs, proofs, and raw submissions."""

from __future__ import annotations

import struct
from collections.abc import Callable

import aiohttp

from zkray.orchestrator import NodeKey
from zkray.orchestrator.client import submission_request
from zkray.orchestrator.wire import CONTENT_TYPE, pb


def fib_inputs(n: int) -> bytes:
    return struct.pack("<I", n)


def fib_initial_inputs(n: int, a: int, b: int) -> bytes:
    return struct.pack("<III", n, a, b)


async def post(url: str, body: bytes, content_type: str = CONTENT_TYPE) -> tuple[int, bytes, dict[str, str]]:
    """One raw POST: (status, body, headers)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers={"Content-Type": content_type}) as resp,
    ):
        return resp.status, await resp.read(), dict(resp.headers)


async def fetch(server_url: str, key: NodeKey, node_id: str = "n1", max_tasks: int = 1) -> list[pb.Task]:
    status, body, _ = await post(
        server_url + "/v3/tasks",
        pb.GetProofTaskRequest(
            node_id=node_id, ed25519_public_key=key.public_bytes, max_tasks=max_tasks
        ).SerializeToString(),
    )
    assert status == 200, body
    answer = pb.GetProofTaskResponse()
    answer.ParseFromString(body)
    return list(answer.tasks)


def submission(
    task_id: str,
    proof: bytes,
    key: NodeKey,
    *,
    node_id: str = "n1",
    tamper: Callable[[pb.SubmitProofRequest], None] | None = None,
) -> bytes:
    """A correctly signed SubmitProofRequest, optionally altered by `tamper` before encoding."""
    req = submission_request(node_id, key, task_id, proof)
    if tamper is not None:
        tamper(req)
    return req.SerializeToString()


async def submit(server_url: str, body: bytes) -> tuple[int, str]:
    status, answer, _ = await post(server_url + "/v3/tasks/submit", body)
    return status, answer.decode("utf-8", "replace")
