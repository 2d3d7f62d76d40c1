"""The FFmpeg command lines of a live channel: contribution encoder, ingest receiver, transcoder.

All three run the bundled FFmpeg (imageio-ffmpeg's build, which has libsrt). Timestamps are
carried untouched from the contribution encoder to the CMAF chunks (see
:mod:`streamlab.streaming.live.clock`), which is why every stage disables FFmpeg's usual
re-basing (``-copyts``, ``-muxdelay 0``, ``-avoid_negative_ts disabled``).
"""

from __future__ import annotations

from pathlib import Path

from streamlab.streaming.ffmpeg import ffmpeg_exe
from streamlab.streaming.live.settings import ContributionSettings, LiveRung, LiveSettings

_QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error"]


def srt_url(host: str, port: int, mode: str, latency_ms: int) -> str:
    """An FFmpeg SRT URL; FFmpeg's ``latency`` is in microseconds, ``pkt_size`` 1316 = 7 TS packets."""
    return f"srt://{host}:{port}?mode={mode}&latency={latency_ms * 1000}&pkt_size=1316"


def rtmp_url(host: str, port: int, channel: str) -> str:
    """The channel's RTMP ingest point (a listener takes one publisher per port: primary and backup differ by port)."""
    return f"rtmp://{host}:{port}/live/{channel}"


def ingest_url(settings: LiveSettings, port: int, channel: str, mode: str) -> str:
    """Where a contribution feed of ``channel`` meets its listener on ``port``, for the configured protocol."""
    if settings.ingest.protocol == "rtmp":
        return rtmp_url(settings.host, port, channel)
    return srt_url(settings.host, port, mode, settings.ingest.srt_latency_ms)


def is_lavfi_spec(source: str) -> bool:
    """``testsrc2=size=640x360:rate=30`` and friends: a generator, not a file."""
    return "=" in source and not Path(source).exists()


AUDIO_RATE = 48_000
INTERLEAVE_US = 100_000
"""``-max_interleave_delta`` of the encoders and receivers that write MPEG-TS: a muxer holds a
stream's packets until every other stream has caught up in timestamps (10 s by default), which
would hide an A/V timestamp fault by delaying the early stream; a real encoder sends as it
encodes, and so do ours (0.1 s)."""


def contribution_command(
    source: str, settings: ContributionSettings, url: str, ts_offset_s: float, source_audio: bool = False
) -> list[str]:
    """A venue encoder: the source in real time (``-re``), looped, as H.264 + AAC in MPEG-TS over SRT
    (or FLV over RTMP, when ``url`` is an ``rtmp://`` URL).

    The clip is re-encoded (never stream-copied) so the loop points have continuous timestamps
    and a constant frame rate; keyframes every ``gop_s`` let a receiver join (or fail over) fast.
    Audio is the source's own (``source_audio``) or a tone; an ``audio_offset_s`` fault restamps
    the encoded audio (``setts``), ``drop_every`` drops frames after the frame-rate filter (both
    are faults the health monitor must see).
    """
    gop = max(1, round(settings.gop_s * settings.fps))
    if is_lavfi_spec(source):
        inputs = ["-re", "-f", "lavfi", "-i", source]
    else:
        inputs = ["-re", "-stream_loop", "-1", "-i", source]
    audio_input = "0:a:0"
    if not source_audio:
        audio_input = "1:a:0"
        inputs += ["-re", "-f", "lavfi", "-i", f"sine=frequency={settings.tone_hz}:sample_rate={AUDIO_RATE}"]
    audio_fault = []
    if settings.audio_offset_s:  # after the encoder: FFmpeg's scheduler keeps *inputs* in step (an -itsoffset is undone)
        audio_fault = ["-bsf:a", f"setts=ts=TS+{settings.audio_offset_s:.3f}/TB"]
    video_filter = f"scale={settings.width}:{settings.height}:force_original_aspect_ratio=decrease:force_divisible_by=2,fps={settings.fps}"
    if settings.drop_every:
        video_filter += rf",select=not(eq(mod(n\,{settings.drop_every})\,0))"
    return [
        ffmpeg_exe(), *_QUIET, *inputs,
        "-map", "0:v:0", "-map", audio_input,
        "-vf", video_filter, "-fps_mode", "passthrough",
        "-c:v", "libx264", "-preset", settings.preset, "-tune", "zerolatency", "-pix_fmt", "yuv420p",
        "-b:v", f"{settings.bitrate_kbps}k", "-maxrate", f"{settings.bitrate_kbps}k", "-bufsize", f"{settings.bitrate_kbps // 2}k",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", f"{settings.audio_bitrate_kbps}k", "-ac", "2", "-ar", str(AUDIO_RATE), *audio_fault,
        "-output_ts_offset", f"{ts_offset_s:.3f}", "-muxdelay", "0", "-muxpreload", "0",
        "-max_interleave_delta", str(INTERLEAVE_US),
        "-f", "flv" if url.startswith("rtmp://") else "mpegts", url,
    ]


