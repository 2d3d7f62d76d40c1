"""How soon could *any* detector page? An oracle's delay on the start-time incidents of a qoe_world day.

Why (issue 19): the acceptance asks for a mean detection delay of at most 120 s. On the independent world the eb
detector's mean is carried by two incident types whose evidence arrives one session start at a time: a drift of one
edge's startup (+0 to +6 s over the incident) and a new app version crashing half its starts. This module asks what
the best possible detector would need on the same draw, so that a delay can be judged against physics rather than
against a wish.

The oracle is told everything a detector does not know: the scope, the onset, the effect and its ramp. It runs the
Neyman-Pearson sequential test of "the incident's effect" against "no incident" on the scope's start attempts from
the onset on, and pages when the cumulative log-likelihood ratio reaches ``bar`` nats (12 by default: the eb
detector's bar *before* its multiple-testing penalty, which the oracle does not pay). Any detector with a comparable
false-alarm rate needs at least about that long; a real one pays for not knowing the onset, the effect and the
scope among hundreds.

Evidence per attempt, from the events alone (this reads only the world's output files, never its source):

* a start (first beat with ``startup_s``): startup is the scope's pre-onset lognormal plus the incident's
  ``startup_add_s`` (times the elapsed share of the incident when it ``ramp``s), so its ratio is
  ``((1 - e) f(x - add) + e f(x)) / f(x)`` (``e`` = :data:`UNTOUCHED`);
* a start failure (``session_end`` with ``video_start_failure``) or a start: Bernoulli with the scope's shrunk
  pre-onset failure rate ``p0`` against ``p0 + vsf_prob * (1 - p0)``.

Exits before start are left out (the oracle ignores that evidence: its delay is slightly pessimistic for a slow
start; a drift's extra exits are a few per hour). Incident types with heartbeat evidence (throughput, mid-stream
failures, quality, latency) are not bounded here: their bound is taken as 0, so the day's bound on the *mean* delay,
``sum(oracle delays) / incidents``, is a lower bound. Besides this draw's delay, ``expected`` replays the same
attempt times with outcomes drawn from the fitted model (the oracle's delay is itself random).

    python -m benchmarks.qoe_oracle --events day0.jsonl --labels day0.labels.json [--score score.json] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from streamlab.core.errors import UsageError

BOUNDED_EFFECTS = frozenset({"startup_add_s", "vsf_prob"})
"""Effects whose evidence is entirely in start attempts (startup time, start failure)."""
PRIOR_STRENGTH = 60.0
"""Pseudo-attempts of the population's failure rate in a scope's ``p0`` (a new app version has no history)."""
UNTOUCHED = 0.02
"""Share of starts the oracle allows the effect to miss: a start quicker than the added seconds (a cached licence, a
jittered effect) would otherwise veto the test for good (13% of a DRM slowdown's starts on world seed 600 were)."""
BASELINE_S = 4 * 3600.0
MIN_BASELINE_STARTS = 30
FIELD = {"title": "title_id"}


@dataclass
class OracleDelay:
    id: str
    type: str
    scope: str
    attempts_per_min: float
    delay_s: float | None
    expected_s: float | None
    p10_s: float | None
    p90_s: float | None
    detector_s: float | None = None


def _matches(event: dict, dimension: str, value: str) -> bool:
    dims, values = dimension.split("*"), value.split("*")
    return len(dims) == len(values) and all(str(event.get(FIELD.get(d, d))) == v for d, v in zip(dims, values))


def read_attempts(events: Path) -> list[tuple[float, dict, float | None]]:
    """Every start attempt as ``(time, event, startup_s)``; ``startup_s`` None for a start failure."""
    if not events.exists():
        raise UsageError(f"events file {events} does not exist")
    started: set[str] = set()
    out: list[tuple[float, dict, float | None]] = []
    with events.open() as f:
        for n, line in enumerate(f, 1):
            if '"startup_s":null' in line and "video_start_failure" not in line:
                continue
            try:
                e = json.loads(line)
            except ValueError as exc:
                raise UsageError(f"{events}:{n}: not a JSON event ({exc.msg})") from None
            kind, sid = e.get("kind"), e.get("session_id")
            if kind == "heartbeat" and e.get("startup_s") is not None and sid not in started:
                started.add(sid)
                out.append((float(e["timestamp"]), e, float(e["startup_s"])))
            elif kind == "session_end" and e.get("outcome") == "video_start_failure":
                out.append((float(e["timestamp"]), e, None))
    out.sort(key=lambda a: a[0])
    return out


def _lognormal_logpdf(x: np.ndarray, mu: float, sd: float) -> np.ndarray:
    x = np.maximum(x, 1e-3)
    return -np.log(x * sd) - (np.log(x) - mu) ** 2 / (2 * sd * sd)


def _cross(times: np.ndarray, llr: np.ndarray, t0: float, bar: float) -> float | None:
    hit = np.flatnonzero(np.cumsum(llr) >= bar)
    return float(times[hit[0]] - t0) if len(hit) else None


def oracle_delay(incident: dict, attempts: list[tuple[float, dict, float | None]], bar: float = 12.0,
                 draws: int = 400, seed: int = 0) -> OracleDelay | None:
    """The oracle's delay for one incident, or None when its effect is not (only) in start attempts."""
    effect = {k: v for k, v in incident["effect"].items() if k not in ("ramp", "rollout_share", "reason")}
    if not effect or not set(effect) <= BOUNDED_EFFECTS:
        return None
    t0, t1, dim, value = incident["start"], incident["end"], incident["dimension"], incident["value"]
    before = [a for a in attempts if t0 - BASELINE_S <= a[0] < t0]
    scope_before = [a for a in before if _matches(a[1], dim, value)]
    during = [a for a in attempts if t0 <= a[0] < t1 and _matches(a[1], dim, value)]
    times = np.array([a[0] for a in during])
    failed = np.array([a[2] is None for a in during])
    startup = np.array([a[2] if a[2] is not None else np.nan for a in during])
    share = (times - t0) / (t1 - t0) if incident["effect"].get("ramp") else np.ones(len(times))
    add = float(effect.get("startup_add_s", 0.0)) * share
    base = [a[2] for a in scope_before if a[2] is not None]
    if len(base) < MIN_BASELINE_STARTS:
        base = [a[2] for a in before if a[2] is not None]
    logs = np.log(np.maximum(base, 0.05)) if base else np.array([0.0, 1.0])
    mu, sd = float(logs.mean()), max(float(logs.std()), 0.05)
    pop_p = sum(a[2] is None for a in before) / max(len(before), 1)
    p0 = (sum(a[2] is None for a in scope_before) + PRIOR_STRENGTH * pop_p) / (len(scope_before) + PRIOR_STRENGTH)
    p0 = min(max(p0, 1e-4), 0.5)
    p1 = p0 + float(effect.get("vsf_prob", 0.0)) * (1 - p0)

    def llr(fail: np.ndarray, x: np.ndarray) -> np.ndarray:
        out = np.where(fail, math.log(p1 / p0), math.log((1 - p1) / (1 - p0)))
        if "startup_add_s" in effect:
            ok = ~fail
            shifted = _lognormal_logpdf(x[ok] - add[ok], mu, sd) - _lognormal_logpdf(x[ok], mu, sd)
            out[ok] += np.logaddexp(math.log1p(-UNTOUCHED) + shifted, math.log(UNTOUCHED))
        return out

    span_min = (t1 - t0) / 60.0
    delay = _cross(times, llr(failed, startup), t0, bar) if len(times) else None
    rng = np.random.default_rng(seed)
    sims = []
    for _ in range(draws if len(times) else 0):
        fail = rng.random(len(times)) < p1
        x = np.exp(rng.normal(mu, sd, len(times))) + add
        d = _cross(times, llr(fail, x), t0, bar)
        sims.append(t1 - t0 if d is None else d)
    stats = (float(np.mean(sims)), float(np.percentile(sims, 10)), float(np.percentile(sims, 90))) if sims else (None,) * 3
    return OracleDelay(incident["id"], incident["type"], f"{dim}={value}", round(len(times) / span_min, 2),
                       None if delay is None else round(delay, 1), *(None if s is None else round(s, 1) for s in stats))


def bound_day(events: Path, labels: Path, bar: float = 12.0, score: Path | None = None) -> dict[str, object]:
    """Oracle delays for a day's bounded incidents and the day's lower bound on the mean delay (others count 0)."""
    try:
        lab = json.loads(labels.read_text())
        incidents = lab["incidents"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"labels {labels}: cannot read incidents ({exc})") from None
    detector: dict[str, float | None] = {}
    if score is not None:
        try:
            for day in json.loads(score.read_text())["days"]:
                detector.update({i["id"]: i["strict_delay_s"] for i in day["incidents"]})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"score {score}: not a qoe_world score JSON ({exc})") from None
    attempts = read_attempts(events)
    rows = []
    for inc in incidents:
        row = oracle_delay(inc, attempts, bar)
        if row is not None:
            row.detector_s = detector.get(inc["id"])
            rows.append(row)
    n = len(incidents)
    return {"bar": bar, "incidents": n, "bounded": [asdict(r) for r in rows],
            "mean_delay_lower_bound_s": round(sum(r.delay_s or 0.0 for r in rows) / n, 1) if n else None,
            "mean_delay_lower_bound_expected_s": round(sum(r.expected_s or 0.0 for r in rows) / n, 1) if n else None}


