"""One live viewer: a real LL-HLS client on its own shaped link, with a playback buffer model.

The client does what hls.js in low-latency mode does on the wire:

1. the multivariant playlist, then the chosen rung's media playlist;
2. start ``PART-HOLD-BACK`` behind the newest part, fetching parts up to the live edge;
3. at the live edge, a **blocking playlist reload** for the next part (``_HLS_msn``/``_HLS_part``,
   with ``_HLS_skip=YES``: a delta update), then that part: about six requests a second;
4. a local throughput ABR (the rung whose bandwidth fits 0.8 x the shaped throughput of the last
   parts, one step at a time; switches at part boundaries, as LL-HLS rendition reports allow).

Each download is paced by a **bandwidth shaper** replaying a real throughput trace (the project's
Mahimahi/Pensieve traces): a part of ``b`` bytes takes at least ``8 b / throughput(t)`` seconds,
so viewers on a slow trace fall behind and switch down like real ones.

Playback is modelled, not decoded: the buffer fills with each part's duration and drains once
playing, in real time or faster (below); an empty buffer is a stall (playback resumes with one part
buffered). Latency to live is ``now - PDT(playhead)``, sampled once a second while playing.

**Live sync** is hls.js's latency controller (the vendored ``hls.min.js``), as the live page
configures it (``live.js``: ``maxLiveSyncPlaybackRate: 1.1``; the live issue's single-viewer figure
was measured so): while the latency is more than 0.05 s above the target (``PART-HOLD-BACK``, plus
``stall_increase_s`` per stall so far, at most one target duration) but less than the target plus
a target duration above it, and more than 1 s is buffered, playback runs at
``2 / (1 + exp(-0.75 x distance))`` rounded to 0.05, between 1 and the maximum. hls.js's own
``liveSyncOnStallIncrease`` is 1 s (:data:`HLSJS_STALL_INCREASE_S`); the crowd's default is 0
(``configs/peak.yaml``): with it, a viewer a trace's dip or a fault stalled keeps a target a
second or two later for the rest of the watch, so the crowd's latency would measure that policy
(and never return to its pre-fault level after an origin restart), not the delivery.
Without it a viewer never recovers a late start, and a crowd's viewers start late: they join on
the plain playlist the edge holds, which the tiers cache ``max-age=1`` each (whole seconds: the
``Age`` a shield sends is 0 for any sub-second residence, so an edge keeps its copy a full
second more), about half a second older on average than a lone viewer's uncached one. The latency
a viewer started with is kept in ``first_latency_s`` so that cost stays visible.

A part's delivery time is the wall time from its file's appearance at the origin (``state.json``'s
``media_dir``, read with ``stat``: loopback only) to its last byte at this viewer, recorded for
parts fetched at the live edge (waited for), not for the back-fill at startup. When the origin states the part's
availability time (``X-Part-Written-At``, unix seconds) that is used instead of the file's mtime,
so the measure needs no shared file system.

The wire is :mod:`.http` (raw asyncio keep-alive connections, a part's bytes counted, not kept)
and each playlist version is parsed once per process (:func:`.llhls.parse_media_bytes`), so a
viewer costs the load generator a few tens of µs of CPU per request and a thousand of them fit
beside the edge on two cores.

Errors are retried as hls.js does (``fragLoadPolicy.errorRetry``: up to :data:`MAX_RETRIES`
retries, a linear back-off of :data:`RETRY_DELAY_S` x the attempt, capped at
:data:`MAX_RETRY_DELAY_S`): a retry that then succeeds is counted in ``retries``, not as a failure;
a request that exhausts its retries is a failed request and the viewer errors out (hls.js's fatal
error). A viewer a stall left behind the live edge seeks back to it as hls.js's
``liveMaxLatencyDuration`` does (:meth:`Viewer.seek_to_live`).
"""

from __future__ import annotations

import asyncio
import bisect
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from streamlab.streaming.loadgen.http import HttpClient, Response
from streamlab.streaming.loadgen.llhls import MediaPlaylist, PartRef, Variant, parse_media_bytes, parse_multivariant

