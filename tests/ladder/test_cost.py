"""The delivery-cost view: bytes per hour watched over a throughput mix, CDN cost at a $/GB range."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from streamlab.models.ladder.cost import CostSettings, ThroughputShare, delivery_cost, watched_kbps
from streamlab.models.ladder.settings import load_ladder_settings


def test_each_share_of_viewing_watches_the_rung_its_link_sustains() -> None:
    mix = CostSettings(headroom=1.0, throughput_mix=[ThroughputShare(kbps=500, share=1), ThroughputShare(kbps=5000, share=3)])
    # 500 kbit/s links get the 400k rung, fast ones the 3000k top rung
    assert watched_kbps([3000, 1200, 400], mix) == pytest.approx((400 + 3 * 3000) / 4)
    # a link slower than the bottom rung still watches the bottom rung
    assert watched_kbps([3000, 1200], mix) == pytest.approx((1200 + 3 * 3000) / 4)


def test_cost_per_million_hours_at_both_ends_of_the_price_range() -> None:
    settings = CostSettings(usd_per_gb=(0.02, 0.08), headroom=1.0, throughput_mix=[ThroughputShare(kbps=1e6, share=1)])
    cost = delivery_cost([2000.0], settings)
    assert cost.bytes_per_hour == 2000 * 1000 / 8 * 3600  # 900 MB per hour at 2 Mbit/s
    assert cost.usd_per_million_hours == pytest.approx((0.9e6 * 0.02, 0.9e6 * 0.08))
    cheaper = delivery_cost([1000.0], settings)
    assert cheaper.usd_per_million_hours[1] == pytest.approx(cost.usd_per_million_hours[1] / 2)


def test_the_price_range_is_configurable_and_checked() -> None:
    assert load_ladder_settings(["cost.usd_per_gb=[0.01,0.03]"]).cost.usd_per_gb == (0.01, 0.03)
    with pytest.raises(ValidationError, match="usd_per_gb"):
        CostSettings(usd_per_gb=(0.08, 0.02))
