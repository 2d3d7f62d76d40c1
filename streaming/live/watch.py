"""Watching a live channel in a real browser page and reading its glass-to-glass latency.

Shared by the playback test and ``make bench`` (``benchmarks/bench_live.py``), so both measure
the same thing the same way: the live page (``streaming/player/static/live.js``, hls.js in
low-latency mode) records, once a second, now minus the program date-time of the frame on
screen; the PDT is the contribution encoder's capture clock, so that is glass to glass.
"""

from __future__ import annotations

import re
import statistics
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from streamlab.core.errors import StreamlabError
from streamlab.streaming.player.shaping import CdpShaper, ShapedLink

SHAPE_TICK_MS = 250
"""How often a shaped run sets the link's throughput (the traces have a line per second)."""
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

    def summary(self) -> dict[str, Any]:
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
            "rung_seconds": dict(sorted((self.state.get("rungSeconds") or {}).items())),
        }


class PlayerFailed(AssertionError):
    """The page did not load, or the player hit a fatal error."""


@dataclass
class LiveRun:
    """One page of a :func:`watch_side_by_side`: its page parameters, its link, its timed actions.

    ``query`` adds page parameters (an encrypted channel's ``license`` and ``token``, ``abr``);
    ``shaper`` shapes the page's link from when it has loaded (a real trace replayed through CDP,
    :mod:`streamlab.streaming.player.shaping`; the page and its players load unshaped, else only the
    first run would pay that); ``actions`` maps a number of latency samples to a JavaScript function
    run once that many exist (e.g. a seek into the DVR window).
    """

    query: dict[str, str] | None = None
    shaper: CdpShaper | None = None
    actions: dict[int, str] | None = None


def watch_live(
    context: Any, page_url: str, master_url: str, play_s: float, grace_s: float = 15.0,
    actions: dict[int, str] | None = None, query: dict[str, str] | None = None, shaper: CdpShaper | None = None,
) -> Watched:
    """Open ``page_url?src=<master_url>`` in the Playwright ``context`` and sample it each second
    until ``play_s`` latency samples exist (or ``play_s + grace_s`` passed); see :class:`LiveRun`
    for ``actions``, ``query`` and ``shaper``."""
    return watch_side_by_side(context, page_url, master_url, play_s, [LiveRun(query, shaper, actions)], grace_s)[0]


