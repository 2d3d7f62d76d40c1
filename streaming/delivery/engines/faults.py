"""Restart a tier of a running cluster: it goes away for a while and comes back empty, as after a crash.

A peak event must survive a shield or the origin restarting under the crowd (issue #14). A restart
here is real: the tier's server stops (its listening socket closes, so new connections are refused;
its in-flight requests are cut after uvicorn's graceful timeout), nothing listens on its port for
``down_s`` seconds, then a *new* app (a shield with an empty cache, a fresh origin) listens on the
same port in a thread of its own. Meanwhile the edges send what the shield refuses straight to the
origin (their failover, :meth:`streamlab.streaming.delivery.cache_tier.CacheTier._send` and the
VCL's retry), and the shields answer 502 while the origin is down (viewers retry like hls.js);
every tier reconnects by itself.

The cluster runs in a process of its own (:func:`.cluster.cluster_in_subprocess`), so a fault is
asked for through a folder: the caller drops ``<n>.json`` (``{"tier": "shield", "index": 0,
"down_s": 5}``) into ``fault_dir`` and a watcher thread in the cluster's process runs it and writes
``<n>.done.json`` with the wall times (unix s) the tier went down and came back.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp

from streamlab.core.errors import UsageError
from streamlab.streaming.delivery.settings import DeliverySettings
from streamlab.streaming.delivery.stack import ServerThread, bind_socket

TIERS = ("shield", "origin")
WATCH_PERIOD_S = 0.05


@dataclass(frozen=True)
class Fault:
    tier: str
    down_s: float
    index: int = 0


def parse_faults(specs: list[str]) -> list[Fault]:
    """``["shield:5", "origin:5"]`` (``tier:seconds``, ``shield1:5`` for shield 1) as faults, or one clear error."""
    faults = []
    for spec in specs:
        name, _, seconds = str(spec).partition(":")
        tier = name.rstrip("0123456789")
        try:
            down_s = float(seconds)
        except ValueError:
            down_s = -1.0
        if tier not in TIERS or not 0 < down_s <= 120 or (tier == "origin" and name != tier):
            raise UsageError(f"bad fault {spec!r}: expected tier:seconds with tier one of {', '.join(TIERS)} "
                             f"(shield<N> for shield N) and 0 < seconds <= 120, e.g. shield:5")
        faults.append(Fault(tier, down_s, int(name[len(tier):] or 0)))
    return faults


@dataclass
class _Instance:
    port: int
    host: str
    make_app: Callable[[], ASGIApp]
    stop: Callable[[], None]


class TierRestarter:
    """Knows how to stop each tier's current server and start a fresh one on the same port."""

    def __init__(self, settings: DeliverySettings) -> None:
        self.settings = settings
        self.instances: dict[tuple[str, int], _Instance] = {}
        self.restarted: list[ServerThread] = []
        self.lock = threading.Lock()

    def register(self, tier: str, index: int, servers: ServerThread, position: int, make_app: Callable[[], ASGIApp]) -> None:
        """``servers.servers[position]`` is the tier's server; ``make_app`` builds a fresh one."""
        server, sock = servers.servers[position]
        host, port = sock.getsockname()[:2]
        self.instances[(tier, index)] = _Instance(port, host, make_app, lambda: setattr(server, "should_exit", True))

    def restart(self, fault: Fault) -> tuple[float, float]:
        """Stop the tier, wait ``down_s``, serve a new instance; returns (down_at, up_at) wall times."""
        instance = self.instances.get((fault.tier, fault.index))
        if instance is None:
            raise UsageError(f"no {fault.tier} {fault.index} in this cluster")
        down_at = time.time()
        instance.stop()
        time.sleep(fault.down_s)
        with self.lock:
            thread = ServerThread([(instance.make_app(), bind_socket(instance.host, instance.port))],
                                  self.settings.event_loop, self.settings.connections)
            thread.start(self.settings.startup_timeout_s)
            self.restarted.append(thread)
        instance.stop = thread.stop
        return down_at, time.time()

    def stop_all(self) -> None:
        with self.lock:
            for thread in self.restarted:
                thread.stop()


class FaultWatcher:
    """Runs the fault requests dropped into ``fault_dir`` (one at a time, in name order)."""

    def __init__(self, restarter: TierRestarter, fault_dir: Path) -> None:
        self.restarter = restarter
        self.fault_dir = fault_dir
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="streamlab-faults", daemon=True)

    def __enter__(self) -> FaultWatcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=130)
        self.restarter.stop_all()

    def _run(self) -> None:
        while not self.stopping.wait(WATCH_PERIOD_S):
            for request in sorted(p for p in self.fault_dir.glob("*.json") if not p.name.endswith(".done.json")):
                try:
                    fault = Fault(**json.loads(request.read_text()))
                    down_at, up_at = self.restarter.restart(fault)
                    outcome: dict[str, object] = {"tier": fault.tier, "index": fault.index, "down_at": down_at, "up_at": up_at}
                except Exception as exc:  # reported to the caller, never a dead watcher
                    outcome = {"error": f"{type(exc).__name__}: {exc}"}
                request.unlink(missing_ok=True)
                done = request.with_suffix(".done.tmp")
                done.write_text(json.dumps(outcome))
                done.rename(request.with_name(request.stem + ".done.json"))


def request_fault(fault_dir: Path, number: int, fault: Fault, timeout_s: float) -> dict[str, object]:
    """Ask the cluster's watcher for ``fault`` and wait until the tier is back; its outcome."""
    request = fault_dir / f"{number:03d}.json"
    pending = request.with_suffix(".tmp")
    pending.write_text(json.dumps({"tier": fault.tier, "index": fault.index, "down_s": fault.down_s}))
    pending.rename(request)
    done = fault_dir / f"{number:03d}.done.json"
    deadline = time.monotonic() + fault.down_s + timeout_s
    while time.monotonic() < deadline:
        if done.is_file():
            return json.loads(done.read_text())
        time.sleep(WATCH_PERIOD_S)
    return {"error": f"the cluster did not bring the {fault.tier} back within {fault.down_s + timeout_s:.0f} s"}
