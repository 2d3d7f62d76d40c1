"""Encode one rendition (or the audio track) of a source straight to CMAF segments with FFmpeg.

Every video rendition gets the same closed-GOP structure so that segment N of every rendition
starts at the same instant on a keyframe (what lets a player switch renditions at any segment
boundary): keyframes forced at multiples of the segment duration
(``-force_key_frames expr:gte(t,n_forced*SEG)``), a fixed GOP (``-g`` = ``-keyint_min`` =
frames per segment), no scene-cut keyframes (``-sc_threshold 0``) and closed GOPs
(``-flags +cgop``). Rate control is constrained VBR: a target ``-b:v`` with a ``-maxrate`` /
``-bufsize`` VBV cap, so peaks stay deliverable over the link the rung is meant for.

FFmpeg's HLS muxer writes the fragmented-MP4 segments (``init.mp4`` + ``seg_00001.m4s`` ...);
the playlists it writes alongside are replaced by the packager's, which read the real segments.
"""

from __future__ import annotations

import math
import resource
import tempfile
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from streamlab.core.errors import StreamlabError
from streamlab.streaming.ffmpeg import FFmpegError, run_ffmpeg
from streamlab.models.ladder.schema import ShotSetting
from streamlab.streaming.transcode.encoder_args import codec_args, video_filter
from streamlab.streaming.transcode.shot_encode import concat_input, encode_shots
from streamlab.streaming.transcode.ladder import Rung, rung_id
from streamlab.streaming.transcode.hdr import TONEMAP_FILTER, Hdr10Metadata, pq_source_video_args

INIT_SEGMENT = "init.mp4"
SEGMENT_PATTERN = "seg_%05d.m4s"
SEGMENT_GLOB = "seg_*.m4s"
MEDIA_PLAYLIST = "playlist.m3u8"
AUDIO_DIR = "audio"


class EncodeJob(BaseModel):
    """Everything one encode needs; plain data so it travels to a Ray worker."""

    kind: Literal["video", "audio"]
    source: Path
    out_dir: Path
    segment_duration_s: float
    rung: Rung | None = None
    stream_index: int | None = None  # absolute index in the source; None: its first video (audio) stream
    fps: float | None = None  # output frame rate when the source's must be capped, else None
    gop_frames: int = 0
    preset: str = "veryfast"
    threads: int = 0
    maxrate_ratio: float = 1.5
    bufsize_ratio: float = 2.0
    audio_bitrate_kbps: int = 128
    audio_channels: int = 2
    audio_sample_rate_hz: int = 48000
    hdr10: Hdr10Metadata | None = None  # a PQ source: HDR10 rungs keep its metadata, the others are tone-mapped

    @property
    def name(self) -> str:
        return self.rung.id if self.rung is not None else AUDIO_DIR


class EncodeFailed(StreamlabError):
    """An encode failed; carries FFmpeg's last words. One plain message, so it survives Ray's pickling."""


class EncodeResult(BaseModel):
    name: str
    kind: Literal["video", "audio"]
    out_dir: Path
    wall_s: float
    cpu_s: float  # FFmpeg's user + system CPU time: the cost of the encode whatever else the machine runs


def gop_frames(fps: float, segment_duration_s: float) -> int:
    """Frames per segment: the fixed GOP length (at least 1)."""
    return max(1, math.ceil(fps * segment_duration_s - 1e-6))


