"""The empirical-Bayes detector (``eb``): any dimension and pairs, every kind of degradation, bounded state.

Why a new detector (issue 19): the committed ones were keyed by the simulator's group names, so a
deployment with other names started blind; they could not see quality-only drops or name an ISP.
This one holds **no names in its committed prior**: only population rates per metric
(:class:`EbPrior`). Per dimension value it learns online decayed sums and scores each value against

    baseline_g = (x_g + k * p_pop) / (n_g + k)          (binomial metrics; gaussian means alike)

i.e. its own history shrunk towards the population with ``k`` pseudo-observations, so a value never
seen before is judged against the population from its first window, and a value with a long history
against itself.

**Units.** Each event becomes one *unit* of per-session deltas (:class:`SessionMemory`): a session first
seen mid-way contributes nothing for what happened before (no burst when a file or stream starts
mid-session). Metrics (SCHEMA.md, "Alerts"): start failures, exits before start (apart from start
failures), playback failures, slow starts and mean log startup, stalls, errors, mean log bitrate
and height (quality-only drops), live latency (its level only when ``latency_level`` is on) and its jumps beyond what
a session's own playback explains (an upstream delay), and the change of log bitrate within sessions (a path collapsing
under the few sessions of a small group).

**Windows and attribution.** A window's score for group ``g`` and metric ``m`` is the one-sided
log-likelihood ratio of its context (the last ``context_windows`` windows) against the baseline,
gated by a minimum effect size. Candidates above the threshold are attributed by explaining away:
the strongest is named, its units are removed from the others, which are re-scored; a candidate
that falls below the threshold was a symptom. The most specific group carrying the excess has the
largest ratio (a scan-statistic argument), so an edge explains its region, a device x app-version
pair explains its device; where a parent's penalty outranks its child, a fault the child alone carries is named as
the child (:meth:`EbDetector._refine`). A slow lane scores a longer context (``slow_windows``) every ``slow_every``
windows so a drift or a sparse group that no single window shows still pages; its causes confirm on consecutive
scorings of their own lane (:class:`~streamlab.models.qoe.alerts.Cause` ``every``). Its higher bar is for means that
wander over 10 minutes; start outcomes, one independent trial per attempt, are held to the fast lane's there too
(``exact_starts``). A long lane (``long_windows``) scores the last 30 minutes every 5 against a higher bar still: a
sparse group's sessions over half an hour, where 10 minutes hold little more than its concurrent few. Its causes page
on their first scoring over that bar (``long_confirm``). It only adds causes: it neither keeps a group's windows from
being learned nor names again an alert another lane keeps open.

**Evidence is counted in sessions, and many tests pay for it.** Heartbeat metrics weigh each beat by one over its
session's beats in the span, so a player that beats every 2 s is not ten times the evidence of one that beats every
20 s; a group's error rate is the mean of its sessions' rates. Stalls sit between one trial per session and one per
beat, by the correlation of stalled beats within sessions measured on the span (:func:`stall_icc`). Stalls and errors
need ``min_events`` distinct sessions (one bad session is a decoy, not an incident). Scores are reduced by
``log(m)``, ``m`` the groups of the same dimension tested in the window (Bonferroni in log-likelihood units):
600 titles x 8 renditions are thousands of chances for one to look bad by luck, 6 regions are 6.

**Batch and stream, one logic.** :meth:`EbDetector.ingest` reads an event's fields as attributes
(:data:`~streamlab.models.qoe.schema_v2.EventRecord`): a validated model's, or those of the struct the batch path
(:func:`detect_lines`) decodes without a model when :func:`~streamlab.models.qoe.schema_v2.fast_record` proves a line
plain (msgspec, structs derived from the models; any other line goes to the validator). Window work is per distinct
value, not per event: each unit carries the id of its dimension tuple, a tuple's store rows are looked up once and
kept, and the candidates of an explaining-away round are scored in one call. The batch path runs on two cores: a
*front* detector reads, validates and ingests, and hands each window's units (:class:`WindowUnits`) to a forked child
that closes the windows; ingest never reads what a close writes, so the split gives one detector's alerts to the bit.

**Bounds.** Groups in the store are capped (``max_groups``; least recently seen evicted and counted),
sessions (``max_sessions``) and units per window (``max_units_per_window``; beyond it units are
dropped and counted) too, so a million distinct titles cost a bounded amount of memory.
"""

from __future__ import annotations

import math
import operator
import sys
import zlib
from array import array
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, repeat
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse
from pydantic import BaseModel, Field

from streamlab.models.qoe.alerts import Alert, AlertTracker, Cause
from streamlab.models.qoe.schema_v2 import EventRecord, dimension

SINGLE: tuple[str, ...] = ("region", "edge", "title", "device_class", "device_model", "os", "app_version", "player_version",
                           "isp", "asn", "cdn", "pathway", "connection_type", "content_type")
PAIRS: tuple[tuple[str, str], ...] = (("device_class", "app_version"), ("device_class", "os"), ("isp", "region"),
                                      ("cdn", "region"), ("title", "rendition"))
DIMS: tuple[str, ...] = (*SINGLE, "rendition")
"""Values kept per unit; ``rendition`` only ever appears in the ``title*rendition`` pair."""
SPECS: tuple[tuple[int, ...], ...] = tuple((DIMS.index(d),) for d in SINGLE) + tuple(
    (DIMS.index(a), DIMS.index(b)) for a, b in PAIRS)
SPEC_NAMES: tuple[str, ...] = tuple("*".join(DIMS[i] for i in s) for s in SPECS)
_SPEC_GETTERS: tuple[tuple[operator.itemgetter, ...], ...] = tuple(tuple(operator.itemgetter(i) for i in s) for s in SPECS)
"""Per spec, getters of its raw values from a dimension tuple (:meth:`EbDetector._rows_of`)."""

COLUMNS: tuple[str, ...] = ("attempts", "vsf", "ebvs", "starts", "slow", "beats", "vpf", "stall", "err",
                            "br_n", "br_s", "br_q", "h_n", "h_s", "h_q", "su_s", "su_q", "lat_n", "lat_s", "lat_q",
                            "dbr_n", "dbr_s", "dbr_q", "lj")
C = {c: i for i, c in enumerate(COLUMNS)}
(_I_ATTEMPTS, _I_VSF, _I_EBVS, _I_STARTS, _I_SLOW, _I_BEATS, _I_VPF, _I_STALL, _I_ERR, _I_BR_N, _I_BR_S, _I_BR_Q, _I_H_N,
 _I_H_S, _I_H_Q, _I_SU_S, _I_SU_Q, _I_LAT_N, _I_LAT_S, _I_LAT_Q, _I_DBR_N, _I_DBR_S, _I_DBR_Q, _I_LJ) = range(len(COLUMNS))
"""Column indices :meth:`SessionMemory.unit` writes per event (a constant, not a dict lookup, per field and event)."""
_S_REBUF, _S_ERR, _S_STARTED, _S_RENDITION, _S_BR, _S_KEY, _S_LAT = range(7)
"""Items of a session's state in :attr:`SessionMemory.sessions`."""
_log = math.log
_floor = math.floor
_intern = sys.intern
_ZERO_ROW = array("d", [0.0]) * len(COLUMNS)
"""A unit before its contributions: :meth:`SessionMemory.unit` copies it (one ``memcpy``) for every event."""
_END_COLUMNS: dict[str, tuple[int, int]] = {"video_start_failure": (_I_ATTEMPTS, _I_VSF),
                                            "exit_before_video_start": (_I_ATTEMPTS, _I_EBVS),
                                            "video_playback_failure": (_I_BEATS, _I_VPF)}
"""The columns a session end's outcome counts in (other outcomes say nothing new)."""
BINOMIAL: tuple[tuple[str, str, str], ...] = (("start_failure", "vsf", "attempts"), ("exit_before_start", "ebvs", "attempts"),
                                              ("playback_failure", "vpf", "beats"), ("slow_start", "slow", "starts"),
                                              ("stall", "stall", "beats"), ("errors", "err", "beats"),
                                              ("latency_jump", "lj", "lat_n"))
"""``latency_jump``: live beats (with a latency) whose latency rose since the same session's previous one by more than the
session's own playback explains (:meth:`SessionMemory.unit`). Latency is wall clock less the playing frame's program time, so
between two beats it grows by exactly the wall time the playhead did not advance (stalls, pauses) and falls by what a
catch-up rate gains; anything more came from upstream (encoder, packager, origin): every session of the channel moves
at once. Its level cannot show that: sessions of one channel sit seconds to minutes behind (join position, every
stall since), and a handful of them are all a channel has. Like a mid-stream failure it is tested per session in the
span (did it jump within its beats there), from ``min_events`` distinct sessions (one viewer seeking back is not a
channel)."""
GAUSSIAN: tuple[tuple[str, str, str, str, int], ...] = (("bitrate", "br_n", "br_s", "br_q", -1), ("resolution", "h_n", "h_s", "h_q", -1),
                                                        ("startup_time", "starts", "su_s", "su_q", 1),
                                                        ("live_latency", "lat_n", "lat_s", "lat_q", 1),
                                                        ("bitrate_drop", "dbr_n", "dbr_s", "dbr_q", -1))
"""``bitrate_drop`` is a change within sessions: each beat's log bitrate less the same session's previous beat's. A
group's level is judged against its siblings' spread (4G always has a lower bitrate than ethernet), so a small group's
sudden collapse hides in that spread until many new sessions show it; the very sessions that were playing fall all
at once, and a change within one session carries none of the spread between sessions (a session's increments are
nearly independent). Not for live latency: it grows by every stall's length, so one session's changes are heavy-tailed
and no mean of them is a signal; a change beyond what the session's own playback explains is counted instead
(``latency_jump``, a binomial metric).)"""

METRICS: tuple[str, ...] = tuple(m[0] for m in BINOMIAL) + tuple(m[0] for m in GAUSSIAN)
RENDITION_SPECS: frozenset[int] = frozenset(i for i, sp in enumerate(SPECS) if DIMS.index("rendition") in sp)
"""Specs keyed by rendition: their bitrate and resolution are the rendition's by definition, never a quality drop;
and a session's rendition is only known once it started (``unknown`` before), so grouping start outcomes by
rendition selects on the outcome: those groups are judged on neither."""
HANDOVER_SPECS: frozenset[int] = RENDITION_SPECS | frozenset(i for i, sp in enumerate(SPECS)
                                                            if len(sp) > 1 and DIMS.index("region") in sp)
"""Specs an open alert's group may hand over to (:meth:`EbDetector._attribute`, :meth:`EbDetector._keep_nested`): a
title's corrupt rung, and a region's CDN or ISP (a CDN failing in one region, named as the region while the other
CDN's first failures were in its span). Not the device pairs: a device class crash handed over to its app versions and
OSes on the first world (4 false alerts on one held-out day)."""
HANDOVER_SLOW_SPECS: frozenset[int] = frozenset({SPECS.index((DIMS.index("device_model"),))})
"""Specs an open alert's group may hand over to in the slow and long lanes only, and only while the rest of the alert's
group fails no more than its baseline explains (:meth:`EbDetector._refine`): a device model crashing inside its class.
A browser's crash (62% of its class) was named as the class in its first minute, when the class's other browsers had too
few sessions to clear it, and the class then explained every later window: the model was never named on 3 of
qoe_world's 31 dev days. Not in the fast lane: over its minute the rest of a class crashing as a whole can hold 3 or 4
sessions with no failure by chance, and the class's crash was handed over to its best-selling model. Not while the rest
fails too: a TV class whose other model failed at a third of the best-seller's rate (far above its baseline, so the
class's fault) sat just under the rate where "the model's alone" and "the class's" cross, and was handed over."""
_RENDITION_MASK = np.isin(np.arange(len(SPECS)), sorted(RENDITION_SPECS))
"""``_RENDITION_MASK[spec]``: :data:`RENDITION_SPECS` as a lookup (``np.isin`` per metric cost a sort each time)."""
START_DENOMINATORS = frozenset({"attempts", "starts"})
ABR_SELECTED = frozenset({"stall"})
"""Outcomes that choose the rendition rather than follow from it: the ABR steps a stalling session down, so the lowest
rung of every title collects its stalled beats, and a new title (a premiere's flash crowd) has no history to say so.
Rendition-keyed groups are not judged on them (a broken encode fails: failures and errors still count)."""
QUALITY_METRICS = frozenset({"bitrate", "resolution", "bitrate_drop"})
POPULATION_RATES = frozenset({"stall"})
"""Rates that move with the whole population (shared throughput, the hour), like levels do: a group carrying more
than ``slow_max_share`` of their trials is the population, and is not judged on them in the fast lane (the slow and
long lanes judge no such group at all). Counted by its sessions' measured clustering (:func:`stall_icc`), the bulk of
qoe_world's day 12 (``content_type=vod``) paged on one minute of stalls 12 minutes into a cold day."""
SLOW_START_S = 5.0
SETTLED_PLAYHEAD_S = 60.0
"""Changes within a session count from this much content played: before, the player is still climbing (or
falling) to its rung, and a title whose sessions all start at once (a premiere) would show only that."""
FRESH_PLAYHEAD_S = 45.0
"""A session first seen with more content played than this joined mid-way: its start is not counted."""
AGE_RATE = 1e-4
"""Weight of one beat in :class:`SessionMemory`'s running means of the population's young and settled levels (about
the last 10,000 beats of each: minutes at a peak, an hour or two at night)."""
AGE_MIN_BEATS = 1000.0
"""Beats of each kind before a young beat's level is adjusted at all (a stream's first minutes: none)."""
_AGE_BEATS = 1.0 / AGE_RATE
HEARTBEAT_METRICS = frozenset({"playback_failure", "stall", "errors", "bitrate", "resolution", "live_latency",
                               "latency_jump"})
_ATTEMPT_METRICS = np.array([j for j, m in enumerate(BINOMIAL) if m[2] == "attempts"], dtype=np.int64)
"""Metrics with one trial per start attempt (:attr:`EbSettings.exact_starts`)."""
FAULT_METRICS = frozenset({"start_failure", "exit_before_start", "playback_failure", "errors"})
"""Faults strike a session whatever its own state, so a fault's share among a cause's groups says where it lives
(:meth:`EbDetector._refine`). Not quality, stalls, slow starts or latency: a cap to a low rung lowers only the sessions
above it, congestion stalls the ones with little buffer, so the rest of a region may show none of a regional cause."""
_FAULT_INDEX = np.array([j for j, m in enumerate(METRICS) if m in FAULT_METRICS], dtype=np.int64)
PER_SESSION_EVENTS = frozenset({"playback_failure", "latency_jump"})
"""Rare events a session has once (or a few times) in a span, not a rate per beat: each session is one trial of having
it within its beats there (:func:`score_matrix`)."""


