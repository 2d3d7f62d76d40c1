"""The encoded CMAF track of one rendition (or the audio), as the packager sees it on disk.

Playlists and manifests are written from these facts, read back from the real files, rather than
from what the encoder was asked for: durations come from the fragments' decode times, bitrates
from the segment sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamlab.core.errors import StreamlabError
from streamlab.streaming.packaging.mp4box import InitInfo, read_fragment, read_init
from streamlab.streaming.transcode.encode import INIT_SEGMENT, SEGMENT_GLOB


class PackagingError(StreamlabError):
    """The encoded files cannot be packaged (missing init or segments, unreadable boxes)."""


@dataclass(frozen=True)
class Segment:
    number: int  # 1-based, as in the file name
    file: str  # name relative to the track folder
    start: int  # baseMediaDecodeTime, in the track timescale
    duration: int  # in the track timescale
    size_bytes: int
    starts_with_sync_sample: bool


@dataclass(frozen=True)
class Track:
    """One CMAF track: its folder (relative to the title), init facts and media segments in order."""

    folder: str
    init: InitInfo
    segments: list[Segment]

    @property
    def timescale(self) -> int:
        return self.init.timescale

    @property
    def duration_s(self) -> float:
        if not self.segments:
            return 0.0
        last = self.segments[-1]
        return (last.start + last.duration - self.segments[0].start) / self.timescale

    def segment_duration_s(self, segment: Segment) -> float:
        return segment.duration / self.timescale

    @property
    def peak_bandwidth_bps(self) -> int:
        """Largest segment bitrate: HLS BANDWIDTH and DASH @bandwidth (what a client must sustain)."""
        rates = [s.size_bytes * 8 / self.segment_duration_s(s) for s in self.segments if s.duration > 0]
        return round(max(rates, default=0.0))

    @property
    def average_bandwidth_bps(self) -> int:
        total_bits = 8 * sum(s.size_bytes for s in self.segments)
        return round(total_bits / self.duration_s) if self.duration_s > 0 else 0


def read_track(title_dir: Path, folder: str) -> Track:
    """Read ``<title_dir>/<folder>/init.mp4`` and its ``seg_*.m4s`` (numbered from 1, no gaps)."""
    track_dir = title_dir / folder
    init_path = track_dir / INIT_SEGMENT
    if not init_path.is_file():
        raise PackagingError(f"{track_dir}: no {INIT_SEGMENT} (the encode wrote no CMAF output)")
    init = read_init(init_path)
    files = sorted(track_dir.glob(SEGMENT_GLOB))
    if not files:
        raise PackagingError(f"{track_dir}: no media segments")
    segments = []
    for expected, path in enumerate(files, start=1):
        number = int(path.stem.split("_")[-1])
        if number != expected:
            raise PackagingError(f"{track_dir}: segment {expected} is missing (next is {path.name})")
        fragment = read_fragment(path, init)
        segments.append(
            Segment(
                number=number,
                file=path.name,
                start=fragment.base_media_decode_time,
                duration=fragment.duration,
                size_bytes=path.stat().st_size,
                starts_with_sync_sample=fragment.starts_with_sync_sample,
            )
        )
    return Track(folder=folder, init=init, segments=segments)