def video_args(job: EncodeJob) -> list[str]:
    rung = job.rung
    assert rung is not None, "a video job needs a rung"
    filters = [f"scale={rung.width}:{rung.height}:flags=bicubic", "setsar=1"]
    if job.fps:
        filters.insert(0, f"fps={job.fps:g}")
    if rung.encoder is not None:
        return _per_title_video_args(job, filters)
    maxrate = round(rung.bitrate_kbps * job.maxrate_ratio)
    bufsize = round(rung.bitrate_kbps * job.bufsize_ratio)
    seg = f"{job.segment_duration_s:g}"
    args = [
        "-i", str(job.source),
        "-map", _stream(job, "v"), "-an", "-sn", "-dn",
        "-vf", ",".join(filters),
        "-pix_fmt", "yuv420p",
        "-b:v", f"{rung.bitrate_kbps}k", "-maxrate", f"{maxrate}k", "-bufsize", f"{bufsize}k",
        "-force_key_frames", f"expr:gte(t,n_forced*{seg})",
        "-g", str(job.gop_frames), "-keyint_min", str(job.gop_frames),
        "-flags", "+cgop",
    ]  # fmt: skip
    if rung.codec == "h264":
        args += ["-c:v", "libx264", "-preset", job.preset, "-profile:v", "high", "-sc_threshold", "0"]
    else:
        x265 = f"keyint={job.gop_frames}:min-keyint={job.gop_frames}:scenecut=0:open-gop=0:log-level=error"
        # hvc1 (parameter sets in the sample entry) is the tag Apple players and Shaka expect in CMAF.
        args += ["-c:v", "libx265", "-preset", job.preset, "-profile:v", "main", "-tag:v", "hvc1", "-x265-params", x265]
    if job.threads:
        args += ["-threads", str(job.threads)]
    # B-frames make the first decode time precede the first presentation time. FFmpeg's default is to
    # shift every timestamp later (here by two frames, ~80 ms) and hide that behind an edit list, which
    # MSE players ignore: video would lag the separately encoded audio. Keeping the source's timing and
    # writing negative composition offsets (trun version 1, as CMAF intends) puts the first frame at
    # decode time = presentation time = 0, the same instant as the audio.
    args += ["-avoid_negative_ts", "disabled"]
    return args + _cmaf_output(job, mp4_flags="+negative_cts_offsets")


def _per_title_video_args(job: EncodeJob, filters: list[str]) -> list[str]:
    """A per-title rung: the optimizer's encoder settings (capped CRF, preset, codec), same GOP and CMAF output."""
    rung = job.rung
    assert rung is not None and rung.encoder is not None
    args = ["-i", str(job.source), "-map", _stream(job, "v"), "-an", "-sn", "-dn", "-vf", ",".join(filters)]
    args += codec_args(rung.encoder, gop_frames=job.gop_frames, segment_duration_s=job.segment_duration_s,
                       bitrate_kbps=rung.bitrate_kbps, max_bitrate_kbps=rung.max_bitrate_kbps,
                       bufsize_kbps=rung.bufsize_kbps, threads=job.threads)
    args += ["-avoid_negative_ts", "disabled"]  # see video_args: keep B-frame timing, video starts at 0
    return args + _cmaf_output(job, mp4_flags="+negative_cts_offsets")


def _encode_shot_by_shot(job: EncodeJob) -> None:
    """A shot-based rung: each shot at its own CRF and cap, joined (copy) into the rung's CMAF segments."""
    rung = job.rung
    assert rung is not None and rung.encoder is not None and rung.shots
    encoder = rung.encoder
    grid = job.segment_duration_s
    off_grid = [s.start_s for s in rung.shots if abs(s.start_s / grid - round(s.start_s / grid)) > 1e-6]
    if off_grid:  # a shot starting mid-segment would put its key frame off the grid every other rung cuts on
        raise EncodeFailed(
            f"rung {rung.id}: shots start at {off_grid} s, not on the {job.segment_duration_s:g} s segment grid; "
            "the ladder was chosen for another segment duration (set segment_duration_s alike in both configs)"
        )
    filters = video_filter(rung.width, rung.height, job.fps)
    if job.hdr10 is not None:
        filters = f"{TONEMAP_FILTER},{filters}"

    def shot_args(shot: ShotSetting) -> list[str]:
        return ["-vf", filters] + codec_args(
            encoder.model_copy(update={"crf": shot.crf}), gop_frames=job.gop_frames,
            segment_duration_s=job.segment_duration_s, max_bitrate_kbps=shot.max_bitrate_kbps,
            bufsize_kbps=shot.bufsize_kbps, threads=job.threads, stitchable=True,
        )  # fmt: skip

    with tempfile.TemporaryDirectory(prefix=f".shots-{rung.id}-", dir=job.out_dir.parent) as work:
        files = encode_shots(job.source, rung.shots, shot_args, Path(work), f"encoding {job.name}", _stream(job, "v"))
        run_ffmpeg([*concat_input(files, Path(work)), *_cmaf_output(job, mp4_flags="+negative_cts_offsets")],
                   f"joining the shots of {job.name}")  # fmt: skip


def audio_args(job: EncodeJob) -> list[str]:
    return [
        "-i", str(job.source),
        "-map", _stream(job, "a"), "-vn", "-sn", "-dn",
        "-c:a", "aac", "-b:a", f"{job.audio_bitrate_kbps}k",
        "-ac", str(job.audio_channels), "-ar", str(job.audio_sample_rate_hz),
    ] + _cmaf_output(job)  # fmt: skip


