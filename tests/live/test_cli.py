"""``streamlab live start|status|stop`` as a user types them, and the one-line errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from streamlab.cli import run
from tests.live.conftest import free_port, test_overrides

STREAMLAB = str(Path(sys.executable).with_name("streamlab"))


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_status_of_an_unknown_channel_is_one_error(live_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["live", "status", "nosuchchannel"]) == 1
    assert "unknown channel 'nosuchchannel'" in _error_line(capsys)
    assert run(["live", "stop", "nosuchchannel"]) == 1
    assert "unknown channel" in _error_line(capsys)


def test_invalid_channel_name_and_ingest_are_usage_errors(live_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["live", "start", "Bad/Name"]) == 2
    assert "channel name 'Bad/Name' is not valid" in _error_line(capsys)
    assert run(["live", "start", "news", "--ingest", "rtsp"]) == 2
    assert "--ingest 'rtsp' is not supported; use one of srt, rtmp" in _error_line(capsys)


def test_a_source_without_video_is_refused(live_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("a shopping list, not a video\n" * 20)
    assert run(["live", "start", "news", "--source", str(notes), *test_overrides()]) == 1
    assert "has no decodable video" in _error_line(capsys)
    assert run(["live", "start", "news", "--source", str(tmp_path / "missing.mp4"), *test_overrides()]) == 1
    assert "does not exist" in _error_line(capsys)


def test_an_ingest_port_in_use_is_refused(live_env: Path, raw_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port(socket.SOCK_DGRAM)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", port))
        source = str(raw_dir / "videos" / "bigbuckbunny.mp4")
        assert run(["live", "start", "news", "--source", source, *test_overrides(), f"ingest.primary_port={port}"]) == 1
    assert f"primary ingest port {port}" in _error_line(capsys)


@pytest.mark.slow
def test_start_status_stop_leaves_no_process_behind(live_env: Path, raw_dir: Path) -> None:
    env = {**os.environ}
    source = str(raw_dir / "videos" / "bigbuckbunny.mp4")
    overrides = test_overrides(backup=False)
    started = subprocess.run([STREAMLAB, "live", "start", "sports", "--source", source, *overrides],
                             capture_output=True, text=True, env=env, timeout=90)
    try:
        assert started.returncode == 0, started.stderr
        assert "channel sports: live" in started.stdout and "/live/sports/master.m3u8" in started.stdout
        status = subprocess.run([STREAMLAB, "live", "status", "sports"], capture_output=True, text=True, env=env, timeout=30)
        assert status.returncode == 0, status.stderr
        for expected in ("input  primary: receiving (active)", "rung   360p: 640x360", "rung   180p: 320x180", "latency at the packager",
                         "audio      : AAC 96 kbit/s mp4a.40.2", "ladder: fixed"):
            assert expected in status.stdout, status.stdout
        again = subprocess.run([STREAMLAB, "live", "start", "sports", "--source", source, *overrides],
                               capture_output=True, text=True, env=env, timeout=60)
        assert again.returncode == 1 and again.stderr.strip().startswith("error: channel 'sports' is already running")
    finally:
        from streamlab.streaming.live.lifecycle import channel_processes

        processes = channel_processes("sports")
        assert len(processes) >= 4  # channel, receiver, transcoder, contribution encoder
        stopped = subprocess.run([STREAMLAB, "live", "stop", "sports"], capture_output=True, text=True, env=env, timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    alive = [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"left behind: {[(p.pid, p.name()) for p in alive]}"
    after = subprocess.run([STREAMLAB, "live", "status", "sports"], capture_output=True, text=True, env=env, timeout=30)
    assert "channel sports: stopped" in after.stdout


def test_watching_an_unknown_or_stopped_channel_is_one_error(live_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["live", "watch", "nosuchchannel", "--seconds", "5"]) == 1
    assert "unknown channel 'nosuchchannel'" in _error_line(capsys)
    assert run(["live", "watch", "nosuchchannel", "--seconds", "1"]) == 2  # below the 5-sample floor
    assert "--seconds" in _error_line(capsys)
