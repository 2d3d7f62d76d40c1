"""Throughput shaping that follows a real throughput trace, for browser runs compared on the same link.

Two ABR rules are only comparable in a browser when both see the same link. Loopback is not a link
(every rung downloads in milliseconds), so a run is shaped: a window of a real trace (the ABR
traces, ``time_s Mbit/s`` per line, read by :func:`streamlab.models.abr.traces.load_trace`, which
refuses a malformed one naming the line) is replayed against the page through the Chrome DevTools
Protocol (``Network.emulateNetworkConditions``: chromium paces the response bodies of every
request the page makes to the given download throughput), one value per trace line, in wall
time from when the page had loaded. Replayed from the same start, two runs get the same link
whatever they request; the ABR rule is what differs.

Seen with this emulation (chromium 156): a rule that measures throughput from a response's first
byte to its last (``static/abr-live.js``'s samples) can read far more than the link gives (the
served live policy's forecast read 2-15 Mbit/s, once 324 Mbit/s, on a 0.2-4 Mbit/s link):
chromium's throttle appears to hold bytes back and release them in bursts. hls.js's own
estimator times from the request, so it does not see this. Shaping at the socket (a pacing
proxy, ``streaming/headless/shaper.py``'s approach) would not have that artefact.
"""

from __future__ import annotations

import re
import statistics
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamlab.core.errors import StreamlabError

MIN_KBPS = 8.0
"""Chromium takes 0 as "no throttling": a near-outage in a trace (0.0 Mbit/s lines exist in the FCC
set) is shaped to this instead, so it stays an outage."""


REFERENCE_TRACE = "bus.ljansbakken-oslo-report.2010-09-30_1114CEST.log"
REFERENCE_START_S = 1280.0
REFERENCE_WINDOW_S = 40.0
"""The window the browser ABR comparisons replay (``tests/live/test_served_abr.py``,
``benchmarks/bench_live.py``): a validation-split trace (held out from ``streamlab abr train``;
the test checks that) with both regimes a live rule must handle: 18 s at 1.0-2.1 Mbit/s, then
22 s of dips to 0.22-0.5 Mbit/s with short recoveries (median 0.99 Mbit/s)."""
REFERENCE_HEADROOM = 2.0
"""The window's median is scaled to the top variant's ``BANDWIDTH`` x this. For the two-rung test
ladder (360p ~1 Mbit/s with audio, 180p ~0.35) that is a scale of ~2.0: the link carries the top
rung through the first 18 s, the dips (0.44-1.0 Mbit/s) do not, and never go below the bottom
rung; so the rule's choice matters and a good choice never has to stall. Headroom 1.0 (the trace
as recorded) was tried: both rules then sat on the bottom rung and stalled on a box under load."""


class ShapingError(StreamlabError):
    """The trace window or the scale cannot shape a link."""


@dataclass(frozen=True)
class ShapedLink:
    """A trace window as a step function with the simulator's (Mahimahi "cooked") semantics: line
    ``i`` holds the rate over ``(offsets_s[i-1], offsets_s[i]]`` (seconds into the window), the last
    line until the window's end; past that the window starts over (a run may outlast it).

    ``scale`` multiplied the trace's throughput (see :func:`scale_for_ladder` for why one scales).
    """

    trace: str
    start_s: float
    duration_s: float
    scale: float
    offsets_s: tuple[float, ...]
    kbps: tuple[float, ...]

    def kbps_at(self, elapsed_s: float) -> float:
        """The shaped throughput ``elapsed_s`` seconds after the run started."""
        at = max(0.0, elapsed_s) % self.duration_s
        return self.kbps[min(bisect_left(self.offsets_s, at), len(self.kbps) - 1)]

    @property
    def median_kbps(self) -> float:
        return statistics.median(self.kbps)

    def describe(self) -> dict[str, Any]:
        """What a report needs to reproduce the link."""
        return {
            "trace": self.trace, "start_s": self.start_s, "duration_s": self.duration_s, "scale": round(self.scale, 4),
            "median_kbps": round(self.median_kbps, 1), "min_kbps": round(min(self.kbps), 1),
            "max_kbps": round(max(self.kbps), 1),
        }