def receiver_command(url: str) -> list[str]:
    """One ingest listener: SRT (or RTMP: FLV, ``-listen 1``) in, TS out on stdout, timestamps and
    packets untouched (FLV's millisecond timestamps carry the capture clock just as well).

    PAT/PMT before every keyframe (``pat_pmt_at_frames``) lets the channel start a transcoder
    from any keyframe of either feed; ``-flush_packets 1`` keeps the pipe from batching 32 KiB.
    """
    return [
        ffmpeg_exe(), *_QUIET, *(["-listen", "1"] if url.startswith("rtmp://") else []), "-i", url,
        "-map", "0", "-c", "copy", "-copyts", "-muxdelay", "0", "-muxpreload", "0", "-max_interleave_delta", str(INTERLEAVE_US),
        "-mpegts_flags", "+pat_pmt_at_frames", "-flush_packets", "1", "-f", "mpegts", "pipe:1",
    ]


def transcoder_command(
    settings: LiveSettings, rungs: list[LiveRung], output_fds: list[int], audio_fd: int | None = None,
    encryption: list[str] | None = None,
) -> list[str]:
    """One decode of the TS on stdin, every rung encoded in this one process, fMP4 chunks to fds.

    Keyframes fall on the same frame numbers in every rung (``-force_key_frames`` by frame
    count, no scene cuts, ``-g`` = one segment) so segments are closed GOPs aligned across the
    ladder; ``-frag_duration`` just under ``part_frames`` frames makes every CMAF chunk exactly
    one LL-HLS part (FFmpeg cuts a fragment once its duration reaches the threshold). No
    ``-fflags nobuffer``: it *discards* the packets read while probing, which are exactly the
    buffered keyframe and GOP a failover starts from (measured: 1 s more media lost). Probing
    stops after 0.2 s of stream: input always starts at a keyframe with its SPS/PPS, and a longer
    probe of a real-time feed (the slate, a cold start) is that much more delay.

    The chunks' ``tfdt`` must keep the capture clock: FFmpeg's MP4 muxer re-bases fragmented
    output to 0 unless *both* ``-avoid_negative_ts disabled`` and ``movflags +frag_discont`` are
    given (measured with FFmpeg 9.0.2).

    ``audio_fd``: the audio rendition, AAC re-encoded (a contribution's bitrate and channel layout
    are the venue's), in fragments cut at the same threshold as the video's parts (15 AAC
    frames, 0.32 s: never over PART-TARGET). ``encryption``: the fMP4 writer's CENC options, given
    to every output (:class:`~streamlab.streaming.live.drm.LiveProtection`).
    """
    fps = settings.transcode.fps
    gop = settings.segment_frames
    frag_us = round((settings.part_frames - 0.5) / fps * 1_000_000)
    labels = [f"v{i}" for i in range(len(rungs))]
    split = "".join(f"[s{i}]" for i in range(len(rungs)))
    graph = f"[0:v]fps={fps},split={len(rungs)}{split};" + ";".join(
        f"[s{i}]scale={rung.width}:{rung.height}[{labels[i]}]" for i, rung in enumerate(rungs)
    )
    command = [
        ffmpeg_exe(), *_QUIET, "-probesize", "200000", "-analyzeduration", "200000",
        "-copyts", "-f", "mpegts", "-i", "pipe:0", "-filter_complex", graph,
    ]
    for label, rung, fd in zip(labels, rungs, output_fds, strict=True):
        command += [
            "-map", f"[{label}]", "-c:v", "libx264", "-preset", settings.transcode.preset, "-tune", settings.transcode.tune,
            "-threads", str(settings.transcode.threads), "-pix_fmt", "yuv420p",
            "-b:v", f"{rung.bitrate_kbps}k", "-maxrate", f"{rung.bitrate_kbps}k", "-bufsize", f"{rung.bitrate_kbps}k",
            "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
            "-force_key_frames", f"expr:eq(mod(n,{gop}),0)",
            "-avoid_negative_ts", "disabled", "-f", "mp4",
            "-movflags", "+empty_moov+default_base_moof+frag_keyframe+skip_trailer+frag_discont", "-frag_duration", str(frag_us),
            *(encryption or []), f"pipe:{fd}",
        ]
    if audio_fd is not None:
        command += [
            "-map", "0:a:0", "-c:a", "aac", "-b:a", f"{settings.transcode.audio_bitrate_kbps}k", "-ac", "2", "-ar", str(AUDIO_RATE),
            "-avoid_negative_ts", "disabled", "-f", "mp4",
            "-movflags", "+empty_moov+default_base_moof+skip_trailer+frag_discont", "-frag_duration", str(frag_us),
            *(encryption or []), f"pipe:{audio_fd}",
        ]
    return command
