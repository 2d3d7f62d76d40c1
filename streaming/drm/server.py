"""Run the licence server: in the background (tests, demo) or in the foreground (``streamlab drm serve``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from streamlab.streaming.delivery.stack import ServerThread, bind_socket, socket_url
from streamlab.streaming.drm.license_server import (
    LicenseService,
    build_service,
    create_license_app,
)
from streamlab.streaming.drm.settings import DrmSettings, load_drm_settings, load_master_key


@dataclass(frozen=True)
class RunningLicenseServer:
    url: str
    service: LicenseService


@contextmanager
def running_license_server(settings: DrmSettings | None = None, port: int = 0, host: str = "127.0.0.1",
                           startup_timeout_s: float = 10.0) -> Iterator[RunningLicenseServer]:
    """Start the licence server on ``host:port`` (0: a free port); refuses without a master key."""
    settings = settings or load_drm_settings()
    service = build_service(settings, load_master_key(settings))
    sock = bind_socket(host, port)
    servers = ServerThread([(create_license_app(service), sock)], limits=settings.license_server.connection)
    servers.start(startup_timeout_s)
    try:
        yield RunningLicenseServer(socket_url(sock), service)
    finally:
        servers.stop()


def serve_license_forever(overrides: list[str] | None = None) -> None:
    settings = load_drm_settings(overrides)
    cfg = settings.license_server
    with running_license_server(settings, cfg.port, cfg.host) as server:
        print(f"streamlab licence server on {server.url}")
        print(f"  ClearKey licences  POST {server.url}/drm/clearkey/license")
        print(f"  HLS AES-128 keys   GET  {server.url}/drm/hls/<title>/<kid>.key")
        print(f"  offline licences   POST {server.url}/drm/offline/license")
        print("Ctrl-C to stop", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
