"""Ladder selection: fitted boxes, no upscaling, the own-size rung, HEVC only for UHD sources."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlab.core.config import ConfigError
from streamlab.streaming.ingest.settings import load_streaming_settings
from streamlab.streaming.transcode.ladder import LadderError, Rung, check_ladder, fit_in_box, select_ladder


@pytest.fixture(scope="module")
def ladder_settings():
    return load_streaming_settings().transcode


def sizes(rungs) -> list[tuple[str, int, int]]:
    return [(r.id, r.width, r.height) for r in rungs]


def test_bigbuckbunny_720p_gets_main_and_mobile_rungs_up_to_720p(ladder_settings) -> None:
    assert sizes(select_ladder(1280, 720, ladder_settings)) == [
        ("720p_3000k", 1280, 720),
        ("720p_2000k", 1280, 720),
        ("480p_1500k", 854, 480),
        ("480p_1000k", 854, 480),
        ("360p_800k", 640, 360),
        ("360p_500k", 640, 360),
    ]


def test_bikes_wide_640x272_keeps_its_aspect_in_the_360p_box(ladder_settings) -> None:
    assert sizes(select_ladder(640, 272, ladder_settings)) == [("272p_800k", 640, 272), ("272p_500k", 640, 272)]


def test_source_smaller_than_every_rung_gets_one_own_size_rung_with_scaled_bitrate(ladder_settings) -> None:
    (rung,) = select_ladder(320, 180, ladder_settings)
    # 800 kbit/s at 640x360 -> a quarter of the pixels -> 200 kbit/s
    assert (rung.width, rung.height, rung.bitrate_kbps, rung.codec) == (320, 180, 200, "h264")


def test_own_size_rung_bitrate_is_floored(ladder_settings) -> None:
    (rung,) = select_ladder(176, 144, ladder_settings)  # carphone: 88 kbit/s by pixels
    assert (rung.width, rung.height, rung.bitrate_kbps) == (176, 144, ladder_settings.min_bitrate_kbps)


def test_odd_source_size_is_rounded_down_to_even(ladder_settings) -> None:
    (rung,) = select_ladder(193, 145, ladder_settings)
    assert (rung.width, rung.height) == (192, 144)


def test_uhd_source_adds_two_hevc_rungs_that_browsers_skip(ladder_settings) -> None:
    rungs = select_ladder(3840, 2160, ladder_settings)
    hevc = [r for r in rungs if r.codec == "hevc"]
    assert sizes(hevc) == [("2160p_hevc_15000k", 3840, 2160), ("2160p_hevc_12000k", 3840, 2160)]
    assert not any(r.browser_playable for r in hevc)
    assert ("1080p_5000k", 1920, 1080) in sizes(rungs)


def test_1080p_source_gets_no_hevc(ladder_settings) -> None:
    rungs = select_ladder(1920, 1080, ladder_settings)
    assert {r.codec for r in rungs} == {"h264"} and len(rungs) == 7


def test_portrait_source_turns_the_boxes(ladder_settings) -> None:
    top = select_ladder(1080, 1920, ladder_settings)[0]
    assert (top.id, top.width, top.height) == ("1080p_5000k", 1080, 1920)


def test_profiles_are_selectable_by_override() -> None:
    only_main = load_streaming_settings(["transcode.profiles=[main]"]).transcode
    assert [r.profile for r in select_ladder(1280, 720, only_main)] == ["main"] * 3


def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not defined under ladders"):
        load_streaming_settings(["transcode.profiles=[main, cinema]"])


def scaled_by_one_factor(width: int, height: int, fitted_w: int, fitted_h: int, slack_px: float = 2) -> bool:
    """Some single factor s maps the source onto the fitted size, up to even rounding on each side."""
    low = max((fitted_w - slack_px) / width, (fitted_h - slack_px) / height)
    high = min((fitted_w + slack_px) / width, (fitted_h + slack_px) / height)
    return low <= high


DEFAULT_LADDER = load_streaming_settings().transcode


@settings(max_examples=300, deadline=None)
@given(width=st.integers(32, 7680), height=st.integers(32, 4320))
def test_any_source_gets_even_never_upscaled_aspect_kept_rungs(width: int, height: int) -> None:
    rungs = select_ladder(width, height, DEFAULT_LADDER)
    assert rungs, "every source gets at least one rung"
    assert len({r.id for r in rungs}) == len(rungs)
    for rung in rungs:
        assert rung.width % 2 == 0 and rung.height % 2 == 0
        assert rung.width <= width and rung.height <= height
        assert scaled_by_one_factor(width, height, rung.width, rung.height)


@given(
    width=st.integers(32, 7680),
    height=st.integers(32, 4320),
    box=st.sampled_from([(1920, 1080), (1280, 720), (854, 480), (640, 360), (3840, 2160)]),
)
def test_fit_in_box_fills_the_box_turned_to_the_source_orientation(
    width: int, height: int, box: tuple[int, int]
) -> None:
    box_w, box_h = box if width >= height else (box[1], box[0])
    fitted_w, fitted_h, upscaled = fit_in_box(width, height, *box)
    exact = min(box_w / width, box_h / height)
    assert abs(fitted_w - width * exact) <= 2 and abs(fitted_h - height * exact) <= 2
    assert fitted_w <= box_w and fitted_h <= box_h
    assert upscaled == (exact > 1 + 1e-9)


def test_ladders_are_chosen_by_name_from_the_config(clip_360p_silent, fast, media_root) -> None:
    from streamlab.streaming.ingest.pipeline import ingest_title

    alias = "+transcode.selectors.house=streamlab.streaming.transcode.ladder:fixed_ladder"
    record = ingest_title(clip_360p_silent, "named", ladder="house", overrides=[*fast, alias], media_root=media_root)
    assert record.ladder == "house" and [r.id for r in record.renditions] == ["360p_800k", "360p_500k"]


def test_a_selector_that_cannot_be_imported_is_named(clip_360p_silent, fast, media_root) -> None:
    from streamlab.streaming.ingest.pipeline import ingest_title

    broken = "+transcode.selectors.learned=models.no_such_module:select"
    with pytest.raises(LadderError, match="models.no_such_module:select"):
        ingest_title(clip_360p_silent, "named", ladder="learned", overrides=[*fast, broken], media_root=media_root)


def test_ladders_the_encoder_cannot_use_are_refused() -> None:
    rung = Rung(id="x", profile="p", codec="h264", width=640, height=360, bitrate_kbps=800)
    with pytest.raises(LadderError, match="no rendition"):
        check_ladder("learned", [], 640, 360)
    with pytest.raises(LadderError, match="odd dimensions"):
        check_ladder("learned", [rung.model_copy(update={"width": 641})], 641, 360)
    with pytest.raises(LadderError, match="repeats"):
        check_ladder("learned", [rung, rung], 640, 360)
    with pytest.raises(LadderError, match="no H.264 rendition"):
        check_ladder("learned", [rung.model_copy(update={"codec": "hevc"})], 640, 360)
