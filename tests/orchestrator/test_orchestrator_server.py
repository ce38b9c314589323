"""The orchestrator over real loopback HTTP: batches, 404, 429, and every way a submission is refused."""

from __future__ import annotations

import asyncio

import pytest
from orchestrator_support import fetch, fib_initial_inputs, fib_inputs, post, submission, submit

from zkray.orchestrator import NodeKey, OrchestratorServer, ServerConfig, prove_task, sign_submission
from zkray.orchestrator.wire import pb


async def test_tasks_are_served_in_batches_capped_by_the_server_then_404(start_server, node_key):
    server = await start_server(max_batch=3, poll_rate=100.0, poll_burst=100.0)
    for n in range(5):
        server.add_task("fast-fib", fib_inputs(n))
    first = await fetch(server.url, node_key, max_tasks=10)
    second = await fetch(server.url, node_key, max_tasks=10)
    assert [len(first), len(second)] == [3, 2]
    task = first[0]
    assert (task.task_id, task.program_id, task.public_inputs) == ("t-000001", "fast-fib", fib_inputs(0))
    assert task.deadline.seconds > task.created_at.seconds
    status, body, _ = await post(
        server.url + "/v3/tasks",
        pb.GetProofTaskRequest(node_id="n1", ed25519_public_key=node_key.public_bytes).SerializeToString(),
    )
    assert (status, body) == (404, b"no tasks available")


async def test_polling_too_fast_is_answered_429_with_retry_after(start_server, node_key):
    now = [1000.0]
    server = await start_server(clock=lambda: now[0], poll_rate=0.5, poll_burst=1.0)
    server.add_task("fast-fib", fib_inputs(3))
    req = pb.GetProofTaskRequest(node_id="n1", ed25519_public_key=node_key.public_bytes).SerializeToString()
    first, _, _ = await post(server.url + "/v3/tasks", req)
    now[0] += 0.5
    second, _, headers = await post(server.url + "/v3/tasks", req)
    assert (first, second) == (200, 429)
    assert headers["Retry-After"] == "2"  # 1.5 s until the bucket holds a token again, rounded up
    now[0] += 1.5
    assert (await post(server.url + "/v3/tasks", req))[0] == 404
    other = pb.GetProofTaskRequest(node_id="n2", ed25519_public_key=node_key.public_bytes).SerializeToString()
    assert (await post(server.url + "/v3/tasks", other))[0] == 404  # the limit is per node


@pytest.fixture
async def served(start_server, node_key):
    """A server with two fib_input_initial tasks, both served to `node_key`, and a real proof of the first."""
    server = await start_server(poll_rate=100.0, poll_burst=100.0)
    server.add_task("fib_input_initial", fib_initial_inputs(9, 1, 1))
    server.add_task("fib_input_initial", fib_initial_inputs(12, 2, 3))
    tasks = await fetch(server.url, node_key, max_tasks=2)
    proof = await asyncio.to_thread(prove_task, "fib_input_initial", fib_initial_inputs(9, 1, 1))
    return server, tasks, proof


async def test_a_signed_proof_that_verifies_is_accepted_once(served, node_key):
    server, tasks, proof = served
    assert (await submit(server.url, submission(tasks[0].task_id, proof, node_key)))[0] == 200
    assert server.counts()["done"] == 1
    again = await submit(server.url, submission(tasks[0].task_id, proof, node_key))
    assert again[0] == 409 and "already" in again[1]


async def test_a_bad_signature_is_rejected(served, node_key):
    server, tasks, proof = served
    stranger = NodeKey.generate()

    def signed_by_stranger(req: pb.SubmitProofRequest) -> None:
        req.signature = sign_submission(stranger.private, req.task_id, req.proof_hash)

    def other_statement(req: pb.SubmitProofRequest) -> None:
        req.signature = sign_submission(node_key.private, tasks[1].task_id, req.proof_hash)

    for tamper in (signed_by_stranger, other_statement):
        status, body = await submit(server.url, submission(tasks[0].task_id, proof, node_key, tamper=tamper))
        assert status == 401 and "0 | task_id | proof_hash" in body
    assert server.counters["rejected_bad_signature"] == 2 and server.counts()["done"] == 0


