"""Score a detector's alerts (SCHEMA.md alert format) against this world's labels.

Definitions (chosen before any detector was run on this world, and kept whatever it scores):

* An alert covers ``[start, max(end, detected_at)]``; an incident covers ``[start, end + grace]``.
* **detected** (loose): some alert's cover overlaps the incident's cover, whatever it names.
* **strict**: some alert with ``dimension``/``value`` equal to the incident's scope and
  ``detected_at`` within ``[start, end + grace]``.
* **delay**: first qualifying ``detected_at`` - incident start (never negative).
* **false alerts**: alerts overlapping no incident, deduplicated by (dimension, value) per day.
* **precision**: alert groups (distinct dimension/value per day) that overlap an incident, over
  those plus the false groups; strict precision counts only groups naming a scope. Alerts that
  overlap an incident but name something else are *collateral*: neither true nor false, counted.
* F1 = 2PR/(P+R), loose and strict.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from streamlab.core.errors import UsageError

DEFAULT_GRACE_S = 600.0


@dataclass
class IncidentScore:
    day: int
    id: str
    type: str
    scope: str
    detected: bool
    strict: bool
    delay_s: float | None
    strict_delay_s: float | None
    strict_alert: str | None


@dataclass
class DayScore:
    day: int
    alerts: int
    incidents: list[IncidentScore]
    false_groups: list[str]
    collateral_groups: list[str]
    true_groups: list[str]
    strict_groups: list[str]
    decoy_alerts: list[str]


def read_alerts(path: Path) -> list[dict]:
    """Alerts JSONL; a line that is not an alert object is an error, not a silent skip."""
    alerts = []
    if not path.exists():
        raise UsageError(f"alerts file {path} does not exist")
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            alert = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{n}: invalid JSON: {exc.msg}") from None
        missing = [k for k in ("dimension", "value", "start", "end", "detected_at") if k not in alert]
        if not isinstance(alert, dict) or missing:
            raise UsageError(f"{path}:{n}: not an alert (missing {', '.join(missing)})")
        alerts.append(alert)
    return alerts


def _covers(alert: dict) -> tuple[float, float]:
    return float(alert["start"]), max(float(alert["end"]), float(alert["detected_at"]))


V1_ALIASES: dict[str, str] = {"device": "device_class"}
"""A detector reading telemetry v1 names the device class ``device``; only used when asked for."""


def rename_dimensions(alerts: list[dict], aliases: dict[str, str]) -> list[dict]:
    """Alerts with dimension names (each part of a pair) mapped through ``aliases``."""
    return [{**a, "dimension": "*".join(aliases.get(d, d) for d in str(a["dimension"]).split("*"))} for a in alerts]


def score_day(alerts: list[dict], labels: dict, grace_s: float = DEFAULT_GRACE_S) -> DayScore:
    """Score one day's alerts against its labels."""
    incidents = labels["incidents"]
    day = int(labels.get("day", 0))
    scores: list[IncidentScore] = []
    overlapping: list[set[str]] = [set() for _ in alerts]  # incident ids each alert overlaps
    strict_alerts: set[int] = set()
    for inc in incidents:
        i_start, i_end = float(inc["start"]), float(inc["end"]) + grace_s
        loose_at: list[float] = []
        strict_hits: list[tuple[float, str]] = []
        for k, alert in enumerate(alerts):
            a_start, a_end = _covers(alert)
            if a_start <= i_end and a_end >= i_start:
                overlapping[k].add(inc["id"])
                loose_at.append(float(alert["detected_at"]))
                if (alert["dimension"], str(alert["value"])) == (inc["dimension"], inc["value"]) and \
                        i_start <= float(alert["detected_at"]) <= i_end:
                    strict_hits.append((float(alert["detected_at"]), str(alert.get("id", ""))))
                    strict_alerts.add(k)
        first_strict = min(strict_hits) if strict_hits else None
        scores.append(IncidentScore(
            day=day, id=inc["id"], type=inc["type"], scope=f"{inc['dimension']}={inc['value']}",
            detected=bool(loose_at),
            strict=first_strict is not None,
            delay_s=max(0.0, min(loose_at) - float(inc["start"])) if loose_at else None,
            strict_delay_s=max(0.0, first_strict[0] - float(inc["start"])) if first_strict else None,
            strict_alert=first_strict[1] if first_strict else None,
        ))
    decoy_scopes = {f"{d['dimension']}={d['value']}" for d in labels.get("decoys", [])}
    false_groups: set[str] = set()
    true_groups: set[str] = set()
    strict_groups: set[str] = set()
    decoy_alerts: set[str] = set()
    for k, alert in enumerate(alerts):
        group = f"{alert['dimension']}={alert['value']}"
        if overlapping[k]:
            true_groups.add(group)
            if k in strict_alerts:
                strict_groups.add(group)
        else:
            false_groups.add(group)
        if group in decoy_scopes or str(alert["value"]).endswith("m-premiere"):
            decoy_alerts.add(group)
    collateral = true_groups - strict_groups
    return DayScore(day, len(alerts), scores, sorted(false_groups), sorted(collateral), sorted(true_groups),
                    sorted(strict_groups), sorted(decoy_alerts))


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def summarize(days: list[DayScore]) -> dict[str, object]:
    """Totals over days: recall, precision, F1 (loose and strict), delays, false alerts per day."""
    incs = [s for d in days for s in d.incidents]
    n = max(len(incs), 1)
    recall = sum(s.detected for s in incs) / n
    strict_recall = sum(s.strict for s in incs) / n
    n_false = sum(len(d.false_groups) for d in days)
    n_true = sum(len(d.true_groups) for d in days)
    n_strict = sum(len(d.strict_groups) for d in days)
    precision = n_true / (n_true + n_false) if n_true + n_false else 1.0
    strict_precision = n_strict / (n_strict + n_false) if n_strict + n_false else 1.0
    delays = [s.delay_s for s in incs if s.delay_s is not None]
    strict_delays = [s.strict_delay_s for s in incs if s.strict_delay_s is not None]
    by_type: dict[str, dict[str, int]] = {}
    for s in incs:
        row = by_type.setdefault(s.type, {"n": 0, "detected": 0, "strict": 0})
        row["n"] += 1
        row["detected"] += s.detected
        row["strict"] += s.strict
    return {
        "days": len(days),
        "incidents": len(incs),
        "detected": sum(s.detected for s in incs),
        "strict": sum(s.strict for s in incs),
        "recall": recall,
        "strict_recall": strict_recall,
        "precision": precision,
        "strict_precision": strict_precision,
        "f1": _f1(precision, recall),
        "strict_f1": _f1(strict_precision, strict_recall),
        "mean_delay_s": sum(delays) / len(delays) if delays else None,
        "mean_strict_delay_s": sum(strict_delays) / len(strict_delays) if strict_delays else None,
        "false_alerts_per_day": n_false / max(len(days), 1),
        "collateral_groups": sum(len(d.collateral_groups) for d in days),
        "decoy_alerts": sum(len(d.decoy_alerts) for d in days),
        "alerts": sum(d.alerts for d in days),
        "by_type": by_type,
    }


