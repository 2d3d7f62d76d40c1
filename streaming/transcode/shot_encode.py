"""Encode a title shot by shot and join the shots into one stream: the shared machinery of shot-based encoding.

Used by the per-shot trial encodes (:mod:`streamlab.streaming.transcode.per_title.shots`) and by the
stack's encoder for a shot-based rung (:mod:`streamlab.streaming.transcode.encode`), so what a trial
measured is exactly what the rung delivers.

- Each shot is cut from the source by an input seek (``-ss START -t DURATION`` before ``-i``:
  FFmpeg decodes from the previous key frame and drops frames before START, so the cut is frame
  exact) and encoded on its own with the rung's GOP arguments. Shots start on segment boundaries,
  so the shot-relative ``-force_key_frames`` grid is the title's grid.
- x264 gets ``stitchable=1`` (the callers' ``codec_args(..., stitchable=True)``, in the rung's one
  ``-x264-params``): without it x264 tunes the PPS (initial QP) to each encode's CRF and the joined
  stream would switch parameter sets mid-track under one ``avcC``.
- The shots are joined with the concat demuxer and ``-c copy``: no re-encode, timestamps continue
  across shots, and the first frame keeps decode time = presentation time = 0
  (``-avoid_negative_ts disabled``), as a single-pass rendition has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from streamlab.models.ladder.schema import ShotSetting
from streamlab.streaming.ffmpeg import run_ffmpeg


def shot_input(source: Path | str, shot: ShotSetting, stream: str = "0:v:0") -> list[str]:
    """Input options that cut one shot out of the source, and map its video."""
    return ["-ss", f"{shot.start_s:.6f}", "-t", f"{shot.duration_s:.6f}", "-i", str(source),
            "-map", stream, "-an", "-sn", "-dn"]  # fmt: skip


def encode_shots(
    source: Path | str,
    shots: Sequence[ShotSetting],
    encoder_args: Callable[[ShotSetting], list[str]],
    work: Path,
    what: str,
    stream: str = "0:v:0",
) -> list[Path]:
    """One MP4 per shot in ``work`` (``shot_00001.mp4`` ...); ``encoder_args(shot)`` gives filters and codec."""
    work.mkdir(parents=True, exist_ok=True)
    files = []
    for n, shot in enumerate(shots, start=1):
        out = work / f"shot_{n:05d}.mp4"
        run_ffmpeg([*shot_input(source, shot, stream), *encoder_args(shot), "-avoid_negative_ts", "disabled", out],
                   f"{what}, shot {n}/{len(shots)}")  # fmt: skip
        files.append(out)
    return files


def concat_input(files: Sequence[Path], work: Path) -> list[str]:
    """Input options that read the shot files back to back as one stream (copy, no re-encode)."""
    listing = work / "shots.txt"
    listing.write_text("".join(f"file '{_quote(f)}'\n" for f in files))
    return ["-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v:0", "-c", "copy",
            "-avoid_negative_ts", "disabled"]  # fmt: skip


def join_shots(files: Sequence[Path], out: Path, what: str) -> Path:
    """The shots as one MP4 (what trials score against the source)."""
    run_ffmpeg([*concat_input(files, out.parent), out], f"joining {what}")
    return out


def _quote(path: Path) -> str:
    """The concat demuxer's quoting: a single quote is written as '\\''."""
    return str(Path(path).resolve()).replace("'", "'\\''")
