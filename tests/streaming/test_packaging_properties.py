"""Property tests for our own MP4 box reader (the independent check on what Shaka Packager writes).

The old playlist/MPD writers' properties (timelines and media playlists expanding back to every
segment) are checked on Shaka's output in tests/package/test_shaka_packaging.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.packaging.mp4box import MP4BoxError, read_fragment, read_init


@pytest.fixture(scope="module")
def cmaf_track(tmp_path_factory: pytest.TempPathFactory, clip_360p_silent: Path) -> Path:
    out = tmp_path_factory.mktemp("cmaf")
    run_ffmpeg(
        ["-i", clip_360p_silent, "-c", "copy", "-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", "2", "-start_number", "1",
         "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", out / "seg_%05d.m4s", out / "p.m3u8"],
        "segmenting a test clip",
    )  # fmt: skip
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(0.0, 0.999))
def test_truncated_boxes_raise_a_clear_error_or_parse(cmaf_track: Path, tmp_path: Path, fraction: float) -> None:
    """A cut file is a packaging error naming the file, never an IndexError/struct.error."""
    for name in ("init.mp4", "seg_00001.m4s"):
        data = (cmaf_track / name).read_bytes()
        cut = tmp_path / name
        cut.write_bytes(data[: int(len(data) * fraction)])
        init = read_init(cmaf_track / "init.mp4")
        try:
            read_init(cut) if name == "init.mp4" else read_fragment(cut, init)
        except MP4BoxError as exc:
            assert str(cut) in str(exc)
