"""Origin → shield → edge on one host: for tests, the demo, the benchmark and ``stream serve``.

All three uvicorn servers run in one background thread with its own event loop; their sockets
are bound *before* the apps are built, so each tier knows its upstream's real port even when
the ports are chosen by the OS (port 0). Viewers only ever talk to the edge. Each cache tier
also has an admin listener (:mod:`.cache_admin`, loopback, bearer token) for purges; every
listener bounds its connections (:mod:`.bounded_http`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
from starlette.types import ASGIApp

from streamlab.core import project
from streamlab.core.errors import StreamlabError
from streamlab.streaming.delivery.bounded_http import bounded_protocol
from streamlab.streaming.delivery.cache_admin import create_admin_app
from streamlab.streaming.delivery.cache_tier import CacheTier
from streamlab.streaming.delivery.origin import create_origin_app
from streamlab.streaming.delivery.settings import AdminSettings, ConnectionLimits, DeliverySettings, load_delivery_settings
from streamlab.streaming.edge.hook import ViewerHook, ViewerRequestHook
from streamlab.streaming.edge.settings import load_edge_settings


class StackError(StreamlabError):
    """A server of the stack could not bind its port or did not come up."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: a free port), or a clear error when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StackError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another port, e.g. --port 8080") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def socket_url(sock: socket.socket) -> str:
    """The URL to reach a listening socket; a wildcard bind is reached over loopback."""
    host, port = sock.getsockname()[:2]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ServerThread:
    """Serve several ASGI apps, each on its pre-bound socket, from one background event loop.

    Every connection is bounded by ``limits`` (header bytes, header/body/idle timeouts; the
    defaults of :class:`ConnectionLimits` when not given), whatever app it reaches.
    """

    def __init__(
        self, apps: list[tuple[ASGIApp, socket.socket]], event_loop: str = "auto", limits: ConnectionLimits | None = None
    ) -> None:
        protocol = bounded_protocol(limits or ConnectionLimits())
        self.servers = [
            (
                uvicorn.Server(
                    uvicorn.Config(app, http=protocol, log_level="warning", access_log=False, lifespan="on",
                                   server_header=False, timeout_graceful_shutdown=3)
                ),
                sock,
            )
            for app, sock in apps
        ]
        self.event_loop = event_loop
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="streamlab-delivery", daemon=True)

    def _new_loop(self) -> asyncio.AbstractEventLoop:
        if self.event_loop in ("auto", "uvloop"):
            try:
                import uvloop

                return uvloop.new_event_loop()
            except ImportError:
                if self.event_loop == "uvloop":
                    raise
        return asyncio.new_event_loop()

    def _run(self) -> None:
        loop = self._loop = self._new_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in self.servers)))
        except BaseException as exc:  # surfaced by start() / stop() in the calling thread
            self.error = exc
        finally:
            loop.close()

    def start(self, timeout_s: float) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not all(server.started for server, _ in self.servers):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise StackError(f"delivery servers did not start within {timeout_s} s: {self.error!r}")
            time.sleep(0.01)

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            def request_exit() -> None:
                for server, _ in self.servers:
                    server.should_exit = True
            try:
                loop.call_soon_threadsafe(request_exit)
            except RuntimeError:  # loop closed meanwhile
                pass
        self._thread.join(timeout=10)
        for _, sock in self.servers:
            sock.close()


@dataclass(frozen=True)
class RunningStack:
    edge_url: str
    shield_url: str
    origin_url: str
    edge: CacheTier
    shield: CacheTier
    media_root: Path
    edge_admin_url: str
    shield_admin_url: str
    admin_token: str = field(repr=False)

    @property
    def player_url(self) -> str:
        return self.edge_url + "/"

    def purge(self, prefix: str) -> dict[str, int]:
        """Drop cached objects under ``prefix`` (e.g. ``/media/bbb/`` after republishing ``bbb``)."""
        return purge_tiers([("shield", self.shield_admin_url), ("edge", self.edge_admin_url)], self.admin_token, prefix)