class EbSettings(BaseModel):
    """``configs/qoe.yaml`` ``eb:``; runtime knobs of the empirical-Bayes detector and its bounds."""

    window_s: float = Field(30.0, gt=0)
    context_windows: int = Field(2, ge=1)
    slow_windows: int = Field(20, ge=2)
    slow_every: int = Field(1, ge=1)
    """The slow lane is scored every this many windows. Its causes confirm on consecutive *scorings*
    (:attr:`~streamlab.models.qoe.alerts.Cause.every`), not windows, so scored every second window (as it was before)
    it saw a cause up to a window later and confirmed it a window later again. Scored every window: on qoe_world's dev
    days 31 incidents paged 30-300 s sooner and none later, 2 more were named, the false alerts stayed 3; on fresh days
    1700-1705 one more was named and one paged 60 s later, none falsely; the first world's 9 days went from 12 to 13
    false alerts (a TV model's latency jumps and a title's bitrate over the slow bar, one fewer elsewhere). The cost:
    ~16% more CPU per window closed on the bench's default day, half of it won back by scoring every metric at once
    (:func:`score_matrix`); ~20% more on its 2.1M-event day (about 100k events/s against 115k)."""
    slow_max_share: float = Field(0.5, gt=0.0, le=1.0)
    """The slow lane skips groups carrying more than this share of the traffic (the population itself)."""
    long_windows: int = Field(60, ge=0)
    """A long lane over this many windows (0: none), for a sparse group whose every session shows a fault that no
    10 minutes of it can prove. The slow lane's 10 minutes hold about the sessions its last minute holds (sessions
    last longer than that); 30 minutes hold those that came and went since. Issue 19: a small CDN x region's
    congestion (42 sessions in 64 minutes, bitrate -72%) scored at most 10 nats in the slow lane and 14 in 30
    minutes, and an edge's startup drift builds its evidence over an hour. On qoe_world's 12 dev days it found 2 more
    incidents (a drift, a corrupt rendition's title) and 9 edge drifts 1-16 minutes sooner, with no new false alert;
    the first world's days 600-602, 800-802 and 901-903 found and falsely paged as many as without it.

    It only adds (:meth:`EbDetector._lane`). Windows are learned from as they leave the slow lane, so its older 20
    minutes are in the baseline it tests (20 minutes weigh ~3% of an 8-hour half-life's memory). Learning only after
    the long lane (tried) left a new deployment with no group's own baseline for its first 30 minutes: a region's
    quality drop paged in 11 minutes, not 2, and one mid-stream crash was named 40 minutes later."""
    long_history: float = Field(2.0, ge=0.0)
    """The long lane judges a group only once its learned beats and attempts are this many times those of its span."""
    long_every: int = Field(10, ge=1)
    """The long lane is scored every this many windows (5 minutes): its context moves little in one."""
    long_confirm: int = Field(1, ge=1)
    """Scorings of the long lane that confirm its cause (the other lanes: ``confirm_windows``). Two scorings 5 minutes
    apart share 25 of their 30 minutes, so the second is no second look: it waits for 5 more minutes of the evidence
    the first already had over the bar. Issue 19: a device model capped at 432p on Kestrel (about 20 sessions in 10
    minutes, bitrate -61%) cleared the long lane's bar once, 31 minutes in, and hovered just under it until the cap
    lifted."""
    long_threshold: float = Field(20.0, gt=0)
    """The long lane's bar, for every metric: above the slow lane's, for levels that wander with the hour over 30
    minutes; start outcomes too (:attr:`exact_starts` is the fast and slow lanes'; a lower bar here was tried)."""
    threshold: float = Field(12.0, gt=0)
    slow_threshold: float = Field(16.0, gt=0)
    """The slow lane's bar for levels and rates that wander with the hour over its 10 minutes (means of startup,
    bitrate; heartbeat rates); start outcomes are held to ``threshold`` there too (:attr:`exact_starts`)."""
    exact_starts: bool = True
    """Judge start outcomes (failures and exits before start, per attempt) against ``threshold`` in the fast and slow
    lanes. Each attempt is one independent trial of a rate the baseline knows (no clustering, no hour-of-day level
    inside it), so its log-likelihood ratio is calibrated in any span: the slow lane's extra margin is for the means it
    sums over 10 minutes. Issue 19: a new app version's start crash (a failure or two a minute) held 11-15 nats in the
    slow lane from minute 4 and waited for 18 (16 + its penalty) until minute 10.

    Not in the long lane (its bar is :attr:`long_threshold` for every metric). Tried: the long lane's start outcomes at
    this bar. It named one of Kestrel's three OS updates that make viewers leave before the first frame (``os=ios-18``
    on seed 2, 55 minutes into a 68-minute incident: about one start a minute, 11 exits among the 30 minutes' 28 starts
    against 1 expected). qoe_world's 31 days gave the same alerts. The first world's held-out day 801 drew one more
    alert, counted false: ``cdn*region=cdn-a*west``, the right cause of the day's CDN incident (the slow lane had named
    the region's ISP for it), confirmed 6 minutes after the incident ended. A late page of one incident and a stale page
    of another: not kept."""
    instant_ratio: float = Field(2.5, ge=1.0)
    confirm_windows: int = Field(2, ge=1)
    close_after_windows: int = Field(4, ge=1)
    keep_ratio: float = Field(0.5, ge=0.0)
    """A confirmed alert stays open while the fast or slow lane still finds this share of its bar in the group's own
    evidence: its units not explained by the causes of the window or named within the span (:meth:`_keep_residual`).
    Resolving at half the bar that fired it is the hysteresis of any alerting rule. Why: a sparse fault's evidence
    wanders around the bar from minute to minute, and an alert closed after 4 windows under it while the fault went on
    (a third of an incident's time had no alert open on qoe_world's 31 days), then paged again (2.2 alerts per
    incident). Kept open only: the causes that explain first (``ongoing``) and explain within the span are still the
    ones named lately (:meth:`_live`); a kept app version held its nested pair's crash unnamed for good on the first
    world's day 901. A kept group still learns no flagged window (:meth:`_learnable`): learning a big one's as a closed
    one does (tried) taught a region its hour-long quality cap, and the alert closed 19 minutes before the cap ended
    (qoe_world's day 1601; as it is, it closed with the cap, and had closed 50 minutes before it without keeping).
    0 turns it off."""
    max_causes_per_window: int = Field(4, ge=1)
    prior_strength: float = Field(60.0, gt=0)
    """``k``: pseudo-observations of the population in every group's baseline."""
    half_life_windows: float = Field(960.0, gt=0)
    """Decay of learned baselines (960 windows = 8 h): slow enough that a drift does not become normal."""
    heartbeat_s: float = Field(20.0, gt=0)
    """The players' beat interval: heartbeat evidence over a span is deflated by the beats one session sends in it."""
    min_ratio: float = Field(2.0, ge=1.0)
    """A binomial rate must be at least this many times its baseline to count."""
    min_excess: float = Field(0.02, ge=0.0)
    """... and exceed it by at least this much (absolute)."""
    min_events: int = Field(3, ge=1)
    """... from at least this many events (two failures in a small group are chance, not an incident)."""
    min_shift: dict[str, float] = {"bitrate": 0.25, "resolution": 0.2, "startup_time": 0.5, "live_latency": 0.3,
                                   "bitrate_drop": 0.25}
    """Gaussian metrics: the minimum shift of the mean, in log units (all are positive and multiplicative; a change's
    shift is per beat of the span: a step once in a session's three beats of the fast lane is a third of it)."""
    min_sd: dict[str, float] = {"bitrate": 0.3, "resolution": 0.2, "startup_time": 0.4, "live_latency": 0.3,
                                "bitrate_drop": 0.3}
    """Floor of the spread a gaussian metric is judged with. The spread is the population's
    (:func:`population_moments`), the same for every group. Tried: each group's own learned spread, shrunk to the
    population's by ``prior_strength``. On Kestrel's seen days a device model's quality cap at 432p (about 20 sessions
    in 10 minutes, log bitrate down 0.94 against a spread of 0.78: 15 nats over its penalty in the slow lane, under
    16) was then named in 20 minutes where it had been missed, and another 25 minutes sooner. But the three days drew
    10 false alerts against 0: titles, edges, app and player versions, a CDN and an ISP in a region. Their own
    sessions sit close together (a browser's at 0.52 against 0.82) and their level still moves with the hour. Not
    kept."""
    gaussian_scale: float = Field(1.0, gt=0.0)
    """Gaussian surprises assume independent beats; real means wander more, so they count this much."""
    multiplicity: float = Field(1.0, ge=0.0)
    """Weight of the multiple-testing penalty: a group's score is reduced by ``multiplicity * log(m)``, ``m`` the
    groups of its dimension tested in that window (Bonferroni in log-likelihood units, since a likelihood ratio
    exceeds ``e^t`` by chance with probability about ``e^-t``): 600 titles get 600 chances to look bad at once,
    6 regions 6. Only groups with at least ``min_events`` units of evidence count as tested (Tarone): a group too
    small to ever reach the threshold spends none of the error budget. 0 turns the penalty off."""
    session_evidence: bool = True
    """Count heartbeat evidence in distinct sessions, measured per group (:func:`score_matrix`), instead of
    assuming every player beats every ``heartbeat_s``."""
    stall_icc_floor: float | None = Field(0.02, ge=0.0, le=1.0)
    """Stalls: a session's beats count as ``m / (1 + (m - 1) rho)`` trials, ``rho`` the span's measured intra-session
    correlation (:func:`stall_icc`) but at least this. None: every session one trial (``rho`` 1)."""
    stall_history: float = Field(2.0, ge=0.0)
    """... only for a group whose learned beats outweigh the span's this many times; one trial per session before.
    Why: groups differ in how often they stall (an ISP in a region at its prime time: 6% against the population's
    0.4% on qoe_world), and rates have no between-group spread in the test, so a baseline learned from a cold day's
    first minutes is not a baseline. Counted by design effect without it, such groups paged 26-92 minutes into 2 of
    qoe_world's 31 dev days, 18 and 1704 (as on the long lane, ``long_history``)."""
    stall_min_sessions: float = Field(5.0, ge=0.0)
    """... and from at least this many distinct stalling sessions; one trial per session below. Why: sessions' stall
    rates are heavy-tailed, not beta: a viewer on a dying network (qoe_world's real traces hold near-outages) stalls at
    every beat, far beyond what the population's correlation allows, and three of them in an ISP x region at night
    (4 sessions, 70-110 kbps) paged qoe_world's day 16."""
    min_population: float = Field(4.0, ge=0.0)
    """A mean (startup, bitrate) is scored once the population's observations of it outweigh the committed prior this
    many times: a world whose bitrates sit far below the prior's must not page everywhere in its first hour."""
    min_population_rates: float = Field(1.0, ge=0.0)
    """A rate (failures, exits, slow starts, stalls) is scored once the population's trials outweigh the prior this
    many times. Once the data weigh at least half of the population's estimate, no group at the population's true
    rate can reach ``min_ratio`` (2) times it, whatever the prior said (``r / (r/2 + q/2) < 2``); waiting for 4 times
    the prior (800 attempts, ~50 minutes of a 21k-session day) missed a start crash and a DRM slowdown 20-30 minutes
    into a day."""
    learn_below: float = Field(0.5, ge=0.0)
    """A group learns from a window only while it scores below this fraction of the threshold (a big one: at
    ``learn_flagged`` above it; the population's own groups are flagged on faults only)."""
    learn_share: float = Field(0.1, ge=0.0, le=1.0)
    """A flagged group carrying at least this share of a window's traffic still learns it, at ``learn_flagged``
    (:meth:`EbDetector._learnable`): a big group's baseline must not lock onto its quiet minutes."""
    learn_flagged: float = Field(0.2, ge=0.0, le=1.0)
    """The weight a big group's flagged window is learned at: enough to follow the population within an hour, little
    enough that a fault it carries for minutes moves its 8-hour baseline by under a percent."""
    learn_alerted_units: bool = False
    """Whether a window's units inside an open or lately named alert's group still teach every other group they belong
    to. Not: a region capped to a low rung for an hour taught its CDN pair that stalls are rare there (a low rung
    seldom stalls), and the pair paged on its ordinary stalls when the cap lifted (qoe_world's day 1601, once stalls
    were counted by their sessions' clustering). An incident's sessions are nobody's normal."""
    learn_delayed: bool = True
    """Learn a window only once it has left the slow lane's context, and only for groups not flagged since: the data
    a lane tests are never in the baseline it tests them against. Learning each window at once let a sparse group
    (a new app version failing one start a minute, never 3 in the fast lane's minute) absorb its own failures into
    its baseline within minutes, before the slow lane had the evidence."""
    refine_nested: bool = True
    """Name a group nested in the strongest candidate instead when it alone carries the fault
    (:meth:`EbDetector._refine`). Explaining away ranks candidates by score less the multiple-testing penalty; with no
    failure in either history a class's shrunk baseline is the lower (more clean beats), which cancels its crashing
    model's higher rate, and the class's smaller penalty (7 classes, not 30 models) named the class for the model's
    incident."""
    refine_margin: float = Field(3.0, gt=0.0)
    """... by this many nats of the rest's evidence that the fault is the nested group's alone (a Bayes factor of
    20)."""
    alias_alerts: bool = True
    """Name every alias of a cause too (:meth:`EbDetector._aliases`): groups covering exactly its sessions."""
    alias_tolerance: float = Field(0.05, ge=0.0, le=1.0)
    """Aliases' learned traffic may differ by at most this share (decay and learning flags make it inexact)."""
    max_groups: int = Field(50_000, ge=16)
    max_sessions: int = Field(200_000, ge=16)
    max_units_per_window: int = Field(20_000, ge=16)
    max_dedup: int = Field(400_000, ge=16)
    latency_level: bool = False
    """Judge groups on their level of live latency (``live_latency``) too. Off: a live session's latency is where it
    joined plus every stall since, so a channel's level is the spread between its handful of sessions, heavy-tailed
    (seconds to minutes behind) and owned by each session's history; viewers starting over from the programme's
    beginning, or the long-stalled sessions left at night, paged on it (every ``live_latency`` alert on the
    independent world's dev days was false or collateral). What moves a channel's latency for everyone is caught
    where it is clean: an upstream delay as ``latency_jump``, the network as stalls."""
    latency_jump_s: float = Field(5.0, gt=0.0)
    """A live beat's latency rising this many seconds beyond what its session's own playback explains since the
    previous beat is a jump (``latency_jump``): well above the beat-to-beat jitter of a latency measurement (clock
    sync, segment boundaries), well below any upstream delay worth a page."""
    max_future_s: float = Field(300.0, gt=0)
    max_past_s: float = Field(120.0, gt=0)
    max_gap_windows: int = Field(120, ge=1)


class EbPrior(BaseModel):
    """The committed part: population rates and spreads per metric. No group names, by design."""

    rates: dict[str, float] = {"start_failure": 0.006, "exit_before_start": 0.02, "playback_failure": 0.002,
                               "slow_start": 0.05, "stall": 0.03, "errors": 0.01, "latency_jump": 0.002}
    means: dict[str, float] = {"bitrate": math.log(3000.0), "resolution": math.log(720.0), "startup_time": math.log(1.5),
                               "live_latency": math.log(6.0), "bitrate_drop": 0.0}
    sds: dict[str, float] = {"bitrate": 0.6, "resolution": 0.4, "startup_time": 0.6, "live_latency": 0.6,
                             "bitrate_drop": 0.3}


