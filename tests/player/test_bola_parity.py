"""The page's BOLA fallback (static/abr.js) decides exactly as the family's decide_bola (models/abr/decide.py) does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamlab.models.abr.policies.bola import MINIMUM_BUFFER_S, TARGET_BUFFER_S
from streamlab.models.abr.decide import AbrDecideRequest, decide_bola

ABR_JS = Path(__file__).resolve().parents[2] / "streaming" / "player" / "static" / "abr.js"


def random_states(count: int, seed: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed)
    states = []
    for _ in range(count):
        rungs = int(rng.integers(2, 9))
        rates = np.cumsum(rng.uniform(50, 3000, rungs)).round(1).tolist()
        states.append(
            {
                "rates": rates,
                "buffer_s": float(rng.choice([0.0, 5.0, 10.0, 30.0, float(rng.uniform(0, 60))])),
                "segment_duration_s": float(rng.choice([1.0, 2.0, 4.0, 6.0])),
            }
        )
    return states


def test_page_bola_matches_the_service_bola(browser) -> None:
    states = random_states(400)
    page = browser.new_page()
    try:
        page.goto("about:blank")
        page.add_script_tag(path=str(ABR_JS))
        page_rungs = page.evaluate(
            """([states, minBuf, targetBuf]) => states.map((s) => StreamlabAbr.bolaRung(
                   s.rates, StreamlabAbr.nominalSizes(s.rates, s.segment_duration_s), s.buffer_s, minBuf, targetBuf))""",
            [states, MINIMUM_BUFFER_S, TARGET_BUFFER_S],
        )
    finally:
        page.close()
    service_rungs = [
        decide_bola(
            AbrDecideRequest(
                buffer_s=s["buffer_s"],
                last_rung=0,
                chunks_remaining=5,
                segment_duration_s=s["segment_duration_s"],
                ladder=[{"bitrate_kbps": r} for r in s["rates"]],
            )
        ).rung
        for s in states
    ]
    assert page_rungs == service_rungs
    assert len(set(service_rungs)) > 3  # the states exercise low, middle and top rungs


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        # one codec family, lowest first, strictly increasing: duplicates and AV1 beside H.264 left out
        ([("avc1.64001f", 1500e3), ("avc1.42c01e", 500e3), ("av01.0.05M.08", 400e3), ("avc1.42c01e", 500e3)], [1, 0]),
        ([("av01.0.05M.08", 900e3), ("av01.0.05M.08", 300e3)], [1, 0]),
    ],
)
def test_the_rule_decides_over_one_codec_family(browser, levels, expected) -> None:
    page = browser.new_page()
    try:
        page.goto("about:blank")
        page.add_script_tag(path=str(ABR_JS))
        rungs = page.evaluate(
            "(levels) => StreamlabAbr.ladderOf(levels.map(([c, b]) => ({videoCodec: c, averageBitrate: b}))).map((r) => r.level)",
            levels,
        )
    finally:
        page.close()
    assert rungs[: len(expected)] == expected and len(rungs) == len(expected)
