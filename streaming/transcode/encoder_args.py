"""FFmpeg arguments that encode one ladder rung: the contract between the optimizer and the stack.

The GOP structure is the VOD stack's (``streaming/transcode/encode.py``): a closed GOP of exactly
one segment (``-g`` = ``-keyint_min`` = frames per segment, ``-force_key_frames`` at every segment
boundary, no scene-cut keyframes), so per-title renditions switch cleanly with the fixed ones and
with each other. Trial encodes use the same arguments without the VBV cap, so what a trial measured
is what the rung delivers.

- **libx264**: ``-preset``/``-tune`` from the ladder, High profile, ``-crf`` with ``-maxrate`` /
  ``-bufsize`` (capped CRF), or ``-b:v`` with the cap (ABR, the fixed ladder's mode); one
  ``-x264-params`` with ``stitchable=1`` for a rung encoded shot by shot (``stitchable``), then the
  rung's own options (``encoder.params``, set for published rungs by ``grid.h264.publish_params``).
  FFmpeg keeps only the last ``-x264-params`` given, so both must travel in the one option.
- **libsvtav1**: ``-preset``, ``-crf`` and ``-maxrate``/``-bufsize`` (FFmpeg maps them to SVT-AV1's
  capped-CRF ``mbr``/buffer); ``-svtav1-params`` pins ``keyint``-aligned key frames:
  ``irefresh-type=2`` (closed GOP, every key frame an IDR-like KEY_FRAME) and ``scd=0`` (no
  scene-change key frames); ``tune`` when set; then the rung's own options (``encoder.params``, set
  for published rungs by ``grid.av1.publish_params``, e.g. quantisation matrices), which may not
  override the GOP keys above (:data:`streamlab.models.ladder.settings.PINNED_SVT_PARAMS`).
"""

from __future__ import annotations

from streamlab.models.ladder.schema import EncoderSettings, LadderRung


def video_filter(width: int, height: int, fps_out: float | None = None) -> str:
    chain = [f"scale={width}:{height}:flags=bicubic", "setsar=1"]
    if fps_out:
        chain.insert(0, f"fps={fps_out:g}")
    return ",".join(chain)


def codec_args(
    encoder: EncoderSettings,
    *,
    gop_frames: int,
    segment_duration_s: float,
    bitrate_kbps: float | None = None,
    max_bitrate_kbps: float | None = None,
    bufsize_kbps: float | None = None,
    threads: int = 0,
    stitchable: bool = False,
) -> list[str]:
    """Encoder arguments (rate control, GOP, codec options) without input, scaling or output.

    ``stitchable``: the encode is one shot of a rung joined with its neighbours (``-c copy``), so x264
    must not tune its parameter sets to this encode (see :mod:`streamlab.streaming.transcode.shot_encode`).
    """
    args = ["-pix_fmt", "yuv420p"]
    if encoder.rate_control == "abr":
        if bitrate_kbps is None:
            raise ValueError("ABR needs a target bitrate")
        args += ["-b:v", f"{round(bitrate_kbps)}k"]
    else:
        if encoder.crf is None:
            raise ValueError(f"{encoder.rate_control} needs a CRF")
        args += ["-crf", f"{encoder.crf:g}"]
    if encoder.rate_control != "crf" and max_bitrate_kbps:
        args += [
            "-maxrate",
            f"{round(max_bitrate_kbps)}k",
            "-bufsize",
            f"{round(bufsize_kbps or 2 * max_bitrate_kbps)}k",
        ]
    seg = f"{segment_duration_s:g}"
    args += [
        # 1 ms of slack: with a non-integer segment (0.4 s) n*SEG rounds above the frame's t and the key
        # frame would land one frame late.
        "-force_key_frames", f"expr:gte(t+0.001,n_forced*{seg})",
        "-g", str(gop_frames), "-keyint_min", str(gop_frames),
    ]  # fmt: skip
    if encoder.encoder == "libx264":
        args += [
            "-c:v",
            "libx264",
            "-preset",
            encoder.preset,
            "-profile:v",
            "high",
            "-sc_threshold",
            "0",
            "-flags",
            "+cgop",
        ]
        if encoder.tune:
            args += ["-tune", encoder.tune]
        if threads:
            args += ["-threads", str(threads)]
        x264 = ["stitchable=1"] if stitchable else []
        x264 += [f"{key}={value}" for key, value in encoder.params.items()]
        if x264:
            args += ["-x264-params", ":".join(x264)]
    else:
        params = ["irefresh-type=2", "scd=0"]
        if encoder.tune is not None:
            params.append(f"tune={encoder.tune}")
        if threads:
            params.append(f"lp={threads}")
        params += [f"{key}={value}" for key, value in encoder.params.items()]
        args += ["-c:v", "libsvtav1", "-preset", encoder.preset, "-svtav1-params", ":".join(params)]
    return args


def rung_video_args(
    rung: LadderRung,
    *,
    gop_frames: int,
    segment_duration_s: float,
    fps_out: float | None = None,
    threads: int = 0,
) -> list[str]:
    """Everything between ``-i SOURCE`` and the output options, for one rung's video track.

    The stack splices this in place of its own video arguments:
    ``ffmpeg -i SRC <rung_video_args(...)> <CMAF output options>``.
    """
    return [
        "-map", "0:v:0", "-an", "-sn", "-dn",
        "-vf", video_filter(rung.width, rung.height, fps_out),
    ] + codec_args(
        rung.encoder,
        gop_frames=gop_frames,
        segment_duration_s=segment_duration_s,
        bitrate_kbps=rung.bitrate_kbps,
        max_bitrate_kbps=rung.max_bitrate_kbps,
        bufsize_kbps=rung.bufsize_kbps,
        threads=threads,
    )  # fmt: skip
