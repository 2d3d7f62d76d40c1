"""PID files tie ``live start``, ``status`` and ``stop`` together: a recorded process must stay
recognised for as long as it runs, whatever the wall clock does, and a recycled PID must not be."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import psutil._pslinux
import pytest

from streamlab.streaming.live.state import ChannelPaths


@pytest.fixture()
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def test_a_wall_clock_step_does_not_orphan_a_recorded_process(tmp_path: Path, sleeper: subprocess.Popen[bytes],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel's boot time (``btime``, wall clock minus uptime) moves by whole seconds when the
    clock is stepped or slewed; a channel that ran through that was no longer "ours" to ``live stop``,
    which then left its contribution encoder running (seen after a 12-minute DVR run)."""
    paths = ChannelPaths(tmp_path)
    paths.record("contribution-primary", sleeper.pid)
    assert paths.process("contribution-primary") is not None
    btime = psutil._pslinux.boot_time()
    monkeypatch.setattr(psutil._pslinux, "boot_time", lambda: btime + 1.0)  # the clock was stepped by a second
    found = paths.process("contribution-primary")
    assert found is not None and found.pid == sleeper.pid


def test_a_recycled_pid_is_not_taken_for_the_recorded_process(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    paths = ChannelPaths(tmp_path)
    paths.record("channel", sleeper.pid)
    recorded = json.loads(paths.pid_file("channel").read_text())
    recorded["start_ticks"] -= 100  # another process that ran under the same PID a second earlier
    paths.pid_file("channel").write_text(json.dumps(recorded))
    assert paths.process("channel") is None
