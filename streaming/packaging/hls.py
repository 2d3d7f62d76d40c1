"""HLS playlists (RFC 8216) over the title's CMAF segments.

Media playlists list each track's segments with their real durations. The multivariant
(master) playlist has one EXT-X-STREAM-INF per video rendition and the AAC track as an
EXT-X-MEDIA audio rendition group, so every variant shares one audio track. BANDWIDTH is the
peak segment bitrate of the video *plus* that of the audio (RFC 8216 §4.3.4.2: the largest sum
over the renditions a variant plays); AVERAGE-BANDWIDTH likewise sums the means.
"""

from __future__ import annotations

from pathlib import Path

from streamlab.streaming.catalog import Rendition
from streamlab.streaming.packaging.segments import Track
from streamlab.streaming.transcode.encode import INIT_SEGMENT, MEDIA_PLAYLIST

HLS_VERSION = 7  # fMP4 segments with EXT-X-MAP
AUDIO_GROUP = "audio"


def media_playlist(track: Track) -> str:
    durations = [track.segment_duration_s(s) for s in track.segments]
    target = max(1, max(round(d) for d in durations))
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{HLS_VERSION}",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:1",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        f'#EXT-X-MAP:URI="{INIT_SEGMENT}"',
    ]
    for segment, duration in zip(track.segments, durations, strict=True):
        lines += [f"#EXTINF:{duration:.6f},", segment.file]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def master_playlist(renditions: list[tuple[Rendition, float]], audio: Track | None) -> str:
    """``renditions``: (rendition, frame rate) pairs, listed in the given order."""
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{HLS_VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if audio is not None:
        channels = audio.init.channels or 2
        lines.append(
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="Main",DEFAULT=YES,AUTOSELECT=YES,'
            f'CHANNELS="{channels}",URI="{audio.folder}/{MEDIA_PLAYLIST}"'
        )
    for rendition, fps in renditions:
        peak = rendition.bandwidth_bps + (audio.peak_bandwidth_bps if audio else 0)
        average = rendition.average_bandwidth_bps + (audio.average_bandwidth_bps if audio else 0)
        codecs = rendition.codecs + (f",{audio.init.codecs}" if audio else "")
        attributes = [
            f"BANDWIDTH={peak}",
            f"AVERAGE-BANDWIDTH={average}",
            f"RESOLUTION={rendition.width}x{rendition.height}",
            f"FRAME-RATE={fps:.3f}",
            f'CODECS="{codecs}"',
        ]
        if audio is not None:
            attributes.append(f'AUDIO="{AUDIO_GROUP}"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attributes), f"{rendition.id}/{MEDIA_PLAYLIST}"]
    return "\n".join(lines) + "\n"


def write_media_playlist(title_dir: Path, track: Track) -> Path:
    path = title_dir / track.folder / MEDIA_PLAYLIST
    path.write_text(media_playlist(track))
    return path
