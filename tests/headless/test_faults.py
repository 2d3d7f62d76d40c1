"""Broken delivery ends one session with a clear error, counted, and never hangs the player."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from streamlab.models.abr.decide import AbrDecideRequest
from streamlab.streaming.headless.manifest import load_title
from streamlab.streaming.headless.player import play_session
from streamlab.streaming.headless.policies import Choice
from streamlab.streaming.headless.runner import SessionJob, SessionPlan, report, run_sessions
from tests.headless.conftest import TITLE

MISSING, CORRUPT = (0, 3), (1, 2)
"""(rung, segment index) deleted and overwritten in the broken copy of the title."""


class FixedRung:
    """Always the same rung: which broken segment a session meets is then known in advance."""

    def __init__(self, rung: int) -> None:
        self.rung = rung
        self.name = f"rung{rung}"

    def choose(self, request: AbrDecideRequest) -> Choice:
        return Choice(self.rung, "fixed", "local")

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def broken_stack(headless_media: Path, tmp_path_factory: pytest.TempPathFactory):
    from streamlab.streaming.delivery.stack import running_stack

    root = tmp_path_factory.mktemp("broken") / "media"
    shutil.copytree(headless_media, root)
    with httpx.Client(trust_env=False) as client, running_stack(root) as stack:
        title = load_title(client, stack.edge_url, TITLE)
        for (rung, index), damage in ((MISSING, "delete"), (CORRUPT, "overwrite")):
            path = root / title.rungs[rung].segment_urls[index].split("/media/", 1)[1]
            if damage == "delete":
                path.unlink()
            else:  # same length, not a segment: what a bad upload or a mixed-up file looks like
                path.write_bytes(b"<html>error</html>".ljust(path.stat().st_size, b" "))
        yield stack, title


@pytest.fixture()
def stalling_server():
    """Answers every request with a 200 head and a few bytes of a ``moof`` box, then goes silent."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"\x00\x00\x01\x00moof" + b"\x00" * 992)
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/stalled.m4s"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def test_a_missing_segment_ends_the_session_with_its_404(broken_stack, traces, fast_settings) -> None:
    _, title = broken_stack
    result = play_session(title, traces[0], FixedRung(MISSING[0]), fast_settings)
    assert result.error is not None and "HTTP 404" in result.error and title.rungs[0].segment_urls[3] in result.error
    assert len(result.chunks) == MISSING[1] and result.failed_requests == 1


def test_a_segment_that_is_not_cmaf_is_refused(broken_stack, traces, fast_settings) -> None:
    _, title = broken_stack
    result = play_session(title, traces[0], FixedRung(CORRUPT[0]), fast_settings)
    assert result.error is not None and "not a CMAF media segment" in result.error
    assert len(result.chunks) == CORRUPT[1] and result.failed_requests == 1


def test_a_stalled_edge_is_a_timeout_error_not_a_hang(broken_stack, traces, fast_settings, stalling_server) -> None:
    _, title = broken_stack
    stalled = replace(title.rungs[2], segment_urls=(stalling_server,) * title.segment_count)
    title = replace(title, rungs=(*title.rungs[:2], stalled, *title.rungs[3:]))
    settings = fast_settings.model_copy(update={"http_timeout_s": 0.5})
    started = time.monotonic()
    result = play_session(title, traces[0], FixedRung(2), settings)
    assert time.monotonic() - started < 5.0
    assert result.error is not None and "ReadTimeout" in result.error and result.chunks == []


def test_one_broken_session_does_not_fail_the_others(broken_stack, traces, fast_settings) -> None:
    stack, _ = broken_stack
    plan = SessionPlan(traces[0], 0.0)
    jobs = [SessionJob(plan, f"rung{r}", lambda r=r: FixedRung(r), 0.0, f"s{r}") for r in (0, 2, 3)]
    results = run_sessions(stack.edge_url, TITLE, jobs, fast_settings)
    summary = report(results)
    assert [r.error is None for r in results] == [False, True, True]
    assert (summary["sessions"], summary["failed_sessions"], summary["failed_requests"]) == (3, 1, 1)
    assert any("HTTP 404" in e for e in summary["errors"])


def test_an_unknown_title_fails_each_viewer_cleanly(stack, traces, fast_settings) -> None:
    jobs = [SessionJob(SessionPlan(traces[0], 0.0), "rung0", lambda: FixedRung(0), 0.0, "s0")]
    (result,) = run_sessions(stack.edge_url, "no-such-title", jobs, fast_settings)
    assert result.error is not None and "HTTP 404" in result.error and result.failed_requests == 1
