"""The trial grid runs unchanged on a real two-node Ray cluster (head + worker on loopback).

The nodes are started with ``ray start`` under their own temp dir and stopped by the ids of
exactly the processes that carry that dir: never ``ray stop``, which would end every Ray on the
machine. Token auth is off for the three parties alike (head, worker, driver), or the worker
cannot join (see field-notes).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

RAY = str(Path(sys.executable).with_name("ray"))

DRIVER = r"""
import json, sys
from pathlib import Path
import ray
from streamlab.core.ray_runtime import init_ray, map_tasks
from streamlab.streaming.transcode.per_title.optimize import optimize_ladder

def where(_):
    import time
    time.sleep(1.0)
    return ray.get_runtime_context().get_node_id()

init_ray()
nodes = [n for n in ray.nodes() if n["Alive"]]
used = set(map_tasks(where, range(6), "placement probe"))
ladder = optimize_ladder(Path(sys.argv[1]), "hull", "h264", sys.argv[2:])
print(json.dumps({"nodes": len(nodes), "used": len(used), "rungs": len(ladder.rungs)}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pids_under(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.mark.slow
def test_trial_grid_runs_on_a_two_node_cluster(small_source: Path) -> None:
    temp_dir = tempfile.mkdtemp(prefix="rl", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    port = _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    common = ["--num-cpus", "1", "--disable-usage-stats"]
    try:
        subprocess.run([RAY, "start", "--head", "--port", str(port), "--node-ip-address", "127.0.0.1", "--temp-dir", temp_dir,
                        "--include-dashboard=false", *common], env=env, check=True, capture_output=True, timeout=120)  # fmt: skip
        subprocess.run([RAY, "start", "--address", f"127.0.0.1:{port}", "--node-ip-address", "127.0.0.1", *common],
                       env=env, check=True, capture_output=True, timeout=120)  # fmt: skip
        overrides = [
            "segment_duration_s=1",
            "grid.h264.preset=ultrafast",
            "grid.h264.crf=[22,34]",
            "grid.heights=[120]",
        ]
        driver = subprocess.run([sys.executable, "-c", DRIVER, str(small_source), *overrides],
                                env={**env, "RAY_ADDRESS": f"127.0.0.1:{port}"}, capture_output=True, text=True, timeout=240)  # fmt: skip
        assert driver.returncode == 0, driver.stderr[-2000:]
        result = json.loads(driver.stdout.strip().splitlines()[-1])
        assert result == {"nodes": 2, "used": 2, "rungs": result["rungs"]} and result["rungs"] >= 1
    finally:
        for pid in _pids_under(temp_dir) + _pids_under(f"127.0.0.1:{port}"):
            if pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        time.sleep(2)
        for pid in _pids_under(temp_dir) + _pids_under(f"127.0.0.1:{port}"):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
