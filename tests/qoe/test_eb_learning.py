"""What a group learns, and what an open alert explains (issue 19): a big group's baseline must follow the
population it carries.

A flagged window (a group scoring half its bar) is not learned, so that a fault is never absorbed before a lane has
the evidence. A big group's rate wanders from minute to minute with everyone's, beyond what a binomial allows, and
its windows score half the bar with no fault: withholding them kept its quiet minutes only. On qoe_world day 12 the
app version carrying 88% of the traffic learned a 1.8% stall rate while the population sat at 4.7%, and paged 11
times through the night.
"""

from __future__ import annotations

import numpy as np

from streamlab.models.qoe.alerts import Cause
from streamlab.models.qoe.eb import C, COLUMNS, METRICS, SPECS, SPEC_NAMES, EbDetector, EbSettings, _Span, _Window
from streamlab.models.qoe.schema_v2 import parse_event
from streamlab.training.qoe.world_v2 import START_EPOCH_S, steady_stream

GROUPS = {"region": ["zz-n", "zz-s", "zz-e", "zz-w"], "device_class": ["fridge", "car", "watch"],
          "app_version": ["9.8"] * 8 + ["9.9"]}
"""``9.8`` carries 8 sessions in 9; each region a quarter, each device class a third."""
MINUTES = 80
GUSTS = np.random.default_rng(11).lognormal(0.0, 0.35, size=MINUTES + 10)
"""Everyone's stall chance moves together from minute to minute (+-35%): shared network weather, no fault."""


def _rising(t: float, dims: dict) -> dict:
    """The stall chance per beat climbs from 2% to 5% over the first 15 minutes (sessions just started stall less),
    then stays there, gusting."""
    minute = (t - START_EPOCH_S) / 60.0
    return {"stall": 0.03 * min(1.0, minute / 15.0) * GUSTS[int(minute)]}


def test_a_big_groups_baseline_follows_the_population_it_carries_and_nothing_pages_once_it_has() -> None:
    det = EbDetector(EbSettings())
    for raw in steady_stream(MINUTES, 200, seed=5, groups=GROUPS, effect=_rising):
        event, reason = parse_event(raw)
        assert reason is None, reason
        det.ingest(event)
    alerts = det.flush()
    population = det.pop[C["stall"]] / det.pop[C["beats"]]
    learned = {}
    for dim, values in (("app_version", ["9.8"]), ("device_class", GROUPS["device_class"]),
                        ("region", GROUPS["region"])):
        for value in values:
            row = det.store.index[(SPEC_NAMES.index(dim), value)]
            learned[value] = det.store.sums[row, C["stall"]] / det.store.sums[row, C["beats"]]
    assert all(abs(rate / population - 1.0) < 0.2 for rate in learned.values()), (population, learned)
    # The climb itself may page (the population's stalls doubled in minutes); once learned, nothing does.
    late = [(a.dimension, a.value, (a.start - START_EPOCH_S) / 60, (a.end - START_EPOCH_S) / 60) for a in alerts
            if a.end - START_EPOCH_S > 25 * 60]
    assert late == [], late


def _detect(events: list[dict], settings: EbSettings, named: tuple[str, str]) -> EbDetector:
    """A detector that has read ``events`` and flushed, having named ``named``."""
    det = EbDetector(settings)
    for raw in events:
        event, reason = parse_event(raw)
        assert reason is None, reason
        det.ingest(event)
    assert named in {(a.dimension, a.value) for a in det.flush()}
    return det


def test_a_small_groups_fault_is_still_not_learned_while_it_is_flagged() -> None:
    """A start crash on one session in 27 (``fridge*9.9``, under ``learn_share``, and named: an open alert learns
    nothing): its flagged windows stay out of its baseline, so the fault is never taught as normal. Without flags
    (``learn_below`` out of reach) and with an alert's units taught (``learn_alerted_units``) the same windows are
    learned."""
    pair = ("fridge", "9.9")

    def crash(t: float, dims: dict) -> dict:
        late = t - START_EPOCH_S >= 20 * 60
        return {"start_failure": 0.5} if late and (dims["device_class"], dims["app_version"]) == pair else {}

    events = steady_stream(60, 60, seed=9, groups=GROUPS, effect=crash)
    learned = {}
    for below in (0.5, 100.0):
        det = _detect(events, EbSettings(learn_below=below, learn_alerted_units=below > 1.0),
                      ("device_class*app_version", "fridge*9.9"))
        row = det.store.index[(SPEC_NAMES.index("device_class*app_version"), "fridge*9.9")]
        learned[below] = det.store.sums[row, C["vsf"]] / det.store.sums[row, C["attempts"]]
    assert learned[0.5] < 0.05 < learned[100.0], learned


