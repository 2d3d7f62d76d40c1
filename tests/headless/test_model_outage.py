"""Fault: the model server stops mid-session; the player keeps playing on BOLA, then returns to the model."""

from __future__ import annotations

import httpx
import pytest

from streamlab.serving.server import start_server
from streamlab.streaming.headless.manifest import load_title
from streamlab.streaming.headless.player import play_session
from streamlab.streaming.headless.policies import RemotePolicy
from tests.headless.conftest import TITLE
from tests.serving.test_service_http import free_port

pytestmark = pytest.mark.slow

STOP_AFTER, RESTART_AFTER = 3, 7


def test_player_survives_a_model_server_outage(stack, traces, fast_settings, abr_registry) -> None:
    overrides = [f"port={free_port()}", *(f"models.{m}.enabled=false" for m in ("recommend", "ladder", "qoe"))]
    server = start_server(overrides)
    servers = [server]
    with httpx.Client(trust_env=False) as client:
        title = load_title(client, stack.edge_url, TITLE)
    policy = RemotePolicy(server.url, timeout_ms=fast_settings.decide_timeout_ms)

    def outage(chunk) -> None:
        if chunk.index == STOP_AFTER:
            servers[-1].stop()
        elif chunk.index == RESTART_AFTER:
            servers.append(start_server(overrides))

    try:
        for _ in range(3):  # warm the server's first requests outside the 50 ms budget
            httpx.post(
                server.url + "/abr/decide",
                json={"buffer_s": 0, "last_rung": 0, "chunks_remaining": 2, "ladder": [{"bitrate_kbps": 100}]},
                trust_env=False,
            )
        result = play_session(title, traces[1], policy, fast_settings, on_chunk=outage)
    finally:
        policy.close()
        for running in servers:
            running.stop()
    assert result.error is None and len(result.chunks) == title.segment_count
    before = result.chunks[: STOP_AFTER + 1]
    during = result.chunks[STOP_AFTER + 1 : RESTART_AFTER + 1]
    after = result.chunks[RESTART_AFTER + 1 :]
    assert sum(c.source == "model" for c in before) >= STOP_AFTER
    assert all(c.source == "fallback" and c.reason.startswith("bola") for c in during)
    assert policy.fallbacks >= len(during)
    assert sum(c.rebuffer_s for c in during) == 0.0  # the outage costs no stall
    assert max(c.decide_ms for c in during) < fast_settings.decide_timeout_ms * 2
    assert [c.source for c in after[-2:]] == ["model", "model"]
