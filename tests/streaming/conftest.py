"""Sources and settings for the VOD-stack tests: small generated clips, fast encoder settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlab.streaming.ffmpeg import generate_test_source, run_ffmpeg


@pytest.fixture(scope="session")
def clip_480p(source_dir: Path) -> Path:
    """6 s, 854x480, 25 fps, H.264 + AAC: four H.264 rungs (480p and 360p, main and mobile)."""
    return generate_test_source(source_dir / "clip_480p.mp4", width=854, height=480, duration_s=6.0, audio=True)


@pytest.fixture(scope="session")
def clip_360p_silent(source_dir: Path) -> Path:
    """4 s, 640x360, no audio."""
    return generate_test_source(source_dir / "clip_360p_silent.mp4", width=640, height=360, duration_s=4.0, audio=False)


@pytest.fixture(scope="session")
def clip_1080p(source_dir: Path) -> Path:
    """3 s, 1920x1080 with audio: the whole main + mobile ladder."""
    return generate_test_source(source_dir / "clip_1080p.mp4", width=1920, height=1080, duration_s=3.0, audio=True)


@pytest.fixture(scope="session")
def bad_sources(source_dir: Path, raw_dir: Path) -> dict[str, Path]:
    """One file per way a source can be broken, all inside the allowed test root."""
    bad = source_dir / "bad"
    bad.mkdir(exist_ok=True)
    bbb = raw_dir / "videos" / "bigbuckbunny.mp4"
    files: dict[str, Path] = {}

    files["text"] = bad / "notes.mp4"
    files["text"].write_text("this is a shopping list, not a video\n" * 20)

    # moov at the end (FFmpeg's default): cutting the file loses the index.
    data = bbb.read_bytes()
    files["truncated"] = bad / "truncated.mp4"
    files["truncated"].write_bytes(data[: len(data) // 2])

    # moov first (+faststart): the file opens, but most frames are missing.
    faststart = bad / "faststart_full.mp4"
    run_ffmpeg(["-i", bbb, "-c", "copy", "-movflags", "+faststart", faststart], "remuxing with faststart")
    files["truncated_faststart"] = bad / "truncated_faststart.mp4"
    files["truncated_faststart"].write_bytes(faststart.read_bytes()[: faststart.stat().st_size // 2])

    files["zero_frames"] = bad / "zero_frames.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=size=64x64:rate=25", "-frames:v", "0", "-c:v", "libx264", files["zero_frames"]],
        "writing a zero-frame mp4",
    )
    files["one_frame"] = bad / "one_frame.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "1", "-c:v", "libx264", files["one_frame"]],
        "writing a one-frame mp4",
    )
    files["audio_only"] = bad / "audio_only.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "aac", files["audio_only"]],
        "writing an audio-only mp4",
    )
    files["tiny"] = generate_test_source(bad / "tiny_16x16.mp4", width=16, height=16, duration_s=2.0, audio=False)
    return files


@pytest.fixture()
def fast(source_dir: Path, raw_dir: Path) -> list[str]:
    """Overrides every ingest test uses: the test roots allowed, fastest preset, in-process encodes."""
    return [
        f"ingest.allowed_roots=[{source_dir}, {raw_dir}]",
        "transcode.x264_preset=ultrafast",
        "transcode.x265_preset=ultrafast",
        "transcode.mode=serial",
    ]


@pytest.fixture()
def assert_nothing_published(media_root: Path):
    """Check that a failed ingest left no title folder and nothing under ``.staging``."""

    def check() -> None:
        visible = sorted(p.name for p in media_root.iterdir() if not p.name.startswith("."))
        staging = media_root / ".staging"
        leftovers = sorted(p.name for p in staging.iterdir()) if staging.exists() else []
        assert visible == [], f"a failed ingest published {visible}"
        assert leftovers == [], f"a failed ingest left staging folders {leftovers}"

    return check


@pytest.fixture(scope="session")
def clip_rotated(source_dir: Path, clip_360p_silent: Path) -> Path:
    """clip_360p_silent stored landscape with a 90° display matrix, as phones record portrait video."""
    out = source_dir / "clip_rotated.mp4"
    run_ffmpeg(["-display_rotation:v:0", "90", "-i", clip_360p_silent, "-c", "copy", out], "tagging a rotation")
    return out


@pytest.fixture(scope="session")
def clip_with_cover_art(source_dir: Path, clip_360p_silent: Path) -> Path:
    """A cover picture (an attached_pic video stream, which the mp4 muxer stores last) beside the video."""
    cover = source_dir / "cover.png"
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=red:size=300x300", "-frames:v", "1", cover], "drawing a cover")
    out = source_dir / "clip_with_cover.mp4"
    run_ffmpeg(
        [
            "-i",
            clip_360p_silent,
            "-i",
            cover,
            "-map",
            "1",
            "-map",
            "0",
            "-c",
            "copy",
            "-disposition:v:0",
            "attached_pic",
            out,
        ],
        "attaching cover art",
    )
    return out