def trace_window(path: Path, start_s: float, duration_s: float, scale: float = 1.0) -> ShapedLink:
    """The lines of the trace at ``path`` with ``start_s <= time < start_s + duration_s``, times made
    relative to ``start_s`` and throughput multiplied by ``scale``."""
    from streamlab.models.abr.traces import load_trace

    if duration_s <= 0 or scale <= 0 or start_s < 0:
        raise ShapingError(f"start_s must be >= 0 and duration_s, scale > 0, got {start_s}, {duration_s}, {scale}")
    trace = load_trace(Path(path))
    rows = [(float(t) - start_s, float(mbps) * 1000.0 * scale)
            for t, mbps in zip(trace.time_s, trace.bandwidth_mbps, strict=True) if start_s <= t < start_s + duration_s]
    if len(rows) < 2:
        raise ShapingError(
            f"{path}: fewer than 2 lines in [{start_s}, {start_s + duration_s}) s (the trace spans "
            f"{trace.time_s[0]:.1f}..{trace.time_s[-1]:.1f} s)"
        )
    return ShapedLink(trace.name, start_s, duration_s, scale, tuple(t for t, _ in rows),
                      tuple(max(MIN_KBPS, k) for _, k in rows))


def scale_for_ladder(path: Path, start_s: float, duration_s: float, top_rung_kbps: float, headroom: float) -> float:
    """The scale that puts the window's median throughput at ``headroom`` x the top rung's bitrate.

    The traces were recorded for a six-rung 0.3-4.3 Mbit/s ladder; a channel's ladder is another
    one, so unscaled they could sit wholly above its top rung (the rule never has to choose) or
    below its bottom one. Anchoring the median to the top rung keeps the choice live: the top rung
    is sustainable about half the time, and the trace's dips go below the bottom rung.
    """
    if top_rung_kbps <= 0 or headroom <= 0:
        raise ShapingError(f"top_rung_kbps and headroom must be positive, got {top_rung_kbps}, {headroom}")
    return headroom * top_rung_kbps / trace_window(path, start_s, duration_s).median_kbps


@dataclass
class CdpShaper:
    """Replays a :class:`ShapedLink` on one Playwright page through its CDP session.

    Call :meth:`start` before the page loads anything and :meth:`update` often (each call sets the
    value due now, if it changed); ``applied`` keeps ``(elapsed_s, kbps)`` of every change, so a
    report can show what the page actually got. Playwright's sync API is single-threaded, so the
    caller's polling loop drives the updates rather than a thread.
    """

    link: ShapedLink
    latency_ms: float = 0.0
    applied: list[tuple[float, float]] = field(default_factory=list)
    _cdp: Any = None
    _started: float = 0.0

    def start(self, context: Any, page: Any) -> None:
        self._cdp = context.new_cdp_session(page)
        self._cdp.send("Network.enable")
        self._started = time.monotonic()
        self.update()

    def update(self) -> float:
        """Apply the throughput due now; returns it (kbit/s)."""
        if self._cdp is None:
            raise ShapingError("CdpShaper.update() before start()")
        elapsed = time.monotonic() - self._started
        kbps = self.link.kbps_at(elapsed)
        if not self.applied or self.applied[-1][1] != kbps:
            self._cdp.send("Network.emulateNetworkConditions", {
                "offline": False, "latency": self.latency_ms,
                "downloadThroughput": kbps * 1000.0 / 8.0, "uploadThroughput": -1,
            })
            self.applied.append((round(elapsed, 3), kbps))
        return kbps


def top_variant_kbps(master_playlist: str) -> float:
    """The highest ``BANDWIDTH`` (kbit/s) among a multivariant playlist's variants: the top rung with
    its audio, as the player sees it."""
    rates = [int(value) for value in re.findall(r"^#EXT-X-STREAM-INF:(?:.*,)?BANDWIDTH=(\d+)", master_playlist, flags=re.MULTILINE)]
    if not rates:
        raise ShapingError("the multivariant playlist lists no #EXT-X-STREAM-INF with a BANDWIDTH")
    return max(rates) / 1000.0


def reference_link(traces_dir: Path, master_playlist: str) -> ShapedLink:
    """The reference window (:data:`REFERENCE_TRACE`) scaled to the ladder of ``master_playlist``."""
    path = Path(traces_dir) / REFERENCE_TRACE
    scale = scale_for_ladder(path, REFERENCE_START_S, REFERENCE_WINDOW_S, top_variant_kbps(master_playlist),
                             REFERENCE_HEADROOM)
    return trace_window(path, REFERENCE_START_S, REFERENCE_WINDOW_S, scale)
