"""The pull worker: fetch tasks from an orchestrator, prove them, sign and submit the proofs.

One `run(cancel)` drives four kinds of loop, joined by two bounded queues (the Nexus node's shape):

    fetch ──tasks──▶ prove × N ──proofs──▶ submit × N          stats (every stats_interval_s)

- fetch asks for a batch only while fewer than `low_water_mark` tasks wait or are being proven, backs
  off by doubling on 404/429/errors (a Retry-After is a minimum), drops task ids seen recently, and
  stops after `max_404s` "no tasks" in a row;
- prove runs the injected prove function (default: zkray's prover in a thread);
- submit hashes, signs and posts each proof, retrying transient failures by `zkray.policy.retry`
  within the task's deadline; a 409 on a retry means an earlier attempt landed.

`run` returns when `cancel` is set, or once fetching has given up and every task taken is settled.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp

from zkray.orchestrator import programs
from zkray.orchestrator.backoff import FetchBackoff
from zkray.orchestrator.client import OrchestratorClient
from zkray.orchestrator.config import WorkerConfig
from zkray.orchestrator.dedup import RecentTasks
from zkray.orchestrator.errors import NoTasks, OrchestratorError, OrchestratorHttpError, RateLimited
from zkray.orchestrator.keys import NodeKey, load_or_create_key
from zkray.orchestrator.stats import WorkerStats
from zkray.orchestrator.wire import pb, seconds
from zkray.policy.retry import Retrier, RetryPolicy

log = logging.getLogger(__name__)

ProveFn = Callable[[str, bytes], bytes | Awaitable[bytes]]
"""(program_id, public_inputs) -> proof bytes (an encoded Receipt); sync functions run in a thread."""

T = TypeVar("T")
SHUTDOWN_GRACE_S = 5.0  # after stop, loops get this long to finish what they hold before being cancelled


async def _sleep(stop: asyncio.Event, seconds_: float) -> bool:
    """Sleep up to `seconds_`; True if `stop` was set meanwhile (so the caller should return)."""
    if seconds_ > 0:
        try:
            await asyncio.wait_for(stop.wait(), seconds_)
        except TimeoutError:
            pass
    return stop.is_set()


async def _next(queue: asyncio.Queue[T], stop: asyncio.Event) -> T | None:
    """The next item, or None once `stop` is set (an item never leaves the queue unreturned)."""
    if stop.is_set():
        return None
    getter = asyncio.ensure_future(queue.get())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not getter.done():
            getter.cancel()
    if getter.done() and not getter.cancelled():
        return getter.result()
    return None


class PullWorker:
    """A node in orchestrator mode. Construct, then `await run(cancel)`; `stats` is live meanwhile."""

    def __init__(self, config: WorkerConfig, key: NodeKey | None = None, prove_fn: ProveFn | None = None) -> None:
        self.config = config
        self.key = key or load_or_create_key(config.key_file, config.key_env)
        self.node_id = config.node_id or f"node-{self.key.public_hex[:16]}"
        self.prove_fn: ProveFn = prove_fn or programs.prove_task
        self.stats = WorkerStats()
        self.rng = random.Random(config.seed)
        self.recent = RecentTasks(config.dedup_capacity, config.dedup_ttl_s)
        self.submit_policy = RetryPolicy(
            max_attempts=config.submit_attempts,
            initial_delay_s=config.submit_backoff_initial_s,
            max_delay_s=max(config.submit_backoff_initial_s, config.submit_backoff_max_s),
        )
        self._tasks: asyncio.Queue[pb.Task] = asyncio.Queue(config.max_queue)
        self._proofs: asyncio.Queue[tuple[pb.Task, bytes]] = asyncio.Queue(config.max_queue)
        self._proving = 0
        # Tasks taken from the orchestrator whose story has not ended (proof failed, submitted, refused,
        # or given up). Counted at the ends, not from the queues, which an item leaves a moment before
        # its consumer resumes.
        self._open = 0
        self._fetching_done = False
        self._started = time.monotonic()

    def __repr__(self) -> str:
        return f"PullWorker(node_id={self.node_id!r}, url={self.config.orchestrator_url!r}, key={self.key!r})"

    @property
    def backlog(self) -> int:
        """Tasks waiting or being proven: what the low-water mark is compared with."""
        return self._tasks.qsize() + self._proving

    def _settled(self) -> bool:
        return self._fetching_done and self._open == 0

    async def run(self, cancel: asyncio.Event) -> WorkerStats:
        """Work until `cancel` is set or, after fetching gave up, nothing is left to prove or submit."""
        self._started = time.monotonic()
        stop = asyncio.Event()
        log.info("pull worker %s starting against %s (public key %s)",
                 self.node_id, self.config.orchestrator_url, self.key.public_hex)  # fmt: skip
        async with aiohttp.ClientSession() as session:
            client = OrchestratorClient(self.config.orchestrator_url, session, self.config.request_timeout_s)
            n = self.config.provers
            loops = [asyncio.create_task(self._fetch_loop(client, stop), name="fetch")]
            loops += [asyncio.create_task(self._prove_loop(stop), name=f"prove-{i}") for i in range(n)]
            loops += [asyncio.create_task(self._submit_loop(client, stop), name=f"submit-{i}") for i in range(n)]
            loops.append(asyncio.create_task(self._stats_loop(client, stop), name="stats"))
            watcher = asyncio.create_task(self._watch(cancel), name="watch")
            try:
                await self._supervise(watcher, loops)
            finally:
                stop.set()
                watcher.cancel()
                _, pending = await asyncio.wait(loops, timeout=SHUTDOWN_GRACE_S)
                for t in pending:
                    t.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            for t in loops:
                error = None if t.cancelled() else t.exception()
                if error is not None:
                    raise error
            await self._report(client)
        log.info("pull worker %s stopped: %s", self.node_id, self.stats)
        return self.stats

    @staticmethod
    async def _supervise(watcher: asyncio.Task[None], loops: list[asyncio.Task[None]]) -> None:
        """Wait for the watcher, or for a loop to fail; a loop that ends cleanly (fetch gave up) is fine."""
        pending: set[asyncio.Task[None]] = {watcher, *loops}
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if watcher in done or any(not t.cancelled() and t.exception() is not None for t in done):
                return

    async def _watch(self, cancel: asyncio.Event) -> None:
        """Return when cancelled, or when fetching gave up and every task taken is settled."""
        while not cancel.is_set() and not self._settled():
            try:
                await asyncio.wait_for(cancel.wait(), self.config.idle_poll_s)
            except TimeoutError:
                pass

    # -- fetch ---------------------------------------------------------------------------------------

    async def _fetch_loop(self, client: OrchestratorClient, stop: asyncio.Event) -> None:
        cfg = self.config
        backoff = FetchBackoff(cfg.backoff_initial_s, cfg.backoff_max_s, cfg.backoff_jitter, cfg.max_404s,
                               cfg.max_retry_after_s, self.rng)  # fmt: skip
        try:
            while not stop.is_set():
                free = cfg.max_queue - self._tasks.qsize()
                if self.backlog >= cfg.low_water_mark or free <= 0:
                    await _sleep(stop, cfg.idle_poll_s)
                    continue
                wait = await self._fetch_once(client, backoff, min(cfg.batch_size, free))
                if backoff.exhausted:
                    self.stats.gave_up = True
                    log.info("no tasks after %d tries in a row; %s stops fetching", cfg.max_404s, self.node_id)
                    return
                await _sleep(stop, wait)
        finally:
            self._fetching_done = True

    async def _fetch_once(self, client: OrchestratorClient, backoff: FetchBackoff, want: int) -> float:
        """One task request; returns how long to wait before the next."""
        self.stats.fetch_requests += 1
        try:
            tasks = await client.get_tasks(self.node_id, self.key, want)
        except NoTasks as e:
            self.stats.no_tasks += 1
            return backoff.on_no_tasks(e.retry_after_s)
        except RateLimited as e:
            self.stats.rate_limited += 1
            wait = backoff.on_rate_limited(e.retry_after_s)
            log.info("orchestrator rate-limited %s; next request in %.2f s", self.node_id, wait)
            return wait
        except OrchestratorError as e:
            self.stats.fetch_errors += 1
            wait = backoff.on_error(getattr(e, "retry_after_s", None))
            log.warning("fetching tasks failed (%s); next request in %.2f s", e, wait)
            return wait
        now = time.monotonic()
        added = 0
        for task in tasks:
            if self.recent.check_and_add(task.task_id, now):
                self.stats.duplicates_skipped += 1
                log.debug("task %s was served again; skipped", task.task_id)
                continue
            try:
                self._tasks.put_nowait(task)
            except asyncio.QueueFull:
                log.warning("queue full; task %s left for the orchestrator to serve again", task.task_id)
                continue
            self._open += 1
            added += 1
            self.stats.tasks_fetched += 1
        if added == 0:  # only tasks already held: asking again at once would spin
            return backoff.on_error()
        return backoff.on_tasks()

    # -- prove ---------------------------------------------------------------------------------------

    async def _prove(self, task: pb.Task) -> bytes:
        """Call the prove function: a coroutine function is awaited, anything else runs in a thread."""
        if inspect.iscoroutinefunction(self.prove_fn):
            out = self.prove_fn(task.program_id, task.public_inputs)
        else:
            out = await asyncio.to_thread(self.prove_fn, task.program_id, task.public_inputs)
        return await out if inspect.isawaitable(out) else out

    async def _prove_loop(self, stop: asyncio.Event) -> None:
        while (task := await _next(self._tasks, stop)) is not None:
            self._proving += 1
            try:
                started = time.monotonic()
                try:
                    proof = await self._prove(task)
                except Exception as e:  # the prove function is foreign code: log it and keep working
                    self.stats.proofs_failed += 1
                    self._open -= 1
                    log.warning("proving task %s (%s) failed: %s", task.task_id, task.program_id, e)
                    continue
                self.stats.proofs_generated += 1
                self.stats.prove_seconds += time.monotonic() - started
                await self._proofs.put((task, proof))
            finally:
                self._proving -= 1

    # -- submit --------------------------------------------------------------------------------------

    async def _submit_loop(self, client: OrchestratorClient, stop: asyncio.Event) -> None:
        while (item := await _next(self._proofs, stop)) is not None:
            try:
                await self._submit(client, *item, stop)
            finally:
                self._open -= 1

    async def _submit(self, client: OrchestratorClient, task: pb.Task, proof: bytes, stop: asyncio.Event) -> None:
        deadline = seconds(task.deadline) if task.HasField("deadline") else None
        retrier = Retrier(self.submit_policy, self.rng, give_up_at=deadline)
        for attempt in range(1, self.submit_policy.max_attempts + 1):
            try:
                await client.submit(self.node_id, self.key, task.task_id, proof)
            except OrchestratorError as e:
                if isinstance(e, OrchestratorHttpError) and e.status == 409 and attempt > 1:
                    log.info("task %s: an earlier attempt was accepted (its answer was lost)", task.task_id)
                    break
                decision = retrier.on_failure(e, time.time())
                if not decision.retry:
                    if e.retryable:
                        self.stats.submissions_abandoned += 1
                    else:
                        self.stats.submissions_rejected += 1
                    log.warning("submission of task %s failed: %s", task.task_id, decision.reason)
                    return
                self.stats.submission_retries += 1
                log.info("submission of task %s failed (%s); %s", task.task_id, e, decision.reason)
                if await _sleep(stop, decision.at - time.time()):
                    return
            else:
                break
        self.stats.proofs_submitted += 1

    # -- stats ---------------------------------------------------------------------------------------

    async def _report(self, client: OrchestratorClient) -> None:
        report = self.stats.report(self.node_id, self.key.public_bytes, self.backlog, time.monotonic() - self._started)
        try:
            await client.report_stats(report)
        except OrchestratorError as e:
            log.debug("statistics report not delivered: %s", e)
            return
        self.stats.stats_reports += 1

    async def _stats_loop(self, client: OrchestratorClient, stop: asyncio.Event) -> None:
        while not await _sleep(stop, self.config.stats_interval_s):
            await self._report(client)


async def run_worker(
    config: WorkerConfig,
    prove_fn: ProveFn | None = None,
    cancel: asyncio.Event | None = None,
    key: NodeKey | None = None,
) -> WorkerStats:
    """Run a pull worker until `cancel` is set or it has run out of tasks; returns its statistics."""
    return await PullWorker(config, key, prove_fn).run(cancel or asyncio.Event())
