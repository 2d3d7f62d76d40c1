"""Several hooked edges (content-steering pathways) over one origin, with the steering and playback services.

The multi-CDN picture on one host, for tests, drills and ``streamlab edge serve``: each pathway is
an edge cache tier behind the viewer-request hook (and a :class:`~.faults.FaultInjector` a drill
can turn on), all filling from one origin whose manifests are capped per device and carry the
steering tags. Sockets are bound first, so the origin can name the pathways' and the steering
server's real URLs even on OS-chosen ports. The servers share one background event loop
(:class:`streamlab.streaming.delivery.stack.ServerThread`).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp

from streamlab.core import project
from streamlab.streaming.delivery.cache_tier import CacheTier
from streamlab.streaming.delivery.origin import create_origin_app
from streamlab.streaming.delivery.settings import DeliverySettings, load_delivery_settings
from streamlab.streaming.delivery.stack import ServerThread, StackError, bind_socket, socket_url
from streamlab.streaming.drm.settings import load_drm_settings
from streamlab.streaming.drm.tokens import TokenSigner
from streamlab.streaming.edge.faults import FaultInjector
from streamlab.streaming.edge.hook import ViewerHook, ViewerRequestHook
from streamlab.streaming.edge.settings import EdgeSettings, Pathway, load_edge_settings
from streamlab.streaming.experiment.definition import Experiment
from streamlab.streaming.playback.service import PlaybackContext, PlaybackService, create_playback_app
from streamlab.streaming.steering.server import SteeringServer, create_steering_app


@dataclass(frozen=True)
class EdgeNode:
    pathway: str
    url: str
    tier: CacheTier
    faults: FaultInjector
    hook: ViewerRequestHook


@dataclass(frozen=True)
class RunningEdges:
    origin_url: str
    edges: dict[str, EdgeNode]
    settings: EdgeSettings
    steering_url: str | None = None
    steering: SteeringServer | None = None
    playback_url: str | None = None


def hooked_edge(tier: CacheTier, hook: ViewerHook) -> tuple[ViewerRequestHook, FaultInjector]:
    """hook -> faults -> cache tier: what one hooked edge is (the order matters: faults see the region)."""
    faults = FaultInjector(tier)
    return ViewerRequestHook(faults, hook), faults


@contextmanager
def running_edges(
    media_root: Path | None = None,
    pathways: Sequence[str] = ("cdn-a",),
    *,
    edge: EdgeSettings | None = None,
    delivery: DeliverySettings | None = None,
    steering: bool = False,
    probe: bool = True,
    signer: TokenSigner | None = None,
    experiments: list[Experiment] | None = None,
    live_state_dir: Path | None = None,
) -> Iterator[RunningEdges]:
    """Start the origin, one hooked edge per pathway id, the steering server (``steering``) and the
    playback service (when a ``signer`` is given); stop them all on exit. Loopback, OS-chosen ports.

    ``experiments`` fixes the hook's experiments (default: re-read from the state dir).
    """
    edge = edge or load_edge_settings()
    delivery = delivery or load_delivery_settings()
    media_root = (media_root or project.media_root()).resolve()
    if steering and len(pathways) < 2:
        raise StackError("content steering needs at least two pathways")
    names = ["origin", *(f"edge:{p}" for p in pathways)] + (["steering"] if steering else []) + (["playback"] if signer else [])
    sockets = {}
    try:
        for name in names:
            sockets[name] = bind_socket("127.0.0.1", 0)
    except StackError:
        for sock in sockets.values():
            sock.close()
        raise
    urls = {name: socket_url(sock) for name, sock in sockets.items()}
    if signer is not None and edge.playback.manifest_base_url is None:  # players fetch manifests from the (first) edge
        edge = edge.model_copy(update={"playback": edge.playback.model_copy(update={"manifest_base_url": urls[f"edge:{pathways[0]}"]})})
    if steering:
        edge = edge.model_copy(update={"steering": edge.steering.model_copy(update={
            "server_url": urls["steering"], "pathways": [Pathway(id=p, url=urls[f"edge:{p}"]) for p in pathways]})})
    apps: list[tuple[ASGIApp, socket.socket]] = [(create_origin_app(delivery, media_root=media_root, edge=edge), sockets["origin"])]
    nodes: dict[str, EdgeNode] = {}
    for pathway in pathways:
        tier = CacheTier(f"edge-{pathway}", urls["origin"], delivery.edge, delivery.upstream)
        hooked, faults = hooked_edge(tier, ViewerHook(edge.hook, experiments))
        nodes[pathway] = EdgeNode(pathway, urls[f"edge:{pathway}"], tier, faults, hooked)
        apps.append((hooked, sockets[f"edge:{pathway}"]))
    server = None
    if steering:
        server = SteeringServer(edge)
        apps.append((create_steering_app(server, probe=probe), sockets["steering"]))
    if signer is not None:
        context = PlaybackContext(media_root, live_state_dir or project.state_dir() / "live",
                                  license_url=load_drm_settings().license_public_url)
        apps.append((create_playback_app(PlaybackService(edge, signer, context)), sockets["playback"]))
    servers = ServerThread(apps, delivery.event_loop, delivery.connections)
    servers.start(delivery.startup_timeout_s)
    try:
        yield RunningEdges(urls["origin"], nodes, edge, urls.get("steering"), server, urls.get("playback"))
    finally:
        servers.stop()
