"""Origin, M shields and E edges on loopback: the topology a peak event is measured on.

The origin and the shields are the Python tiers (in one event loop, as in
:func:`streamlab.streaming.delivery.stack.running_stack`); each edge is either the Python cache
tier or a varnishd child process with the generated VCL (:mod:`.varnish`). Every edge picks a
shield per channel/title by the same rendezvous hash (:mod:`.shields`), so adding an edge adds
at most one origin request per object per shield. While a shield is down (refusing connections)
every edge goes straight to the origin, as a CDN edge bypasses an unhealthy shield. The tiers' admin (purge) APIs are
``running_stack``'s and not started here.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import psutil
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from streamlab.core import project
from streamlab.streaming.delivery.cache_tier import CacheTier
from streamlab.streaming.delivery.engines.faults import FaultWatcher, TierRestarter
from streamlab.streaming.delivery.engines.shields import pick_shield, shield_names
from streamlab.streaming.delivery.engines.varnish import EngineError, VarnishEdge, check_engine, start_varnish
from streamlab.streaming.delivery.fetch_log import FetchLog
from streamlab.streaming.delivery.origin import create_origin_app
from streamlab.streaming.delivery.settings import DeliverySettings, load_delivery_settings
from streamlab.streaming.delivery.stack import (
    ServerThread,
    StackError,
    bind_socket,
    in_subprocess,
    socket_url,
    wait_healthy,
    wait_until_stopped,
)


class ShieldRoutedEdge:
    """A Python edge in front of several shields: one :class:`CacheTier` per shield, chosen per
    request by :func:`pick_shield`. An object lives in exactly one of them (its key always picks the
    same shield), so the split caches hold no duplicates; ``/_stats`` sums them."""

    def __init__(self, tiers: list[CacheTier]) -> None:
        self.tiers = tiers
        self.names = shield_names(len(tiers))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.tiers[0]._lifespan(receive, send)  # startup/shutdown once, closing every pool
            for tier in self.tiers[1:]:
                await tier.aclose()
            return
        if scope["type"] == "http" and scope["path"] == "/_stats":
            await JSONResponse(self.snapshot(), headers={"Cache-Control": "no-store"})(scope, receive, send)
            return
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        await self.tiers[pick_shield(target, self.names)](scope, receive, send)

    def snapshot(self) -> dict[str, object]:
        snapshots = [tier.snapshot() for tier in self.tiers]
        summed = {key: sum(s[key] for s in snapshots) for key, value in snapshots[0].items()
                  if isinstance(value, int) and not isinstance(value, bool)}
        return summed | {"tier": "edge", "upstreams": [s["upstream"] for s in snapshots]}


@dataclass
class Cluster:
    engine: str
    edge_urls: list[str]
    shield_urls: list[str]
    origin_url: str
    shields: list[CacheTier] = field(repr=False)
    varnish: list[VarnishEdge] = field(default_factory=list, repr=False)

    def urls(self) -> dict[str, object]:
        return {"engine": self.engine, "edges": self.edge_urls, "shields": self.shield_urls, "origin": self.origin_url,
                "pid": os.getpid(), "varnish_pids": [edge.pid for edge in self.varnish],
                "varnish_instances": [str(edge.instance) for edge in self.varnish]}


def tier_processes(pid: int, varnish_pids: Sequence[int]) -> dict[str, list[psutil.Process]]:
    """The processes of a running cluster by tier: ``cluster`` (the Python tiers' process, with any
    child that is not a varnishd) and ``varnish`` (each varnishd manager and its cache child).

    Why: varnishd is started by the cluster process (:func:`.varnish.start_varnish` is a
    ``Popen``), so it is in that process's tree. Counted as one tree, the Python tiers were
    charged all of varnishd's CPU, which grows with the viewers while the Python process's own
    does not (it serves only the edge's misses). Processes gone meanwhile are left out.
    """
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {"cluster": [], "varnish": []}
    varnish: list[psutil.Process] = []
    for manager_pid in varnish_pids:
        try:
            manager = psutil.Process(manager_pid)
            varnish += [manager, *manager.children(recursive=True)]
        except psutil.Error:
            continue
    varnish_ids = {p.pid for p in varnish}
    return {"cluster": [p for p in tree if p.pid not in varnish_ids], "varnish": varnish}


def tier_cpu_s(pid: int, varnish_pids: Sequence[int]) -> dict[str, float]:
    """User + system CPU seconds so far of each tier of :func:`tier_processes` (0 for a process gone)."""
    out = {}
    for tier, processes in tier_processes(pid, varnish_pids).items():
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        out[tier] = total
    return out


@contextmanager
def running_cluster(
    engine: str = "python",
    edges: int = 1,
    shields: int | None = None,
    media_root: Path | str | None = None,
    overrides: list[str] | None = None,
    *,
    settings: DeliverySettings | None = None,
    host: str = "127.0.0.1",
    edge_ports: list[int] | None = None,
    shield_ports: list[int] | None = None,
    origin_port: int = 0,
    fault_dir: Path | str | None = None,
) -> Iterator[Cluster]:
    """Start origin, ``shields`` shields (default ``topology.shields``) and ``edges`` edges of ``engine``.

    With ``fault_dir``, fault requests dropped there restart the origin or a shield (:mod:`.faults`).
    """
    check_engine(engine)
    settings = settings or load_delivery_settings(overrides)
    shields = shields or settings.topology.shields
    if edges < 1:
        raise EngineError(f"edges must be at least 1, not {edges}")
    edge_ports = edge_ports or [0] * edges
    shield_ports = shield_ports or [0] * shields
    media_root = Path(media_root or project.media_root()).resolve()
    with ExitStack() as stack:
        sockets = []
        try:
            for port in [origin_port, *shield_ports, *(edge_ports if engine == "python" else [])]:
                sockets.append(bind_socket(host, port))
        except StackError:
            for sock in sockets:
                sock.close()
            raise
        origin_url = socket_url(sockets[0])
        shield_socks = sockets[1 : 1 + shields]
        shield_urls = [socket_url(s) for s in shield_socks]
        fetch_logs = [FetchLog() for _ in shield_urls]  # kept across a shield's restarts: its refetches are told apart
        shield_tiers = [CacheTier("shield", origin_url, settings.shield, settings.upstream, fetch_log=log) for log in fetch_logs]
        apps = [(create_origin_app(settings, media_root=media_root), sockets[0]), *zip(shield_tiers, shield_socks, strict=True)]
        edge_urls: list[str] = []
        if engine == "python":
            for sock in sockets[1 + shields :]:
                tiers = [CacheTier("edge", url, settings.edge, settings.upstream, fallback_url=origin_url) for url in shield_urls]
                apps.append((tiers[0] if len(tiers) == 1 else ShieldRoutedEdge(tiers), sock))
                edge_urls.append(socket_url(sock))
        servers = ServerThread(apps, settings.event_loop, settings.connections)
        servers.start(settings.startup_timeout_s)
        stack.callback(servers.stop)
        if fault_dir is not None:
            restarter = TierRestarter(settings)
            restarter.register("origin", 0, servers, 0, lambda: create_origin_app(settings, media_root=media_root))
            for i in range(shields):
                restarter.register("shield", i, servers, 1 + i, partial(CacheTier, "shield", origin_url, settings.shield,
                                                                        settings.upstream, fetch_log=fetch_logs[i]))
            stack.enter_context(FaultWatcher(restarter, Path(fault_dir)))
        varnish: list[VarnishEdge] = []
        if engine == "varnish":
            for port in edge_ports:
                edge = start_varnish(settings, shield_urls, host=host, port=port, fallback_url=origin_url)
                stack.callback(edge.stop, settings.varnish.stop_timeout_s)
                varnish.append(edge)
                edge_urls.append(edge.url)
        for url in edge_urls:
            wait_healthy(url, settings.startup_timeout_s)
        yield Cluster(engine, edge_urls, shield_urls, origin_url, shield_tiers, varnish)


@contextmanager
def _cluster_urls(**kwargs: object) -> Iterator[dict]:
    with running_cluster(**kwargs) as cluster:  # type: ignore[arg-type]
        yield cluster.urls()


@contextmanager
def cluster_in_subprocess(timeout_s: float = 60.0, **kwargs: object) -> Iterator[dict]:
    """The cluster in a process of its own, so a load generator never shares the tiers' GIL.

    Yields :meth:`Cluster.urls` (with the child's ``pid``, the Python tiers' process; its varnishds
    are its children, so measure each tier's CPU with :func:`tier_cpu_s`, not the ``pid``'s tree).
    """
    with in_subprocess(_cluster_urls, kwargs, timeout_s, "the delivery cluster") as urls:
        yield urls


def serve_cluster_forever(host: str, port: int, settings: DeliverySettings, engine: str) -> None:
    """``stream serve --edge varnish`` (or several shields): edge on ``port``, shield 0 on +1, the
    origin on +2, shield ``i`` > 0 on +2+i, until Ctrl-C or SIGTERM (varnishd is stopped by PID)."""
    shields = settings.topology.shields
    if not 0 < port <= 65535 - 2 - shields:
        raise StackError(f"edge port {port} is not valid: use 1-{65535 - 2 - shields} (shields and origin take the next ones)")
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with running_cluster(engine, 1, shields, settings=settings, host=host, edge_ports=[port],
                             shield_ports=[port + 1, *(port + 2 + i for i in range(1, shields))],
                             origin_port=port + 2) as cluster:
            print(f"streamlab delivery ({engine} edge): serving {project.media_root()}")
            print(f"  player      {cluster.edge_urls[0]}/")
            print(f"  edge        {cluster.edge_urls[0]}" + (f"   varnishd pid {cluster.varnish[0].pid}, VCL "
                                                             f"{cluster.varnish[0].vcl_path}" if cluster.varnish else ""))
            for url in cluster.shield_urls:
                print(f"  shield      {url}   stats {url}/_stats   metrics {url}/metrics")
            print(f"  origin      {cluster.origin_url}")
            wait_until_stopped(stop)
    finally:
        signal.signal(signal.SIGTERM, previous)