@dataclass
class SessionMemory:
    """Per-session cumulative counters so beats become deltas; bounded, least recently seen evicted."""

    max_sessions: int
    latency_jump_s: float = 5.0
    """:attr:`EbSettings.latency_jump_s`."""
    sessions: OrderedDict[str, list[Any]] = field(default_factory=OrderedDict)
    """Per session (:data:`_S_REBUF` ...): rebuffer seconds, errors, started, rendition, last log bitrate, its key
    (:func:`_session_key`), and of its last beat with a live latency that latency, the beat's timestamp and its playhead
    (one item: most sessions are VOD). A list updated in place and moved to the end (least recently seen first): a new
    tuple per event, and popping and re-inserting the session, cost more than the counting (issue 19)."""
    evicted: int = 0
    key: int = 0
    """The key of the session of the last :meth:`unit` call (computed once per session, not per event)."""
    ages: list[float] = field(default_factory=lambda: [0.0] * 6)
    """The population's levels by session age: running means of log bitrate and log height over beats under
    :data:`SETTLED_PLAYHEAD_S` played (young) and over the rest (settled), and the beats seen of each (capped at
    ``1 / AGE_RATE``): ``[young br, young h, settled br, settled h, young n, settled n]``. A young beat's levels are
    counted shifted by the population's settled-less-young difference (:meth:`unit`).

    Why: a player starts low and climbs to its rung over its first minute, so a group whose sessions are all young (a
    premiere's or a live match's flash crowd) sits below its own settled history with nothing wrong: an independent
    world's sports spike paged its channel on resolution in its first minute, and a detector run on from yesterday
    paged a premiere on bitrate. Counting levels only from a minute played (tried) hid the first minute of a cap from
    the sessions starting under it (a region cap 166 -> 796 s). Judged for their age, young beats still carry a cap."""

    def unit(self, e: EventRecord, rendition: str | None = None) -> array | None:
        """The event's column contributions (:data:`COLUMNS`), or ``None`` when it says nothing new.

        ``e``: a validated event, a model or the batch path's struct (:data:`EventRecord`: the same attributes).
        ``rendition``: :func:`_rendition` of ``e`` when the caller has it already (else it is computed here).
        An ``array('d')``, not a list: the detector appends it to its open window's buffer, and an array onto an
        array is one copy, where a list's 23 floats were converted one by one on every event.
        A session's end forgets it.
        """
        sid = e.session_id
        sessions = self.sessions
        if e.kind == "session_end":
            state = sessions.pop(sid, None)
            self.key = state[_S_KEY] if state is not None else _session_key(sid)
            cols = _END_COLUMNS.get(e.outcome)
            if cols is None:
                return None
            row = _ZERO_ROW[:]
            row[cols[0]] = row[cols[1]] = 1.0
            return row
        state = sessions.get(sid)
        row = _ZERO_ROW[:]
        rebuffer_s, errors, startup_s = e.rebuffer_s, e.errors, e.startup_s
        started = startup_s is not None
        if state is None:
            fresh = e.playhead_s <= FRESH_PLAYHEAD_S
            last_rebuf, last_err, was_started, last_br, lat_state = rebuffer_s, errors, not fresh, None, None
            self.key = key = _session_key(sid)
        else:
            last_rebuf, last_err, was_started, _, last_br, key, lat_state = state
            self.key = key
        if started:
            if not was_started:
                row[_I_ATTEMPTS] = row[_I_STARTS] = 1.0
                row[_I_SLOW] = float(startup_s > SLOW_START_S)
                su = _log(startup_s if startup_s > 0.05 else 0.05)
                row[_I_SU_S], row[_I_SU_Q] = su, su * su
            row[_I_BEATS] = 1.0
            row[_I_STALL] = float(rebuffer_s - last_rebuf > 1e-9)
            row[_I_ERR] = float(errors > last_err)
            bitrate = e.bitrate_kbps
            settled = e.playhead_s >= SETTLED_PLAYHEAD_S
            ages = self.ages
            at, n_at = (2, 5) if settled else (0, 4)
            judged = ages[4] >= AGE_MIN_BEATS and ages[5] >= AGE_MIN_BEATS and not settled
            if ages[n_at] < _AGE_BEATS:
                ages[n_at] += 1.0
            w = 1.0 / ages[n_at]  # a plain mean at first, then a running one over about the last 1 / AGE_RATE beats
            if bitrate > 0:
                b = _log(bitrate)
                ages[at] += w * (b - ages[at])
                level = b + (ages[2] - ages[0]) if judged else b
                row[_I_BR_N], row[_I_BR_S], row[_I_BR_Q] = 1, level, level * level
                if last_br is not None and settled:
                    d = b - last_br
                    row[_I_DBR_N], row[_I_DBR_S], row[_I_DBR_Q] = 1, d, d * d
                last_br = b
            height = e.resolution_height
            if height:
                h = _log(height)
                ages[at + 1] += w * (h - ages[at + 1])
                level = h + (ages[3] - ages[1]) if judged else h
                row[_I_H_N], row[_I_H_S], row[_I_H_Q] = 1, level, level * level
            if e.content_type == "live" and e.live_latency_s is not None:
                # Log seconds, like startup: latency grows with every stall, so its spread is a long right tail
                # that would drown a channel-wide +20 s in seconds but not in ratios.
                latency = e.live_latency_s
                lat = _log(latency if latency > 0.1 else 0.1)
                row[_I_LAT_N], row[_I_LAT_S], row[_I_LAT_Q] = 1, lat, lat * lat
                if lat_state is not None:
                    # What the session's own playback explains: the wall time its playhead did not advance.
                    last_lat, lat_ts, lat_playhead = lat_state
                    held = (e.timestamp - lat_ts) - (e.playhead_s - lat_playhead)
                    row[_I_LJ] = float(latency - last_lat - (held if held > 0.0 else 0.0) > self.latency_jump_s)
                lat_state = (latency, e.timestamp, e.playhead_s)
        if rendition is None:
            rendition = _rendition(e)
        if state is None:
            if len(sessions) >= self.max_sessions:
                sessions.popitem(last=False)
                self.evicted += 1
            sessions[sid] = [rebuffer_s, errors, started or was_started, rendition, last_br, key, lat_state]
        else:
            if rebuffer_s >= last_rebuf:
                state[_S_REBUF] = rebuffer_s
            if errors >= last_err:
                state[_S_ERR] = errors
            state[_S_STARTED] = was_started or started
            state[_S_RENDITION], state[_S_BR], state[_S_LAT] = rendition, last_br, lat_state
            sessions.move_to_end(sid)
        return row

    def rendition(self, session_id: str) -> str:
        state = self.sessions.get(session_id)
        return state[_S_RENDITION] if state else "unknown"


def _rendition(e: EventRecord) -> str:
    if e.rendition:
        return e.rendition
    if e.kind == "heartbeat" and e.resolution_height:
        return f"{e.resolution_height}p"
    return "unknown"


def population_moments(pop: np.ndarray, prior_n: float, prior: EbPrior, s: EbSettings, jj: int) -> tuple[float, float]:
    """Mean and spread of gaussian metric ``jj`` over the population (its decayed sums and the committed prior)."""
    name, n_col, s_col, q_col, _ = GAUSSIAN[jj]
    pn = pop[C[n_col]] + prior_n
    mu_pop = (pop[C[s_col]] + prior_n * prior.means[name]) / pn
    var_pop = (pop[C[q_col]] + prior_n * (prior.sds[name] ** 2 + prior.means[name] ** 2)) / pn - mu_pop ** 2
    return float(mu_pop), max(math.sqrt(max(var_pop, 1e-9)), s.min_sd[name])


def session_clustering(counts: np.ndarray, sessions: np.ndarray | None, clustering: float) -> float | np.ndarray:
    """Heartbeats per session of each group of ``counts`` in the span: measured from ``sessions`` where it has any,
    else the ``clustering`` assumed from the heartbeat interval (see :func:`score_matrix`)."""
    if sessions is None:
        return clustering
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sessions[:, 0] > 0, np.maximum(counts[:, C["beats"]] / np.maximum(sessions[:, 0], 1e-9), 1.0),
                        clustering)


def _distinct(sessions: np.ndarray) -> dict[str, np.ndarray]:
    """Distinct sessions with a stall, an error, a latency jump (:data:`SESSION_COLUMNS`), by counter name."""
    return {"stall": sessions[:, 3], "err": sessions[:, 4], "lj": sessions[:, 5]}


