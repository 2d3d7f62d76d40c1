"""One rung's live timeline: CMAF chunks become LL-HLS parts, parts become segments, the DVR slides.

Shaka Packager (our VOD packager) has no LL-HLS parts, so live packaging is ours: every CMAF
chunk the transcoder writes is one part (``seg<msn>.<i>.m4s``); a part that starts on a keyframe
after ``segment_s`` of media opens the next segment, and the closed segment is also written whole
(``seg<msn>.m4s``, the concatenation of its parts) for players that do not use parts. Files are
written under a temporary name and renamed, so no reader ever sees half a part. Segments whose end
falls more than the DVR window behind the newest one leave the timeline and the disk together.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from streamlab.streaming.live.clock import capture_time
from streamlab.streaming.live.cmaf import Chunk
from streamlab.streaming.packaging.mp4box import InitInfo


@dataclass(frozen=True)
class Part:
    msn: int
    index: int
    duration_s: float
    independent: bool
    uri: str


@dataclass
class Segment:
    msn: int
    pdt_s: float  # capture time (Unix seconds) of its first frame
    init_uri: str
    discontinuity: bool
    media_start_s: float = 0.0  # decode time of its first frame (the fMP4 tfdt, in seconds): LL-DASH's S@t
    generation: int = 0
    nominal_start_s: float = 0.0  # where the segment grid says it starts (media time; see RungTimeline._closes)
    parts: list[Part] = field(default_factory=list)
    complete: bool = False

    @property
    def uri(self) -> str:
        return f"seg{self.msn}.m4s"

    @property
    def duration_s(self) -> float:
        return sum(part.duration_s for part in self.parts)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` so readers see either nothing or all of it (rename is atomic on one filesystem)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class RungTimeline:
    """Parts, segments and files of one rendition; fed chunk by chunk, read by the playlist writer."""

    def __init__(self, name: str, folder: Path, segment_s: float, dvr_window_s: float) -> None:
        self.name = name
        self.folder = folder
        self.segment_s = segment_s
        self.dvr_window_s = dvr_window_s
        self.segments: deque[Segment] = deque()
        self.discontinuity_sequence = 0  # discontinuities that slid out of the window
        self.next_msn = 0
        self.generation = -1
        self.init: InitInfo | None = None
        self.init_uri = ""
        self.codecs = ""
        self._open_bytes: list[bytes] = []
        self._pending_discontinuity = False
        self.first_pdt_s: float | None = None
        """Capture time of the channel's first segment: LL-DASH's availabilityStartTime."""
        folder.mkdir(parents=True, exist_ok=True)

    # ---- input -------------------------------------------------------------------------------
    def start_generation(self, init_bytes: bytes, init: InitInfo) -> None:
        """A (re)started transcoder: new init segment; the next part opens a segment after a discontinuity."""
        self.generation += 1
        self.init = init
        self.codecs = init.codecs
        self.init_uri = f"init{self.generation}.mp4"
        write_atomically(self.folder / self.init_uri, init_bytes)
        self._close_open_segment()
        self._pending_discontinuity = self.generation > 0

    def add_chunk(self, chunk: Chunk, now_s: float | None = None) -> Part:
        """Append one CMAF chunk as a part; returns it. Closes and trims segments as needed."""
        assert self.init is not None, "start_generation() first"
        timescale = self.init.timescale
        start_s = chunk.info.base_media_decode_time / timescale
        duration_s = chunk.info.duration / timescale
        independent = chunk.info.starts_with_sync_sample
        current = self.open_segment
        boundary = current is not None and independent and self._closes(current, start_s, duration_s)
        if current is None or boundary:
            nominal_s = start_s
            if current is not None and abs(start_s - (current.nominal_start_s + self.segment_s)) <= duration_s:
                nominal_s = current.nominal_start_s + self.segment_s
            self._close_open_segment()
            if not independent:  # a segment must start on a keyframe: drop until one comes
                raise NotIndependent(f"{self.name}: part at {start_s:.3f} s does not start with a keyframe")
            current = Segment(self.next_msn, capture_time(start_s, now_s), self.init_uri, self._pending_discontinuity,
                              media_start_s=start_s, generation=self.generation, nominal_start_s=nominal_s)
            if self.first_pdt_s is None:
                self.first_pdt_s = current.pdt_s
            self._pending_discontinuity = False
            self.next_msn += 1
            self.segments.append(current)
            self._open_bytes = []
        part = Part(current.msn, len(current.parts), duration_s, independent, f"seg{current.msn}.{len(current.parts)}.m4s")
        write_atomically(self.folder / part.uri, chunk.data)
        current.parts.append(part)
        self._open_bytes.append(chunk.data)
        self._trim()
        return part

    def _closes(self, current: Segment, start_s: float, duration_s: float) -> bool:
        """A part starting at ``start_s`` opens the next segment: it starts at least half a part
        past ``current``'s nominal end. Nominal ends are whole ``segment_s`` steps from the
        generation's first segment, so parts that do not divide a segment (audio: 0.32 s AAC
        fragments) alternate shorter and longer segments around the grid instead of drifting off
        it, and segment N of the audio spans the same time as segment N of the video."""
        return start_s >= current.nominal_start_s + self.segment_s - duration_s / 2 - 1e-6

    def _close_open_segment(self) -> None:
        current = self.open_segment
        if current is None:
            return
        if not current.parts:
            self.segments.pop()
            return
        write_atomically(self.folder / current.uri, b"".join(self._open_bytes))
        current.complete = True
        self._open_bytes = []

    def _trim(self) -> None:
        """Drop complete segments that ended more than the DVR window before the newest media."""
        newest = self.segments[-1]
        newest_end = newest.pdt_s + newest.duration_s
        while len(self.segments) > 1 and self.segments[0].complete:
            oldest = self.segments[0]
            if newest_end - (oldest.pdt_s + oldest.duration_s) <= self.dvr_window_s:
                break
            self.segments.popleft()
            if oldest.discontinuity:
                self.discontinuity_sequence += 1
            for path in [oldest.uri, *(part.uri for part in oldest.parts)]:
                (self.folder / path).unlink(missing_ok=True)
            if not any(segment.init_uri == oldest.init_uri for segment in self.segments):
                (self.folder / oldest.init_uri).unlink(missing_ok=True)

    # ---- reading -----------------------------------------------------------------------------
    @property
    def open_segment(self) -> Segment | None:
        return self.segments[-1] if self.segments and not self.segments[-1].complete else None

    @property
    def last_part(self) -> tuple[int, int] | None:
        """``(msn, part index)`` of the newest part, or ``None`` before the first."""
        for segment in reversed(self.segments):
            if segment.parts:
                return segment.msn, len(segment.parts) - 1
        return None

    def has_part(self, msn: int, part: int) -> bool:
        """True once part ``part`` of segment ``msn`` exists, or a later segment does."""
        last = self.last_part
        return last is not None and (last[0] > msn or (last[0] == msn and last[1] >= part))

    def segment(self, msn: int) -> Segment | None:
        """Segment ``msn`` while it is in the window (open or complete)."""
        for segment in reversed(self.segments):
            if segment.msn == msn:
                return segment
            if segment.msn < msn:
                return None
        return None

    def has_segment(self, msn: int) -> bool:
        """True once segment ``msn`` (or a later one) is complete."""
        return any(segment.complete and segment.msn >= msn for segment in reversed(self.segments))

    def next_part_uri(self) -> str | None:
        """The part the transcoder writes next (the preload hint), predicted from the segment length."""
        current = self.open_segment
        if current is None:
            return f"seg{self.next_msn}.0.m4s" if self.init is not None else None
        last = current.parts[-1].duration_s if current.parts else 0.0
        if current.parts and self._closes(current, current.media_start_s + current.duration_s, last):
            return f"seg{current.msn + 1}.0.m4s"
        return f"seg{current.msn}.{len(current.parts)}.m4s"

    @property
    def newest_pdt_end_s(self) -> float | None:
        if not self.segments:
            return None
        newest = self.segments[-1]
        return newest.pdt_s + newest.duration_s


class NotIndependent(ValueError):
    """A segment would start without a keyframe: the transcoder has not reached one yet."""
