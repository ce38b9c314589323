"""The orchestrator side: serves tasks in batches and accepts only signed proofs that verify.

Routes (request and answer bodies are protobuf, `application/octet-stream`; refusals are text/plain):

    POST /v3/tasks         GetProofTaskRequest -> 200 GetProofTaskResponse | 404 none | 429 + Retry-After
    POST /v3/tasks/submit  SubmitProofRequest  -> 200 SubmitProofResponse | 4xx, status per `Rejection`
    POST /v3/nodes/stats   NodeStatsReport     -> 200 NodeStatsAck

A submission is checked cheapest first: fields, proof_hash = keccak256(proof), the Ed25519 signature
over "0 | task_id | proof_hash", the task's state (unknown, done, expired, not served to this key), and
last the receipt itself, verified in a thread so that polling stays responsive.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web

from zkray.orchestrator import programs
from zkray.orchestrator.config import ServerConfig
from zkray.orchestrator.errors import Rejected, Rejection, WireError
from zkray.orchestrator.signing import PUBLIC_KEY_BYTES, SIGNATURE_VERSION, proof_hash, signature_valid
from zkray.orchestrator.taskbook import TaskBook, TaskRecord, TaskStatus
from zkray.orchestrator.wire import ACCEPTED_TYPES, CONTENT_TYPE, M, decode, pb, timestamp
from zkray.policy.ratelimit import TokenBucket


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it (for tests and the dashboard): what, who, when, answer."""

    route: str
    node_id: str
    at: float
    status: int


