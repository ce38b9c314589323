"""Hypothesis against the live orchestrator: arbitrary and half-valid bodies get 4xx, never 5xx."""

from __future__ import annotations

import asyncio
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from orchestrator_support import fib_inputs

from zkray.orchestrator import OrchestratorServer, ServerConfig
from zkray.orchestrator.wire import pb

ROUTES = ("/v3/tasks", "/v3/tasks/submit", "/v3/nodes/stats")


@pytest.fixture(scope="module")
def live_server() -> Iterator[OrchestratorServer]:
    """One server on its own event loop thread, shared by the module's examples."""
    loop = asyncio.new_event_loop()
    server = OrchestratorServer(ServerConfig(max_body_bytes=64 * 1024, poll_rate=1e6, poll_burst=1e6))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    for n in range(200):
        server.add_task("fast-fib", fib_inputs(n % 50))
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)
    loop.close()


def status_of(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


task_ids = st.one_of(st.sampled_from([f"t-{i:06d}" for i in range(1, 6)]), st.text(max_size=20))
submissions = st.builds(
    pb.SubmitProofRequest,
    task_id=task_ids,
    node_id=st.text(max_size=10),
    proof=st.binary(max_size=200),
    proof_hash=st.one_of(st.text(max_size=70), st.text("0123456789abcdef", min_size=64, max_size=64)),
    signature=st.binary(max_size=70),
    ed25519_public_key=st.binary(min_size=0, max_size=40),
    signature_version=st.integers(-2, 2),
)
fetches = st.builds(
    pb.GetProofTaskRequest,
    node_id=st.text(max_size=10),
    ed25519_public_key=st.binary(max_size=40),
    max_tasks=st.integers(0, 2**32 - 1),
)
reports = st.builds(pb.NodeStatsReport, node_id=st.text(max_size=10), tasks_fetched=st.integers(0, 2**64 - 1))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), body=st.binary(max_size=512))
def test_arbitrary_bytes_never_get_a_5xx(live_server, route, body):
    status = status_of(live_server.url + route, body)
    assert status < 500
    if route == "/v3/tasks/submit":
        assert status != 200


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=st.one_of(submissions, fetches, reports))
def test_well_formed_but_wrong_messages_never_get_a_5xx(live_server, message):
    route = {pb.SubmitProofRequest: ROUTES[1], pb.GetProofTaskRequest: ROUTES[0], pb.NodeStatsReport: ROUTES[2]}
    status = status_of(live_server.url + route[type(message)], message.SerializeToString())
    assert status < 500
    if isinstance(message, pb.SubmitProofRequest):
        assert status != 200  # nothing random is ever accepted
