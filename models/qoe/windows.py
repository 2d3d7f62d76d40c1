"""From events to *units* (one per heartbeat or failure) and to per-group window counts.

A unit is what one event says about the viewer's last interval, as binary symptoms, so groups of
any size compare through rates and binomial surprise (:mod:`streamlab.models.qoe.features`):

============  ===========================================================  ==============
symptom       a heartbeat / event counts when ...                         denominator
============  ===========================================================  ==============
stall         cumulative ``rebuffer_s`` grew since the session's last beat  heartbeats
low_buffer    the session has started and ``buffer_s`` < 2 s              heartbeats
low_tput      the session has started and measured throughput < 1 Mbit/s  heartbeats
tput_collapse the same below 400 kbit/s (rare on any healthy edge)        heartbeats
oscillation   ``bitrate_switches`` grew by >= 2 since the last beat         heartbeats
errors        ``errors`` grew since the last beat                         heartbeats
crash         a session ended with ``playback_failed`` after its start      heartbeats
start_failure a session ended with ``playback_failed`` before a frame       starts
slow_start    the first started beat reports ``startup_s`` > 6 s          starts
bad_score     the design's session score so far is < 3 (rule baseline)     heartbeats + starts
============  ===========================================================  ==============

Cumulative counters make this robust to lost beats (the next beat carries the total). The batch
path (:func:`units_from_frames`) is vectorised; the streaming path (:class:`UnitBuilder`) applies
the same rules event by event; a test holds them equal.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from streamlab.models.qoe.scores import ScoreSettings, session_scores
from streamlab.models.qoe.telemetry import DIMENSIONS, Heartbeat, SessionSummary

LOW_BUFFER_S = 2.0
LOW_THROUGHPUT_KBPS = 1000.0
"""A collapse shows first in measured throughput: the ABR adapts down, so stalls alone under-report it."""
COLLAPSED_THROUGHPUT_KBPS = 400.0
"""On a region whose normal throughput is low, < 1 Mbit/s is common; < 400 kbit/s still is not."""
SLOW_START_S = 6.0
OSCILLATION_SWITCHES = 2
SYMPTOMS: tuple[str, ...] = ("stall", "low_buffer", "low_tput", "tput_collapse", "oscillation", "errors", "crash", "start_failure", "slow_start", "bad_score")
DENOMINATOR: dict[str, str] = {"stall": "hb", "low_buffer": "hb", "low_tput": "hb", "tput_collapse": "hb", "oscillation": "hb", "errors": "hb", "crash": "hb",
                               "start_failure": "starts", "slow_start": "starts", "bad_score": "scored"}
COUNT_COLUMNS: tuple[str, ...] = ("hb", "starts", "scored", *SYMPTOMS)
UNIT_COLUMNS: tuple[str, ...] = ("timestamp", "window", *DIMENSIONS, *COUNT_COLUMNS)


def _score_so_far(bitrate, playhead, stall_s, stalls, startup, switches, settings: ScoreSettings) -> np.ndarray:
    return session_scores(bitrate, playhead, stall_s, stalls, startup, switches, np.zeros(len(np.atleast_1d(bitrate)), bool), settings)


def units_from_frames(heartbeats: pd.DataFrame, summaries: pd.DataFrame, window_s: float,
                      score: ScoreSettings | None = None) -> pd.DataFrame:
    """Vectorised units for a whole file (events in any order; per-session order is by timestamp)."""
    score = score or ScoreSettings()
    parts = []
    if len(heartbeats):
        hb = heartbeats.sort_values(["session_id", "timestamp"], kind="stable")
        grouped = hb.groupby("session_id", sort=False)
        prev = grouped[["rebuffer_s", "bitrate_switches", "errors"]].shift(1).fillna(0.0)
        prev_started = grouped["startup_s"].shift(1).notna().to_numpy()
        started = hb["startup_s"].notna().to_numpy()
        startup = hb["startup_s"].to_numpy(dtype=float)
        scores = _score_so_far(hb["bitrate_kbps"].to_numpy(float), hb["playhead_s"].to_numpy(float),
                               hb["rebuffer_s"].to_numpy(float), hb["rebuffer_count"].to_numpy(float),
                               startup, hb["bitrate_switches"].to_numpy(float), score)
        first_start = started & ~prev_started
        parts.append(pd.DataFrame({
            "timestamp": hb["timestamp"].to_numpy(float),
            "region": hb["region"].to_numpy(), "edge": hb["edge"].to_numpy(),
            "title": hb["title_id"].to_numpy(), "device": hb["device"].to_numpy(),
            "hb": 1, "starts": first_start.astype(int), "scored": 1,
            "stall": (hb["rebuffer_s"].to_numpy(float) - prev["rebuffer_s"].to_numpy() > 1e-9).astype(int),
            "low_buffer": (started & (hb["buffer_s"].to_numpy(float) < LOW_BUFFER_S)).astype(int),
            "low_tput": (started & (hb["throughput_kbps"].to_numpy(float) < LOW_THROUGHPUT_KBPS)).astype(int),
            "tput_collapse": (started & (hb["throughput_kbps"].to_numpy(float) < COLLAPSED_THROUGHPUT_KBPS)).astype(int),
            "oscillation": (hb["bitrate_switches"].to_numpy(float) - prev["bitrate_switches"].to_numpy() >= OSCILLATION_SWITCHES).astype(int),
            "errors": (hb["errors"].to_numpy(float) - prev["errors"].to_numpy() > 0).astype(int),
            "crash": 0, "start_failure": 0,
            "slow_start": (first_start & (np.nan_to_num(startup, nan=0.0) > SLOW_START_S)).astype(int),
            "bad_score": (scores < score.bad_below).astype(int),
        }))
    if len(summaries):
        failed = summaries[summaries["playback_failed"].astype(bool)]
        before = failed["startup_s"].isna().to_numpy()
        parts.append(pd.DataFrame({
            "timestamp": failed["timestamp"].to_numpy(float),
            "region": failed["region"].to_numpy(), "edge": failed["edge"].to_numpy(),
            "title": failed["title_id"].to_numpy(), "device": failed["device"].to_numpy(),
            "hb": 0, "starts": before.astype(int), "scored": before.astype(int),
            "stall": 0, "low_buffer": 0, "low_tput": 0, "tput_collapse": 0, "oscillation": 0, "errors": 0,
            "crash": (~before).astype(int), "start_failure": before.astype(int), "slow_start": 0,
            "bad_score": before.astype(int),
        }))
    if not parts:
        return pd.DataFrame(columns=list(UNIT_COLUMNS))
    units = pd.concat(parts, ignore_index=True)
    units.insert(1, "window", np.floor(units["timestamp"].to_numpy() / window_s).astype(np.int64))
    return units.sort_values(["timestamp"], kind="stable").reset_index(drop=True)[list(UNIT_COLUMNS)]


_SessionState = tuple[float, int, int, bool, float]
"""A session's counters at its last beat: ``(rebuffer_s, switches, errors, started, last_seen_s)``. A plain
tuple of numbers, replaced at each beat, because the garbage collector stops tracking those (not a
named tuple: only exact tuples are untracked), so 20,000 live sessions add nothing to the full
collections that stall a server."""
_NEW_SESSION: _SessionState = (0.0, 0, 0, False, 0.0)


@dataclass
class UnitBuilder:
    """The streaming twin of :func:`units_from_frames`: per-session memory, one unit per event.

    Sessions are forgotten ``forget_after_s`` after their last event (or at their summary), so memory
    stays bounded by the number of live sessions; ``max_sessions`` bounds that too (a client can invent
    session ids): past it the least recently seen session is forgotten and counted in ``evicted`` (its next
    beat then counts as a first beat: its cumulative counters start again from zero).
    """

    window_s: float
    score: ScoreSettings = field(default_factory=ScoreSettings)
    forget_after_s: float = 900.0
    max_sessions: int | None = None
    sessions: OrderedDict[str, _SessionState] = field(default_factory=OrderedDict)
    """Least recently seen first, so forgetting is a pop from the front (O(1) per session)."""
    evicted: int = 0

    def unit(self, event: Heartbeat | SessionSummary) -> dict | None:
        window = math.floor(event.timestamp / self.window_s)
        base = {"timestamp": event.timestamp, "window": window, "region": event.region, "edge": event.edge,
                "title": event.title_id, "device": event.device}
        if isinstance(event, SessionSummary):
            self.sessions.pop(event.session_id, None)
            if not event.playback_failed:
                return None
            before = int(event.startup_s is None)
            return {**base, "hb": 0, "starts": before, "scored": before, "stall": 0, "low_buffer": 0, "low_tput": 0,
                    "tput_collapse": 0, "oscillation": 0, "errors": 0, "crash": 1 - before, "start_failure": before, "slow_start": 0,
                    "bad_score": before}
        state = self.sessions.get(event.session_id)
        if state is None:
            if self.max_sessions is not None and len(self.sessions) >= self.max_sessions:
                self.sessions.popitem(last=False)
                self.evicted += 1
            state = _NEW_SESSION
        else:
            self.sessions.move_to_end(event.session_id)
        last_rebuffer_s, last_switches, last_errors, was_started, _ = state
        started = event.startup_s is not None
        first_start = started and not was_started
        score = _score_so_far(np.array([event.bitrate_kbps]), np.array([event.playhead_s]), np.array([event.rebuffer_s]),
                              np.array([float(event.rebuffer_count)]),
                              np.array([np.nan if event.startup_s is None else event.startup_s]),
                              np.array([float(event.bitrate_switches)]), self.score)[0]
        unit = {**base, "hb": 1, "starts": int(first_start), "scored": 1,
                "stall": int(event.rebuffer_s - last_rebuffer_s > 1e-9),
                "low_buffer": int(started and event.buffer_s < LOW_BUFFER_S),
                "low_tput": int(started and event.throughput_kbps < LOW_THROUGHPUT_KBPS),
                "tput_collapse": int(started and event.throughput_kbps < COLLAPSED_THROUGHPUT_KBPS),
                "oscillation": int(event.bitrate_switches - last_switches >= OSCILLATION_SWITCHES),
                "errors": int(event.errors - last_errors > 0), "crash": 0, "start_failure": 0,
                "slow_start": int(first_start and (event.startup_s or 0.0) > SLOW_START_S),
                "bad_score": int(score < self.score.bad_below)}
        self.sessions[event.session_id] = (event.rebuffer_s, event.bitrate_switches, event.errors,
                                           was_started or started, event.timestamp)
        return unit

    def forget_idle(self, now_s: float) -> None:
        """Forget sessions silent for ``forget_after_s``, oldest first; stops at the first live one (amortised O(1))."""
        while self.sessions:
            sid, state = next(iter(self.sessions.items()))
            if now_s - state[-1] <= self.forget_after_s:
                return
            del self.sessions[sid]


def window_counts(units: pd.DataFrame) -> pd.DataFrame:
    """Counts per (window, dimension, value): one row per group that had units in the window."""
    frames = []
    for dim in DIMENSIONS:
        counts = units.groupby(["window", dim], sort=False)[list(COUNT_COLUMNS)].sum()
        counts.index.names = ["window", "value"]
        frames.append(counts.reset_index().assign(dimension=dim))
    if not frames:
        return pd.DataFrame(columns=["window", "dimension", "value", *COUNT_COLUMNS])
    return pd.concat(frames, ignore_index=True)[["window", "dimension", "value", *COUNT_COLUMNS]]