def purge_tiers(admin_urls: list[tuple[str, str]], token: str, prefix: str) -> dict[str, int]:
    """Purge ``prefix`` through each tier's admin API, in order: ``[(name, admin_url), ...]``.

    List the shield before the edge: purging the edge first could refill it from the shield's
    old copy. Returns the number of objects each tier dropped.
    """
    purged = {}
    with httpx.Client(trust_env=False, timeout=10) as client:
        for name, url in admin_urls:
            try:
                response = client.post(url + "/purge", params={"prefix": prefix}, headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError as exc:
                raise StackError(f"purging {prefix!r} at the {name} failed: {url} unreachable ({exc})") from exc
            if response.status_code != 200:
                reason = response.text.strip()
                if response.headers.get("content-type", "").startswith("application/json"):
                    reason = response.json().get("error", reason)
                raise StackError(f"purging {prefix!r} at the {name} failed: HTTP {response.status_code}: {reason}")
            purged[name] = response.json()["purged"]
    return purged


def load_admin_token(settings: AdminSettings) -> str:
    """The admin bearer token: ``$<token_env>`` when set (and long enough), else a random one for this run."""
    token = os.environ.get(settings.token_env, "")
    if not token:
        return secrets.token_urlsafe(32)
    if len(token) < settings.min_token_chars or not token.isprintable() or " " in token:
        raise StackError(f"${settings.token_env} must be at least {settings.min_token_chars} printable characters "
                         "without spaces, e.g. the output of `python -c 'import secrets; print(secrets.token_urlsafe())'`")
    return token


@contextmanager
def running_stack(
    media_root: Path | None = None,
    overrides: list[str] | None = None,
    ports: tuple[int, int, int] | None = None,
    *,
    host: str | None = None,
    settings: DeliverySettings | None = None,
) -> Iterator[RunningStack]:
    """Start origin, shield (upstream: origin) and edge (upstream: shield); stop them on exit.

    ``ports`` is ``(edge, shield, origin)``; the default ``None`` lets the OS pick free ports and
    binds loopback. ``host`` defaults to 127.0.0.1 (``serve_forever`` passes the configured one).
    The tiers' admin listeners bind ``admin.host``, at ``edge + admin.port_offset`` (and + 1)
    when ``ports`` are given, else on free ports.
    """
    settings = settings or load_delivery_settings(overrides)
    host = host or "127.0.0.1"
    edge_port, shield_port, origin_port = ports or (0, 0, 0)
    admin_ports = (edge_port + settings.admin.port_offset, edge_port + settings.admin.port_offset + 1) if ports else (0, 0)
    token = load_admin_token(settings.admin)
    media_root = (media_root or project.media_root()).resolve()
    sockets: list[socket.socket] = []
    try:
        for bind_host, port in ((host, origin_port), (host, shield_port), (host, edge_port),
                                (settings.admin.host, admin_ports[1]), (settings.admin.host, admin_ports[0])):
            sockets.append(bind_socket(bind_host, port))
    except StackError:
        for sock in sockets:
            sock.close()
        raise
    origin_sock, shield_sock, edge_sock, shield_admin_sock, edge_admin_sock = sockets
    origin_url, shield_url, edge_url, shield_admin_url, edge_admin_url = (socket_url(s) for s in sockets)
    shield = CacheTier("shield", origin_url, settings.shield, settings.upstream)
    edge = CacheTier("edge", shield_url, settings.edge, settings.upstream)
    # The viewer-request hook (device class, region, A/B arms) runs in front of the edge, so the tiers behind it
    # see its headers and the origin can cap manifests per device (configs/edge.yaml).
    edge_app = ViewerRequestHook(edge, ViewerHook(load_edge_settings().hook))
    origin = create_origin_app(settings, media_root=media_root)
    servers = ServerThread(
        [(origin, origin_sock), (shield, shield_sock), (edge_app, edge_sock),
         (create_admin_app(shield, token), shield_admin_sock), (create_admin_app(edge, token), edge_admin_sock)],
        settings.event_loop, settings.connections,
    )
    servers.start(settings.startup_timeout_s)
    try:
        wait_healthy(edge_url, settings.startup_timeout_s)
        yield RunningStack(edge_url, shield_url, origin_url, edge, shield, media_root, edge_admin_url, shield_admin_url, token)
    finally:
        servers.stop()


@contextmanager
def _stack_urls(media_root: str, overrides: list[str] | None) -> Iterator[dict[str, str]]:
    with running_stack(media_root=Path(media_root), overrides=overrides) as stack:
        yield {"edge": stack.edge_url, "shield": stack.shield_url, "origin": stack.origin_url, "pid": str(os.getpid())}


@contextmanager
def stack_in_subprocess(
    media_root: Path, overrides: list[str] | None = None, timeout_s: float = 60.0
) -> Iterator[dict[str, str]]:
    """The stack in a process of its own (``{"edge": url, "shield": url, "origin": url, "pid": pid}``).

    Load generators (benchmarks, many headless players) must not share the tiers' GIL, or the
    measurement measures the client: this keeps the servers' event loop on its own core share.
    """
    with in_subprocess(_stack_urls, {"media_root": str(media_root), "overrides": overrides}, timeout_s,
                       "the delivery stack") as urls:
        yield urls


def _subprocess_child(conn, factory: Callable[..., AbstractContextManager[dict]], kwargs: dict) -> None:  # noqa: ANN001 - a Pipe end
    """Child of :func:`in_subprocess`: enter ``factory(**kwargs)``, report what it yields, exit when told."""
    try:
        with factory(**kwargs) as info:
            conn.send(info)
            conn.recv()
    except Exception as exc:  # reported to the parent as a clear error instead of a silent dead child
        conn.send({"error": f"{type(exc).__name__}: {exc}"})


@contextmanager
def in_subprocess(
    factory: Callable[..., AbstractContextManager[dict]], kwargs: dict, timeout_s: float, what: str
) -> Iterator[dict]:
    """Run the context manager ``factory(**kwargs)`` in a spawned process while the block runs.

    Yields the dict it yields (URLs, PIDs); a failure to start is one :class:`StackError` naming
    ``what``. The child leaves the context (stopping its servers) when the block ends.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_subprocess_child, args=(child, factory, kwargs), daemon=False)
    process.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not parent.poll(0.1):
            if not process.is_alive():
                raise StackError(f"{what} process exited (code {process.exitcode}) before it started")
            if time.monotonic() > deadline:
                raise StackError(f"{what} process did not start within {timeout_s} s")
        info = parent.recv()
        if "error" in info:
            raise StackError(f"{what} process failed to start: {info['error']}")
        yield info
    finally:
        try:
            parent.send("stop")
        except OSError:
            pass
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)


def wait_healthy(edge_url: str, timeout_s: float) -> None:
    """The edge answering ``/healthz`` proves the whole chain (edge → shield → origin) is up."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            try:
                response = client.get(edge_url + "/healthz")
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.05)
    raise StackError(f"edge {edge_url} did not answer /healthz within {timeout_s} s (last: {last!r})")


