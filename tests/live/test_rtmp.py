"""RTMP contribution (``live start --ingest rtmp``): FLV over RTMP into FFmpeg listeners, primary and
backup, packaged like SRT; the capture clock survives FLV's millisecond timestamps; a taken TCP port
is one ``error:`` line."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import m3u8
import pytest

from streamlab.cli import run
from tests.live.conftest import free_port, rtmp_overrides, stop_and_check
from tests.live.llhls_checks import check_one, check_sequence


def test_an_rtmp_port_in_use_is_one_error(live_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port(socket.SOCK_STREAM)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        overrides = [*rtmp_overrides(), f"ingest.primary_port={port}"]
        assert run(["live", "start", "news", "--ingest", "rtmp", "--source", "testsrc2=size=320x180:rate=30", *overrides]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert f"primary ingest port {port} (rtmp, TCP)" in err[0]


@pytest.mark.slow
def test_an_rtmp_channel_packages_its_feeds_and_fails_over(live_env: Path) -> None:
    from streamlab.streaming.live.lifecycle import start_channel
    from streamlab.streaming.live.state import ChannelPaths

    overrides = [*rtmp_overrides(backup=True), "contribution.width=320", "contribution.height=180"]
    state = start_channel("onrtmp", source="testsrc2=size=320x180:rate=30", ingest="rtmp", overrides=overrides)
    try:
        assert state["ingest_protocol"] == "rtmp" and state["active_input"] == "primary"
        base = f"{state['origin_url']}/live/onrtmp"
        url = f"{base}/180p/playlist.m3u8"
        with httpx.Client(timeout=10) as client:
            previous = check_one(client.get(url).text)
            for _ in range(6):  # parts keep coming, in order, on blocking reloads
                msn, part = previous.parts[-1][0], previous.parts[-1][1]
                next_msn, next_part = (msn + 1, 0) if previous.hint == f"seg{msn + 1}.0.m4s" else (msn, part + 1)
                response = client.get(url, params={"_HLS_msn": next_msn, "_HLS_part": next_part})
                assert response.status_code == 200, response.text
                snap = check_one(response.text)
                check_sequence(previous, snap)
                previous = snap
            playlist = m3u8.loads(response.text)
            last = [s for s in playlist.segments if s.uri][-1]
            lag = time.time() - (last.program_date_time.timestamp() + last.duration)
            assert -0.2 < lag < 7.0, f"PDT {lag:.2f} s behind now: the capture clock did not survive FLV"
            assert client.get(f"{base}/audio/playlist.m3u8").status_code == 200  # the FLV's AAC, as the audio rendition
            paths = ChannelPaths.for_channel("onrtmp")
            primary = paths.process("contribution-primary")
            assert primary is not None
            primary.kill()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and json.loads(paths.state.read_text())["active_input"] != "backup":
                time.sleep(0.3)
            after = json.loads(paths.state.read_text())
            assert after["active_input"] == "backup" and [e["kind"] for e in after["events"]] == ["input_failover"], after
            time.sleep(2.0)
            text = client.get(url).text
            assert "#EXT-X-DISCONTINUITY" in text
            check_one(text)
    finally:
        stop_and_check("onrtmp")