def watch_side_by_side(
    context: Any, page_url: str, master_url: str, play_s: float, runs: list[LiveRun], grace_s: float = 15.0,
) -> list[Watched]:
    """Play ``runs`` at the same time, one page each, until every one has ``play_s`` latency samples.

    Why together: glass-to-glass latency includes how far the channel's encoder and packager lag
    the capture clock, and on a shared, loaded box that lag drifts by seconds within a minute;
    pages played one after the other would compare the drift, pages played side by side see the
    same lag at the same moment, so their difference is the players'. Each shaped page gets its own
    link (the same trace replayed from its own start), updated every :data:`SHAPE_TICK_MS`.
    """
    pages: list[Any] = []
    watched = [Watched({}) for _ in runs]
    pending = [dict(run.actions or {}) for run in runs]
    try:
        for run, seen in zip(runs, watched, strict=True):
            page = context.new_page()
            pages.append(page)
            page.on("console", lambda message, seen=seen: seen.console_errors.append(message.text)
                    if message.type == "error" else None)
            extra = "".join(f"&{name}={quote(value, safe='')}" for name, value in (run.query or {}).items())
            page.goto(f"{page_url}?src={quote(master_url, safe='')}{extra}")
        for run, page in zip(runs, pages, strict=True):
            if run.shaper is not None:
                run.shaper.start(context, page)
        shapers = [run.shaper for run in runs if run.shaper is not None]
        deadline = time.monotonic() + play_s + grace_s
        while time.monotonic() < deadline:
            for _ in range(1000 // SHAPE_TICK_MS if shapers else 1):
                pages[0].wait_for_timeout(SHAPE_TICK_MS if shapers else 1000)
                for shaper in shapers:
                    shaper.update()
            for page, seen, todo in zip(pages, watched, pending, strict=True):
                _sample(page, seen, todo)
            if all(len(seen.state["latencies"]) >= play_s for seen in watched):
                break
    finally:
        for page in pages:
            page.close()
    return watched


def watch_channel(channel: str, play_s: float, dash: bool = False, seek_back_s: float | None = None) -> tuple[Watched, str]:
    """Play a running channel in headless chromium through the delivery edge, as a viewer does, for
    ``play_s`` latency samples (``streamlab live watch``); returns what the page saw and the edge used.

    The edge the channel's state names is used when it answers; otherwise a delivery stack (edge →
    shield → origin) runs for the length of the watch in this process, so the check needs nothing
    but the channel. ``seek_back_s`` moves the player that far behind live once it plays (DVR).
    """
    from streamlab.streaming.delivery.stack import running_stack
    from streamlab.streaming.live.lifecycle import channel_status
    from streamlab.streaming.player.browser import chromium

    import streamlab.streaming.player as player

    state = channel_status(channel)
    if state["state"] != "live":
        raise StreamlabError(f"channel {channel!r} is {state['state']}, not live: start it with `streamlab live start {channel}`")
    if state.get("drm"):
        raise StreamlabError(f"channel {channel!r} is encrypted: watch it from the page with a licence token (see README, Live DRM)")
    if seek_back_s is not None and not 0 < seek_back_s <= float(state.get("dvr_window_s") or 0):
        raise StreamlabError(f"--seek-back {seek_back_s} s is outside the channel's DVR window of {state.get('dvr_window_s')} s")
    with ExitStack() as stack:
        edge = state["edge_url"] if state.get("edge_reachable") else None
        if edge is None:
            page_dir = Path(player.__file__).parent / "static"
            edge = stack.enter_context(running_stack(overrides=[f"origin.player_dir={page_dir}"])).edge_url
        context = stack.enter_context(chromium())
        manifest = "manifest.mpd" if dash else "master.m3u8"
        actions = {STARTUP_SAMPLES: f"() => window.streamlabLiveSeek({seek_back_s})"} if seek_back_s else None
        try:
            watched = watch_live(context, f"{edge}/player/live.html", f"{edge}/live/{channel}/{manifest}", play_s, actions=actions)
        except PlayerFailed as exc:
            raise StreamlabError(f"the player failed on channel {channel!r}: {exc}") from exc
    if len(watched.latencies) < 1:
        raise StreamlabError(f"channel {channel!r} did not play within {play_s:.0f} s (+15 s grace) at {edge}")
    return watched, edge


@dataclass
class AbrComparison:
    """The served live rule and hls.js's own ABR, played side by side on the same shaped link."""

    served: Watched
    hlsjs: Watched
    served_link: CdpShaper
    hlsjs_link: CdpShaper
    server_decide_requests: int
    """``/abr/decide`` requests the model server counted over the run (its ``/metrics``)."""

    def summary(self) -> dict[str, Any]:
        """Latency, stalls, rungs of both runs; for the served one, the decisions it used."""
        abr = self.served.state["abr"]
        return {
            "link": self.served_link.link.describe(),
            "served": {**self.served.summary(), "decisions_served": int(abr["served"]),
                       "decisions_hlsjs_fallback": int(abr["hlsjs"]), "answers": dict(abr["answers"]),
                       "failed_calls": int(abr["failures"]), "server_decide_requests": self.server_decide_requests},
            "hlsjs": self.hlsjs.summary(),
            "served_minus_hlsjs_median_s": round(self.served.summary()["median_s"] - self.hlsjs.summary()["median_s"], 3),
        }


def compare_served_abr(
    context: Any, page_url: str, master_url: str, play_s: float, link: ShapedLink, serving_url: str,
    hlsjs_max_rate: float | None = None,
) -> AbrComparison:
    """``?abr=served&serving=<serving_url>`` and hls.js's own ABR side by side, each page on its own
    replay of ``link`` (:func:`watch_side_by_side`).

    hls.js's latency controller gets the served live rule's playback-rate bound (``hlsjs_max_rate``, default the live
    settings' ``max_rate``, 1.05) instead of the page's default 1.1: at 1.1 it closed a late join twice as fast as a rule
    held to 1.05 may, and the comparison measured that bound more than the two rules' decisions."""
    from streamlab.models.abr.live.settings import LiveSettings

    max_rate = LiveSettings().max_rate if hlsjs_max_rate is None else hlsjs_max_rate
    served_link, hlsjs_link = CdpShaper(link), CdpShaper(link)
    before = decide_requests(serving_url)
    served, hlsjs = watch_side_by_side(context, page_url, master_url, play_s, [
        LiveRun(query={"abr": "served", "serving": serving_url}, shaper=served_link),
        LiveRun(query={"maxrate": f"{max_rate:g}"}, shaper=hlsjs_link)])
    return AbrComparison(served, hlsjs, served_link, hlsjs_link, int(decide_requests(serving_url) - before))


def decide_requests(serving_url: str) -> float:
    """``/abr/decide`` requests the model server counted (all outcomes), from its Prometheus metrics."""
    text = httpx.get(f"{serving_url}/metrics", trust_env=False, timeout=10).text
    pattern = r'^streamlab_serving_requests_total\{endpoint="abr/decide",outcome="[a-z]+"\} ([0-9.e+]+)$'
    return sum(float(value) for value in re.findall(pattern, text, flags=re.MULTILINE))


def _sample(page: Any, watched: Watched, pending: dict[int, str]) -> None:
    state = page.evaluate("() => window.streamlabLive ? JSON.parse(JSON.stringify(window.streamlabLive)) : null")
    if state is None:
        raise PlayerFailed(f"the live page did not load: {watched.console_errors}")
    watched.state = state
    if state["fatal"] is not None:
        raise PlayerFailed(f"fatal player error {state['fatal']}: {state['errors']}")
    for at in [at for at in pending if len(state["latencies"]) >= at]:
        page.evaluate(pending.pop(at))
