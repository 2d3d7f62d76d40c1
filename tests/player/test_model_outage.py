"""Fault: the model server hangs mid-session; the web player keeps playing on its BOLA within the
50 ms budget, without a stall, and decides with the model again once the server answers."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.player.conftest import TITLE, free_port

pytestmark = pytest.mark.slow

READ = "() => JSON.parse(JSON.stringify(window.streamlab))"


def signal_tree(pid: int, signum: int) -> None:
    """Signal the server and every process under it: BentoML's workers do not share its group."""
    import psutil

    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        try:
            os.kill(process.pid, signum)
        except ProcessLookupError:
            pass


def wait_for(page, predicate, timeout_s: float, what: str) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = page.evaluate(READ)
        if predicate(state):
            return state
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {what}: {page.evaluate(READ)['abr']}")


def test_web_player_rides_out_a_hung_model_server(stack_for, browser, mlflow_store) -> None:
    from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT
    from streamlab.serving.registration import register_abr_checkpoint
    from streamlab.serving.server import start_server
    from streamlab.serving.settings import load_serving_settings

    register_abr_checkpoint(DEFAULT_CHECKPOINT)
    others = [n for n in type(load_serving_settings().models).model_fields if n != "abr"]
    server = start_server([f"port={free_port()}", *(f"models.{n}.enabled=false" for n in others)])
    page = None
    frozen = False
    try:
        # A 4 s buffer goal at 1x: a decision every 2 s of wall time, all through the clip.
        with stack_for(server.url, "abr.max_buffer_s=4", "telemetry.beacons=false") as stack:
            page = browser.new_page()
            page.goto(stack.edge_url + f"/?title={TITLE}&protocol=hls&autoplay=1&rate=1")
            wait_for(page, lambda s: s["abr"]["decisions"]["model"] >= 3, 30, "three model decisions")
            signal_tree(server.process.pid, signal.SIGSTOP)  # the server hangs: connections open, no answers
            frozen = True
            hung_from = len(page.evaluate(READ)["abr"]["segments"])
            wait_for(page, lambda s: s["abr"]["fallbacks"].get("timeout", 0) >= 3, 20, "fallbacks while it hangs")
            hung_until = len(page.evaluate(READ)["abr"]["segments"])
            signal_tree(server.process.pid, signal.SIGCONT)
            frozen = False
            final = wait_for(page, lambda s: s["state"] in ("ended", "error"), 40, "the end of the clip")
    finally:
        if page is not None:
            page.close()
        if frozen:
            signal_tree(server.process.pid, signal.SIGCONT)
        server.stop()
    assert final["state"] == "ended" and not final["fatalErrors"], final["error"]
    segments = final["abr"]["segments"]
    assert len(segments) == 12
    during = segments[hung_from + 1 : hung_until]
    assert during and all(s["source"] == "fallback" and "(timeout)" in s["reason"] for s in during)
    assert segments[-1]["source"] == "model"  # back on the model once it answers again
    assert final["beacons"]["rebufferCount"] == 0  # the hang cost the viewer no stall
