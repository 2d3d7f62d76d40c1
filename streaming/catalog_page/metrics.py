"""The origin's own Prometheus counters: catalog fallbacks and the players' ABR decision sources.

One ``CollectorRegistry`` per origin app (never the global one), so several origins in one
process (tests, ``running_stack``) keep separate counts. Exposed at the origin's ``/metrics``;
the edge answers its own ``/metrics``, so scrape the origin (edge port + 2) for these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, generate_latest

DECISION_SOURCES = ("model", "fallback")
FALLBACK_REASONS = ("timeout", "error", "late", "server_fallback", "no_serving_url", "no_ladder")
"""Why a player decided with its own BOLA: the call timed out, failed (refused, HTTP error, bad
answer), had not answered when the next segment was due, the service itself answered from its
fallback, no serving URL is configured, or the ladder could not be described."""
CATALOG_FALLBACK_REASONS = ("timeout", "unreachable", "http_error", "bad_response", "disabled")


@dataclass
class OriginMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.abr_decisions = Counter(
            "streamlab_player_abr_decisions_total",
            "Segments the web players requested, by where the rendition decision came from",
            ["source"],
            registry=self.registry,
        )
        self.abr_fallbacks = Counter(
            "streamlab_player_abr_fallbacks_total",
            "Segments the web players decided with their own BOLA, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.catalog_pages = Counter(
            "streamlab_catalog_pages_total",
            "Catalog pages served, by where the list came from (model, popular from the model, fallback)",
            ["source"],
            registry=self.registry,
        )
        self.catalog_fallbacks = Counter(
            "streamlab_catalog_fallbacks_total",
            "Catalog pages that showed the local popular list because /recommend failed, by reason",
            ["reason"],
            registry=self.registry,
        )
        for source in DECISION_SOURCES:
            self.abr_decisions.labels(source=source)
        for reason in FALLBACK_REASONS:
            self.abr_fallbacks.labels(reason=reason)
        for reason in CATALOG_FALLBACK_REASONS:
            self.catalog_fallbacks.labels(reason=reason)

    def text(self) -> bytes:
        return generate_latest(self.registry)
