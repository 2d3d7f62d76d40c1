"""A small, real CMAF title built straight with FFmpeg, for tests and as the benchmark's fallback.

It follows the published-title layout of :mod:`streamlab.streaming.catalog` (``title.json``,
``master.m3u8``, ``manifest.mpd``, ``<rendition>/init.mp4`` + ``seg_00001.m4s`` …) without the
ingest pipeline's ladder, probing or Ray: one H.264 rendition with 1 s segments, seconds to make.
The DASH manifest references its own copy of the segments under ``dash/`` (FFmpeg's dash muxer
names them itself); ingest shares one set of segments between HLS and DASH.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from streamlab.streaming.catalog import STAGING_DIR, TITLE_RECORD, Rendition, SourceInfo, TitleRecord, validate_title_id
from streamlab.streaming.ffmpeg import generate_test_source, run_ffmpeg


def build_sample_title(
    media_root: Path,
    title_id: str = "sample",
    *,
    width: int = 320,
    height: int = 180,
    duration_s: float = 4.0,
    bitrate_kbps: int = 400,
    segment_s: float = 1.0,
) -> TitleRecord:
    """Encode a lavfi test pattern and publish it under ``media_root/title_id`` (atomic rename)."""
    validate_title_id(title_id)
    fps = 25
    rendition_id = f"{height}p_{bitrate_kbps}k"
    staging_root = media_root / STAGING_DIR
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{title_id}-", dir=staging_root))
    source = generate_test_source(staging / "source.mp4", width=width, height=height, duration_s=duration_s,
                                  fps=fps, audio=False)
    encoded = staging / "encoded.mp4"
    gop = int(round(segment_s * fps))
    run_ffmpeg(
        ["-i", source, "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "main", "-b:v", f"{bitrate_kbps}k",
         "-g", gop, "-keyint_min", gop, "-sc_threshold", 0, "-pix_fmt", "yuv420p", encoded],
        f"encoding sample title {title_id}",
    )
    rendition_dir = staging / rendition_id
    rendition_dir.mkdir()
    run_ffmpeg(
        ["-i", encoded, "-c", "copy", "-f", "hls", "-hls_time", segment_s, "-hls_playlist_type", "vod",
         "-hls_segment_type", "fmp4", "-hls_flags", "independent_segments", "-hls_fmp4_init_filename", "init.mp4",
         "-start_number", 1, "-hls_segment_filename", rendition_dir / "seg_%05d.m4s", rendition_dir / "playlist.m3u8"],
        f"packaging HLS for sample title {title_id}",
    )
    (staging / "dash").mkdir()
    run_ffmpeg(
        ["-i", encoded, "-c", "copy", "-f", "dash", "-seg_duration", segment_s, "-use_template", 1, "-use_timeline", 0,
         "-init_seg_name", "dash/init-$RepresentationID$.mp4",
         "-media_seg_name", "dash/seg-$RepresentationID$-$Number%05d$.m4s", staging / "manifest.mpd"],
        f"packaging DASH for sample title {title_id}",
    )
    source.unlink()
    encoded.unlink()
    segments = sorted(rendition_dir.glob("seg_*.m4s"))
    sizes = [p.stat().st_size for p in segments]
    match = re.search(r'codecs="(avc1\.[0-9a-fA-F]{6})"', (staging / "manifest.mpd").read_text())
    codecs = match.group(1) if match else "avc1.42c01e"
    peak_bps = int(max(sizes) * 8 / segment_s)
    average_bps = int(sum(sizes) * 8 / duration_s)
    (staging / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        f'#EXT-X-STREAM-INF:BANDWIDTH={peak_bps},AVERAGE-BANDWIDTH={average_bps},RESOLUTION={width}x{height},'
        f'CODECS="{codecs}",FRAME-RATE={fps:.3f}\n{rendition_id}/playlist.m3u8\n'
    )
    record = TitleRecord(
        title_id=title_id,
        name=f"sample {width}x{height}",
        created_at=datetime.now(UTC),
        source=SourceInfo(container="mp4", video_codec="h264", width=width, height=height, fps=fps,
                          duration_s=duration_s, has_audio=False),
        segment_duration_s=segment_s,
        duration_s=duration_s,
        renditions=[
            Rendition(id=rendition_id, width=width, height=height, codec="h264", codecs=codecs,
                      bitrate_kbps=bitrate_kbps, bandwidth_bps=peak_bps, average_bandwidth_bps=average_bps,
                      profile="sample", browser_playable=True, segment_count=len(segments))
        ],
        ladder="sample",
    )
    (staging / TITLE_RECORD).write_text(record.model_dump_json(indent=2))
    final = media_root / title_id
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    return record
