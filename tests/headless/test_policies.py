"""The remote policy's budget: a late, refused or nonsensical answer is replaced by BOLA and counted."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from streamlab.models.abr.decide import AbrDecideRequest
from streamlab.streaming.headless.policies import RemotePolicy

REQUEST = AbrDecideRequest(
    buffer_s=0.0, last_rung=0, chunks_remaining=5, ladder=[{"bitrate_kbps": 400}, {"bitrate_kbps": 1200}]
)


def answering(delay_s: float, body: dict):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["content-length"]))
            time.sleep(delay_s)
            payload = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture()
def server_factory():
    servers = []

    def start(delay_s: float, body: dict) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), answering(delay_s, body))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_prompt_model_answer_is_used(server_factory) -> None:
    url = server_factory(0.0, {"rung": 1, "reason": "learned: x", "source": "model", "model_version": "3"})
    policy = RemotePolicy(url, timeout_ms=500)
    choice = policy.choose(REQUEST)
    assert (choice.rung, choice.source, choice.model_version) == (1, "model", "3") and policy.fallbacks == 0


def test_a_late_answer_falls_back_to_bola_within_the_budget(server_factory) -> None:
    url = server_factory(0.3, {"rung": 1, "reason": "learned", "source": "model"})
    policy = RemotePolicy(url, timeout_ms=50)
    started = time.perf_counter()
    choice = policy.choose(REQUEST)
    assert time.perf_counter() - started < 0.25
    assert choice.source == "fallback" and choice.rung == 0 and policy.fallbacks == 1
    assert "Timeout" in policy.last_error


def test_a_rung_outside_the_ladder_is_not_trusted(server_factory) -> None:
    url = server_factory(0.0, {"rung": 7, "reason": "?", "source": "model"})
    policy = RemotePolicy(url, timeout_ms=500)
    assert policy.choose(REQUEST).source == "fallback" and "outside" in policy.last_error


def test_no_server_at_all_is_a_fallback() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = RemotePolicy(f"http://127.0.0.1:{port}", timeout_ms=50)
    assert policy.choose(REQUEST).source == "fallback" and policy.fallbacks == 1
