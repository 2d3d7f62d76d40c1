"""The capture clock: wall-clock time carried in the contribution feed's own timestamps.

The program date-time of a live segment must be the moment its first frame was *captured*, so
that ``now - PDT`` in the player is glass-to-glass latency (encode + contribution + transcode +
package + delivery + playback), not just the tail after our packager. A venue's encoder would
stamp its capture clock into the stream (timecode SEI, or TS timestamps locked to it); ours
does the latter: the contribution encoder offsets its MPEG-TS timestamps by the wall-clock time
at which it starts reading (``-output_ts_offset``, with ``-muxdelay 0 -muxpreload 0`` so the TS
muxer adds no 1.4 s of its own), and ``-re`` then releases frame ``t`` at ``start + t``. The
transcoder keeps those timestamps (``-copyts``, ``-avoid_negative_ts disabled``), so each CMAF
chunk's decode time is the capture time modulo :data:`CLOCK_PERIOD_S`. :func:`capture_time`
undoes the modulo against the packager's own clock, which is unambiguous while the pipeline delay
stays under half the period (6.6 h).

The period is *half* the 33-bit MPEG-TS range (2^32 / 90 kHz, about 13.3 h), not all of it:
FFmpeg's demuxers take a first timestamp in the upper half of the 33-bit range for one about to
wrap and shift the whole stream negative (``pts_wrap_behavior``), which an MP4 ``tfdt`` cannot
hold. Starting in the lower half, a later wrap is unwrapped forwards and the media time just
keeps counting.

The offset is fixed just before FFmpeg starts, so the carried clock is early by FFmpeg's start-up
(tens of ms): measured latency errs high, never flattering.
"""

from __future__ import annotations

import time

CLOCK_PERIOD_S = 2**32 / 90_000
"""The carried clock's period: the lower half of the 33-bit, 90 kHz MPEG-TS timestamp range."""


def contribution_offset_s(now_s: float | None = None) -> float:
    """The ``-output_ts_offset`` that makes TS timestamps read as wall-clock seconds (mod the wrap)."""
    now_s = time.time() if now_s is None else now_s
    return round(now_s % CLOCK_PERIOD_S, 3)


def capture_time(media_time_s: float, now_s: float | None = None) -> float:
    """The Unix time of a media timestamp carried by :func:`contribution_offset_s`.

    Picks the wrap period that puts the capture time nearest to (and normally just before) now.
    """
    now_s = time.time() if now_s is None else now_s
    periods = round((now_s - media_time_s) / CLOCK_PERIOD_S)
    return media_time_s + periods * CLOCK_PERIOD_S