ABR_SAFETY = 0.8
"""Pick the highest rung whose bandwidth is at most this share of the measured throughput."""
RETRY_DELAY_S = 1.0
"""hls.js ``errorRetry.retryDelayMs``: the n-th retry waits n x this (linear back-off)."""
MAX_RETRY_DELAY_S = 8.0
"""hls.js ``errorRetry.maxRetryDelayMs``."""
MAX_RETRIES = 6
"""hls.js ``fragLoadPolicy.errorRetry.maxNumRetry``: 21 s of retries in all, past which the request
has failed and the viewer errors out."""
MIN_MBPS = 0.05
"""A trace's outage (0 Mbit/s) is this slow, not infinitely slow: the download still ends."""
CATCH_UP_S = 1.0
"""Behind the live edge by more than the hold-back plus this: the playhead seeks back to it."""
LIVE_SYNC_MAX_RATE = 1.1
"""The live page's hls.js ``maxLiveSyncPlaybackRate`` (``live.js``); 1 turns live sync off."""
HLSJS_STALL_INCREASE_S = 1.0
"""hls.js's ``liveSyncOnStallIncrease``: each stall moves its target latency back this much."""
LIVE_SYNC_MIN_DISTANCE_S = 0.05
LIVE_SYNC_MIN_BUFFER_S = 1.0
"""hls.js speeds up only more than 0.05 s behind its target and with more than 1 s buffered."""


@dataclass(frozen=True)
class ViewerPlan:
    viewer_id: int
    join_at_s: float
    """Seconds after the crowd's start."""
    leave_at_s: float
    trace_time_s: tuple[float, ...]
    trace_mbps: tuple[float, ...]
    trace_offset_s: float


@dataclass
class ViewerResult:
    viewer_id: int
    joined: bool = False
    startup_s: float | None = None
    stalls: int = 0
    stall_s: float = 0.0
    requests: int = 0
    failed_requests: int = 0
    retries: int = 0
    """Requests retried after an error or a 5xx (each retry once); not failures if a retry succeeds."""
    errored_out: bool = False
    switches: int = 0
    seeks: int = 0
    """Catch-up seeks towards the live edge (after a stall)."""
    latency_s: list[float] = field(default_factory=list)
    latency_at: list[float] = field(default_factory=list)
    """Wall time (unix s) of each latency sample: recovery after a fault is read from them."""
    first_latency_s: float | None = None
    """The latency the viewer started playing at (before live sync): its join's cost."""
    sped_up_s: float = 0.0
    """Wall seconds played faster than real time (live sync catching up)."""
    delivery_ms: list[float] = field(default_factory=list)
    """Part written at the origin → its last byte out of the delivery system (before the viewer's link)."""
    shaped_delivery_ms: list[float] = field(default_factory=list)
    """The same, to the last byte across the viewer's shaped link."""
    last_rung: str = ""
    rungs_seen: list[str] = field(default_factory=list)


class Shaper:
    """The viewer's link: throughput over time from a trace (looped), starting at an offset."""

    def __init__(self, time_s: tuple[float, ...], mbps: tuple[float, ...], offset_s: float) -> None:
        self.time_s = time_s
        self.mbps = mbps if min(mbps) >= MIN_MBPS else tuple(max(m, MIN_MBPS) for m in mbps)
        self.period_s = float(time_s[-1] - time_s[0]) or 1.0
        self.offset_s = offset_s
        self.started = time.monotonic()

    def mbps_now(self) -> float:
        t = (time.monotonic() - self.started + self.offset_s) % self.period_s + self.time_s[0]
        return self.mbps[min(bisect.bisect_left(self.time_s, t), len(self.mbps) - 1)]

    async def pace(self, size_bytes: int, started: float) -> None:
        """Sleep until ``size_bytes`` could have crossed the link since ``started``."""
        due = started + size_bytes * 8 / (self.mbps_now() * 1e6)
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


