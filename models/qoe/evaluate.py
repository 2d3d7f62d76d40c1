"""Incident-level metrics of alerts against ground truth (the issue's acceptance criteria).

* An incident is **found** when an alert on its exact ``(dimension, value)`` overlaps
  ``[start, end]`` in time (the alert's ``start .. end`` span, or its ``detected_at``).
* An alert is **true** when it overlaps an incident whose scope it is consistent with: the same group,
  or the same branch of the region/edge hierarchy (an edge alert inside a collapsed region names the
  right place, too narrowly; it is not a false page). Every other alert is a **false alert**.
* **F1** = harmonic mean of recall (found / incidents) and precision (true alerts / alerts).
* **Delay** of a found incident = first matching alert's ``detected_at`` - incident start (>= 0).
* **Cause accuracy** = among incidents with any consistent overlapping alert, the share whose first
  such alert names the exact dimension of the incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamlab.models.qoe.alerts import Alert
from streamlab.models.qoe.labels import Incident

SLACK_S = 60.0
"""An alert that closes at most this long before an incident starts, or detects this soon after it ends, still overlaps."""


@dataclass
class Metrics:
    incidents: int
    found: int
    alerts: int
    true_alerts: int
    false_alerts: int
    days: float
    delays_s: list[float] = field(default_factory=list)
    cause_right: int = 0
    cause_judged: int = 0
    per_incident: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.incidents if self.incidents else 1.0

    @property
    def precision(self) -> float:
        return self.true_alerts / self.alerts if self.alerts else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def summary(self) -> dict[str, Any]:
        d = self.delays_s
        return {
            "incidents": self.incidents, "found": self.found, "alerts": self.alerts, "false_alerts": self.false_alerts,
            "recall": round(self.recall, 4), "precision": round(self.precision, 4), "f1": round(self.f1, 4),
            "delay_mean_s": round(float(np.mean(d)), 1) if d else None,
            "delay_median_s": round(float(np.median(d)), 1) if d else None,
            "delay_max_s": round(float(np.max(d)), 1) if d else None,
            "false_alerts_per_day": round(self.false_alerts / self.days, 3) if self.days else None,
            "cause_accuracy": round(self.cause_right / self.cause_judged, 4) if self.cause_judged else None,
        }


def _overlaps(alert: Alert, inc: Incident) -> bool:
    return alert.start <= inc.end_s + SLACK_S and max(alert.end, alert.detected_at) >= inc.start_s - SLACK_S and \
        alert.detected_at <= inc.end_s + SLACK_S


def _consistent(alert: Alert, inc: Incident, edge_region: dict[str, str]) -> bool:
    if (alert.dimension, alert.value) == (inc.dimension, inc.value):
        return True
    if alert.dimension == "edge" and inc.dimension == "region":
        return edge_region.get(alert.value) == inc.value
    if alert.dimension == "region" and inc.dimension == "edge":
        return edge_region.get(inc.value) == alert.value
    scope = f"{inc.dimension}={inc.value}"  # an alias names exactly the cause's sessions (eb ``alias_alerts``)
    return alert.evidence.get("alias_of") == scope or scope in alert.evidence.get("aliases", [])


def evaluate(alerts: Sequence[Alert], incidents: Sequence[Incident], days: float,
             edge_region: dict[str, str]) -> Metrics:
    metrics = Metrics(len(incidents), 0, len(alerts), 0, 0, days)
    for inc in incidents:
        consistent = sorted((a for a in alerts if _overlaps(a, inc) and _consistent(a, inc, edge_region)),
                            key=lambda a: a.detected_at)
        exact = [a for a in consistent if (a.dimension, a.value) == (inc.dimension, inc.value)]
        row: dict[str, Any] = {"id": inc.id, "kind": inc.kind, "scope": f"{inc.dimension}={inc.value}", "found": bool(exact)}
        if exact:
            metrics.found += 1
            delay = max(exact[0].detected_at - inc.start_s, 0.0)
            metrics.delays_s.append(delay)
            row["delay_s"] = round(delay, 1)
        if consistent:
            metrics.cause_judged += 1
            metrics.cause_right += int(consistent[0].dimension == inc.dimension)
            row["first_alert"] = f"{consistent[0].dimension}={consistent[0].value}"
        metrics.per_incident.append(row)
    for alert in alerts:
        if any(_overlaps(alert, inc) and _consistent(alert, inc, edge_region) for inc in incidents):
            metrics.true_alerts += 1
        else:
            metrics.false_alerts += 1
    return metrics


def combine(runs: Sequence[Metrics]) -> Metrics:
    """Pool several scenarios (held-out seeds) into one set of metrics."""
    out = Metrics(0, 0, 0, 0, 0, 0.0)
    for m in runs:
        out.incidents += m.incidents
        out.found += m.found
        out.alerts += m.alerts
        out.true_alerts += m.true_alerts
        out.false_alerts += m.false_alerts
        out.days += m.days
        out.delays_s += m.delays_s
        out.cause_right += m.cause_right
        out.cause_judged += m.cause_judged
        out.per_incident += m.per_incident
    return out
