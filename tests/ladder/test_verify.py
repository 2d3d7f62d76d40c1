"""Top-rung verification of predicted ladders: a real encode of the top rung, its CRF stepped toward the ceiling."""

from __future__ import annotations

from pathlib import Path

from streamlab.models.ladder.grid import encoder_for
from streamlab.models.ladder.schema import Ladder, LadderRung
from streamlab.models.ladder.settings import load_ladder_settings
from streamlab.streaming.transcode.per_title.source import inspect_source
from streamlab.streaming.transcode.per_title.verify import verify_top_rung

FAST = ["grid.h264.preset=ultrafast", "grid.vmaf_subsample=2", "rules.top_vmaf=95"]


def _ladder(crf: float, promised: float = 95.0) -> Ladder:
    """A 'predicted' ladder whose top rung promises ``promised`` at ``crf``: what an overconfident model emits."""
    top = LadderRung(width=320, height=180, codec="h264", bitrate_kbps=300, max_bitrate_kbps=450, bufsize_kbps=600,
                     encoder=encoder_for("h264", "ultrafast", None, crf, "capped_crf"),
                     expected_vmaf=promised)  # fmt: skip
    low = top.model_copy(update={"width": 160, "height": 90, "bitrate_kbps": 100, "expected_vmaf": 70.0})
    return Ladder(source="x", method="predicted", codec="h264", segment_duration_s=1.0, rungs=[top, low],
                  decision_cpu_s=1.0, notes=["model test"])  # fmt: skip


def test_an_overpromised_top_rung_is_measured_and_stepped_down_within_bounds(lossless_small: Path) -> None:
    facts = inspect_source(lossless_small, 1.0)
    settings = load_ladder_settings([*FAST, "verify.max_steps=2", "verify.max_crf_step.h264=6"])
    before = _ladder(crf=40)
    after = verify_top_rung(facts, before, settings)
    top = after.rungs[0]
    # CRF 40 on testsrc2 is far under 95: two steps of at most 6 each, whole CRFs, never up.
    assert top.measured_vmaf is not None and top.expected_vmaf == top.measured_vmaf
    assert 28 <= (top.encoder.crf or 0) < 40 and float(top.encoder.crf or 0).is_integer()
    assert top.encoder.rate_control == "capped_crf"
    assert top.max_bitrate_kbps == top.bitrate_kbps * settings.rules.maxrate_ratio
    assert "3 encodes" in after.notes[-1] and "full title" in after.notes[-1]
    assert after.decision_cpu_s > before.decision_cpu_s
    assert after.rungs[1] == before.rungs[1]  # rungs below stay as predicted
    # The correction is real: the measured quality at the first CRF is lower than at the chosen one.
    first = verify_top_rung(facts, before, load_ladder_settings([*FAST, "verify.max_steps=0"]))
    assert first.rungs[0].encoder.crf == 40 and "1 encode," in first.notes[-1]
    assert first.rungs[0].measured_vmaf is not None and first.rungs[0].measured_vmaf < top.measured_vmaf


def test_a_top_rung_that_reaches_the_ceiling_costs_one_encode_and_the_switch_turns_it_off(lossless_small: Path) -> None:
    facts = inspect_source(lossless_small, 1.0)
    good = verify_top_rung(facts, _ladder(crf=12), load_ladder_settings([*FAST, "rules.top_vmaf=80",
                                                                        "verify.overshoot_vmaf=20"]))  # fmt: skip
    assert good.rungs[0].encoder.crf == 12 and "1 encode," in good.notes[-1]
    off = _ladder(crf=40)
    assert verify_top_rung(facts, off, load_ladder_settings([*FAST, "verify.enabled=false"])) == off


def test_long_titles_are_verified_on_a_sample_of_segments(lossless_small: Path) -> None:
    facts = inspect_source(lossless_small, 0.5)
    settings = load_ladder_settings([*FAST, "verify.full_title_max_s=1", "verify.sample_segments=2",
                                     "verify.max_steps=0"])  # fmt: skip
    sampled = verify_top_rung(facts, _ladder(crf=30), settings)
    assert "2-segment sample" in sampled.notes[-1]
    assert sampled.rungs[0].measured_vmaf is not None and sampled.rungs[0].measured_vmaf > 50


def test_a_top_rung_far_over_the_ceiling_steps_up_to_save_bits_and_stays_the_top(lossless_small: Path) -> None:
    facts = inspect_source(lossless_small, 1.0)
    settings = load_ladder_settings([*FAST, "rules.top_vmaf=85", "verify.overshoot_vmaf=3", "verify.tolerance_vmaf=3"])
    before = _ladder(crf=12)  # testsrc2 at CRF 12 is ~99: far more than an 85 ceiling needs
    after = verify_top_rung(facts, before, settings)
    top = after.rungs[0]
    assert (top.encoder.crf or 0) > 12 and top.measured_vmaf is not None and top.measured_vmaf >= 82
    once = verify_top_rung(facts, before, load_ladder_settings([*FAST, "verify.max_steps=0"])).rungs[0]
    assert top.bitrate_kbps < once.bitrate_kbps
    # Rungs the cheaper top no longer clears are gone; what stays is below it.
    assert all(r.bitrate_kbps * settings.rules.min_bitrate_ratio <= top.bitrate_kbps for r in after.rungs[1:])


def test_a_top_rung_a_little_under_the_ceiling_is_stepped_down_until_it_reaches_it(lossless_small: Path) -> None:
    """One-sided: the published top rung must reach rules.top_vmaf; 'within a tolerance under it' is a miss.

    A top rung measured at 94.1 passed the old two-sided band (tolerance 1.0) and failed the acceptance
    (top rung >= 95 on every clip): now it steps its CRF down while it is under the ceiling.
    """
    facts = inspect_source(lossless_small, 1.0)
    once = verify_top_rung(facts, _ladder(crf=30), load_ladder_settings([*FAST, "verify.max_steps=0"])).rungs[0]
    assert once.measured_vmaf is not None
    ceiling = round(once.measured_vmaf + 0.5, 2)  # a little over what CRF 30 gives: under it by less than 1 VMAF
    settings = load_ladder_settings([*FAST, f"rules.top_vmaf={ceiling}", "verify.max_steps=3"])
    top = verify_top_rung(facts, _ladder(crf=30), settings).rungs[0]
    assert (top.encoder.crf or 0) < 30
    assert top.measured_vmaf is not None and top.measured_vmaf >= ceiling
