"""Watching a live channel in a real browser page and reading its glass-to-glass latency.

Shared by the playback test and ``make bench`` (``benchmarks/bench_live.py``), so both measure
the same thing the same way: the live page (``streaming/player/static/live.js``, hls.js in
low-latency mode) records, once a second, now minus the program date-time of the frame on
screen; the PDT is the contribution encoder's capture clock, so that is glass to glass.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

STARTUP_SAMPLES = 3
"""The first seconds are the player joining and settling, not steady-state latency."""


@dataclass
class Watched:
    """What the page reported after a run: ``state`` is ``window.streamlabLive``."""

    state: dict[str, Any]
    console_errors: list[str] = field(default_factory=list)

    @property
    def latencies(self) -> list[float]:
        return sorted(self.state["latencies"][STARTUP_SAMPLES:])

    def summary(self) -> dict[str, float | int]:
        latencies = self.latencies
        return {
            "samples": len(latencies),
            "median_s": round(statistics.median(latencies), 3),
            "p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
            "min_s": round(latencies[0], 3),
            "max_s": round(latencies[-1], 3),
            "hlsjs_edge_latency_median_s": round(statistics.median(self.state["edgeLatencies"]), 3)
            if self.state["edgeLatencies"] else -1.0,
            "stalls": int(self.state["stalls"]),
            "stall_s": round(float(self.state["stallSeconds"]), 3),
            "frames": int(self.state["frames"]),
        }


class PlayerFailed(AssertionError):
    """The page did not load, or the player hit a fatal error."""


def watch_live(
    context: Any, page_url: str, master_url: str, play_s: float, grace_s: float = 15.0,
    actions: dict[int, str] | None = None, query: dict[str, str] | None = None,
) -> Watched:
    """Open ``page_url?src=<master_url>`` in the Playwright ``context`` and sample it each second
    until ``play_s`` latency samples exist (or ``play_s + grace_s`` passed).

    ``actions`` maps a number of latency samples to a JavaScript function run once that many
    exist (e.g. a seek into the DVR window); ``query`` adds page parameters (an encrypted channel's
    ``license`` and ``token``).
    """
    pending = dict(actions or {})
    page = context.new_page()
    watched = Watched({})
    page.on("console", lambda message: watched.console_errors.append(message.text) if message.type == "error" else None)
    try:
        extra = "".join(f"&{name}={quote(value, safe='')}" for name, value in (query or {}).items())
        page.goto(f"{page_url}?src={quote(master_url, safe='')}{extra}")
        deadline = time.monotonic() + play_s + grace_s
        while time.monotonic() < deadline:
            page.wait_for_timeout(1000)
            state = page.evaluate("() => window.streamlabLive ? JSON.parse(JSON.stringify(window.streamlabLive)) : null")
            if state is None:
                raise PlayerFailed(f"the live page did not load: {watched.console_errors}")
            watched.state = state
            if state["fatal"] is not None:
                raise PlayerFailed(f"fatal player error {state['fatal']}: {state['errors']}")
            for at in [at for at in pending if len(state["latencies"]) >= at]:
                page.evaluate(pending.pop(at))
            if len(state["latencies"]) >= play_s:
                break
    finally:
        page.close()
    return watched
