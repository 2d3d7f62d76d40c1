"""Per-title ladders as the VOD stack's rungs (the ``transcode.selectors`` plug-in)."""

from __future__ import annotations

import pytest

from streamlab.models.ladder.schema import EncoderSettings, Ladder, LadderRung
from streamlab.streaming.transcode.ladder import check_ladder
from streamlab.streaming.transcode.per_title.selector import to_stack_rungs


def _ladder(codec: str = "h264") -> Ladder:
    encoder = EncoderSettings(
        codec=codec,
        encoder="libx264" if codec == "h264" else "libsvtav1",
        preset="slow",
        rate_control="capped_crf",
        crf=24,
    )  # type: ignore[arg-type]
    rungs = [LadderRung(width=w, height=h, codec=codec, bitrate_kbps=b, max_bitrate_kbps=b * 1.5, encoder=encoder)  # type: ignore[arg-type]
             for w, h, b in ((1280, 720, 2100.4), (960, 540, 1200.6), (640, 360, 480.2))]  # fmt: skip
    return Ladder(source="x.mp4", method="hull", codec=codec, segment_duration_s=4, rungs=rungs)  # type: ignore[arg-type]


def test_stack_rungs_pass_the_stacks_own_ladder_check() -> None:
    rungs = check_ladder("per-title", to_stack_rungs(_ladder()), 1280, 720)
    assert [(r.id, r.width, r.bitrate_kbps) for r in rungs] == [
        ("720p_2100k", 1280, 2100),
        ("540p_1201k", 960, 1201),
        ("360p_480k", 640, 480),
    ]


def test_stack_rungs_carry_codec_and_encoder_settings() -> None:
    av1 = to_stack_rungs(_ladder("av1"))
    assert [r.id for r in av1] == ["720p_av1_2100k", "540p_av1_1201k", "360p_av1_480k"]
    assert all(r.codec == "av1" and r.encoder.encoder == "libsvtav1" and r.max_bitrate_kbps for r in av1)


def test_an_av1_only_ladder_is_refused_by_the_stack() -> None:
    """H.264 plays everywhere; AV1 may only come beside it."""
    with pytest.raises(Exception, match="no H.264 rendition"):
        check_ladder("per-title", to_stack_rungs(_ladder("av1")), 1280, 720)
    both = check_ladder("per-title", to_stack_rungs(_ladder()) + to_stack_rungs(_ladder("av1")), 1280, 720)
    assert {r.codec for r in both} == {"h264", "av1"}