class Viewer:
    def __init__(self, plan: ViewerPlan, master_url: str, media_dir: Path | None,
                 crowd_start: float, deadline: float, timeout_s: float, max_rate: float = LIVE_SYNC_MAX_RATE,
                 stall_increase_s: float = 0.0) -> None:
        self.plan = plan
        url = urlsplit(master_url)
        self.master_path = url.path
        self.base = url.path.rsplit("/", 1)[0]
        self.media_dir = media_dir
        self.client = HttpClient(url.hostname or "127.0.0.1", url.port or 80, timeout_s)
        """The viewer's own keep-alive connections, as a browser tab has."""
        self.crowd_start = crowd_start
        self.deadline = min(deadline, crowd_start + plan.leave_at_s)
        self.result = ViewerResult(plan.viewer_id)
        self.shaper = Shaper(plan.trace_time_s, plan.trace_mbps, plan.trace_offset_s)
        self.last_byte_wall = 0.0
        self.written_at: float | None = None
        """The last response's ``X-Part-Written-At`` (None: not sent)."""
        # playback model
        self.joined_at = 0.0
        self.playing = False
        self.buffered_s = 0.0
        self.played_s = 0.0
        self.clock_at = 0.0
        self.start_pdt_s: float | None = None
        self.stall_began: float | None = None
        self.next_sample = 0.0
        self.wall_offset = time.time() - time.monotonic()
        """Unix time minus the monotonic clock the model runs on: latency compares with PDTs."""
        self.rate = 1.0
        self.max_rate = max(1.0, max_rate)
        self.stall_increase_s = stall_increase_s
        self.target_latency_s = 0.0
        """``PART-HOLD-BACK`` (set from the first media playlist): live sync's base target."""
        self.stall_increase_cap_s = 0.0
        """The playlist's target duration: hls.js's cap on the target's growth after stalls."""

    # ---- HTTP -----------------------------------------------------------------------------------
    async def get(self, path: str, media: bool = False) -> Response | None:
        """One GET, retried like hls.js on a broken connection, a timeout or a 5xx; ``None`` (a failed
        request) on a 4xx or once the retries are spent (then the viewer errors out, as hls.js's
        fatal error stops playback). ``media``: a part, paced by the viewer's link, its bytes
        counted, not kept (only playlists are read)."""
        for attempt in range(MAX_RETRIES + 1):
            if attempt:
                self.result.retries += 1
                await asyncio.sleep(min(RETRY_DELAY_S * attempt, MAX_RETRY_DELAY_S))
                if self._done():
                    return None
            self.result.requests += 1
            started = time.monotonic()
            try:
                response = await self.client.get(path, keep_body=not media)
            except (OSError, TimeoutError):  # ConnectionError is an OSError
                continue
            status = response.status
            if media:  # a playlist answered concurrently (the blocking reload) must not move it
                self.last_byte_wall = time.time()
            if status == 200:
                if response.written_at is not None:  # only media answers carry it; a playlist's keeps the part's
                    self.written_at = _float_or_none(response.written_at)
                if media:
                    await self.shaper.pace(response.size, started)
                return response
            if status < 500:  # not retried (hls.js neither): failed, the viewer goes on after a pause
                self.result.failed_requests += 1
                await asyncio.sleep(RETRY_DELAY_S)
                return None
        self.result.failed_requests += 1
        self.result.errored_out = not self._done()  # the crowd's end cut the retries short: not an error
        return None

    # ---- playback model -------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        """Drain the buffer up to ``now`` at the playback rate; an empty buffer starts a stall."""
        if self.playing:
            elapsed = now - self.clock_at
            if elapsed * self.rate >= self.buffered_s:
                self.played_s += self.buffered_s
                self.stall_began = self.clock_at + self.buffered_s / self.rate
                self.buffered_s = 0.0
                self.playing = False
                self.rate = 1.0
                self.result.stalls += 1
            else:
                self.buffered_s -= elapsed * self.rate
                self.played_s += elapsed * self.rate
                if self.rate > 1.0:
                    self.result.sped_up_s += elapsed
                latency = self.latency_s(now)
                if latency is not None:
                    if now >= self.next_sample:
                        self.result.latency_s.append(latency)
                        self.result.latency_at.append(now + self.wall_offset)
                        self.next_sample = now + 1.0
                    self.rate = self.live_sync_rate(latency)
        self.clock_at = now

    def latency_s(self, now: float) -> float | None:
        """Wall time minus the program date-time at the playhead (``None`` before the first part)."""
        return None if self.start_pdt_s is None else now + self.wall_offset - (self.start_pdt_s + self.played_s)

    def live_sync_rate(self, latency_s: float) -> float:
        """hls.js's ``LatencyController`` rate for this latency (see the module docstring)."""
        target = self.target_latency_s + min(self.result.stalls * self.stall_increase_s, self.stall_increase_cap_s)
        distance = latency_s - target
        in_live_range = distance < target + self.stall_increase_cap_s
        if (not in_live_range or distance <= LIVE_SYNC_MIN_DISTANCE_S or self.buffered_s <= LIVE_SYNC_MIN_BUFFER_S
                or self.max_rate <= 1.0):
            return 1.0
        rate = round(2 / (1 + math.exp(-0.75 * distance)) * 20) / 20
        return min(self.max_rate, max(1.0, rate))

    def seek_to_live(self, pending: list[PartRef], hold_back_parts: int, now: float) -> list[PartRef]:
        """hls.js's ``liveMaxLatencyDuration`` seek: a viewer left more than ``CATCH_UP_S`` (plus the
        hold-back) behind the live edge, by a stall, skips the backlog and resumes ``hold_back_parts``
        behind the newest part, rebuffering from there. Returns the parts still to fetch."""
        behind_s = sum(p.duration_s for p in pending)
        hold_back_s = sum(p.duration_s for p in pending[-hold_back_parts:])
        if self.start_pdt_s is None or behind_s - hold_back_s <= CATCH_UP_S:
            return pending
        resume = pending[-hold_back_parts]
        self.advance(now)
        self.played_s = resume.pdt_s - self.start_pdt_s
        self.buffered_s = 0.0
        self.rate = 1.0
        if self.playing:
            self.playing = False
            self.stall_began = now
        self.result.seeks += 1
        return pending[-hold_back_parts:]

    def add_media(self, part: PartRef, now: float) -> None:
        self.advance(now)
        if self.start_pdt_s is None:
            self.start_pdt_s = part.pdt_s
        self.buffered_s += part.duration_s
        if not self.playing:
            if self.result.startup_s is None:
                self.result.startup_s = now - self.joined_at
                self.result.first_latency_s = self.latency_s(now)
            if self.stall_began is not None:
                self.result.stall_s += now - self.stall_began
                self.stall_began = None
            self.playing = True

    # ---- the client -----------------------------------------------------------------------------
    def choose(self, variants: list[Variant], current: int, throughput_bps: float | None) -> int:
        if throughput_bps is None:
            return current
        if current + 1 < len(variants) and variants[current + 1].bandwidth_bps <= ABR_SAFETY * throughput_bps:
            return current + 1
        if current > 0 and variants[current].bandwidth_bps > throughput_bps:
            return current - 1
        return current

    async def run(self) -> ViewerResult:
        await asyncio.sleep(max(0.0, self.crowd_start + self.plan.join_at_s - time.monotonic()))
        if time.monotonic() >= self.deadline:
            return self.result
        self.result.joined = True
        self.joined_at = self.clock_at = time.monotonic()
        try:
            return await self._watch()
        finally:
            self.client.close()

    async def _watch(self) -> ViewerResult:
        master = None
        while master is None and not self._done():
            master = await self.get(self.master_path)
        if master is None:
            return self.result
        variants = parse_multivariant(master.body.decode())
        rung = 0
        playlist: MediaPlaylist | None = None
        while playlist is None and not self._done():
            body = await self.get(f"{self.base}/{variants[rung].uri}")
            playlist = parse_media_bytes(body.body) if body is not None else None
        if playlist is None or playlist.last is None:
            return self.result
        hold_back_parts = max(1, round(playlist.part_hold_back_s / (playlist.part_target_s or 1)))
        self.target_latency_s, self.stall_increase_cap_s = playlist.part_hold_back_s, playlist.target_s
        start = playlist.parts[max(0, len(playlist.parts) - hold_back_parts)]
        last = (start.msn, start.index - 1)
        while not self._done():
            rung_uri = variants[rung].uri.rsplit("/", 1)[0]
            pending = [p for p in playlist.parts if (p.msn, p.index) > last]
            waited_since: float | None = None
            hinted: tuple[str, asyncio.Task[Response | None]] | None = None
            self.written_at = None
            if not pending:
                # at the live edge: block on the next part's playlist and, like hls.js, ask for the
                # preload-hinted part at the same time (the origin holds it until it is written)
                waited_since = time.time()
                if playlist.preload_hint:
                    hinted = (playlist.preload_hint, asyncio.create_task(
                        self.get(f"{self.base}/{rung_uri}/{playlist.preload_hint}", media=True)))
                blocking = f"?_HLS_msn={last[0]}&_HLS_part={last[1] + 1}&_HLS_skip=YES"
                body = await self.get(f"{self.base}/{variants[rung].uri}{blocking}")
                if body is not None:
                    playlist = parse_media_bytes(body.body)
                    pending = [p for p in playlist.parts if (p.msn, p.index) > last]
                if not pending:
                    if hinted is not None:
                        await hinted[1]
                    continue
            pending = self.seek_to_live(pending, hold_back_parts, time.monotonic())
            part = pending[0]
            started = time.monotonic()
            if hinted is not None and hinted[0] == part.uri:
                data = await hinted[1]
                measured = False  # it waited for the part to exist: no throughput sample
            else:
                if hinted is not None:
                    await hinted[1]
                data = await self.get(f"{self.base}/{rung_uri}/{part.uri}", media=True)
                measured = True
            if data is None:
                continue
            now = time.monotonic()
            if waited_since is not None:
                self._record_delivery(rung_uri, part.uri, waited_since)
            self.add_media(part, now)
            last = (part.msn, part.index)
            self.result.last_rung = rung_uri
            if rung_uri not in self.result.rungs_seen:
                self.result.rungs_seen.append(rung_uri)
            if measured:
                chosen = self.choose(variants, rung, data.size * 8 / max(now - started, 1e-3))
                if chosen != rung:
                    rung = chosen
                    self.result.switches += 1
                    body = await self.get(f"{self.base}/{variants[rung].uri}?_HLS_skip=YES")
                    if body is not None:
                        playlist = parse_media_bytes(body.body)
        self.advance(time.monotonic())
        return self.result

    def _record_delivery(self, rung: str, uri: str, waited_since: float) -> None:
        """Only parts written while this viewer waited at the live edge: their delivery is the system's.
        The availability time is the origin's ``X-Part-Written-At``, else the file's mtime (loopback)."""
        written = self.written_at
        if written is None and self.media_dir is not None:
            try:
                written = os.stat(self.media_dir / rung / uri).st_mtime
            except OSError:
                return
        if written is None or written < waited_since:
            return
        self.result.delivery_ms.append((self.last_byte_wall - written) * 1000)
        self.result.shaped_delivery_ms.append((time.time() - written) * 1000)

    def _done(self) -> bool:
        return self.result.errored_out or time.monotonic() >= self.deadline


def _float_or_none(value: bytes | str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def flash_crowd_joins(viewers: int, ramp_s: float, seed: int) -> list[float]:
    """Join times: exponential with mean ``ramp_s / 3`` truncated at ``ramp_s`` (95 % join in the
    ramp's first 100 %, the bulk in its first third), the shape of a premiere's first minute."""
    rng = random.Random(seed)
    joins = []
    for _ in range(viewers):
        t = rng.expovariate(3.0 / ramp_s) if ramp_s > 0 else 0.0
        joins.append(min(t, ramp_s))
    return sorted(joins)
