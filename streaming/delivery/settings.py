"""Typed settings for the delivery stack, loaded from ``configs/delivery.yaml`` (+ overrides)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from streamlab.core.config import load_config


class CacheControlSettings(BaseModel):
    """``Cache-Control`` values the origin sends, per kind of object.

    Manifests and the catalog change when a title is (re)published, so they live briefly;
    segments and init segments are content under a fixed URL and never change, so they are
    ``immutable`` (republishing a title under the same id needs a purge or a new id). Every
    cacheable value says ``public``: that is what lets the tiers cache requests that carry
    ``Authorization`` (RFC 9111 §3.5); without it each such request would reach the origin.
    """

    manifest: str = "public, max-age=2"
    segment: str = "public, max-age=31536000, immutable"
    catalog: str = "public, max-age=2"
    player: str = "public, max-age=10"
    key: str = "no-store"
    not_found: str = "public, max-age=1"
    health: str = "no-store"


class CorsSettings(BaseModel):
    """CORS for players on another origin (the page served by the edge itself is same-origin)."""

    allow_origins: list[str] = Field(default_factory=lambda: ["*"], description='"*" or exact origins')
    allow_methods: list[str] = Field(default_factory=lambda: ["GET", "HEAD", "OPTIONS"])
    allow_headers: list[str] = Field(
        default_factory=lambda: ["Range", "If-None-Match", "If-Modified-Since", "If-Range", "Content-Type", "X-Streamlab-Viewer"]
    )
    expose_headers: list[str] = Field(
        default_factory=lambda: ["Content-Range", "Content-Length", "ETag", "Accept-Ranges", "Age", "X-Cache", "X-Cache-Tier", "X-Cache-Chain",
                                 "X-Streamlab-Device", "X-Streamlab-Region", "X-Streamlab-Arms", "X-Part-Written-At"]
    )
    max_age_s: int = Field(600, ge=0, description="how long browsers may cache a preflight answer")


class LiveProxySettings(BaseModel):
    """The origin's ``/live/<channel>/...`` route: a reverse proxy to each channel's live origin.

    A blocking playlist request is held by the live origin for up to its block bound
    (``configs/live.yaml`` ``origin.block_timeout_targets`` x target duration, 6 s by default),
    so this timeout, and every tier's ``upstream.timeout_s``, must be longer: otherwise a tier
    gives up on a request the live origin is still legitimately holding.
    """

    upstream_timeout_s: float = Field(10.0, gt=0, description="longer than the live block bound")
    max_connections: int = Field(200, gt=0, description="blocked requests each hold a connection")
    state_dir: Path | None = Field(
        None, description="where channels publish state.json (<dir>/<channel>/state.json); None: <state dir>/live"
    )


class OriginSettings(BaseModel):
    player_dir: Path = Field(Path("streaming/player/static"), description="relative to the repository root")
    read_chunk_bytes: int = Field(256 * 1024, gt=0, description="file read size when streaming a body")
    cache_control: CacheControlSettings = CacheControlSettings()
    cors: CorsSettings = CorsSettings()
    live: LiveProxySettings = LiveProxySettings()


class TierSettings(BaseModel):
    """One cache tier: a byte-bounded LRU in front of an upstream."""

    capacity_bytes: int = Field(gt=0)
    max_object_fraction: float = Field(
        0.1, gt=0, le=1, description="objects larger than this share of the capacity pass through uncached"
    )
    default_ttl_s: float = Field(0.0, ge=0, description="TTL for responses without max-age (0: not cached)")
    hit_for_pass_s: float = Field(
        30.0, ge=0, description="after an uncacheable answer, how long to send that URL straight upstream"
    )


class UpstreamSettings(BaseModel):
    """The keep-alive pool each tier uses towards its upstream."""

    timeout_s: float = Field(10.0, gt=0)
    max_connections: int = Field(100, gt=0)
    max_keepalive_connections: int = Field(50, ge=0)


class ConnectionLimits(BaseModel):
    """What one client connection may cost a server before it is refused or closed.

    The values follow nginx's defaults in spirit (``large_client_header_buffers`` 4 x 8 KB,
    ``client_header_timeout``/``client_body_timeout`` 60 s, ``keepalive_timeout`` 75 s), tighter
    because players send small heads and fetch segments back to back.
    """

    max_header_bytes: int = Field(
        32 * 1024, ge=1024, description="request line plus headers; larger heads are refused with 431"
    )
    header_timeout_s: float = Field(
        10.0, gt=0, description="from accept (or a request's first byte) to its complete head; then 408 and close"
    )
    body_timeout_s: float = Field(30.0, gt=0, description="from a complete head to the last byte of its body")
    idle_timeout_s: float = Field(30.0, gt=0, description="keep-alive: a connection idle this long after a response is closed")


class AdminSettings(BaseModel):
    """The tiers' cache-control API (purge): one listener per tier, apart from the public one.

    A purge is an operator's action, so it is never reachable through the port viewers use:
    each tier's admin app listens on ``host`` (loopback by default) and wants
    ``Authorization: Bearer <token>`` with the token from the environment variable ``token_env``
    (a random one per run when unset, known only to the process that started the stack).
    """

    host: str = "127.0.0.1"
    port_offset: int = Field(
        20, ge=3, le=1000,
        description="`stream serve`: the edge's admin on edge_port + offset, the shield's on + offset + 1 "
                    "(8020, 8021 by default: clear of the licence server's 8010)",
    )
    token_env: str = Field("STREAMLAB_DELIVERY_ADMIN_TOKEN", min_length=1)
    min_token_chars: int = Field(16, ge=16, description="shorter tokens from the environment are refused")


class VarnishSettings(BaseModel):
    """The Varnish edge engine (``stream serve --edge varnish``, ``peak run --edge varnish``).

    Its VCL is generated from the same settings as the Python edge (:mod:`.engines.varnish`);
    these are only what Varnish needs beyond them.
    """

    varnishd: str = Field("/usr/sbin/varnishd", description="Debian's varnish package")
    varnishstat: str = Field("/usr/bin/varnishstat", description="reads the counters of a running varnishd")
    thread_pool_min: int = Field(100, ge=5, description="each blocked LL-HLS request holds a worker thread")
    thread_pool_max: int = Field(5000, ge=10)
    shared_error_ttl_s: float = Field(
        0.5, gt=0, le=5,
        description="errors marked no-cache (a live origin's 503 after the block bound) are kept this long so the "
                    "waiting list shares one answer; Varnish's waiting list only shares objects that are in cache",
    )
    startup_timeout_s: float = Field(20.0, gt=0)
    stop_timeout_s: float = Field(5.0, gt=0)


class TopologySettings(BaseModel):
    """How many shields the edges spread channels and titles over (rendezvous hash, :mod:`.engines.shields`)."""

    shields: int = Field(1, ge=1, le=16, description="`stream serve`: shield 0 on edge_port + 1, shield i > 0 on edge_port + 2 + i")


class DeliverySettings(BaseModel):
    host: str = "127.0.0.1"
    edge_port: int = Field(8000, ge=0, le=65533, description="the shield listens on +1, the origin on +2")
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    origin: OriginSettings = OriginSettings()
    edge: TierSettings = TierSettings(capacity_bytes=256 * 1024 * 1024)
    shield: TierSettings = TierSettings(capacity_bytes=1024 * 1024 * 1024)
    upstream: UpstreamSettings = UpstreamSettings()
    connections: ConnectionLimits = ConnectionLimits()
    admin: AdminSettings = AdminSettings()
    varnish: VarnishSettings = VarnishSettings()
    topology: TopologySettings = TopologySettings()
    startup_timeout_s: float = Field(15.0, gt=0)


def load_delivery_settings(overrides: list[str] | None = None) -> DeliverySettings:
    return load_config("delivery", DeliverySettings, overrides)
