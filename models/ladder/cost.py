"""The delivery-cost view of a ladder: bytes per hour watched and CDN cost per million hours.

Encoding is paid once; delivery is paid every hour someone watches, so the bits a ladder saves
are worth ``bytes/hour x hours x $/GB``. Which rung a viewer watches depends on their link: the
``throughput_mix`` in ``configs/ladder.yaml`` (``cost``) says what share of viewing happens at
which throughput, and each share watches the highest rung whose *measured* average bitrate times
``headroom`` fits that throughput (an ABR player keeps that margin), or the bottom rung when none
fits. CDN prices are a range (the design quotes $0.02-0.08 per GB), so cost is reported at both ends.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field, model_validator

GB = 1e9


class ThroughputShare(BaseModel):
    kbps: float = Field(gt=0)
    share: float = Field(gt=0)


class CostSettings(BaseModel):
    usd_per_gb: tuple[float, float] = (0.02, 0.08)
    headroom: float = Field(default=1.2, ge=1, description="a player picks a rung averaging below throughput/headroom")
    throughput_mix: list[ThroughputShare] = Field(
        default_factory=lambda: [ThroughputShare(kbps=1500, share=0.2), ThroughputShare(kbps=4000, share=0.3),
                                 ThroughputShare(kbps=25000, share=0.5)]  # fmt: skip
    )

    @model_validator(mode="after")
    def _valid(self) -> CostSettings:
        low, high = self.usd_per_gb
        if not 0 < low <= high:
            raise ValueError(f"cost.usd_per_gb must be [low, high] with 0 < low <= high, got {self.usd_per_gb}")
        return self


class DeliveryCost(BaseModel):
    bytes_per_hour: float
    gb_per_hour: float
    usd_per_million_hours: tuple[float, float]


def watched_kbps(rates_kbps: Sequence[float], settings: CostSettings) -> float:
    """The average bitrate delivered over the throughput mix (each share at the rung its link sustains)."""
    if not rates_kbps:
        raise ValueError("a ladder needs at least one rung to cost")
    rates = sorted(rates_kbps)
    total = sum(t.share for t in settings.throughput_mix)
    delivered = 0.0
    for t in settings.throughput_mix:
        fitting = [r for r in rates if r * settings.headroom <= t.kbps]
        delivered += (fitting[-1] if fitting else rates[0]) * t.share / total
    return delivered


def delivery_cost(rates_kbps: Sequence[float], settings: CostSettings) -> DeliveryCost:
    """Bytes per hour watched and CDN cost per million hours (low, high price) of a ladder's measured rates."""
    per_hour = watched_kbps(rates_kbps, settings) * 1000 / 8 * 3600
    low, high = settings.usd_per_gb
    return DeliveryCost(
        bytes_per_hour=round(per_hour),
        gb_per_hour=round(per_hour / GB, 4),
        usd_per_million_hours=(round(per_hour / GB * 1e6 * low, 2), round(per_hour / GB * 1e6 * high, 2)),
    )