def test_which_flagged_windows_a_group_learns_and_at_what_weight() -> None:
    """Unflagged: in full. Flagged: nothing, unless the group carried ``learn_share`` of the window, was not flagged on
    a fault (a new app version's start crash on one device class, learned before the pair was named, named the version
    instead on the first world's day 901) and is no open or named alert: then at ``learn_flagged``."""
    det = EbDetector(EbSettings(learn_share=0.1, learn_flagged=0.2))
    names = ["quiet", "big", "big-faulted", "big-named", "small"]
    rows = det.store.rows([(0, name) for name in names], window=0)
    counts = np.zeros((len(names), len(COLUMNS)))
    counts[:, C["beats"]] = [20.0, 30.0, 20.0, 20.0, 5.0]
    counts[:, C["stall"]] = 2.0
    contrib = np.zeros((100, len(COLUMNS)))
    contrib[:, C["beats"]] = 1.0  # the window's 100 beats: "small" carries 5%
    window = _Window(unit_rows=np.zeros((100, len(SPECS)), dtype=np.int64), contrib=contrib, rows=rows, counts=counts)
    det.store.flagged[rows[1:]] = 7
    det.store.faulted[rows[2]] = 7
    det.named[(SPEC_NAMES[0], "big-named")] = 7
    learned, weighted = det._learnable(window, 7)
    assert learned.tolist() == rows[:2].tolist()
    np.testing.assert_array_equal(weighted, counts[:2] * np.array([[1.0], [0.2]]))
    # Flags older than the window do not count: every group learns it in full.
    learned, weighted = det._learnable(window, 8)
    assert learned.tolist() == rows.tolist() and np.array_equal(weighted, counts)


def test_an_open_alert_explains_its_units_in_the_fast_lane_every_window() -> None:
    """A slow lane scored every second window (``slow_every: 2``, the default before) names a class every second
    window; the fast lane's span is 2 windows, so every other window the class was neither recently named there nor (a
    tenth of a nat under the bar) a candidate, and its crashing sessions named an app version of the class (2 false
    alerts on the first world's day 903). An open alert named within the slow lane's interval explains its units: here
    the app version's sessions are all the class's, and nothing new is named."""
    det = EbDetector(EbSettings(session_evidence=False, alias_alerts=False, slow_every=2))
    window = 100
    keys = [(si, "x") for si in range(len(SPECS))]
    dc, pair = SPEC_NAMES.index("device_class"), SPEC_NAMES.index("device_class*app_version")
    keys[dc], keys[pair] = (dc, "tv"), (pair, "tv*4.2")
    rows = det.store.rows(keys, window)
    det.store.sums[rows, C["beats"]] = 20000.0  # a long clean history
    det.pop[C["beats"]] = 1e6
    units = 40
    unit_rows = np.tile(rows, (units, 1))
    contrib = np.zeros((units, len(COLUMNS)))
    contrib[:, C["beats"]] = 1.0
    contrib[:10, C["vpf"]] = 1.0  # a quarter of the units fail mid-stream
    scored = np.array([rows[dc], rows[pair]])
    counts = np.vstack([contrib.sum(axis=0)] * 2)
    surprise = np.zeros((2, len(METRICS)))
    surprise[1, METRICS.index("playback_failure")] = 50.0  # only the pair clears the fast bar now
    det.tracker.feed(window - 2, [Cause(window - 2, "device_class", "tv", 90.0, {"lane": "slow"}, 2)])
    det.named[("device_class", "tv")] = window - 2
    causes = det._attribute(window, scored, counts, surprise, np.zeros((2, len(METRICS))), det.s.context_windows,
                            det._bars(det.s.threshold), "fast", np.zeros(len(SPECS)), _Span(unit_rows, contrib, None, contrib.sum(axis=0)))
    assert causes == [], causes
    # Once the class's alert is closed (and out of the span), the same units name the pair: the test can tell.
    det.tracker.open.clear()
    causes = det._attribute(window, scored, counts, surprise, np.zeros((2, len(METRICS))), det.s.context_windows,
                            det._bars(det.s.threshold), "fast", np.zeros(len(SPECS)), _Span(unit_rows, contrib, None, contrib.sum(axis=0)))
    assert [(c.dimension, c.value) for c in causes] == [("device_class*app_version", "tv*4.2")], causes


def test_an_alerts_sessions_teach_no_other_group() -> None:
    """A region capped to a low rung for half an hour is paged; its edges are not (the region explains them). Its
    sessions must not teach the edges that a low bitrate is normal there: once the cap lifts, an edge whose baseline
    learned the cap would judge its ordinary traffic against it (qoe_world's day 1601: a CDN pair learned the cap's
    rare stalls and paged on ordinary ones when it lifted). With ``learn_alerted_units`` the same edge learns the
    cap."""

    def cap(t: float, dims: dict) -> dict:
        on = 20 * 60 <= t - START_EPOCH_S < 50 * 60
        return {"bitrate_kbps": 800.0} if on and dims["region"] == "zz-s" else {}

    events = steady_stream(60, 60, seed=12, groups=GROUPS, effect=cap)
    learned = {}
    for taught in (False, True):
        det = _detect(events, EbSettings(learn_alerted_units=taught), ("region", "zz-s"))
        row = det.store.index[(SPEC_NAMES.index("edge"), "zz-s-e1")]
        learned[taught] = float(np.exp(det.store.sums[row, C["br_s"]] / det.store.sums[row, C["br_n"]]))
    assert learned[False] > 3000.0 > learned[True], learned
