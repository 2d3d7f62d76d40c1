"""Issue 2's acceptance, as a user types it: ``stream ingest`` then ``stream serve``, played through the edge."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from streamlab.streaming.catalog_page.settings import load_catalog_settings
from streamlab.streaming.player.browser import check_playback

pytestmark = pytest.mark.slow


def _free_port_block() -> int:
    """An edge port whose shield, origin (+1, +2) and admin ports (+20, +21) are free too."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 65000 and all(_free(port + i) for i in (0, 1, 2, 20, 21)):
            return port
    raise RuntimeError("no block of three free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _streamlab(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streamlab.cli", *args], capture_output=True, text=True, env=env, timeout=300)


def test_cli_ingest_then_serve_plays_through_the_edge(raw_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "STREAMLAB_MEDIA_ROOT": str(tmp_path / "media")}
    ingest = _streamlab("stream", "ingest", str(raw_dir / "videos" / "bigbuckbunny.mp4"), "--title-id", "bbb",
                        "transcode.mode=serial", env=env)
    assert ingest.returncode == 0, ingest.stderr
    assert "published 'bbb'" in ingest.stdout and (tmp_path / "media" / "bbb" / "master.m3u8").is_file()

    port = _free_port_block()
    server = subprocess.Popen([sys.executable, "-m", "streamlab.cli", "stream", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    edge = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(edge + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail(f"stream serve did not come up on {edge}")
        for protocol in ("hls", "dash"):
            result = check_playback(edge + "/", "bbb", protocol)
            assert result.ok and result.fatal_error is None and result.advanced_s >= 5.0
            # every page, manifest and segment request went to the edge; the only other origin the page may
            # call is the configured model server (abr/decide, beacons), which it falls back from when absent
            serving = load_catalog_settings().serving_base
            assert [o for o in result.origins if o != serving] == [edge], result.origins
        stats = httpx.get(edge + "/_stats", timeout=5).json()
        assert stats["hits"] > 0 and stats["misses"] > 0
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=20)
    assert server.returncode == 0, output
    assert f"player      {edge}/" in output