def table(days: list[DayScore], summary: dict[str, object]) -> str:
    """A plain-text table: one row per incident, then the totals."""
    lines = [f"{'incident':34} {'scope':44} {'det':>3} {'strict':>6} {'delay_s':>8} {'strict_s':>8}"]
    for d in days:
        for s in d.incidents:
            delay = "-" if s.delay_s is None else f"{s.delay_s:.0f}"
            sdelay = "-" if s.strict_delay_s is None else f"{s.strict_delay_s:.0f}"
            lines.append(f"{s.id:34} {s.scope[:44]:44} {'y' if s.detected else '.':>3} "
                         f"{'y' if s.strict else '.':>6} {delay:>8} {sdelay:>8}")
        if d.false_groups:
            lines.append(f"  day {d.day} false alerts: {', '.join(d.false_groups)}")
    fmt = lambda v: "-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)  # noqa: E731
    keys = ("incidents", "detected", "strict", "f1", "strict_f1", "mean_delay_s", "mean_strict_delay_s",
            "false_alerts_per_day", "collateral_groups", "decoy_alerts")
    lines.append("  ".join(f"{k}={fmt(summary[k])}" for k in keys))
    return "\n".join(lines)


def score_files(
    pairs: list[tuple[Path, Path]], grace_s: float = DEFAULT_GRACE_S, aliases: dict[str, str] | None = None
) -> tuple[list[DayScore], dict[str, object]]:
    """Score (alerts, labels) file pairs, one per day."""
    days = []
    for alerts_path, labels_path in pairs:
        if not labels_path.exists():
            raise UsageError(f"labels file {labels_path} does not exist")
        alerts = rename_dimensions(read_alerts(alerts_path), aliases or {})
        days.append(score_day(alerts, json.loads(labels_path.read_text()), grace_s))
    return days, summarize(days)


def to_json(days: list[DayScore], summary: dict[str, object]) -> dict[str, object]:
    return {"summary": summary, "days": [asdict(d) for d in days]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score alerts against qoe_world labels.")
    parser.add_argument("--alerts", type=Path, nargs="+", required=True)
    parser.add_argument("--labels", type=Path, nargs="+", required=True)
    parser.add_argument("--grace-s", type=float, default=DEFAULT_GRACE_S)
    parser.add_argument("--json", type=Path, help="write the full score here")
    parser.add_argument("--v1-names", action="store_true", help="read the v1 alert dimension `device` as `device_class`")
    args = parser.parse_args(argv)
    if len(args.alerts) != len(args.labels):
        print("error: give one --labels file per --alerts file", file=sys.stderr)
        return 2
    try:
        pairs = list(zip(args.alerts, args.labels, strict=True))
        days, summary = score_files(pairs, args.grace_s, V1_ALIASES if args.v1_names else None)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(days, summary))
    if args.json:
        args.json.write_text(json.dumps(to_json(days, summary), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
