"""The bundled FFmpeg (imageio-ffmpeg's build, with libvmaf, libx264, libx265, libsvtav1, libaom).

There is no system ffmpeg and no ffprobe: everything runs through this one binary, and every
failure becomes an :class:`FFmpegError` carrying the last lines FFmpeg printed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from streamlab.core.errors import StreamlabError


class FFmpegError(StreamlabError):
    """FFmpeg exited non-zero; ``stderr_tail`` holds what it said."""

    def __init__(self, what: str, returncode: int, stderr_tail: str) -> None:
        super().__init__(f"{what} failed (ffmpeg exit {returncode}): {stderr_tail}")
        self.what = what
        self.returncode = returncode
        self.stderr_tail = stderr_tail

    def __reduce__(self) -> tuple[type, tuple[str, int, str]]:
        """Pickle by constructor arguments, so the error survives a trip back from a Ray worker."""
        return (type(self), (self.what, self.returncode, self.stderr_tail))


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: Sequence[str | Path], what: str, timeout_s: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``ffmpeg -hide_banner -nostdin -y <args>``; raise :class:`FFmpegError` on failure."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *map(str, args)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise FFmpegError(what, -1, f"timed out after {timeout_s} s") from exc
    if result.returncode != 0:
        tail = " | ".join(line.strip() for line in result.stderr.strip().splitlines()[-4:])
        raise FFmpegError(what, result.returncode, tail)
    return result


def generate_test_source(
    out: Path,
    *,
    width: int = 1280,
    height: int = 720,
    duration_s: float = 10.0,
    fps: float = 25.0,
    audio: bool = True,
    pattern: str = "testsrc2",
) -> Path:
    """Write a synthetic H.264(+AAC) source with FFmpeg's lavfi generators.

    Tests and benchmarks use it where the real clips are too short or too small.
    """
    args: list[str | Path] = ["-f", "lavfi", "-i", f"{pattern}=size={width}x{height}:rate={fps}:duration={duration_s}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration_s}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "96k", "-shortest"]
    args += [out]
    out.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(args, f"generating test source {out.name}")
    return out