async def test_a_key_the_task_was_not_served_to_is_refused(served):
    server, tasks, proof = served
    status, body = await submit(server.url, submission(tasks[0].task_id, proof, NodeKey.generate()))
    assert status == 403 and "not served" in body


async def test_tampered_proofs_are_rejected(served, node_key):
    server, tasks, proof = served
    flipped = bytearray(proof)
    flipped[len(flipped) // 2] ^= 1
    # Re-hashed and re-signed by the node itself: only verifying the receipt catches it.
    status, body = await submit(server.url, submission(tasks[0].task_id, bytes(flipped), node_key))
    assert status == 422 and "does not verify" in body

    def stale_hash(req: pb.SubmitProofRequest) -> None:
        req.proof = bytes(flipped)

    status, body = await submit(server.url, submission(tasks[0].task_id, proof, node_key, tamper=stale_hash))
    assert status == 422 and "keccak256" in body
    # A valid proof of task 1 offered for task 2 (other inputs).
    status, body = await submit(server.url, submission(tasks[1].task_id, proof, node_key))
    assert status == 422 and "other inputs" in body
    assert server.counts()["done"] == 0
    assert (await submit(server.url, submission(tasks[0].task_id, proof, node_key)))[0] == 200


async def test_unknown_expired_and_malformed_submissions(start_server, node_key):
    now = [1000.0]
    server = await start_server(clock=lambda: now[0], task_ttl_s=60.0, poll_rate=100.0)
    server.add_task("fast-fib", fib_inputs(5))
    [task] = await fetch(server.url, node_key)
    proof = await asyncio.to_thread(prove_task, "fast-fib", fib_inputs(5))
    assert (await submit(server.url, submission("t-999999", proof, node_key)))[0] == 404

    def version_1(req: pb.SubmitProofRequest) -> None:
        req.signature_version = 1

    assert (await submit(server.url, submission(task.task_id, proof, node_key, tamper=version_1)))[0] == 400
    now[0] += 61.0
    status, body = await submit(server.url, submission(task.task_id, proof, node_key))
    assert status == 410 and "deadline" in body


async def test_garbage_wrong_type_and_huge_bodies_get_4xx_and_the_server_keeps_serving(start_server, node_key):
    server = await start_server(max_body_bytes=64 * 1024, poll_rate=100.0, poll_burst=100.0)
    server.add_task("fast-fib", fib_inputs(1))
    for path in ("/v3/tasks", "/v3/tasks/submit", "/v3/nodes/stats"):
        assert (await post(server.url + path, b"\xff\xfe garbage"))[0] == 400
        assert (await post(server.url + path, b"{}", content_type="application/json"))[0] == 415
        assert (await post(server.url + path, b"\0" * (65 * 1024)))[0] == 413
    no_key = pb.GetProofTaskRequest(node_id="n1").SerializeToString()
    assert (await post(server.url + "/v3/tasks", no_key))[0] == 400
    assert len(await fetch(server.url, node_key)) == 1


async def test_statistics_reports_are_kept_per_node(start_server, node_key):
    server = await start_server()
    report = pb.NodeStatsReport(node_id="n1", proofs_submitted=3)
    status, body, _ = await post(server.url + "/v3/nodes/stats", report.SerializeToString())
    ack = pb.NodeStatsAck()
    ack.ParseFromString(body)
    assert status == 200 and ack.reports_received == 1
    assert server.node_reports["n1"].proofs_submitted == 3


async def test_the_routes_can_be_attached_to_another_app(node_key):
    from aiohttp import web

    server = OrchestratorServer(ServerConfig(poll_rate=100.0))
    server.add_task("fast-fib", fib_inputs(2))
    app = web.Application()

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/healthz", healthz)
    server.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        [task] = await fetch(f"http://{host}:{port}", node_key)
        assert task.program_id == "fast-fib"
    finally:
        await runner.cleanup()
