"""Bad input: one clear error naming the file and the problem, and nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamlab.core.errors import StreamlabError
from streamlab.streaming.catalog import InvalidTitleId
from streamlab.streaming.ingest.errors import (
    CorruptSource,
    DimensionsOutOfRange,
    EmptySource,
    NotAVideo,
    NoVideoStream,
    SourceNotFound,
    SourceOutsideAllowedRoots,
    SourceTooShort,
    TitleExists,
    UnknownOption,
)
from streamlab.streaming.ingest.pipeline import ingest_title
from streamlab.streaming.transcode.ladder import LadderError


def refuse(source: Path, error: type[Exception], fast: list[str], media_root: Path, *extra: str) -> str:
    with pytest.raises(error) as caught:
        ingest_title(source, "t1", overrides=[*fast, *extra], media_root=media_root)
    assert isinstance(caught.value, StreamlabError)
    return str(caught.value)


def test_text_file_named_mp4_is_not_a_video(bad_sources, fast, media_root, assert_nothing_published) -> None:
    message = refuse(bad_sources["text"], NotAVideo, fast, media_root)
    assert str(bad_sources["text"]) in message and "not a video" in message
    assert_nothing_published()


def test_mp4_cut_before_its_index_is_corrupt(bad_sources, fast, media_root, assert_nothing_published) -> None:
    message = refuse(bad_sources["truncated"], CorruptSource, fast, media_root)
    assert "truncated.mp4" in message and "truncated or corrupt" in message
    assert_nothing_published()


def test_faststart_mp4_missing_its_second_half_is_corrupt(
    bad_sources, fast, media_root, assert_nothing_published
) -> None:
    message = refuse(bad_sources["truncated_faststart"], CorruptSource, fast, media_root)
    assert "132 video frames" in message  # the header's count, and how many are really there
    assert_nothing_published()


def test_container_without_frames_is_empty(bad_sources, fast, media_root, assert_nothing_published) -> None:
    message = refuse(bad_sources["zero_frames"], EmptySource, fast, media_root)
    assert "zero duration" in message
    assert_nothing_published()


def test_single_frame_is_too_short(bad_sources, fast, media_root, assert_nothing_published) -> None:
    message = refuse(bad_sources["one_frame"], SourceTooShort, fast, media_root)
    assert "ingest.min_duration_s" in message
    assert_nothing_published()


def test_audio_only_file_has_no_video(bad_sources, fast, media_root, assert_nothing_published) -> None:
    message = refuse(bad_sources["audio_only"], NoVideoStream, fast, media_root)
    assert "audio (aac)" in message
    assert_nothing_published()


def test_tiny_frame_is_below_the_minimum_size(bad_sources, fast, media_root, assert_nothing_published) -> None:
    message = refuse(bad_sources["tiny"], DimensionsOutOfRange, fast, media_root)
    assert "16x16" in message and "32x32" in message
    assert_nothing_published()


def test_frame_above_the_configured_maximum_is_refused(
    clip_360p_silent, fast, media_root, assert_nothing_published
) -> None:
    message = refuse(clip_360p_silent, DimensionsOutOfRange, fast, media_root, "ingest.max_width=320")
    assert "640x360" in message
    assert_nothing_published()


def test_missing_file_is_named(source_dir, fast, media_root, assert_nothing_published) -> None:
    message = refuse(source_dir / "no_such_clip.mp4", SourceNotFound, fast, media_root)
    assert "no_such_clip.mp4" in message
    assert_nothing_published()


def test_source_outside_the_allowed_roots_is_refused(tmp_path, clip_360p_silent, fast, media_root) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = elsewhere / "clip.mp4"
    outside.write_bytes(clip_360p_silent.read_bytes())
    message = refuse(outside, SourceOutsideAllowedRoots, fast, media_root)
    assert "allowed input roots" in message


def test_symlink_inside_a_root_pointing_outside_is_refused(
    tmp_path, source_dir, clip_360p_silent, fast, media_root
) -> None:
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(clip_360p_silent.read_bytes())
    link = source_dir / "innocent_link.mp4"
    link.unlink(missing_ok=True)
    link.symlink_to(secret)
    message = refuse(link, SourceOutsideAllowedRoots, fast, media_root)
    assert str(secret) in message  # the resolved target is shown, so the user sees why


def test_dotdot_escape_from_a_root_is_refused(tmp_path, source_dir, clip_360p_silent, fast, media_root) -> None:
    secret = tmp_path / "escaped.mp4"
    secret.write_bytes(clip_360p_silent.read_bytes())
    sneaky = source_dir / ".." / os.path.relpath(secret, source_dir.parent)
    refuse(sneaky, SourceOutsideAllowedRoots, fast, media_root)


def test_default_roots_allow_only_data_raw(tmp_path, clip_360p_silent, media_root) -> None:
    with pytest.raises(SourceOutsideAllowedRoots, match="data/raw"):
        ingest_title(clip_360p_silent, "t1", media_root=media_root)


@pytest.mark.parametrize("title_id", ["Big Buck", "../etc", "", "UPPER", "-leading-dash"])
def test_invalid_title_ids_are_refused(title_id, clip_360p_silent, fast, media_root, assert_nothing_published) -> None:
    with pytest.raises(InvalidTitleId):
        ingest_title(clip_360p_silent, title_id, overrides=fast, media_root=media_root)
    assert_nothing_published()


def test_unknown_ladder_and_drm_names_list_the_valid_ones(clip_360p_silent, fast, media_root) -> None:
    with pytest.raises(LadderError, match="valid: fixed"):
        ingest_title(clip_360p_silent, "t1", ladder="learned-v9", overrides=fast, media_root=media_root)
    with pytest.raises(UnknownOption, match="valid: none, clearkey, aes128, all"):
        ingest_title(clip_360p_silent, "t1", drm="widevine", overrides=fast, media_root=media_root)


def test_existing_title_is_refused_before_any_work(clip_360p_silent, fast, media_root) -> None:
    existing = media_root / "t1"
    existing.mkdir()
    (existing / "title.json").write_text("{}")
    with pytest.raises(TitleExists, match="publish.replace=true"):
        ingest_title(clip_360p_silent, "t1", overrides=fast, media_root=media_root)
    assert (existing / "title.json").read_text() == "{}"


def test_cli_reports_bad_input_in_one_line_with_exit_2(bad_sources, source_dir, media_root) -> None:
    env = {**os.environ, "STREAMLAB_MEDIA_ROOT": str(media_root)}
    command = [
        str(Path(sys.executable).with_name("streamlab")), "stream", "ingest", str(bad_sources["text"]),
        "--title-id", "t1", f"ingest.allowed_roots=[{source_dir}]",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: source ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