class OrchestratorServer:
    """An aiohttp app over a `TaskBook`; `async with` binds it to a loopback port (or call start/stop)."""

    def __init__(self, config: ServerConfig | None = None, clock: Callable[[], float] = time.time) -> None:
        self.config = config or ServerConfig()
        self.clock = clock
        self.book = TaskBook(self.config.lease_s)
        self.counters: Counter[str] = Counter()
        self.requests: deque[RequestRecord] = deque(maxlen=100_000)
        self.node_reports: OrderedDict[str, pb.NodeStatsReport] = OrderedDict()
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._accepted_by_key: Counter[bytes] = Counter()
        self._verify_slots = asyncio.Semaphore(self.config.verify_concurrency)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.app = web.Application(client_max_size=self.config.max_body_bytes)
        self.attach(self.app)

    def attach(self, app: web.Application) -> None:
        """Add the /v3 routes to `app`: the node serves them beside its other routes, on one port.

        That app's own `client_max_size` then bounds request bodies, not `max_body_bytes`.
        """
        app.add_routes([
            web.post("/v3/tasks", self._tasks),
            web.post("/v3/tasks/submit", self._submit),
            web.post("/v3/nodes/stats", self._stats),
        ])  # fmt: skip

    # -- tasks ---------------------------------------------------------------------------------------

    def add_task(
        self, program_id: str, public_inputs: bytes, ttl_s: float | None = None, task_id: str | None = None
    ) -> str:
        """Queue a task; raises UnknownProgram/InputError now rather than when a node proves it."""
        programs.check_inputs(program_id, public_inputs)
        return self.book.add(program_id, public_inputs, self.clock(), ttl_s or self.config.task_ttl_s, task_id)

    def counts(self) -> dict[TaskStatus, int]:
        return self.book.counts(self.clock())

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0: an ephemeral port); returns the base URL."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.url = f"http://{bound_host}:{bound_port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> OrchestratorServer:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- handlers ------------------------------------------------------------------------------------

    async def _read(self, request: web.Request, cls: type[M]) -> M:
        if request.content_type not in ACCEPTED_TYPES:
            raise web.HTTPUnsupportedMediaType(text=f"send the protobuf body as {CONTENT_TYPE}")
        try:
            return decode(cls, await request.read())
        except WireError as e:
            raise web.HTTPBadRequest(text=str(e)) from e

    def _log(self, route: str, node_id: str, status: int) -> None:
        self.requests.append(RequestRecord(route, node_id, self.clock(), status))

    def _bucket(self, node_id: str, now: float) -> TokenBucket:
        bucket = self._buckets.pop(node_id, None) or TokenBucket(self.config.poll_rate, self.config.poll_burst, now)
        self._buckets[node_id] = bucket  # most recent last; the oldest node is forgotten first
        while len(self._buckets) > self.config.max_tracked_nodes:
            self._buckets.popitem(last=False)
        return bucket

    async def _tasks(self, request: web.Request) -> web.Response:
        req = await self._read(request, pb.GetProofTaskRequest)
        if not req.node_id or len(req.ed25519_public_key) != PUBLIC_KEY_BYTES:
            self._log("tasks", req.node_id, 400)
            raise web.HTTPBadRequest(text="node_id and a 32-byte ed25519_public_key are required")
        now = self.clock()
        bucket = self._bucket(req.node_id, now)
        if not bucket.try_acquire(now):
            wait = max(1, math.ceil(bucket.wait_time(now)))
            self.counters["rate_limited"] += 1
            self._log("tasks", req.node_id, 429)
            raise web.HTTPTooManyRequests(
                text=f"polling too fast; retry in {wait} s", headers={"Retry-After": str(wait)}
            )
        batch = min(max(req.max_tasks, 1), self.config.max_batch)
        records = self.book.take(req.ed25519_public_key, batch, now)
        if not records:
            self.counters["no_tasks"] += 1
            self._log("tasks", req.node_id, 404)
            raise web.HTTPNotFound(text="no tasks available")
        self.counters["served"] += len(records)
        self._log("tasks", req.node_id, 200)
        body = pb.GetProofTaskResponse(tasks=[_task_message(r) for r in records]).SerializeToString()
        return web.Response(body=body, content_type=CONTENT_TYPE)

    async def _submit(self, request: web.Request) -> web.Response:
        req = await self._read(request, pb.SubmitProofRequest)
        try:
            total = await self._judge(req)
        except Rejected as e:
            self.counters[f"rejected_{e.reason.name.lower()}"] += 1
            self._log("submit", req.node_id, e.reason.status)
            raise _refusal(e) from e
        self.counters["accepted"] += 1
        self._log("submit", req.node_id, 200)
        body = pb.SubmitProofResponse(task_id=req.task_id, accepted_total=total).SerializeToString()
        return web.Response(body=body, content_type=CONTENT_TYPE)

    async def _judge(self, req: pb.SubmitProofRequest) -> int:
        """Accept the submission and return the key's accepted total, or raise `Rejected`."""
        if not req.task_id or not req.proof or not req.proof_hash:
            raise Rejected(Rejection.MALFORMED, "task_id, proof and proof_hash are required")
        if req.signature_version != SIGNATURE_VERSION:
            raise Rejected(Rejection.MALFORMED, f"signature_version {req.signature_version} unsupported; use 0")
        if proof_hash(req.proof) != req.proof_hash:
            raise Rejected(Rejection.BAD_PROOF, "proof_hash is not the lower-case hex keccak256 of proof")
        key = bytes(req.ed25519_public_key)
        if not signature_valid(key, req.signature, req.task_id, req.proof_hash, req.signature_version):
            raise Rejected(Rejection.BAD_SIGNATURE, 'signature does not verify over "0 | task_id | proof_hash"')
        rec = self.book.submittable(req.task_id, key, self.clock())
        async with self._verify_slots:
            await asyncio.to_thread(programs.verify_proof, rec.program_id, rec.public_inputs, req.proof)
        self.book.accept(req.task_id, key, req.node_id, req.proof_hash, self.clock())
        self._accepted_by_key[key] += 1
        return self._accepted_by_key[key]

    async def _stats(self, request: web.Request) -> web.Response:
        report = await self._read(request, pb.NodeStatsReport)
        if not report.node_id:
            raise web.HTTPBadRequest(text="node_id is required")
        self.node_reports.pop(report.node_id, None)
        self.node_reports[report.node_id] = report
        while len(self.node_reports) > self.config.max_tracked_nodes:
            self.node_reports.popitem(last=False)
        self.counters["stats_reports"] += 1
        self._log("stats", report.node_id, 200)
        body = pb.NodeStatsAck(reports_received=self.counters["stats_reports"]).SerializeToString()
        return web.Response(body=body, content_type=CONTENT_TYPE)


def _task_message(rec: TaskRecord) -> pb.Task:
    return pb.Task(
        task_id=rec.task_id,
        program_id=rec.program_id,
        public_inputs=rec.public_inputs,
        created_at=timestamp(rec.created_at),
        deadline=timestamp(rec.deadline),
    )


def _refusal(e: Rejected) -> web.HTTPException:
    """The HTTP error for a rejection, with its reason as plain text."""
    cls = {
        Rejection.MALFORMED: web.HTTPBadRequest,
        Rejection.BAD_SIGNATURE: web.HTTPUnauthorized,
        Rejection.WRONG_KEY: web.HTTPForbidden,
        Rejection.UNKNOWN_TASK: web.HTTPNotFound,
        Rejection.DUPLICATE: web.HTTPConflict,
        Rejection.EXPIRED: web.HTTPGone,
        Rejection.BAD_PROOF: web.HTTPUnprocessableEntity,
    }[e.reason]
    return cls(text=str(e))