def binomial_trials(j: int, counts: np.ndarray, clus: float | np.ndarray,
                    sessions: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``(trials, events)`` of binomial metric ``j`` per group, as the score counts them.

    Start outcomes: one trial per attempt. A failure ends its session, so for :data:`PER_SESSION_EVENTS` each session
    in the span is one trial of failing within its beats there (compared per beat, a 10-minute span's 30 beats made a
    4x rise on a CDN carrying half the traffic look like a 100x one); a latency jump is counted once per session too (a
    viewer seeking back twice is one session that jumped). With ``sessions``: stalls, each session's beats deflated
    by its design effect (:func:`session_weights`; :func:`score_matrix` counts a group without the history or the
    stalling sessions for it one trial per session); errors, each session one observation of its error rate. Other
    heartbeat metrics: beats deflated by the clustering.
    """
    name, num, den = BINOMIAL[j]
    n, x = counts[:, C[den]], counts[:, C[num]]
    distinct = {} if sessions is None else _distinct(sessions)
    if name in PER_SESSION_EVENTS:
        if num in distinct:
            x = np.minimum(x, distinct[num])
        return np.maximum(n / clus, x), x
    if sessions is not None and num in distinct:
        return (sessions[:, 6], sessions[:, 7]) if num == "stall" else (sessions[:, 0], sessions[:, 2])
    if name in HEARTBEAT_METRICS:
        return n / clus, x / clus
    return n, x


_B_NUM = np.array([C[num] for _, num, _ in BINOMIAL])
_B_DEN = np.array([C[den] for _, _, den in BINOMIAL])
_B_PER_SESSION = np.array([name in PER_SESSION_EVENTS for name, _, _ in BINOMIAL])
_B_STALL = next(j for j, (name, _, _) in enumerate(BINOMIAL) if name == "stall")
_B_POPULATION = np.array([name in POPULATION_RATES for name, _, _ in BINOMIAL])
_B_RENDITION_BLIND = np.array([den in START_DENOMINATORS or name in ABR_SELECTED for name, _, den in BINOMIAL])
"""Binomial metrics a rendition-keyed group is not judged on (:data:`RENDITION_SPECS`)."""
_G_N = np.array([C[n] for _, n, _, _, _ in GAUSSIAN])
_G_S = np.array([C[sc] for _, _, sc, _, _ in GAUSSIAN])
_G_SIGN = np.array([float(sign) for *_, sign in GAUSSIAN])
_G_HEARTBEAT = np.array([name in HEARTBEAT_METRICS for name, *_ in GAUSSIAN])
_G_RENDITION_BLIND = np.array([name in QUALITY_METRICS or n in START_DENOMINATORS for name, n, *_ in GAUSSIAN])
_G_LEVELS = np.arange(len(GAUSSIAN))
_G_JUDGED = np.array([jj for jj, m in enumerate(GAUSSIAN) if m[0] != "live_latency"])
"""Gaussian metrics judged on their level unless :attr:`EbSettings.latency_level`: all but live latency."""


def score_matrix(counts: np.ndarray, base: np.ndarray, prior_n: float, pop: np.ndarray, prior: EbPrior,
                 s: EbSettings, clustering: float, sessions: np.ndarray | None = None, specs: np.ndarray | None = None,
                 tau2: np.ndarray | None = None, span_total: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Surprise ``[groups, metrics]`` of window ``counts`` against learned decayed sums ``base`` shrunk to ``pop``.

    Also returns the baselines used (rates or means), for evidence. ``pop`` is the population's
    decayed sums (one row); ``prior_n`` pseudo-observations of the committed prior stand behind it.
    ``clustering``: heartbeats per session in the span scored; beats of one session are one piece of
    evidence, not many (a failure ends its session, so failures are not deflated, only their denominator).
    ``sessions`` (``[groups, 3]``, :data:`SESSION_COLUMNS`), when given, replaces that assumed clustering by the
    measured one: each group's beats per distinct beating session in the span (players beat every 10, 15 or 30 s,
    not all at the configured ``heartbeat_s``), and the minimum evidence of stalls and errors is counted in
    distinct sessions, so one bad session stalling beat after beat is one piece of evidence, not an incident.
    ``specs`` (each group's :data:`SPECS` index) and ``tau2`` (``[specs, gaussian metrics]``, the spread of group
    means around the population within a dimension, :meth:`EbDetector._heterogeneity`) make the gaussian test
    empirical Bayes in full: a group's baseline is uncertain by ``tau2 * k / (n_g + k)``, so a group with little
    history (``n_g``) must stand out from how much its siblings ordinarily differ (4G has a lower bitrate than
    ethernet, always), while a group with a long history is judged against itself. No mean is scored before the
    population's data outweigh the committed prior ``min_population`` times (a world whose live latency is 30 s
    must not page against a 6 s prior in its first minute), no rate before ``min_population_rates`` times.
    ``span_total`` (the span's column sums over every unit): a group carrying more than ``slow_max_share`` of a
    gaussian metric's observations is the population of that metric (``content_type=live`` for latency, the dominant
    app version for everything); its level moving is the population moving with the hour, not a cause, so it is not
    judged on levels or on :data:`POPULATION_RATES` (failures still are).
    """
    g = len(counts)
    clus = session_clustering(counts, sessions, clustering)
    clus_col = clus[:, None] if isinstance(clus, np.ndarray) else clus
    distinct = {} if sessions is None else _distinct(sessions)
    out = np.zeros((g, len(METRICS)))
    basel = np.zeros((g, len(METRICS)))
    k = s.prior_strength
    blind = None if specs is None else _RENDITION_MASK[specs][:, None]
    # Every metric of a family at once ([groups, metrics]): contexts hold a few hundred groups, so the cost was numpy's
    # per-call overhead, ~25 calls per metric. Each element sees the same operations as it did one metric at a time.
    nb = len(BINOMIAL)
    rates = np.array([prior.rates[name] for name, _, _ in BINOMIAL])
    p_pop = (pop[_B_NUM] + prior_n * rates) / (pop[_B_DEN] + prior_n)
    p0 = np.clip((base[:, _B_NUM] + k * p_pop) / (base[:, _B_DEN] + k), 1e-5, 0.999)
    basel[:, :nb] = p0
    n, x, evidence = np.empty((g, nb)), np.empty((g, nb)), np.empty((g, nb))
    for j, (_, num, _) in enumerate(BINOMIAL):
        n[:, j], x[:, j] = binomial_trials(j, counts, clus, sessions)
        evidence[:, j] = distinct.get(num, counts[:, C[num]])
    if sessions is not None and s.stall_icc_floor is not None:
        # Stall evidence by design effect claims the precision of many trials against a baseline as precise: a group
        # whose learned beats do not outweigh the span's ``stall_history`` times is judged one trial per session.
        # So is a handful of stalling sessions: see ``stall_min_sessions``.
        new = (base[:, C["beats"]] < s.stall_history * counts[:, C["beats"]]) | (sessions[:, 3] < s.stall_min_sessions)
        n[new, _B_STALL], x[new, _B_STALL] = sessions[new, 0], sessions[new, 1]
    # a mid-stream failure, a latency jump: the chance of having one within a session's beats, not at one beat
    p0[:, _B_PER_SESSION] = np.clip(1.0 - (1.0 - p0[:, _B_PER_SESSION]) ** clus_col, 1e-5, 0.999)
    with np.errstate(divide="ignore", invalid="ignore"):
        ph = np.clip(np.where(n > 0, x / np.maximum(n, 1e-9), 0.0), 1e-9, 1 - 1e-9)
    ok = (ph >= s.min_ratio * p0) & (ph - p0 >= s.min_excess) & (evidence >= s.min_events - 1e-9)
    ok &= pop[_B_DEN] >= s.min_population_rates * prior_n
    if span_total is not None:
        ok &= ~(_B_POPULATION & (counts[:, _B_DEN] > s.slow_max_share * span_total[_B_DEN]))
    if blind is not None:
        ok &= ~(blind & _B_RENDITION_BLIND)
    # The ratio only where the gates pass (a few groups of hundreds).
    at = np.nonzero(ok)
    if len(at[0]):
        n, x, ph, p1 = n[at], x[at], ph[at], p0[at]
        out[:, :nb][at] = np.maximum(x * np.log(ph / p1) + (n - x) * np.log((1 - ph) / (1 - p1)), 0.0)
    gi = _G_LEVELS if s.latency_level else _G_JUDGED  # see EbSettings.latency_level
    cols = nb + gi
    moments = [population_moments(pop, prior_n, prior, s, int(jj)) for jj in gi]
    mu_pop, sd = np.array([m[0] for m in moments]), np.array([m[1] for m in moments])
    n_col, s_col = _G_N[gi], _G_S[gi]
    learned = base[:, n_col]
    mu0 = (base[:, s_col] + k * mu_pop) / (learned + k)
    n = counts[:, n_col]
    between = 0.0 if tau2 is None or specs is None else tau2[specs][:, gi] * k / (learned + k)
    # heartbeat metrics: beats deflated by the clustering; starts are one per session, and a session's changes are
    # nearly independent increments
    n_eff = np.where(_G_HEARTBEAT[gi], n / clus_col, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, counts[:, s_col] / np.maximum(n, 1e-9), mu0)
    shift = _G_SIGN[gi] * (mean - mu0)
    z = shift / np.sqrt(sd * sd / np.maximum(n_eff, 1e-9) + between)
    min_shift = np.array([s.min_shift[GAUSSIAN[jj][0]] for jj in gi])
    ok = (shift >= min_shift) & (n_eff >= 2) & (pop[n_col] >= s.min_population * prior_n)
    if span_total is not None:
        ok &= n <= s.slow_max_share * span_total[n_col]
    if blind is not None:
        ok &= ~(blind & _G_RENDITION_BLIND[gi])
    out[:, cols] = np.where(ok, s.gaussian_scale * 0.5 * z * z, 0.0)
    basel[:, cols] = mu0
    return out, basel


_NEVER = int(np.iinfo(np.int64).min)
_UNUSED = int(np.iinfo(np.int64).max)
"""A free cell's :attr:`_Cells.last`: never before any window."""


@dataclass
class _Store:
    """Decayed per-group sums, capped at ``capacity`` groups (least recently seen evicted, counted)."""

    capacity: int
    decay: float
    index: dict[tuple[int, str], int] = field(default_factory=dict)
    keys: list[tuple[int, str] | None] = field(default_factory=list)
    sums: np.ndarray = field(default_factory=lambda: np.zeros((0, len(COLUMNS))))
    stamp: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    seen: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    spec: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """The spec (:data:`SPECS` index) of every row, for per-dimension counts without touching ``keys``."""
    flagged: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """The last window each row scored at least ``learn_below`` of a lane's threshold (not learned from since)."""
    faulted: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """The last window a row was flagged on a fault (:data:`FAULT_METRICS`): such a window is never learned."""
    free: list[int] = field(default_factory=list)
    evicted: int = 0

    def rows(self, keys: list[tuple[int, str]], window: int, decay: bool = True) -> np.ndarray:
        """Row of every key (new keys get a fresh zero row), decayed to ``window`` (``decay=False``: the caller
        decays every row it looked up in one call, as :meth:`EbDetector._factorize` does for a window's specs)."""
        index, new = self.index, self._new
        out = np.array([index[key] if key in index else new(key, window) for key in keys], dtype=np.int64)
        if decay:
            self._decay(out, window)
        self.seen[out] = window
        return out

    def _new(self, key: tuple[int, str], window: int) -> int:
        if not self.free and len(self.keys) >= self.capacity:
            self._evict(window)
        if self.free:
            r = self.free.pop()
            self.keys[r] = key
        else:
            r = len(self.keys)
            self.keys.append(key)
            if r >= len(self.sums):
                grow = max(64, len(self.sums))
                self.sums = np.concatenate([self.sums, np.zeros((grow, len(COLUMNS)))])
                self.stamp = np.concatenate([self.stamp, np.zeros(grow, dtype=np.int64)])
                self.seen = np.concatenate([self.seen, np.zeros(grow, dtype=np.int64)])
                self.spec = np.concatenate([self.spec, np.zeros(grow, dtype=np.int64)])
                self.flagged = np.concatenate([self.flagged, np.zeros(grow, dtype=np.int64)])
                self.faulted = np.concatenate([self.faulted, np.zeros(grow, dtype=np.int64)])
        self.index[key] = r
        self.spec[r] = key[0]
        self.flagged[r] = _NEVER
        self.faulted[r] = _NEVER
        self.sums[r] = 0.0
        self.stamp[r] = window
        self.seen[r] = window
        return r

    def _evict(self, window: int) -> None:
        """Free the least recently seen tenth of the store at once (amortised O(1) per new group)."""
        live = np.array([r for r, k in enumerate(self.keys) if k is not None], dtype=np.int64)
        n = max(1, len(live) // 10)
        order = live[np.argpartition(self.seen[live], n - 1)[:n]]
        for r in order.tolist():
            key = self.keys[r]
            assert key is not None
            del self.index[key]
            self.keys[r] = None
            self.free.append(r)
        self.evicted += n

    def decay_to(self, rows: np.ndarray, window: int) -> None:
        """Decay ``rows`` (repeats allowed: each is decayed once) to ``window``."""
        self._decay(rows, window)

    def _decay(self, rows: np.ndarray, window: int) -> None:
        age = window - self.stamp[rows]
        if age.any():
            self.sums[rows] *= (self.decay ** age)[:, None]
            self.stamp[rows] = window

    def learn(self, rows: np.ndarray, counts: np.ndarray) -> None:
        """Add ``counts`` to ``rows``; a window's rows (ascending, distinct) take one fancy-indexed addition, the same
        single addition per value as ``np.add.at`` at a fraction of its cost; any other rows go through ``add.at``."""
        if len(rows) < 2 or bool((rows[1:] > rows[:-1]).all()):
            self.sums[rows] += counts
        else:
            np.add.at(self.sums, rows, counts)


class _Span(NamedTuple):
    """A lane's span: its units' store rows ``[units, specs]``, contributions ``[units, columns]``, session weights
    (:func:`session_weights`, or None), and the contributions' column sums, taken once for all that reads them."""

    unit_rows: np.ndarray
    contrib: np.ndarray
    weights: np.ndarray | None
    total: np.ndarray


@dataclass
class _Window:
    """One closed window: each unit's store row per spec, its contributions, and the per-group totals."""

    unit_rows: np.ndarray
    """``[units, specs]`` store rows."""
    contrib: np.ndarray
    """``[units, columns]``."""
    rows: np.ndarray
    counts: np.ndarray
    sess: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """``[units]`` a key of each unit's session (a hash), for evidence counted in distinct sessions."""
    cells: _CellTotals | None = None
    """The window's units summed per cell (:class:`_Cells`), for the slow and long lanes' spans."""


class _CellTotals(NamedTuple):
    """A window's units summed per cell: cell ids (distinct, ascending) and ``[cells, CELL_COLUMNS]`` sums."""

    rows: np.ndarray
    counts: np.ndarray


CELL_COLUMNS = len(COLUMNS) + 2
"""A cell's sums: :data:`COLUMNS`, then its units' beats x stalls and beats x errors (what :func:`session_weights`
weighs by a session's beats: a product per unit, summed)."""


@dataclass
class _Cells:
    """Cells: the units of one session with one dimension tuple (the same store rows), across windows.

    Why: the slow lane scores its 10 minutes every window and the long lane its 30 every five minutes, and everything
    they read of their units (session evidence, each group's sums, each candidate's sums over the units still
    unexplained) is a sum over units that depends on a unit only through its session and its groups. A session beats
    every 10-30 s, so its units in a 10-minute span are ~20 with the same rows: summed per cell once, as windows come
    and go (:class:`_SpanSums`), the lanes read ~a twentieth of the rows. The sums are those of the units in another
    order of additions (the last bits of the float columns; counts are exact).
    """

    index: dict[tuple[int, bytes], int] = field(default_factory=dict)
    keys: list[tuple[int, bytes] | None] = field(default_factory=list)
    rows: np.ndarray = field(default_factory=lambda: np.zeros((0, len(SPECS)), dtype=np.int64))
    """``[cells, specs]`` each cell's store rows."""
    sess: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    last: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """The last window a cell had a unit in (a cell is reused once every span has left it)."""
    free: list[int] = field(default_factory=list)

    def totals(self, rec: _Window, window: int) -> _CellTotals:
        """Window ``rec``'s units summed per cell (new cells made)."""
        n = len(rec.contrib)
        if n == 0:
            return _CellTotals(np.zeros(0, dtype=np.int64), np.zeros((0, CELL_COLUMNS)))
        index, new = self.index, self._new
        sess = rec.sess.tolist()
        ids = np.array([c if (c := index.get(k)) is not None else new(k) for k in zip(sess, map(bytes, rec.unit_rows))],
                       dtype=np.int64)
        fresh = ids >= 0
        ids = np.where(fresh, ids, -ids - 1)
        pending = np.flatnonzero(~fresh)  # the units that made a cell: its rows and session
        self.rows[ids[pending]] = rec.unit_rows[pending]
        self.sess[ids[pending]] = rec.sess[pending]
        self.last[ids] = window
        ext = np.empty((n, CELL_COLUMNS))
        ext[:, :len(COLUMNS)] = rec.contrib
        ext[:, len(COLUMNS)] = rec.contrib[:, C["beats"]] * rec.contrib[:, C["stall"]]
        ext[:, len(COLUMNS) + 1] = rec.contrib[:, C["beats"]] * rec.contrib[:, C["err"]]
        return _CellTotals(*_aggregate(ids, ext))

    def _new(self, key: tuple[int, bytes]) -> int:
        """A cell for ``key``, as ``-(id + 1)`` (its rows are written by :meth:`totals`)."""
        if self.free:
            cid = self.free.pop()
            self.keys[cid] = key
        else:
            cid = len(self.keys)
            self.keys.append(key)
            self._grow(cid + 1)
        self.index[key] = cid
        return -cid - 1

    def _grow(self, size: int) -> None:
        if len(self.last) < size:
            grow = max(size, 2 * len(self.last), 256) - len(self.last)
            self.rows = np.concatenate([self.rows, np.zeros((grow, len(SPECS)), dtype=np.int64)])
            self.sess = np.concatenate([self.sess, np.zeros(grow, dtype=np.int64)])
            self.last = np.concatenate([self.last, np.full(grow, _UNUSED, dtype=np.int64)])

    def release(self, before: int) -> None:
        """Reuse the cells with no unit from window ``before`` on (no span holds them)."""
        gone = np.flatnonzero(self.last < before).tolist()
        for c in gone:
            del self.index[self.keys[c]]  # type: ignore[arg-type]
            self.keys[c] = None
        self.free += gone
        self.last[gone] = _UNUSED

    def clear(self) -> None:
        self.index.clear()
        self.free = list(range(len(self.keys)))
        self.keys = [None] * len(self.keys)
        self.last[:] = _UNUSED


@dataclass
class _SpanSums:
    """Running per-row totals of the closed windows: the slow lane's context without re-aggregating its windows.

    Why: the slow lane scored every ``slow_every`` windows the sum of the last ``slow_windows`` windows' group
    totals, a sort and a reduction of some 60k rows each time; a window is added here once when it closes and taken
    off once when it leaves. Count columns are integers, so exact in any order; the sums of logs may differ from a
    fresh reduction in the last bits (the order of additions differs), so :meth:`rebuild` recomputes them from the
    windows every ``slow_windows`` windows (a row no window carries is never read, whatever residue it holds).
    """

    sums: np.ndarray = field(default_factory=lambda: np.zeros((0, len(COLUMNS))))
    present: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Per store row: the closed windows carrying it (the context's rows are those above zero)."""
    rebuilt: int | None = None
    """The window of the last :meth:`rebuild`."""
    zero_gone: bool = False
    """Zero a row's sums when its last window leaves (:class:`_Cells`' rows are reused as soon as no span holds them:
    a residue must not carry over; a store row's residue is left, as it always was, until the next rebuild)."""

    def _fit(self, size: int) -> None:
        if len(self.present) < size:
            grow = max(size, 2 * len(self.present)) - len(self.present)
            self.sums = np.concatenate([self.sums, np.zeros((grow, self.sums.shape[1]))])
            self.present = np.concatenate([self.present, np.zeros(grow, dtype=np.int64)])

    def add(self, rec: _Window | _CellTotals, size: int) -> None:
        """Window ``rec`` joined the context (``size``: the store's rows; a window's rows are distinct)."""
        self._fit(size)
        self.sums[rec.rows] += rec.counts
        self.present[rec.rows] += 1

    def remove(self, rec: _Window | _CellTotals) -> None:
        """Window ``rec`` left the context."""
        self.sums[rec.rows] -= rec.counts
        self.present[rec.rows] -= 1
        if self.zero_gone:
            self.sums[rec.rows[self.present[rec.rows] == 0]] = 0.0

    def rebuild(self, rows: np.ndarray, counts: np.ndarray, size: int) -> None:
        """Totals recomputed from the windows themselves (``rows``/``counts``: their exact aggregate)."""
        self._fit(size)
        self.sums[:] = 0.0
        self.sums[rows] = counts

    def running(self, window: int, span: int, fresh: Callable[[], tuple[np.ndarray, np.ndarray]],
                size: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`totals` at ``window``, first recomputed from the span's windows (``fresh()``: their exact aggregate)
        when the last :meth:`rebuild` is ``span`` windows old, so that the order of additions never drifts further."""
        if self.rebuilt is None or window - self.rebuilt >= span:
            self.rebuild(*fresh(), size)
            self.rebuilt = window
        return self.totals()

    def clear(self) -> None:
        self.sums[:] = 0.0
        self.present[:] = 0

    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        """The context's rows (ascending, as a fresh aggregate gives them) and their totals."""
        rows = np.flatnonzero(self.present > 0)
        return rows, self.sums[rows]


@dataclass
class _UnitBuffer:
    """The units of the closed windows, in window order, in one set of arrays: a span's units are a slice.

    Why: the lanes read the units of their span every time they score (the slower lanes now read cells instead,
    :class:`_Cells`), and stacking the windows' arrays anew each time copied some 14k units x 43 values. A window's
    units are appended once when it closes and dropped once when it leaves; a span is a view of the same values in
    the same order and layout (each array C-contiguous), so every sum over it is bit for bit the one over a fresh
    stack.
    Space is reclaimed by moving the live units to the front when the end is reached (amortised O(1) per unit).
    """

    unit_rows: np.ndarray = field(default_factory=lambda: np.zeros((0, len(SPECS)), dtype=np.int64))
    contrib: np.ndarray = field(default_factory=lambda: np.zeros((0, len(COLUMNS))))
    sess: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    base: int = 0
    """The unit number (counted since the detector started) at index 0 of the arrays."""
    end: int = 0
    """The unit number after the last unit held."""
    starts: OrderedDict[int, int] = field(default_factory=OrderedDict)
    """Window -> the unit number of its first unit, oldest first."""

    def add(self, window: int, rec: _Window) -> None:
        n = len(rec.contrib)
        start = next(iter(self.starts.values())) if self.starts else self.end
        live = self.end - start
        if self.end - self.base + n > len(self.contrib):  # move the live units to the front, growing if need be
            size = max(len(self.contrib), 2 * (live + n), 1024)
            lo = start - self.base
            for name in ("unit_rows", "contrib", "sess"):
                old = getattr(self, name)
                new = old if size == len(old) else np.empty((size, *old.shape[1:]), dtype=old.dtype)
                new[:live] = old[lo:lo + live]
                setattr(self, name, new)
            self.base = start
        i = self.end - self.base
        self.unit_rows[i:i + n] = rec.unit_rows
        self.contrib[i:i + n] = rec.contrib
        self.sess[i:i + n] = rec.sess
        self.starts[window] = self.end
        self.end += n

    def drop(self, window: int) -> None:
        """Window ``window`` (the oldest held) left every span."""
        self.starts.pop(window, None)

    def __getstate__(self) -> dict[str, Any]:
        """The live units only: a checkpoint carries no spare room."""
        start = next(iter(self.starts.values())) if self.starts else self.end
        lo, hi = start - self.base, self.end - self.base
        state = dict(self.__dict__)
        for name in ("unit_rows", "contrib", "sess"):
            state[name] = state[name][lo:hi].copy()
        state["base"] = start
        return state

    def clear(self) -> None:
        self.starts.clear()
        self.base = self.end = 0

    def span(self, first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(unit_rows, contrib, sess)`` of the windows from ``first`` (held or later) to the last one."""
        start = next((u for w, u in self.starts.items() if w >= first), self.end)
        lo, hi = start - self.base, self.end - self.base
        return self.unit_rows[lo:hi], self.contrib[lo:hi], self.sess[lo:hi]


SESSION_COLUMNS: tuple[str, ...] = ("sessions", "stall", "err", "stall_sessions", "err_sessions", "lj_sessions",
                                    "stall_trials", "stall_events")
"""Per group and span (see :func:`score_matrix`): distinct sessions that beat; the sum over them of the share of
their beats that stalled (erred), i.e. each session one observation of its stall (error) rate; and the distinct
sessions that stalled (erred), the minimum evidence; the distinct sessions whose latency jumped; the stall trials
and stalled beats each deflated by its session's design effect (:func:`stall_icc`)."""


def stall_icc(beats: np.ndarray, stalls: np.ndarray, floor: float) -> float:
    """Intra-session correlation of stalled beats in a span (one-way ANOVA), from every session's beats and stalls.

    Why: a session is neither one observation of its stall rate nor as many as its beats. A viewer on a bad network
    stalls beat after beat, so beats are correlated, but how much is the world's own: 0.06 on qoe_world's 10-minute
    spans, 0.22 on Kestrel's, whose players stall ten times as often. Counting each session once (correlation 1) made
    a player version's stall regression score 10 over ten minutes; counting every beat (0) pages on one bad viewer.
    The beta-binomial's design effect ``1 + (m - 1) rho`` sits between, with ``rho`` measured on the span's own
    population, which an incident on a few percent of it barely moves. ``floor`` keeps it from 0 on a quiet span.
    """
    keep = beats > 0
    m, y = beats[keep], stalls[keep]
    k, total = len(m), float(m.sum())
    if k < 2 or total <= k or not y.any():
        return 1.0
    p = y / m
    pbar = float(y.sum()) / total
    between = float((m * (p - pbar) ** 2).sum()) / (k - 1)
    within = float((m * p * (1 - p)).sum()) / (total - k)
    m0 = (total - float((m * m).sum()) / total) / (k - 1)
    denom = between + (m0 - 1) * within
    rho = (between - within) / denom if denom > 0 else 1.0
    return float(min(max(rho, floor), 1.0))


def session_weights(contrib: np.ndarray, sess: np.ndarray, icc_floor: float | None = None,
                    products: np.ndarray | None = None) -> np.ndarray:
    """``[units, 8]`` (:data:`SESSION_COLUMNS`): what each unit adds to its groups' session-level evidence.

    A beat weighs ``1 / (its session's beats in the span)``, so a group's sum counts distinct sessions
    without a per-group set, and the weighted stalls sum each session's stall rate once, however often
    its player beats. Stall trials and events weigh ``1 / (1 + (m - 1) rho)`` (:func:`stall_icc`, ``rho`` at least
    ``icc_floor``); with ``icc_floor`` None, ``rho`` is 1: the same as the session's share.

    Every weight is linear in a unit's contributions given its session's totals, so a row of ``contrib`` may be many
    units of one session summed (a cell, :class:`_Cells`): ``products`` (``[rows, 2]``) then gives their summed beats
    x stalls and beats x errors, which the sum of their beats and stalls cannot.
    """
    out = np.zeros((len(contrib), len(SESSION_COLUMNS)))
    if not len(contrib):
        return out
    import pandas as pd

    codes, _ = pd.factorize(sess)

    def share(v: np.ndarray, total: np.ndarray | None = None) -> np.ndarray:
        # Where a unit adds (v > 0), its session's total is at least v, so no floor is needed to divide.
        total = np.bincount(codes, weights=v) if total is None else total
        return np.divide(v, total[codes], out=np.zeros(len(v)), where=v > 0)

    # Each session's beats and stalls in the span: the shares' denominators and the design effect's (one bincount each).
    m = np.bincount(codes, weights=contrib[:, C["beats"]])
    stalled = np.bincount(codes, weights=contrib[:, C["stall"]])
    beat = share(contrib[:, C["beats"]], m)
    out[:, 0] = beat
    if products is None:
        out[:, 1] = beat * contrib[:, C["stall"]]
        out[:, 2] = beat * contrib[:, C["err"]]
    else:
        out[:, 1] = share(products[:, 0], m)
        out[:, 2] = share(products[:, 1], m)
    out[:, 3] = share(contrib[:, C["stall"]], stalled)
    out[:, 4] = share(contrib[:, C["err"]])
    if contrib[:, C["lj"]].any():  # jumps are rare: most spans have none
        out[:, 5] = share(contrib[:, C["lj"]])
    rho = 1.0 if icc_floor is None else stall_icc(m, stalled, icc_floor)
    design = 1.0 / (1.0 + np.maximum(m - 1.0, 0.0) * rho)
    out[:, 6] = contrib[:, C["beats"]] * design[codes]
    out[:, 7] = contrib[:, C["stall"]] * design[codes]
    return out


def _traffic(counts: np.ndarray) -> np.ndarray:
    """Beats plus attempts of each row of ``counts``: how much of the traffic a group (or unit) carries."""
    return counts[:, C["beats"]] + counts[:, C["attempts"]]


def _group_totals(unit_rows: np.ndarray, contrib: np.ndarray, store_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, counts)``: ``contrib`` summed per store row over every unit's row of each spec (``unit_rows``).

    Every (unit, spec) pair's row in one array, spec by spec (a row is one group of one spec), sorted once by row: each
    group's units are then contiguous and in unit order, and one ``reduceat`` sums them, in the order and so to the bits
    of a sort and a ``reduceat`` per spec (19 of each per window before, ~15% more time on the bench day's windows), or
    of :func:`_aggregate` over the pairs. As 16-bit keys while every store row fits (``store_rows``; the default 50k
    groups do): numpy's stable sort orders those by radix, not by merging.
    """
    n = len(unit_rows)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, contrib.shape[1]))
    keys = unit_rows.T.astype(np.uint16 if store_rows <= 1 << 16 else np.int64).ravel()
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    return sorted_keys[starts].astype(np.int64), np.add.reduceat(contrib[order % n], starts, axis=0)


_INCIDENCE: dict[int, tuple[np.ndarray, np.ndarray]] = {}
"""Per spec count, the ones and column pointers :meth:`EbDetector._sessions`'s incidences slice (never written once
made, so a slice held anywhere stays right), grown as spans need."""


def _incidence_parts(n: int, specs: int) -> tuple[np.ndarray, np.ndarray]:
    """Views of ``n * specs`` ones and the ``n + 1`` column pointers ``0, specs, 2 specs, ...``: two arrays a span's
    size, made once per size instead of at every scoring of every lane."""
    ones, pointers = _INCIDENCE.get(specs, (np.ones(0), np.zeros(0, dtype=np.int32)))
    if len(pointers) <= n:
        size = 2 * n + 1
        ones, pointers = np.ones(size * specs), np.arange(0, size * specs, specs, dtype=np.int32)
        _INCIDENCE[specs] = ones, pointers
    return ones[:n * specs], pointers[:n + 1]


def _masked_sums(arrays: tuple[np.ndarray, ...], masks: list[np.ndarray]) -> list[np.ndarray]:
    """Each of ``arrays`` (``[units, k]``) summed over the units of every mask: ``[masks, k]`` each.

    The bits of ``a[mask].sum(axis=0)`` per mask: the masks' units gathered once, each mask's a contiguous slice of the
    gather summed the same way (rows added in unit order). Attribution scores up to 64 candidates a round, and a
    boolean gather per candidate and array was most of the slow lane's attribution. Not ``np.add.reduceat``: along
    axis 0 it adds in another order (other bits in the float columns).
    """
    picks = [np.flatnonzero(m) for m in masks]
    ends = np.cumsum([len(p) for p in picks]).tolist()
    flat = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    bounds = list(zip([0, *ends][:len(ends)], ends, strict=True))
    outs = []
    for a in arrays:
        gathered = a[flat]
        outs.append(np.array([gathered[lo:hi].sum(axis=0) for lo, hi in bounds]).reshape(len(masks), a.shape[1]))
    return outs


def _aggregate(rows: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``counts`` per distinct row (sort + reduceat: no per-row Python)."""
    if len(rows) == 0:
        return rows, counts
    order = np.argsort(rows, kind="stable")
    r = rows[order]
    starts = np.flatnonzero(np.concatenate(([True], r[1:] != r[:-1])))
    return r[starts], np.add.reduceat(counts[order], starts, axis=0)


@dataclass
class WindowUnits:
    """What :meth:`EbDetector.ingest` gathered in one window, handed from a front detector to the one that closes it.

    Why: ingesting an event (dedup, clocks, a session's deltas, its dimension tuple) never reads what closing a
    window writes (store, context, tracker), and closing reads of ingest only these; so a front detector that hands
    them off (:attr:`EbDetector.handoff`) and a closer that takes them (:meth:`EbDetector.close_units`), in another
    process, give the alerts of one detector doing both, to the bit (:func:`detect_lines`).
    """

    window: int
    """The window the units are in (the front's open window)."""
    until: int | None
    """The window the front moved to (every window before it closes, as :meth:`EbDetector._advance` does), or
    ``None``: the end (:meth:`EbDetector.flush`)."""
    dims: array
    """``array('q')`` of :attr:`EbDetector.open_dims`."""
    rows: array
    """:attr:`EbDetector.open_rows`."""
    sess: array
    """``array('q')`` of :attr:`EbDetector.open_sess`."""
    tuples: list[tuple[Any, ...]]
    """Dimension tuples new since the last hand-off (ids continue the closer's :attr:`EbDetector.tuples`)."""


_ATTRS: tuple[str, ...] = tuple("title_id" if d == "title" else d for d in SINGLE)
_attrs_of = operator.attrgetter(*_ATTRS)
"""An event's :data:`_ATTRS` values as a tuple, in one C call per event."""


class EbDetector:
    """Streaming (and, event by event, batch) empirical-Bayes detector: :meth:`ingest` each event, then :meth:`flush`.

    Detection runs on event time, so replaying the same events gives the same alerts (what the durable
    stream's checkpoints rely on). ``now`` given to :meth:`ingest` (the served case) refuses beacons
    stamped more than ``max_future_s`` ahead of the wall clock; without it the clock is the stream's own.
    """

    handoff: Callable[[WindowUnits], None] | None = None
    """When set, this detector is a *front*: it ingests, and each window it would close is handed off as
    :class:`WindowUnits` to a closer's :meth:`close_units` (in another process: :func:`detect_lines`). A class
    attribute, so a checkpoint (which never holds a front) keeps its format."""
    _handed = 0
    """A front's tuples already handed off."""

    STATE_FORMAT = 18
    """Bump when the pickled attributes change: a durable stream's checkpoint written by another layout is
    refused by name instead of failing on a missing attribute windows later (2: session evidence, tau^2; 4: changes
    within sessions; 5: the slow lane's running totals; 6: the dimension tuples' store rows; 7: latency jumps; 8: a
    session's state a list, an event id its own dedup key; 9: the settings' ``min_population_rates``; 10:
    ``refine_nested``; 11: the long lane, closed windows kept for it; 12: the long lane's running totals; 13:
    ``learn_share``, the store's fault flags; 14: ``keep_ratio``, the alerts kept open; 15: levels by session age;
    16: stalls by design effect, ``learn_alerted_units``; 17: ``long_confirm``; 18: the slower lanes' cells)."""

    def __init__(self, settings: EbSettings | None = None, prior: EbPrior | None = None) -> None:
        self.s = s = settings or EbSettings()
        self.prior = prior or EbPrior()
        self.sessions = SessionMemory(s.max_sessions, s.latency_jump_s)
        self.store = _Store(s.max_groups, 0.5 ** (1.0 / s.half_life_windows))
        self.pop = np.zeros(len(COLUMNS))
        self.prior_n = 200.0
        self.current: int | None = None
        self.watermark: float | None = None
        self.open_dims: list[int] = []
        """The open window's units' dimension tuples, as ids (:attr:`tuple_ids`)."""
        self.open_rows = array("d")
        """The open window's units' contributions, :data:`COLUMNS` after :data:`COLUMNS` (read as an array at the close)."""
        self.open_sess: list[int] = []
        self._tau2: np.ndarray | None = None
        self.closed: OrderedDict[int, _Window] = OrderedDict()
        self.span_sums = _SpanSums()
        """The totals of the slow lane's windows (its context), kept as windows come and go."""
        self.long_sums = _SpanSums()
        """The same for the long lane's (re-aggregating its 60 windows at every scoring was most of its cost)."""
        self.units = _UnitBuffer()
        """The units of :attr:`closed`, the fast lane's span as a slice."""
        self.cells = _Cells()
        """The cells of :attr:`closed`'s units, read by the slow and long lanes as their spans' running totals
        (:attr:`slow_cells`, :attr:`long_cells`)."""
        self.slow_cells = _SpanSums(np.zeros((0, CELL_COLUMNS)), zero_gone=True)
        self.long_cells = _SpanSums(np.zeros((0, CELL_COLUMNS)), zero_gone=True)
        self.tuple_ids: dict[tuple[Any, ...], int] = {}
        """A unit's dimension values (:data:`DIMS`, raw) -> the tuple's id; bounded by ``max_sessions``."""
        self.tuples: list[tuple[Any, ...]] = []
        self.tuple_rows = np.full((0, len(SPECS)), -1, dtype=np.int64)
        """``[tuple id, spec]``: the tuple's store rows, ``-1`` until a window closes with it (:meth:`_tuple_rows`)."""
        self.value_rows: dict[tuple[Any, ...], int] = {}
        """``(spec, raw value[, raw value])`` -> store row, for the new tuples' values seen before (:meth:`_rows_of`)."""
        self.dedup: OrderedDict[str | tuple[Any, ...], None] = OrderedDict()
        """Keys of the last ``max_dedup`` events counted, oldest first: an event's id, else (session, kind, seq or
        timestamp)."""
        self.tracker = AlertTracker(s.window_s, s.threshold, "eb", s.confirm_windows, s.close_after_windows,
                                    s.instant_ratio)
        self.counters: dict[str, int] = {"accepted": 0, "duplicate": 0, "future timestamp": 0, "past timestamp": 0,
                                         "units_dropped": 0, "windows_closed": 0, "context_resets": 0, "dedup_forgotten": 0}
        self.future_run = 0
        self.named: dict[tuple[str, str], int] = {}
        """Causes named in the last :attr:`_hold` windows (bounded by the causes per window)."""
        self._kept: set[tuple[str, str]] = set()
        """Open alerts the lanes of the window being closed found still faulty (:meth:`_keep_residual`)."""

    # ---- events --------------------------------------------------------------------------------
    def ingest(self, e: EventRecord, now: float | None = None) -> tuple[str | None, list[Alert]]:
        """Count one validated event; returns ``(refusal reason or None, alerts confirmed meanwhile)``.

        ``e``: a model from :func:`parse_event`, or what :func:`parse_record` gives (the batch path's struct).
        """
        event_id = e.event_id
        if event_id:  # the id alone (a str never equals the fallback's tuple)
            key: str | tuple[Any, ...] = event_id
        else:
            seq = e.seq
            key = (e.session_id, e.kind, seq if seq is not None else e.timestamp)
        dedup, counters = self.dedup, self.counters
        if key in dedup:
            counters["duplicate"] += 1
            return "duplicate: event already counted", []
        s = self.s
        ts = e.timestamp
        ref = now if now is not None else self.watermark
        if ref is not None and ts > ref + s.max_future_s:
            # Without a wall clock, a stream that really jumped ahead (a gap) is followed after a run of agreeing beacons.
            self.future_run += 1
            if now is not None or self.future_run < 32:
                counters["future timestamp"] += 1
                return f"future timestamp: {ts - ref:.0f} s ahead; at most {s.max_future_s:g} s", []
        else:
            self.future_run = 0
        current = self.current
        if current is not None and ts < current * s.window_s - s.max_past_s:
            counters["past timestamp"] += 1
            return (f"past timestamp: {current * s.window_s - ts:.0f} s behind the detector clock; "
                    f"at most {s.max_past_s:g} s"), []
        dedup[key] = None
        if len(dedup) > s.max_dedup:
            dedup.popitem(last=False)
            counters["dedup_forgotten"] += 1
        opened: list[Alert] = []
        window = _floor(ts / s.window_s)
        if current is None:
            self.current = window
        elif window > current:
            opened = self._advance(window)
        if self.watermark is None or ts > self.watermark:
            self.watermark = ts
        counters["accepted"] += 1
        sessions = self.sessions
        # The unit's own rendition (:func:`_rendition`, inlined: once per event), and the one it is grouped by: a
        # session end that names none is grouped by its session's (read before :meth:`SessionMemory.unit` forgets it).
        rendition = e.rendition
        if rendition:
            own = rendition
        elif e.kind == "heartbeat":
            height = e.resolution_height
            own = rendition = f"{height}p" if height else "unknown"
        else:
            own = "unknown"
            rendition = sessions.rendition(e.session_id) or own
        row = sessions.unit(e, own)
        if row is not None:
            open_dims = self.open_dims
            if len(open_dims) < s.max_units_per_window:
                # Raw values (``None``, an int ASN): :meth:`_rows_of` turns each distinct one into its name once.
                dims = (*_attrs_of(e), rendition)
                tid = self.tuple_ids.get(dims)
                open_dims.append(self._new_tuple(dims) if tid is None else tid)
                self.open_rows.extend(row)
                self.open_sess.append(sessions.key)
            else:
                counters["units_dropped"] += 1
        return None, opened

    def flush(self) -> list[Alert]:
        """Close the open window and every alert; all alerts so far (a front's come from its closer: none here)."""
        if self.handoff is not None:
            if self.current is not None:
                self._hand_off(None)
            return []
        if self.current is not None:
            self._close(self.current)
            self.current += 1
        return [self._named(a) for a in self.tracker.finish()]

    def stats(self) -> dict[str, int]:
        return {**self.counters, "groups": len(self.store.index), "groups_evicted": self.store.evicted,
                "sessions": len(self.sessions.sessions), "sessions_evicted": self.sessions.evicted,
                "dedup_keys": len(self.dedup)}

    # ---- windows -------------------------------------------------------------------------------
    def close_units(self, units: WindowUnits) -> list[Alert]:
        """A front's window (:attr:`handoff`) closed here, as the front would have; alerts opened (at the end, all).

        The units become this detector's open window, the front's new tuples extend :attr:`tuples` (so ids agree),
        and :meth:`_advance` or :meth:`flush` runs exactly as :meth:`ingest` would have run it.
        """
        if self.current is None:
            self.current = units.window
        assert self.current == units.window, f"window {units.window} handed to a closer at {self.current}"
        self.tuples += units.tuples
        self.open_dims, self.open_rows, self.open_sess = units.dims, units.rows, units.sess  # type: ignore[assignment]
        if units.until is None:
            return self.flush()
        return self._advance(units.until)

    def _hand_off(self, until: int | None) -> list[Alert]:
        """A front's :meth:`_advance`: the open window's units to :attr:`handoff`, then on as a close would leave it
        (open buffers empty, tuples forgotten past ``max_sessions``, :attr:`current` at ``until``)."""
        assert self.handoff is not None and self.current is not None
        units = WindowUnits(self.current, until, array("q", self.open_dims), self.open_rows,
                            array("q", self.open_sess), self.tuples[self._handed:])
        self.open_dims, self.open_rows, self.open_sess = [], array("d"), []
        self._handed = len(self.tuples)
        if len(self.tuples) > self.s.max_sessions:  # as :meth:`_factorize` does after the first close
            self._forget_tuples()
            self._handed = 0
        self.current = until if until is not None else self.current + 1  # as :meth:`flush` leaves it
        self.handoff(units)
        return []

    def _advance(self, window: int) -> list[Alert]:
        assert self.current is not None
        if self.handoff is not None:
            return self._hand_off(window)
        opened: list[Alert] = []
        if window - self.current > self.s.max_gap_windows:
            opened += self._close(self.current)
            self.closed.clear()
            self.span_sums.clear()
            self.long_sums.clear()
            self.slow_cells.clear()
            self.long_cells.clear()
            self.cells.clear()
            self.units.clear()
            self.counters["context_resets"] += 1
            self.current = window
            return opened
        while self.current < window:
            opened += self._close(self.current)
            self.current += 1
        return opened

    def _factorize(self, window: int) -> _Window:
        """The open window's units as store rows per spec, and the window's totals per row.

        A session's units repeat all their values, in this window and the next: each unit carries the id of its
        dimension tuple (:attr:`tuple_ids`, one dict lookup per event), the store rows of a tuple are looked up
        once and kept (:meth:`_tuple_rows`), and a window's units get theirs by one array index, not one lookup
        per value and spec.
        """
        n = len(self.open_dims)
        contrib = np.frombuffer(self.open_rows, dtype=float).reshape(n, len(COLUMNS))  # no copy: a new buffer follows
        if n:
            unit_rows = self._tuple_rows(np.array(self.open_dims, dtype=np.int64), window)
            rows, counts = _group_totals(unit_rows, contrib, len(self.store.sums))
            self.store.seen[rows] = window
            self.store.decay_to(rows, window)
        else:
            unit_rows = np.zeros((0, len(SPECS)), dtype=np.int64)
            rows, counts = np.zeros(0, dtype=np.int64), np.zeros((0, len(COLUMNS)))
        sess = np.array(self.open_sess, dtype=np.int64) if len(self.open_sess) == n else np.arange(n, dtype=np.int64)
        self.open_dims, self.open_rows, self.open_sess = [], array("d"), []
        if len(self.tuples) > self.s.max_sessions:  # bounded: a tuple per live session and rendition; none is open now
            self._forget_tuples()
        return _Window(unit_rows, contrib, rows, counts, sess)

    def _new_tuple(self, dims: tuple[Any, ...]) -> int:
        """The id of a dimension tuple not seen before (the next one; its store rows come at the close).

        Kept with its names interned (one object per distinct name, however many tuples hold it): every event's lookup
        compares its values with a kept tuple's, and a few thousand shared names stay in cache where each tuple's own
        copies, read once a beat per session, did not (that lookup was the costliest line of :meth:`ingest`).
        """
        dims = tuple([_intern(v) if type(v) is str else v for v in dims])
        tid = self.tuple_ids[dims] = len(self.tuples)
        self.tuples.append(dims)
        return tid

    def _forget_tuples(self) -> None:
        self.tuple_ids, self.tuples = {}, []
        self.tuple_rows = np.full((0, len(SPECS)), -1, dtype=np.int64)

    def _tuple_rows(self, ids: np.ndarray, window: int) -> np.ndarray:
        """``[units, specs]``: the store rows of each unit's tuple (``ids``), from :attr:`tuple_rows` where known.

        Exactly what looking every distinct tuple of the window up in the store gives (:meth:`_rows_of`): new groups
        are only ever in new tuples, and get their rows in the same order (spec by spec, in order of first
        appearance). A kept row stays right while no group is evicted; when the new tuples could make the store
        evict (too few free rows for all their values), every tuple of the window goes through the store as before
        and every kept row is dropped (an evicting window keeps none).
        """
        table = self.tuple_rows
        if len(table) < len(self.tuples):
            grow = max(len(self.tuples), 2 * len(table), 64) - len(table)
            table = self.tuple_rows = np.concatenate([table, np.full((grow, len(SPECS)), -1, dtype=np.int64)])
        rows = table[ids]
        if rows[:, 0].min() >= 0:
            return rows
        distinct, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        by_first = np.argsort(first, kind="stable")
        in_order = distinct[by_first]
        store = self.store
        missing = in_order[table[in_order, 0] < 0]
        if len(missing) * len(SPECS) <= len(store.free) + store.capacity - len(store.keys):
            table[missing] = self._rows_of([self.tuples[i] for i in missing.tolist()], window, False)
            return table[ids]
        table[:] = -1
        evicted = store.evicted
        fresh = self._rows_of([self.tuples[i] for i in in_order.tolist()], window, True)
        if store.evicted == evicted:
            table[in_order] = fresh
        by_distinct = np.empty_like(fresh)
        by_distinct[by_first] = fresh
        return by_distinct[inverse.reshape(-1)]

    def _rows_of(self, tuples: list[tuple[Any, ...]], window: int, may_evict: bool) -> np.ndarray:
        """``[tuples, specs]`` store rows of dimension tuples (new groups get rows), spec by spec in tuple order.

        ``may_evict``: one store lookup per spec, each stamping its rows seen before the next spec's new groups may
        evict (the order eviction has always seen). Else the rows of raw values already looked up come from
        :attr:`value_rows` (no names built) and the rest from one store lookup, in the same order.
        """
        if may_evict:
            self.value_rows.clear()
            names = [[_value(x) for x in t] for t in tuples]  # ``None`` is a value (``unknown``), not a missing one
            keys = [[(si, v[sp[0]]) for v in names] if len(sp) == 1 else [(si, f"{v[sp[0]]}*{v[sp[1]]}") for v in names]
                    for si, sp in enumerate(SPECS)]
            return np.stack([self.store.rows(k, window, decay=False) for k in keys], axis=1)
        memo = self.value_rows
        if len(memo) > 2 * self.s.max_groups:  # bounded: a raw value of a group and its spec (None and "unknown": 2)
            memo.clear()
        cols, pending = [], []
        for si, getters in enumerate(_SPEC_GETTERS):  # keys built and looked up by C iterators, not per-tuple Python
            raw = list(zip(repeat(si), *(map(g, tuples) for g in getters)))
            col = list(map(memo.get, raw))
            if None in col:
                pending += [(si, ti, raw[ti]) for ti, r in enumerate(col) if r is None]
            cols.append(col)
        if pending:
            keys = [(k[0], _value(k[1])) if len(k) == 2 else (k[0], f"{_value(k[1])}*{_value(k[2])}") for _, _, k in pending]
            for (si, ti, k), r in zip(pending, self.store.rows(keys, window, decay=False).tolist(), strict=True):
                cols[si][ti] = memo[k] = r
        return np.array(cols, dtype=np.int64).T.copy()

    def _context(self, window: int, span: int) -> tuple[np.ndarray, np.ndarray]:
        recs = [self.closed[w] for w in range(window - span + 1, window + 1) if w in self.closed]
        if not recs:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(COLUMNS)))
        if len(recs) == 1:
            return recs[0].rows, recs[0].counts
        if len(recs) == 2:
            # The fast lane's context, every window: two windows' rows are each ascending and distinct, so their totals
            # are the first window's counts plus the second's, the one addition a fresh aggregate makes (in that order).
            first, second = recs
            rows = np.union1d(first.rows, second.rows)
            counts = np.zeros((len(rows), len(COLUMNS)))
            counts[np.searchsorted(rows, first.rows)] = first.counts
            counts[np.searchsorted(rows, second.rows)] += second.counts
            return rows, counts
        return _aggregate(np.concatenate([r.rows for r in recs]), np.vstack([r.counts for r in recs]))

    def _running_context(self, sums: _SpanSums, window: int, span: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_context` over ``span`` (the last closed windows) from ``sums``, its running totals; recomputed from
        the windows every ``span`` windows (:meth:`_SpanSums.running`)."""
        return sums.running(window, span, lambda: self._context(window, span), len(self.store.sums))

    def _span_units(self, window: int, span: int, cells: _SpanSums | None = None) -> _Span:
        """The units of the last ``span`` windows (:class:`_Span`), or their cells' sums (``cells``: the running
        totals of a slower lane's span, :class:`_Cells`), rebuilt from the windows every ``span`` windows as
        :meth:`_running_context` rebuilds a context."""
        assert next(reversed(self.closed)) == window, "a span ends at the last closed window"
        products = None
        if cells is None:
            unit_rows, contrib, sess = self.units.span(window - span + 1)
        else:
            def fresh() -> tuple[np.ndarray, np.ndarray]:
                recs = [c for w in range(window - span + 1, window + 1)
                        if w in self.closed and (c := self.closed[w].cells) is not None]
                return _aggregate(np.concatenate([r.rows for r in recs]), np.vstack([r.counts for r in recs]))

            ids, sums = cells.running(window, span, fresh, len(self.cells.keys))
            unit_rows, sess = self.cells.rows[ids], self.cells.sess[ids]
            contrib, products = np.ascontiguousarray(sums[:, :len(COLUMNS)]), sums[:, len(COLUMNS):]
        weights = session_weights(contrib, sess, self.s.stall_icc_floor, products) if self.s.session_evidence else None
        return _Span(unit_rows, contrib, weights, contrib.sum(axis=0))

    def _sessions(self, rows: np.ndarray, unit_rows: np.ndarray, weights: np.ndarray | None) -> np.ndarray | None:
        """Distinct sessions per group of ``rows`` (:data:`SESSION_COLUMNS`), from the span's unit weights."""
        if weights is None:
            return None
        # One sparse product for every column: the (store row x unit) incidence of the span, a unit in one group per
        # spec, compressed by unit, times the weights. It adds each group's units' weights in unit order from zero, as
        # a ``bincount`` of each column over every (unit, spec) pair does, so the sums are those bit for bit, without
        # five bincounts over gathered copies of the span's ``[units x specs]`` rows (in the slower lanes, cells).
        # Only the groups of ``rows`` (distinct, as every context's are) get an output row, every other (unit, spec) pair
        # adds into one spare row: a product over the whole store zeroed and filled ~30k rows to read a few thousand.
        # Each group's additions are the same, in the same order, so its sums are the same bits.
        n, specs = unit_rows.shape
        out_row = np.full(len(self.store.sums), len(rows), dtype=np.int32)
        out_row[rows] = np.arange(len(rows), dtype=np.int32)
        ones, pointers = _incidence_parts(n, specs)
        incidence = scipy.sparse.csc_matrix((ones, out_row[unit_rows.ravel()], pointers),
                                            shape=(len(rows) + 1, n))
        return np.asarray(incidence @ weights)[:-1]

    def _close(self, window: int) -> list[Alert]:
        s = self.s
        rec = self._factorize(window)
        rec.cells = cells = self.cells.totals(rec, window)
        self.closed[window] = rec
        self.span_sums.add(rec, len(self.store.sums))
        self.slow_cells.add(cells, len(self.cells.keys))
        if s.long_windows:
            self.long_sums.add(rec, len(self.store.sums))
            self.long_cells.add(cells, len(self.cells.keys))
            left = self.closed.get(window - s.long_windows)
            if left is not None:
                self.long_sums.remove(left)
                self.long_cells.remove(left.cells)  # type: ignore[arg-type]
        self.units.add(window, rec)
        # A window leaves the slow lane's span (its running totals) and is learned from (``learn_delayed``) ...
        old_window = window - s.slow_windows
        old = self.closed.get(old_window)
        if old is not None:
            self.span_sums.remove(old)
            self.slow_cells.remove(old.cells)  # type: ignore[arg-type]
            if s.learn_delayed:
                self.store.learn(*self._learnable(old, old_window))
        # ... and is forgotten once it has left the long lane's too.
        while self.closed and next(iter(self.closed)) <= window - self._hold:
            self.units.drop(self.closed.popitem(last=False)[0])
        self.cells.release(window - self._hold + 1)
        causes: list[Cause] = []
        rows, counts = self._context(window, s.context_windows)
        if len(rows):
            base = self.store.sums[rows]
            span_units = self._span_units(window, s.context_windows)
            self._tau2 = self._heterogeneity(rows, counts)
            surprise, basel = score_matrix(counts, base, self.prior_n, self.pop, self.prior, s, self._clustering(s.context_windows),
                                           self._sessions(rows, span_units.unit_rows, span_units.weights), self.store.spec[rows],
                                           self._tau2, span_units.total)
            best = surprise.max(axis=1)
            penalty = self._penalty(rows, counts, self._clustering(s.context_windows))
            causes = self._attribute(window, rows, counts, surprise, basel, s.context_windows, self._bars(s.threshold),
                                     "fast", penalty, span_units)
            # Learn from this window's own counts, for groups that are quiet in their context.
            # The population's own groups (over ``slow_max_share`` of the span) are flagged on faults only (``_flag``).
            population = _traffic(counts) > s.slow_max_share * float(_traffic(span_units.total[None, :])[0])
            self._flag(window, rows, surprise, s.learn_below * s.threshold, ~population)
            if not s.learn_delayed:
                quiet_rows = set(rows[best >= s.learn_below * s.threshold].tolist())
                learn = np.array([r not in quiet_rows for r in rec.rows.tolist()], dtype=bool) if quiet_rows else \
                    np.ones(len(rec.rows), dtype=bool)
                self.store.learn(rec.rows[learn], rec.counts[learn])
            self.pop = self.pop * self.store.decay + rec.contrib.sum(axis=0)
            if window % s.slow_every == 0 and len(causes) < s.max_causes_per_window:
                context = self._running_context(self.span_sums, window, s.slow_windows)
                causes += self._lane(window, *context, s.slow_windows, s.slow_every, self._bars(s.slow_threshold),
                                     "slow", causes)
            if s.long_windows and window % s.long_every == 0 and len(causes) < s.max_causes_per_window \
                    and len(self.closed) >= s.long_windows:
                # Every metric at the long bar: start outcomes keep their exact test at the fast bar in the slow lane
                # (``exact_starts``); that bar here too drew one late alert, counted false (see ``exact_starts``).
                context = self._running_context(self.long_sums, window, s.long_windows)
                causes += self._lane(window, *context, s.long_windows, s.long_every,
                                     np.full(len(METRICS), s.long_threshold), "long", causes, long=True)
        self.counters["windows_closed"] += 1
        self._keep_nested(window, causes)
        for key in self._kept:
            state = self.tracker.open.get(key)
            if state is not None:
                state.last = window
        self._kept = set()
        opened = [self._named(a) for a in self.tracker.feed(window, causes)]
        # Only a confirmed cause explains the units around it later: a group named once and never confirmed (a
        # sparse start crash: one failure a minute, rarely 3 in the fast lane's minute) must stay visible to the
        # slow lane, which is the lane that can see it.
        for c in causes:
            state = self.tracker.open.get((c.dimension, c.value))
            if state is not None and state.confirmed_at is not None:
                self.named[(c.dimension, c.value)] = window
        for key in [k for k, w in self.named.items() if window - w >= self._hold]:
            del self.named[key]
        return opened

    def _keep_nested(self, window: int, causes: list[Cause]) -> None:
        """Keep open a confirmed alert of :data:`HANDOVER_SPECS` while a group it is nested in is named (``causes``).

        Why: a hand-over happens in the fast lane first; the slow lane's 10 minutes still hold the parent's early
        evidence (the other CDN's first failures in the region) and keep naming the parent, whose units then explain
        the child's. The child's alert, named twice and then explained, closed after 4 windows while the fault went
        on, and the region closed after it: 450 s with nothing open. The parent named is the child's fault still seen.
        (Kept open only, not named: counted in ``named`` too, qoe_world's day 1301 named a capped region 780 s later.)
        """
        for (dim, value), state in self.tracker.open.items():
            si = SPEC_NAMES.index(dim)
            if state.confirmed_at is None or state.last == window or si not in HANDOVER_SPECS:
                continue
            parts = dict(zip(SPECS[si], value.split("*"), strict=True))
            for c in causes:
                spec = SPECS[SPEC_NAMES.index(c.dimension)]
                if len(spec) < len(SPECS[si]) and all(parts.get(d) == v
                                                      for d, v in zip(spec, c.value.split("*"), strict=True)):
                    state.last = window
                    break

    def _flag(self, window: int, rows: np.ndarray, surprise: np.ndarray, bar: float,
              mask: np.ndarray | bool = True) -> None:
        """Flag ``rows`` scoring ``bar`` on a fault (:data:`FAULT_METRICS`; also as faulted, see :meth:`_learnable`), or
        on any other metric where ``mask``: the population's own groups are not flagged on how its levels and rates
        wander (:meth:`_learnable`), but a fault is one whoever carries it, and a class crashing at the hour it carries
        half the traffic must not learn its crash."""
        fault = surprise[:, _FAULT_INDEX].max(axis=1, initial=0.0) >= bar
        self.store.flagged[rows[((surprise.max(axis=1, initial=0.0) >= bar) & mask) | fault]] = window
        self.store.faulted[rows[fault]] = window

    def _learnable(self, old: _Window, old_window: int) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, counts)`` to learn from window ``old_window`` (``old``) as it leaves the slow lane's span.

        A group not flagged since learns the window in full. A flagged one learns nothing, unless it carried at least
        ``learn_share`` of the window's traffic, is no open or named alert and was not flagged on a fault (a failure,
        an exit before start, an error): it learns at ``learn_flagged``.

        Why: withholding flagged windows censors a group's baseline to its quiet windows. A big group's rate wanders
        from minute to minute with the whole population's (shared throughput, the hour), beyond what a binomial allows,
        so its windows often score half the bar with no fault. Its baseline then kept the low minutes, the bias made
        every later window score higher, and it never learned again. Issue 19, qoe_world day 12: the app version with
        88% of the traffic learned a 1.8% stall rate in the day's first minutes (sessions just started stall less)
        while the population sat at 4.7%, and paged 11 times through the night (3 times on day 13). The population's
        own groups are flagged on faults only (:meth:`_flag`); a big group's flagged windows still teach it, slowly.
        Only big ones: a sparse group (a new app version failing one start a minute, an edge drifting) is the case the
        flags protect. Not faults: a new app version rolling out past a tenth of the traffic learned its start crash
        on one device class before it was named, and the first world's day 901 named the version, not the pair.
        Learning every group's flagged windows at 0.2 (tried) made edge drifts page 5-16 minutes later
        and a new app version's start crash 16 minutes later on the dev days.
        """
        s = self.s
        alerted = [self.store.index.get((SPEC_NAMES.index(dim), value), -1)
                   for dim, value in chain(self.tracker.open, self.named)]
        rows, counts = old.rows, old.counts
        if not s.learn_alerted_units and alerted and len(old.contrib):
            hit = np.isin(old.unit_rows, alerted).any(axis=1)
            if hit.any():
                kept = ~hit
                rows, counts = _group_totals(old.unit_rows[kept], old.contrib[kept], len(self.store.sums))
        flagged = self.store.flagged[rows] >= old_window
        if not flagged.any():
            return rows, counts
        big = _traffic(counts) >= s.learn_share * float(_traffic(old.contrib).sum())
        big &= self.store.faulted[rows] < old_window
        for r in alerted:
            big &= rows != r
        weight = np.where(flagged, np.where(big, s.learn_flagged, 0.0), 1.0)
        keep = weight > 0.0
        return rows[keep], counts[keep] * weight[keep, None]

    def _lane(self, window: int, rows: np.ndarray, counts: np.ndarray, span: int, every: int, bars: np.ndarray,
              lane: str, causes: list[Cause], long: bool = False) -> list[Cause]:
        """A lane over a longer context (``rows``/``counts``: the totals of its last ``span`` windows), scored every
        ``every`` windows against ``bars`` (per metric): the causes it names beyond ``causes`` (those already named).

        It judges groups carrying under ``slow_max_share`` of the traffic: a drift of everything is the population
        moving (the fast lane pages a real global break), not a cause. ``long``: the long lane, which only adds: it
        neither stops a group's windows from being learned (flagging at half its bar over 30 minutes kept an OS's
        early failures out of its baseline, and the slow lane named that OS for its app version's start crash) nor
        names again an alert another lane keeps open.
        """
        s = self.s
        volume = _traffic(counts)
        units = self._span_units(window, span, self.long_cells if long else self.slow_cells)
        # Beats and attempts are counts (0 or 1 per unit): their sum is exact in any order of additions.
        total = float(_traffic(units.total[None, :])[0])
        touched = volume <= s.slow_max_share * total  # every group in the context: a sparse one may be quiet now
        if long:
            # Only a group whose learned history outweighs the span twice: the lane asks whether a group changed, and
            # 30 minutes of a group the baseline barely knows ask how it differs from the population (an ASN whose
            # sessions always fail a little more paged 50 minutes into a day).
            known = _traffic(self.store.sums[rows])
            touched &= known >= s.long_history * volume
        rows, counts = rows[touched], counts[touched]
        clustering = self._clustering(span)
        sur, base = score_matrix(counts, self.store.sums[rows], self.prior_n, self.pop, self.prior, s, clustering,
                                 self._sessions(rows, units.unit_rows, units.weights), self.store.spec[rows], self._tau2,
                                 units.total)
        penalty = self._penalty(rows, counts, clustering)
        if not long:
            self._flag(window, rows, sur, s.learn_below * float(bars.max()))
        named = {(c.dimension, c.value) for c in causes}
        out: list[Cause] = []
        for c in self._attribute(window, rows, counts, sur, base, span, bars, lane, penalty, units, every, long,
                                 causes, s.long_confirm if long else None):
            if (c.dimension, c.value) not in named and len(causes) + len(out) < s.max_causes_per_window:
                out.append(c)
        return out

    def _attribute(self, window: int, rows: np.ndarray, counts: np.ndarray, surprise: np.ndarray, basel: np.ndarray,
                   span: int, bars: np.ndarray, lane: str, penalty: np.ndarray,
                   span_units: _Span, every: int = 1,
                   own_alerts_only: bool = False, earlier: list[Cause] | None = None,
                   confirm: int | None = None) -> list[Cause]:
        """Explaining away over the units of the last ``span`` windows; see the module docstring.

        ``every``: the lane's interval in windows, carried by its causes (a run of namings continues across it).
        ``confirm``: the lane's namings in a row that confirm a cause, carried by its causes (None: the tracker's).
        ``own_alerts_only``: name again only the open alerts this lane named last; the others' groups only explain.
        ``earlier``: the causes the lanes before this one named in this window; those not candidates here only explain.

        ``penalty``: the multiple-testing penalty per spec (:meth:`_penalty`), taken off every score here.
        ``bars``: the lane's threshold per metric (:meth:`_bars`); a group is a candidate when a metric clears its own.
        """
        s = self.s
        surprise = np.maximum(surprise - penalty[self.store.spec[rows]][:, None], 0.0)
        surprise = np.where(surprise > bars, surprise, 0.0)  # only metrics over their bar count
        best = surprise.max(axis=1)
        cand = np.flatnonzero(best > 0.0)
        keeping = not own_alerts_only and s.keep_ratio > 0.0 and \
            any(st.confirmed_at is not None for st in self.tracker.open.values())
        if len(cand) == 0 and not keeping:
            return []
        cand = cand[np.argsort(-best[cand], kind="stable")][:64]
        unit_rows, contrib, weights, span_total = span_units
        columns: dict[int, np.ndarray] = {}

        def column(si: int) -> np.ndarray:
            """Spec ``si``'s column of ``unit_rows``, contiguous: copied once, then every mask of its groups reads it
            (a strided column per candidate and round read the span's whole ``[units x specs]`` array each time)."""
            col = columns.get(si)
            if col is None:
                col = columns[si] = np.ascontiguousarray(unit_rows[:, si])
            return col

        spec_of: dict[int, int] = {}
        for r in rows[cand].tolist():
            key = self.store.keys[r]
            if key is not None:
                spec_of[r] = key[0]
        alive = np.ones(len(contrib), dtype=bool)
        out: list[Cause] = []
        remaining = [int(i) for i in cand if int(rows[i]) in spec_of]
        # Alerts still open explain first (named again while they last); the groups around them are not new incidents.
        live = self._live(window)
        ongoing = {self.store.index.get((SPEC_NAMES.index(d), v)) for d, v in live}
        if own_alerts_only:
            # Alerts another lane keeps open only explain here: over 30 minutes the parent the slow lane named first
            # (an app version) outscores the nested pair it names next, and renaming it here held it open for good.
            for (dim, value), state in live.items():
                r = self.store.index.get((SPEC_NAMES.index(dim), value))
                if r is not None and state.lane != lane:
                    ongoing.discard(r)
                    alive &= column(SPEC_NAMES.index(dim)) != r
        first = [i for i in remaining if int(rows[i]) in ongoing]
        # Causes named within the span (an open one: within the slow lane's interval too) that are not candidates now
        # (closed since, or quiet in this lane) only explain: their units are still in a long context, and must not
        # make a population-wide value page. The interval: a class the slow lane names every second window was out of
        # the fast lane's 2-window span every other window, and a class crash scoring a tenth of a nat under the fast
        # bar there let an app version of the class be named for it (2 false alerts on the first world's day 903).
        # Not every open alert (tried): one the fast lane named once stays open 4 windows, and an ISP's early share of
        # its region's quality cap held the region back 90-120 s on two dev days.
        # Not the units of an open alert's group of :data:`HANDOVER_SPECS` that is a candidate again (``first``): a
        # region that handed over to its CDN pair and closed explained the pair's units away for the rest of its span,
        # so the pair's alert, still failing, closed too (10 minutes with nothing open). Only those (measured on
        # qoe_world's fresh days, protecting every open candidate): a player version named for a TV class's DRM slowdown
        # kept the units its closed OS and model had explained, and the class was named 21 minutes late (day 1801); a
        # corrupt rung was paged again after its incident (day 1800).
        candidates = {int(rows[i]) for i in remaining}
        renamed = np.zeros(len(contrib), dtype=bool)
        for i in first:
            r = int(rows[i])
            if spec_of[r] in HANDOVER_SPECS:
                renamed |= column(spec_of[r]) == r
        explaining: set[tuple[int, int]] = set()
        for (dim, value), last in self.named.items():
            si = SPEC_NAMES.index(dim)
            r = self.store.index.get((si, value))
            recent = window - last < max(span, s.slow_every + 1) and (dim, value) in live
            if r is not None and (window - last < span or recent) and not (r in ongoing and r in candidates):
                explaining.add((si, r))
        # So do the causes the fast lane named in this very window (not yet in ``named``, which a window's close updates
        # last): a DRM slowdown of a whole device class, named by the fast lane in its second minute, was under the
        # slow lane's bar over its 10 minutes (mostly from before the onset), and the slow lane named the class's new
        # app version, whose sessions all started after it (a false alert on the first world's day 601).
        for c in earlier or []:
            si = SPEC_NAMES.index(c.dimension)
            r = self.store.index.get((si, c.value))
            if r is not None and r not in candidates:
                explaining.add((si, r))
        for si, r in explaining:
            alive &= (column(si) != r) | renamed
        # What took units out of ``alive``: ``(spec, row, spares the renamed units)``, for :meth:`_keep_residual`.
        removed = [(si, r, True) for si, r in explaining]
        handover = HANDOVER_SPECS | HANDOVER_SLOW_SPECS if span >= s.slow_windows else HANDOVER_SPECS
        while remaining and len(out) < s.max_causes_per_window:
            rescored = []
            # While open alerts explain first, rendition-keyed and region-keyed pairs are scored too, for
            # :meth:`_refine` alone: a title's alert opened before its corrupt rung cleared the bar hands over to the
            # rung once the rung alone carries the fault. Issue 19: a corrupt 1080p rung was named only as its title on
            # 4 of 6 held-out days; the title explained every window after its first (a player fails on the new rung's
            # first segment before it reports the switch, so a third of the failures spill over the title's other
            # rungs). A CDN failing in one region alike (the first world's day 800). Not every nested candidate
            # (:data:`HANDOVER_SPECS`).
            batch = first + [j for j in remaining if j not in first and spec_of[int(rows[j])] in handover] \
                if first and s.refine_nested else first or remaining
            batch_rows = [int(rows[i]) for i in batch]
            # Each candidate over its units still alive.
            masks = [alive & (column(spec_of[r]) == r) for r in batch_rows]
            scores = self._score_units(batch_rows, masks, span_units, span, span_total)
            for i, r, sc in zip(batch, batch_rows, scores, strict=True):
                si = spec_of[r]
                sc = np.maximum(sc - penalty[si], 0.0)
                sc = np.where(sc > bars, sc, 0.0)
                if sc.max() > 0.0:
                    rescored.append((float(sc.max()), len(SPECS[si]), i, sc))
            rescored.sort(key=lambda t: -t[0])
            pool = [t for t in rescored if t[2] in first] if first else rescored
            if not pool:
                if first:
                    remaining = [j for j in remaining if j not in first]
                    first = []
                    continue
                break
            top = pool[0]
            for alt in pool[1:]:  # a single dimension covering the same sessions as a pair is the simpler cause
                if alt[1] < top[1] and alt[0] >= 0.99 * top[0]:
                    top = alt
                    break
            if s.refine_nested and len(rescored) > 1:
                top = self._refine(top, rescored, dict(zip(batch_rows, masks, strict=True)), rows, basel, contrib,
                                   weights, span)
            score, _, i, per_metric = top
            r = int(rows[i])
            si = spec_of[r]
            m = int(np.argmax(per_metric))
            key = self.store.keys[r]
            assert key is not None
            evidence = {"metric": METRICS[m], "lane": lane, "baseline": round(float(basel[i, m]), 5),
                        "observed": round(_observed(counts[i], m), 5), "n": int(counts[i, C[_den(m)]])}
            mask = alive & (column(si) == r)
            aliases = self._aliases(r, si, mask, alive, unit_rows) if s.alias_alerts else []
            if aliases:
                evidence["aliases"] = [f"{SPEC_NAMES[k[0]]}={k[1]}" for k in aliases]
            out.append(Cause(window, SPEC_NAMES[si], key[1], score, evidence, every, confirm))
            for a_key in aliases[:max(0, s.max_causes_per_window - len(out))]:
                out.append(Cause(window, SPEC_NAMES[a_key[0]], a_key[1], score,
                                 {**evidence, "alias_of": f"{SPEC_NAMES[si]}={key[1]}"}, every, confirm))
            alive &= column(si) != r
            removed.append((si, r, False))
            if first:
                first = [t[2] for t in pool if t[2] != i]
                remaining = [j for j in remaining if j != i]
            else:
                remaining = [t[2] for t in rescored if t[2] != i]
        if keeping:
            self._keep_residual(out, removed, renamed, column, span_units, span_total, span, bars, penalty)
        return out

    def _score_units(self, rows: list[int], masks: list[np.ndarray],
                     span_units: _Span, span: int,
                     span_total: np.ndarray) -> np.ndarray:
        """Scores (``[rows, metrics]``, before the penalty) of each group ``rows[k]`` over only the span's units in
        ``masks[k]``: the units summed per group, then one :func:`score_matrix` call for all (it scores rows
        independently; one call per group cost more than the rest of a window's close)."""
        _, contrib, weights, _ = span_units
        c, *sess_sums = _masked_sums((contrib,) if weights is None else (contrib, weights), masks)
        sess = sess_sums[0] if sess_sums else None
        scores, _ = score_matrix(c, self.store.sums[rows], self.prior_n, self.pop, self.prior, self.s,
                                 self._clustering(span), sess, self.store.spec[rows], self._tau2, span_total)
        return scores

    def _live(self, window: int) -> dict[tuple[str, str], Any]:
        """The open alerts as they were before :attr:`EbSettings.keep_ratio`: unconfirmed, or named within their quiet
        windows (``named``; a kept alert is open, not named). These explain first and within the span."""
        return {k: st for k, st in self.tracker.open.items()
                if st.confirmed_at is None or window - self.named.get(k, -(1 << 30)) <= self.tracker.quiet(st) + 1}

    def _keep_residual(self, out: list[Cause], removed: list[tuple[int, int, bool]], renamed: np.ndarray,
                       column: Callable[[int], np.ndarray],
                       span_units: _Span, span_total: np.ndarray,
                       span: int, bars: np.ndarray, penalty: np.ndarray) -> None:
        """Add to :attr:`_kept` the confirmed open alerts not named in this lane (``out``) whose own evidence still
        scores ``keep_ratio`` of ``bars``: their units less those of every other group that took units here
        (``removed``: explaining, or named). A region whose CDN pair took the name, a TV's OS while its class is
        named, have nothing left of their own and close as before."""
        s = self.s
        said = {(c.dimension, c.value) for c in out}
        keys: list[tuple[tuple[str, str], int, int]] = []
        masks: list[np.ndarray] = []
        for key, state in self.tracker.open.items():
            if state.confirmed_at is None or key in said or key in self._kept:
                continue
            si = SPEC_NAMES.index(key[0])
            r = self.store.index.get((si, key[1]))
            if r is None:
                continue
            mask = column(si) == r
            for sj, rj, spares in removed:
                if (sj, rj) != (si, r):
                    mask &= ((column(sj) != rj) | renamed) if spares else (column(sj) != rj)
            if mask.any():
                keys.append((key, r, si))
                masks.append(mask)
        if not keys:
            return
        scores = self._score_units([r for _, r, _ in keys], masks, span_units, span, span_total)
        for (key, _, si), sc in zip(keys, scores, strict=True):
            if ((sc - penalty[si]) >= s.keep_ratio * bars).any():
                self._kept.add(key)

    def _refine(self, top: tuple[float, int, int, np.ndarray], rescored: list[tuple[float, int, int, np.ndarray]],
                mask_of: dict[int, np.ndarray], rows: np.ndarray, basel: np.ndarray, contrib: np.ndarray,
                weights: np.ndarray | None, span: int) -> tuple[float, int, int, np.ndarray]:
        """The candidate to name for ``top``: a group nested in it that alone carries its fault, else ``top``.

        Why: the most specific group carrying an excess is its cause (the module docstring's scan-statistic argument),
        but candidates are ranked by score less ``log(m)``, and with no failure in either history a parent's shrunk
        baseline is the lower (more clean units), which cancels its failing child's higher rate: a crashing TV model
        and its class scored within a nat, and the class's smaller penalty (7 classes, not 30 models) named the class.
        A candidate ``c`` whose live units all lie in ``top``'s is named instead when the rest of ``top`` (its units
        outside ``c``) favours "the fault is ``c``'s alone" over "the fault is ``top``'s" by ``refine_margin`` nats:
        the log-likelihood ratio of the rest's failures at ``top``'s baseline rate (``basel``, what
        :func:`score_matrix` judged it against) against ``c``'s observed rate. A
        rest too small to tell (a class that is nearly all one model) stays near 0 and keeps ``top``; a rest failing
        less than ``c`` but more than its baseline (one session in ten where ``c`` lost half) keeps it too. Repeated
        while a nested candidate qualifies, highest score first. While ``top`` is an open alert's group, the only
        candidates offered are those of :data:`HANDOVER_SPECS` (:meth:`_attribute`), and in the slower lanes those of
        :data:`HANDOVER_SLOW_SPECS`. A candidate of :data:`HANDOVER_SLOW_SPECS` (a device model), open alert or not,
        must also find the rest clean: its failures at their own rate favoured over its baseline by less than
        ``refine_margin``. A candidate whose units in the span
        are exactly ``top``'s (no rest to judge) is named instead when it was confirmed within the last
        :meth:`_hold` windows and ``top`` was not: an app version's start crash, named at night while a tablet ran it or
        the older one, was named again as its device class once every tablet ran the new version (the first world's day
        600, a false alert). Only for :data:`FAULT_METRICS`: a quality cap or congestion hits each session by its own
        bitrate and buffer, so the rest of a capped region may show nothing (the biggest ISP's cable viewers sat above
        the cap, the region's mobile ones below it).
        """
        s = self.s
        while True:
            m = int(np.argmax(top[3]))
            if METRICS[m] not in FAULT_METRICS:
                return top
            outer = mask_of[int(rows[top[2]])]
            p_base, per_session = float(basel[top[2], m]), METRICS[m] in PER_SESSION_EVENTS
            best: tuple[float, int, int, np.ndarray] | None = None
            for alt in rescored:
                if alt is top or alt[3][m] <= 0.0 or (best is not None and alt[0] <= best[0]):
                    continue
                inner = mask_of[int(rows[alt[2]])]
                if (inner & ~outer).any():
                    continue
                rest = outer & ~inner
                n_in, x_in, _ = self._trials(m, inner, contrib, weights, span)
                n_rest, x_rest, clus = self._trials(m, rest, contrib, weights, span)
                if n_in <= 0.0 or n_rest <= 0.0:
                    # No rest: the span cannot tell the two apart, and a name confirmed in the last half hour is the
                    # better guess than a new one (see the docstring).
                    if n_in > 0.0 and self._established(int(rows[alt[2]])) and not self._established(int(rows[top[2]])):
                        best = alt
                    continue
                p0 = float(np.clip(1.0 - (1.0 - p_base) ** clus, 1e-5, 0.999)) if per_session else p_base
                p1 = min(max(x_in / n_in, p0), 1.0 - 1e-9)
                shared = x_rest * math.log(p1 / p0) + (n_rest - x_rest) * math.log((1.0 - p1) / (1.0 - p0))
                if shared <= -s.refine_margin and not (self.store.spec[int(rows[alt[2]])] in HANDOVER_SLOW_SPECS
                                                       and _binomial_llr(n_rest, x_rest, p0) >= s.refine_margin):
                    best = alt
            if best is None:
                return top
            top = best

    def _established(self, r: int) -> bool:
        """Whether group ``r`` was a confirmed cause within the last :meth:`_hold` windows (``named``)."""
        key = self.store.keys[r]
        return key is not None and (SPEC_NAMES[key[0]], key[1]) in self.named

    def _trials(self, m: int, mask: np.ndarray, contrib: np.ndarray, weights: np.ndarray | None,
                span: int) -> tuple[float, float, float]:
        """``(trials, events, beats per session)`` of metric ``m`` over the units of ``mask`` as one group, counted by
        :func:`binomial_trials` as :func:`score_matrix` counts them."""
        c = contrib[mask].sum(axis=0)[None, :]
        sess = None if weights is None else weights[mask].sum(axis=0)[None, :]
        clus = session_clustering(c, sess, self._clustering(span))
        n, x = binomial_trials(m, c, clus, sess)
        return float(n[0]), float(x[0]), float(np.asarray(clus).reshape(-1)[0])

    def _aliases(self, r: int, si: int, mask: np.ndarray, alive: np.ndarray,
                 unit_rows: np.ndarray) -> list[tuple[int, str]]:
        """Other names of the very sessions a named cause covers: groups the data cannot tell apart from it.

        Why: an ISP present in one region only *is* its ISP x region pair, a device model that alone runs one player
        version *is* that version; the sessions cannot say which name the operator means (the two worlds we score
        on label such scopes differently), so the alert names each, tied by ``alias_of``. A group is an alias when
        its live units in the span are exactly the cause's (not merely overlapping) **and** its learned history
        carries the same traffic within ``alias_tolerance`` (a coincidence of one short span is not an identity).
        A value of a dimension the players do not report (``unknown``) is no name, so never an alias.

        A group nested in the cause (``tablet*9.9`` in ``9.9``) with next to no history of its own (under
        ``alias_tolerance`` of the cause's) that holds every unit the cause has in the span, explained or not, is an
        alias too: it is new, so today it *is* the cause's sessions, and the history that differs is the cause's
        elsewhere (9.9 ran on mobiles yesterday). A detector run on from qoe_world's first day named its second day's
        start crash on one class as the version only, 3 times in 4 (a fresh detector named both: both new). Every
        unit, not only the live ones: a class's units left unexplained by its named OS all run its other OS, a
        coincidence of what was explained (qoe_world's day 1801). A new group only: a TV class crashing on the
        version all its sessions ran for hours (the first world's day 801) is the class, and naming the pair too
        drew a false page on the version later.
        """
        n_units = int(mask.sum())
        if n_units == 0:
            return []
        own = self.store.sums[r]
        own_volume = own[C["attempts"]] + own[C["beats"]]
        out: list[tuple[int, str]] = []
        for sj in range(len(SPECS)):
            if sj == si or sj in RENDITION_SPECS:
                continue
            values = unit_rows[mask, sj]
            v = int(values[0])
            if v == r or not (values == v).all() or int((alive & (unit_rows[:, sj] == v)).sum()) != n_units:
                continue
            other = self.store.sums[v]
            volume = other[C["attempts"]] + other[C["beats"]]
            nested = set(SPECS[si]) < set(SPECS[sj]) and volume <= self.s.alias_tolerance * own_volume \
                and bool((unit_rows[unit_rows[:, si] == r, sj] == v).all())
            if not nested and abs(volume - own_volume) > self.s.alias_tolerance * max(volume, own_volume, 1.0):
                continue
            key = self.store.keys[v]
            if key is not None and "unknown" not in key[1].split("*"):  # a dimension not reported names nothing
                out.append(key)
        return out

    def _heterogeneity(self, rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """``tau2[spec, gaussian metric]``: mean squared distance of groups' own means from the population's.

        Over the groups of ``rows`` whose history outweighs the prior (``n_g >= k``), and, while a group has no
        such history (a stream's first minutes), its mean in ``counts`` less the sampling variance of that mean;
        a spec with fewer than three such groups borrows the value over all specs. Not robust on purpose: the
        point is how far a sibling can ordinarily sit from the rest, outliers included; a group with a long
        history is judged against itself anyway (its share of ``tau2`` vanishes as ``k / (n_g + k)``).
        """
        out = np.zeros((len(SPECS), len(GAUSSIAN)))
        base = self.store.sums[rows]
        specs = self.store.spec[rows]
        for jj, (_, n_col, s_col, _, _) in enumerate(GAUSSIAN):
            mu_pop, sd = population_moments(self.pop, self.prior_n, self.prior, self.s, jj)
            n = base[:, C[n_col]]
            own = n >= self.s.prior_strength
            now = ~own & (counts[:, C[n_col]] >= self.s.prior_strength)
            if not (own.any() or now.any()):
                continue
            m = np.where(own, base[:, C[s_col]] / np.maximum(n, 1e-9),
                         counts[:, C[s_col]] / np.maximum(counts[:, C[n_col]], 1e-9))
            noise = np.where(own, 0.0, sd * sd / np.maximum(counts[:, C[n_col]], 1e-9))
            use = own | now
            specs_used = specs[use]
            dev2 = np.maximum((m[use] - mu_pop) ** 2 - noise[use], 0.0)
            sums = np.bincount(specs_used, weights=dev2, minlength=len(SPECS))
            cnt = np.bincount(specs_used, minlength=len(SPECS))
            out[:, jj] = np.where(cnt >= 3, sums / np.maximum(cnt, 1), float(dev2.mean()))
        return out

    def _penalty(self, rows: np.ndarray, counts: np.ndarray, clustering: float) -> np.ndarray:
        """``multiplicity * log(m)`` per spec, ``m`` its groups in ``rows`` with enough evidence to be tested."""
        volume = counts[:, C["attempts"]] + counts[:, C["beats"]] / clustering
        tested = np.bincount(self.store.spec[rows[volume >= self.s.min_events]], minlength=len(SPECS))
        return self.s.multiplicity * np.log(np.maximum(tested, 1))

    def _bars(self, threshold: float) -> np.ndarray:
        """A lane's threshold per metric: ``threshold``; start outcomes at the fast lane's
        (:attr:`EbSettings.exact_starts`)."""
        bars = np.full(len(METRICS), threshold)
        if self.s.exact_starts:
            bars[_ATTEMPT_METRICS] = min(threshold, self.s.threshold)
        return bars

    @property
    def _hold(self) -> int:
        """Windows kept closed: every lane's span."""
        return max(self.s.slow_windows, self.s.long_windows)

    def _clustering(self, span: int) -> float:
        return max(1.0, span * self.s.window_s / self.s.heartbeat_s)

    @staticmethod
    def _named(alert: Alert) -> Alert:
        return alert.model_copy(update={"id": f"{alert.dimension}={alert.value}@{int(alert.start)}"})


def _session_key(session_id: str) -> int:
    """A 64-bit key of a session id that is the same in every process (``hash`` of a str is not: a detector
    restored from its checkpoint must see a session of the previous life as the same session)."""
    raw = session_id.encode()
    return ((zlib.crc32(raw) & 0x7FFFFFFF) << 32) | zlib.adler32(raw)  # < 2**63: fits an int64


def _value(v: Any) -> str:
    return "unknown" if v is None else str(v)


def _binomial_llr(n: float, x: float, p0: float) -> float:
    """Log-likelihood ratio of ``x`` events in ``n`` trials at their own rate against ``p0`` (0 at or under it)."""
    q = x / n if n > 0 else 0.0
    if q <= p0:
        return 0.0
    return x * math.log(q / p0) + ((n - x) * math.log((1.0 - q) / (1.0 - p0)) if q < 1.0 else 0.0)


def _den(m: int) -> str:
    return BINOMIAL[m][2] if m < len(BINOMIAL) else GAUSSIAN[m - len(BINOMIAL)][1]


def _observed(c: np.ndarray, m: int) -> float:
    if m < len(BINOMIAL):
        _, num, den = BINOMIAL[m]
        return float(c[C[num]] / c[C[den]]) if c[C[den]] else 0.0
    _, n, s_, _, _ = GAUSSIAN[m - len(BINOMIAL)]
    return float(c[C[s_]] / c[C[n]]) if c[C[n]] else 0.0


def detect_lines(lines: Iterable[str | bytes], settings: EbSettings | None = None,
                 pipelined: bool | None = None) -> tuple[list[Alert], dict[str, int]]:
    """A JSONL file's events (v1 or v2) through one detector in order; alerts and every refusal counted by reason.

    Lines go through :func:`parse_record` (msgspec structs derived from the models; anything else the validator
    decides) into the same :meth:`EbDetector.ingest` a stream feeds one event at a time: one decision logic, batch or
    not.

    ``pipelined`` (``None``: wherever a child can be forked, :func:`~streamlab.core.forked.fork_available`): this
    process reads, validates and ingests, and hands each window's units (:class:`WindowUnits`) to a forked child that
    closes the windows (:func:`close_windows`), so the two halves of the work run on two cores. Issue 19: on the
    bench's 2.1M-event, 3,000-title day they are ~54% and ~46% of the CPU time. The alerts and counts are the same bits either way.
    """
    from streamlab.core.forked import fork_available
    from streamlab.models.qoe.schema_v2 import fast_record, parse_event

    settings = settings or EbSettings()
    det = EbDetector(settings)
    closer = _ForkedCloser(settings) if (fork_available() if pipelined is None else pipelined) else None
    if closer is not None:
        det.handoff = closer.send
    ingest = det.ingest
    refused: Counter[str] = Counter()
    try:
        for line in lines:
            if not line or line.isspace():  # ``strip`` copied every line to find the blank ones
                continue
            event, reason = fast_record(line), None  # :func:`parse_record`, inlined (its tuple per event)
            if event is None:
                event, reason = parse_event(line)
            if event is not None:
                reason = ingest(event)[0]
            if reason is not None:
                refused[reason.split(":", 1)[0]] += 1
        alerts = det.flush()
        stats = det.stats()
        if closer is not None:
            alerts, closing = closer.finish()
            stats.update((k, closing[k]) for k in _CLOSER_STATS)
    finally:
        if closer is not None:
            closer.close()
    return alerts, {"accepted": stats["accepted"], "refused": sum(refused.values()), **dict(refused),
                    **{k: v for k, v in stats.items() if k in ("groups", "groups_evicted", "sessions_evicted",
                                                               "units_dropped", "windows_closed")}}


_CLOSER_STATS: tuple[str, ...] = ("windows_closed", "context_resets", "groups", "groups_evicted")
"""What a closer counts (:meth:`EbDetector.stats`); the rest is its front's."""


def close_windows(settings: EbSettings, windows: Iterator[WindowUnits]) -> tuple[list[Alert], dict[str, int]]:
    """A front's windows closed by one detector, in order (the last one the front's flush); all alerts and stats."""
    det = EbDetector(settings)
    alerts: list[Alert] = []
    for units in windows:
        alerts = det.close_units(units)
    return alerts, det.stats()


class _ForkedCloser:
    """:func:`close_windows` in a forked child, started at the first window that is not the last (a file of one
    window, as many tests are, is closed here: a fork would cost more than it saves)."""

    def __init__(self, settings: EbSettings) -> None:
        self.settings = settings
        self.child: Any = None
        self.last: list[WindowUnits] = []

    def send(self, units: WindowUnits) -> None:
        if self.child is None:
            if units.until is None:
                self.last.append(units)
                return
            from streamlab.core.forked import ForkedConsumer

            self.child = ForkedConsumer(partial(close_windows, self.settings))
        self.child.send(units)

    def finish(self) -> tuple[list[Alert], dict[str, int]]:
        if self.child is None:
            return close_windows(self.settings, iter(self.last))
        return self.child.finish()

    def close(self) -> None:
        if self.child is not None:
            self.child.close()