def table(result: dict[str, object]) -> str:
    lines = [f"{'incident':32} {'scope':40} {'att/min':>7} {'oracle_s':>8} {'expected (p10-p90)':>20} {'detector_s':>10}"]
    for r in result["bounded"]:  # type: ignore[union-attr]
        exp = "-" if r["expected_s"] is None else f"{r['expected_s']:.0f} ({r['p10_s']:.0f}-{r['p90_s']:.0f})"
        fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
        lines.append(f"{r['id']:32} {r['scope']:40} {r['attempts_per_min']:7.2f} {fmt(r['delay_s']):>8} {exp:>20} "
                     f"{fmt(r['detector_s']):>10}")
    lines.append(f"lower bound on the mean delay over {result['incidents']} incidents: "
                 f"{result['mean_delay_lower_bound_s']} s (expected {result['mean_delay_lower_bound_expected_s']} s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="An oracle's detection delay on a qoe_world day's start-time incidents.")
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--labels", type=Path, required=True)
    parser.add_argument("--score", type=Path, help="a qoe_world score JSON: show the detector's strict delays beside")
    parser.add_argument("--bar", type=float, default=12.0, help="nats the oracle's log-likelihood ratio must reach")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    try:
        if not args.bar > 0:
            raise UsageError(f"--bar must be positive, got {args.bar}")
        result = bound_day(args.events, args.labels, args.bar, args.score)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
