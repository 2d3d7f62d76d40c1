"""Per-tier counters, exposed as JSON (``/_stats``) and Prometheus text (``/metrics``).

The counters live once, in :class:`TierStats`; the Prometheus view is a collector reading them
at scrape time, registered in a ``CollectorRegistry`` of the tier's own so that several tiers in
one process (tests, ``running_stack``) never clash in the global registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from streamlab.streaming.delivery.lru import ByteLRU


@dataclass
class TierStats:
    """``hits``/``misses``/``coalesced`` partition the cacheable lookups (GET/HEAD); ``passes``
    are requests sent upstream without a lookup (other methods, hit-for-pass, non-shareable).

    ``hit_ratio`` counts only requests whose object was complete in the cache; ``offload_ratio``
    adds the coalesced ones, served from a fill already in flight and never forwarded. The
    latter is what CDNs report as the edge hit ratio (Varnish counts waiting-list requests as
    hits, nginx marks ``proxy_cache_lock`` waiters ``HIT``), and what the 95% target is on."""

    requests: int = 0
    hits: int = 0
    misses: int = 0
    coalesced: int = 0
    passes: int = 0
    errors: int = 0
    bytes_served: int = 0
    bytes_from_upstream: int = 0
    upstream_requests: int = 0
    failovers: int = 0
    """Requests sent to the fallback upstream because the upstream refused or dropped them unanswered."""

    def snapshot(self, tier: str, store: ByteLRU) -> dict[str, object]:
        lookups = self.hits + self.misses + self.coalesced
        return {
            "tier": tier,
            **asdict(self),
            "hit_ratio": round(self.hits / lookups, 4) if lookups else 0.0,
            "offload_ratio": round((self.hits + self.coalesced) / lookups, 4) if lookups else 0.0,
            "evictions": store.evictions,
            "expirations": store.expirations,
            "entries": len(store),
            "bytes_cached": store.bytes_cached,
            "capacity_bytes": store.capacity_bytes,
        }


_COUNTERS = {
    "requests": "requests received",
    "hits": "requests answered from the cache",
    "misses": "cacheable lookups that fetched from upstream",
    "coalesced": "requests that waited for another request's upstream fetch",
    "passes": "requests sent upstream without a cache lookup",
    "errors": "requests answered 502/504 because the upstream failed",
    "bytes_served": "body bytes sent to clients",
    "bytes_from_upstream": "body bytes received from upstream",
    "upstream_requests": "requests sent upstream",
    "failovers": "requests sent to the fallback upstream (the upstream was down)",
    "evictions": "entries evicted to make room",
    "expirations": "entries dropped because their TTL ran out",
}
_GAUGES = {
    "entries": "objects in the cache",
    "bytes_cached": "bytes held by the cache",
    "capacity_bytes": "cache capacity in bytes",
    "hit_ratio": "hits / (hits + misses + coalesced)",
    "offload_ratio": "(hits + coalesced) / (hits + misses + coalesced)",
}


class TierCollector(Collector):
    def __init__(self, tier: str, stats: TierStats, store: ByteLRU) -> None:
        self.tier, self.stats, self.store = tier, stats, store

    def collect(self) -> Iterator[Metric]:
        snapshot = self.stats.snapshot(self.tier, self.store)
        for name, help_text in _COUNTERS.items():
            family = CounterMetricFamily(f"streamlab_cache_{name}", help_text, labels=["tier"])
            family.add_metric([self.tier], float(snapshot[name]))  # type: ignore[arg-type]
            yield family
        for name, help_text in _GAUGES.items():
            family = GaugeMetricFamily(f"streamlab_cache_{name}", help_text, labels=["tier"])
            family.add_metric([self.tier], float(snapshot[name]))  # type: ignore[arg-type]
            yield family


def tier_registry(tier: str, stats: TierStats, store: ByteLRU) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(TierCollector(tier, stats, store))
    return registry


def prometheus_text(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
