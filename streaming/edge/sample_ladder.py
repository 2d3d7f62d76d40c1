"""A published title with a whole ladder's manifests (4K HEVC down to 360p H.264) over small segment files.

For the edge's tests and benchmark: device capping, steering and warming look at which rungs a
device is offered and where requests go, not at pixels, so the segments are random bytes of a
fixed size (seconds to write, where encoding a 4K HEVC rung would take minutes on this box).
Layout and ``title.json`` follow :mod:`streamlab.streaming.catalog` (flat, unversioned).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from streamlab.streaming.catalog import Rendition, SourceInfo, TitleRecord

Codec = Literal["h264", "hevc", "av1"]
LADDER: list[tuple[str, int, int, Codec, str, int]] = [  # (rendition id, width, height, codec family, RFC 6381 codecs, kbps)
    ("2160p_hevc", 3840, 2160, "hevc", "hvc1.2.4.L153.B0", 16000),
    ("1080p_h264", 1920, 1080, "h264", "avc1.640028", 6000),
    ("720p_h264", 1280, 720, "h264", "avc1.64001f", 3000),
    ("360p_h264", 640, 360, "h264", "avc1.42c01e", 800),
]
SEGMENTS = 8
SEGMENT_BYTES = 4_000


def write_ladder_title(media_root: Path, title_id: str = "ladder", segments: int = SEGMENTS) -> TitleRecord:
    """Manifests of a real ladder's shape (HLS master + media playlists, DASH MPD, audio group) over small
    segment files: the edge tests look at which rungs a device is offered and where requests go, not at pixels."""
    folder = media_root / title_id
    master = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS",
              '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",DEFAULT=YES,URI="audio/playlist.m3u8"']
    reps = []
    for rid, width, height, _family, codecs, kbps in LADDER:
        master += [f'#EXT-X-STREAM-INF:BANDWIDTH={kbps * 1000},RESOLUTION={width}x{height},CODECS="{codecs},mp4a.40.2",AUDIO="aud"',
                   f"{rid}/playlist.m3u8"]
        reps.append(f'<Representation id="{rid}" bandwidth="{kbps * 1000}" width="{width}" height="{height}" codecs="{codecs}"/>')
    for rid in [r[0] for r in LADDER] + ["audio"]:
        (folder / rid).mkdir(parents=True, exist_ok=True)
        playlist = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:2", "#EXT-X-PLAYLIST-TYPE:VOD",
                    '#EXT-X-MAP:URI="init.mp4"']
        (folder / rid / "init.mp4").write_bytes(os.urandom(600))
        for n in range(1, segments + 1):
            (folder / rid / f"seg_{n:05d}.m4s").write_bytes(os.urandom(SEGMENT_BYTES))
            playlist += ["#EXTINF:2.0,", f"seg_{n:05d}.m4s"]
        (folder / rid / "playlist.m3u8").write_text("\n".join(playlist + ["#EXT-X-ENDLIST"]) + "\n")
    (folder / "master.m3u8").write_text("\n".join(master) + "\n")
    (folder / "manifest.mpd").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT16S" minBufferTime="PT2S" '
        'profiles="urn:mpeg:dash:profile:isoff-live:2011"><Period id="0">'
        '<AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true">'
        '<SegmentTemplate initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/seg_$Number%05d$.m4s" '
        'startNumber="1" duration="2" timescale="1"/>' + "".join(reps) + "</AdaptationSet>"
        '<AdaptationSet id="1" contentType="audio" mimeType="audio/mp4"><Representation id="audio" bandwidth="128000" '
        'codecs="mp4a.40.2" audioSamplingRate="48000"/></AdaptationSet></Period></MPD>\n')
    record = TitleRecord(
        title_id=title_id, name="ladder", created_at=datetime.now(UTC),
        source=SourceInfo(container="mp4", video_codec="hevc", width=3840, height=2160, fps=25, duration_s=2.0 * segments,
                          has_audio=True),
        segment_duration_s=2.0, duration_s=2.0 * segments,
        renditions=[Rendition(id=rid, width=w, height=h, codec=fam, codecs=c, bitrate_kbps=k, bandwidth_bps=k * 1000,
                              average_bandwidth_bps=k * 900, profile="main", browser_playable=fam != "hevc",
                              segment_count=segments) for rid, w, h, fam, c, k in LADDER],
    )
    (folder / "title.json").write_text(record.model_dump_json(indent=2))
    return record