def wait_until_stopped(stop: threading.Event) -> None:
    """Block a foreground server command until Ctrl-C or ``stop`` (set by its SIGTERM handler)."""
    print("Ctrl-C to stop", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    print("stopping", flush=True)


def serve_forever(host: str | None, port: int | None, overrides: list[str] | None, edge: str = "python") -> None:
    """``streamlab stream serve``: edge on ``host:port``, shield on port+1, origin on port+2, until Ctrl-C.

    ``edge="varnish"`` (or ``topology.shields`` > 1) serves :func:`.engines.cluster.serve_cluster_forever`
    instead: the same ports, without the tiers' admin (purge) listeners.
    """
    from streamlab.streaming.delivery.engines.varnish import check_engine

    check_engine(edge)
    settings = load_delivery_settings(overrides)
    if edge != "python" or settings.topology.shields > 1:
        from streamlab.streaming.delivery.engines.cluster import serve_cluster_forever

        serve_cluster_forever(host or settings.host, settings.edge_port if port is None else port, settings, edge)
        return
    host = host or settings.host
    port = settings.edge_port if port is None else port
    highest = 65535 - settings.admin.port_offset - 1
    if not 0 < port <= highest:
        raise StackError(f"edge port {port} is not valid: use 1-{highest} (the shield and origin take the next two, "
                         f"the tiers' admin APIs +{settings.admin.port_offset} and +{settings.admin.port_offset + 1})")
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with running_stack(ports=(port, port + 1, port + 2), host=host, settings=settings) as stack:
            print(f"streamlab delivery: serving {stack.media_root}")
            print(f"  player      {stack.player_url}")
            print(f"  catalog     {stack.edge_url}/api/titles")
            print(f"  edge        {stack.edge_url}   stats {stack.edge_url}/_stats   metrics {stack.edge_url}/metrics")
            print(f"  shield      {stack.shield_url}   stats {stack.shield_url}/_stats   metrics {stack.shield_url}/metrics")
            print(f"  origin      {stack.origin_url}")
            token_from = (f"${settings.admin.token_env}" if os.environ.get(settings.admin.token_env)
                          else f"generated for this run; set ${settings.admin.token_env} to purge from outside")
            print(f"  admin       edge {stack.edge_admin_url}   shield {stack.shield_admin_url}   "
                  f"POST /purge?prefix=/media/<title>/, bearer token {token_from}")
            wait_until_stopped(stop)
    finally:
        signal.signal(signal.SIGTERM, previous)
