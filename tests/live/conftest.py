"""Running live channels for tests: a small ladder, free ports, an isolated state folder and media root.

Every channel a fixture starts is stopped in its teardown by the PIDs it recorded, and the
teardown fails the test if any of its processes (FFmpeg included) is still alive.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

SMALL_LADDER = (
    "transcode.ladder=[{name: 360p, width: 640, height: 360, bitrate_kbps: 800},"
    " {name: 180p, width: 320, height: 180, bitrate_kbps: 250}]"
)
"""Two rungs: 2 cores shared with other work cannot run the default three in real time."""


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_overrides(backup: bool = True, dvr_window_s: float = 7200.0) -> list[str]:
    return [
        SMALL_LADDER,
        "contribution.width=640", "contribution.height=360", "contribution.preset=ultrafast", "contribution.bitrate_kbps=1500",
        f"contribution.backup={str(backup).lower()}",
        f"origin.port={free_port(socket.SOCK_STREAM)}",
        f"ingest.primary_port={free_port(socket.SOCK_DGRAM)}",
        f"ingest.backup_port={free_port(socket.SOCK_DGRAM) if backup else 0}",
        f"packaging.dvr_window_s={dvr_window_s}",
        "transcode.ladder_from=fixed",  # the model's decision costs seconds per start: its own tests run it
    ]


def rtmp_overrides(backup: bool = True) -> list[str]:
    """:func:`test_overrides` with free *TCP* ingest ports (RTMP listens on TCP, SRT on UDP)."""
    ports = [f"ingest.primary_port={free_port(socket.SOCK_STREAM)}",
             f"ingest.backup_port={free_port(socket.SOCK_STREAM) if backup else 0}"]
    return [o for o in test_overrides(backup) if not o.startswith(("ingest.primary_port", "ingest.backup_port"))] + ports


test_overrides.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@dataclass
class RunningChannel:
    name: str
    state: dict
    overrides: list[str]

    @property
    def base_url(self) -> str:
        return f"{self.state['origin_url']}/live/{self.name}"


@pytest.fixture(scope="module")
def live_env(tmp_path_factory: pytest.TempPathFactory, raw_dir: Path) -> Iterator[Path]:
    """STREAMLAB_HOME and the media root in a temporary folder, for the whole module (the fetched
    data is located first, under the real home)."""
    home = tmp_path_factory.mktemp("live-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMLAB_HOME", str(home))
        patch.setenv("STREAMLAB_MEDIA_ROOT", str(home / "media"))
        yield home


def stop_and_check(name: str) -> None:
    """Stop the channel; fail if any process it had (recorded or descendant) survives."""
    from streamlab.streaming.live.lifecycle import channel_processes, stop_channel

    processes = channel_processes(name)
    stop_channel(name)
    survivors = [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not survivors, f"left behind: {[(p.pid, p.name()) for p in survivors]}"


@pytest.fixture(scope="module")
def channel(live_env: Path, raw_dir: Path) -> Iterator[RunningChannel]:
    """One channel on the real clip with a backup feed and a 14 s DVR window, shared by a module."""
    from streamlab.streaming.live.lifecycle import start_channel

    overrides = test_overrides(backup=True, dvr_window_s=14.0)
    state = start_channel("news", source=str(raw_dir / "videos" / "bigbuckbunny.mp4"), overrides=overrides)
    try:
        yield RunningChannel("news", state, overrides)
    finally:
        stop_and_check("news")