def _stream(job: EncodeJob, kind: str) -> str:
    return f"0:{kind}:0" if job.stream_index is None else f"0:{job.stream_index}"


def _cmaf_output(job: EncodeJob, mp4_flags: str | None = None) -> list[str]:
    segment_options = ["-hls_segment_options", f"movflags={mp4_flags}"] if mp4_flags else []
    return [
        "-f", "hls",
        *segment_options,
        "-hls_segment_type", "fmp4",
        "-hls_time", f"{job.segment_duration_s:g}",
        "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments",
        "-start_number", "1",
        "-hls_fmp4_init_filename", INIT_SEGMENT,
        "-hls_segment_filename", str(job.out_dir / SEGMENT_PATTERN),
        str(job.out_dir / MEDIA_PLAYLIST),
    ]  # fmt: skip


def encode(job: EncodeJob) -> EncodeResult:
    """Run one encode into ``job.out_dir``; a Ray task or a plain call, same code."""
    started = time.perf_counter()
    cpu_before = _children_cpu_s()
    # no parents=True: if the ingest already failed and removed its staging folder, a task that
    # starts late must fail rather than recreate the folder and leave it behind
    job.out_dir.mkdir(exist_ok=True)
    try:
        if job.kind == "video" and job.rung is not None and job.rung.shots:
            _encode_shot_by_shot(job)
        else:
            args = video_args(job) if job.kind == "video" else audio_args(job)
            if job.kind == "video" and job.hdr10 is not None and job.rung is not None:
                args = pq_source_video_args(args, job.rung, job.hdr10)
            run_ffmpeg(args, f"encoding {job.name} of {job.source.name}")
    except FFmpegError as exc:
        raise EncodeFailed(str(exc)) from None
    return EncodeResult(
        name=job.name,
        kind=job.kind,
        out_dir=job.out_dir,
        wall_s=time.perf_counter() - started,
        cpu_s=_children_cpu_s() - cpu_before,
    )


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured_kbps(out_dir: Path, duration_s: float) -> int:
    """Average bitrate of an encoded rendition: its media segments' bytes over their duration.

    The bytes a viewer downloads (``moof`` headers included), so it agrees with the packager's
    AVERAGE-BANDWIDTH rather than with what the optimizer expected.
    """
    total = sum(segment.stat().st_size for segment in out_dir.glob(SEGMENT_GLOB))
    playlist = out_dir / MEDIA_PLAYLIST  # FFmpeg's own, still beside the segments: their real durations
    if playlist.is_file():
        durations = [float(line[8:].split(",")[0]) for line in playlist.read_text().splitlines()
                     if line.startswith("#EXTINF:")]  # fmt: skip
        duration_s = sum(durations) or duration_s
    return max(1, round(total * 8 / 1000 / max(duration_s, 1e-3)))


def name_by_measurement(build: Path, rungs: list[Rung], duration_s: float) -> list[Rung]:
    """Renditions whose bitrate was a prediction (capped CRF) renamed after what they really average.

    A per-title rung is named by the optimizer's *expected* bitrate before it is encoded; a viewer,
    an operator reading ``720p_3793k`` and the manifests must see what the encode delivers. Fixed-
    ladder rungs (ABR) keep their target in the name: the target is what was asked for and what
    URLs and dashboards refer to. The folder is renamed with the rung; ids stay unique.
    """
    taken = {r.id for r in rungs if r.encoder is None}
    renamed: list[Rung] = []
    for rung in rungs:
        if rung.encoder is None:
            renamed.append(rung)
            continue
        kbps = measured_kbps(build / rung.id, duration_s)
        base = rung_id(rung.codec, min(rung.width, rung.height), kbps)
        ident = base
        for n in range(2, len(rungs) + 2):  # two rungs measuring the same rate: keep the ids unique
            if ident not in taken:
                break
            ident = f"{base}_{n}"
        taken.add(ident)
        renamed.append(rung.model_copy(update={"id": ident, "bitrate_kbps": kbps}))
    moves = [(old.id, new.id) for old, new in zip(rungs, renamed, strict=True) if old.id != new.id]
    # via temporary names: a new id may be another rung's old folder name
    for old_id, _ in moves:
        (build / old_id).rename(build / f".renaming-{old_id}")
    for old_id, new_id in moves:
        (build / f".renaming-{old_id}").rename(build / new_id)
    return renamed
