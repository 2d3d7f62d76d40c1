"""Small sources for the ladder tests: lavfi clips generated once per session, and the real clips."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlab.streaming.ffmpeg import generate_test_source, run_ffmpeg


@pytest.fixture(scope="session")
def small_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """320x180, 2 s at 25 fps, testsrc2 (moving pattern): cheap to encode, complex enough to score."""
    out = tmp_path_factory.mktemp("ladder-src") / "small.mp4"
    return generate_test_source(out, width=320, height=180, duration_s=2.0, fps=25, audio=False)


@pytest.fixture(scope="session")
def lossless_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A near-lossless 320x180 reference (x264 CRF 0) so that quality tests measure only our encodes."""
    out = tmp_path_factory.mktemp("ladder-src") / "lossless.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2",
                "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", out], "lossless source")  # fmt: skip
    return out


@pytest.fixture(scope="session")
def encode_crf():  # noqa: ANN201
    """``encode_crf(source, out, crf, size=None)``: a quick x264 encode to degrade a reference."""
    return _encode_crf


def _encode_crf(source: Path, out: Path, crf: int, size: str | None = None) -> Path:
    args: list[str | Path] = ["-i", source, "-an"]
    if size:
        args += ["-vf", f"scale={size}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", str(crf), "-pix_fmt", "yuv420p", out]
    run_ffmpeg(args, f"encoding {out.name}")
    return out
