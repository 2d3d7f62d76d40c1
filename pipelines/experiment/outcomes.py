"""Beacons to per-viewer outcomes by arm: the join the report's statistics run on.

An experiment-period session is attributed to an arm through the exposure log (``session_id`` →
arm, written when the viewer was assigned) when it is there; otherwise through the arm its beacon
carries (``arms``: ``{experiment: arm}`` or the edge's ``X-Streamlab-Arms`` value ``exp=arm;...``),
so players that were never logged by a harness (a browser, the demo's viewers) still count. A
beacon's claim is believed only when it is the viewer's own arm (the assignment is a hash of the
viewer id, so the report recomputes it): a player that lies or is misconfigured cannot move a
session to another arm, and a beacon of no exposed session with no valid claim is ignored.
The pre-period covariate is each viewer's mean over their session summaries in the
``pre_period_s`` before the start, whatever arm (none) they were in then.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from streamlab.core.errors import StreamlabError
from streamlab.streaming.experiment.definition import Experiment
from streamlab.streaming.experiment.edge import parse_header
from streamlab.streaming.experiment.settings import METRICS


class OutcomeError(StreamlabError):
    """An exposure or beacon file cannot be read."""


def session_metrics(summary: dict) -> dict[str, float | None]:
    """One ``session_end`` beacon's report metrics (``None`` where the session has no value, e.g. a failure)."""
    play, stall = float(summary.get("play_s", 0.0)), float(summary.get("rebuffer_s", 0.0))
    failed = bool(summary.get("playback_failed", False))
    return {
        "qoe": None if failed or summary.get("chunk_qoe_mean") is None else float(summary["chunk_qoe_mean"]),
        "rebuffer_ratio": stall / (play + stall) if play + stall > 0 else None,
        "startup_s": None if summary.get("startup_s") is None else float(summary["startup_s"]),
        "bitrate_kbps": None if failed else float(summary.get("avg_bitrate_kbps", 0.0)),
    }


def read_jsonl(paths: Iterable[Path]) -> Iterable[dict]:
    for path in paths:
        if not path.is_file():
            raise OutcomeError(f"{path}: no such file")
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    raise OutcomeError(f"{path}:{number}: not a JSON line") from None
                if isinstance(row, dict):
                    yield row


def _timestamp(row: dict) -> float:
    """The beacon's epoch seconds; -1 (before any experiment) when missing or not a number."""
    try:
        return float(row.get("timestamp", -1.0))
    except (TypeError, ValueError):
        return -1.0


def claimed_arm(experiment: Experiment, row: dict) -> str | None:
    """The arm a beacon says its session played, when that is believable: an arm of the experiment, the
    viewer's own (by the hash), and a session that ended after the start; ``None`` otherwise."""
    arms, session, viewer = row.get("arms"), row.get("session_id"), row.get("viewer_id")
    if isinstance(arms, str):
        arms = parse_header(arms)
    if not isinstance(arms, dict) or not isinstance(session, str) or not isinstance(viewer, str) or not viewer:
        return None
    claimed = arms.get(experiment.name)
    if claimed not in experiment.arm_names() or _timestamp(row) < experiment.started_at:
        return None
    return claimed if experiment.assign(viewer).name == claimed else None


@dataclass
class ArmOutcomes:
    """Per viewer of one arm: the mean of each metric over their sessions, and their pre-period covariate."""

    viewers: list[str] = field(default_factory=list)
    sessions: int = 0
    failed_sessions: int = 0
    metrics: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in METRICS})
    """metric -> one value per viewer (NaN where the viewer has none), aligned with ``viewers``."""
    pre: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in METRICS})


def collect(experiment: Experiment, exposures: Path, beacons: Sequence[Path], pre_period_s: float) -> dict[str, ArmOutcomes]:
    """``{arm: ArmOutcomes}`` from the exposure log and the beacon files."""
    arm_of: dict[str, str] = {}
    viewer_arm: dict[str, str] = {}
    names = set(experiment.arm_names())
    for row in read_jsonl([exposures]) if exposures.is_file() else []:
        arm, session, viewer = row.get("arm"), row.get("session_id"), row.get("viewer_id")
        if arm in names and isinstance(session, str) and isinstance(viewer, str):
            arm_of[session] = arm
            viewer_arm.setdefault(viewer, arm)
    during: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    before: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    sessions: dict[str, int] = defaultdict(int)
    failed: dict[str, int] = defaultdict(int)
    start = experiment.started_at
    for row in read_jsonl(beacons):
        if row.get("kind") != "session_end" or not isinstance(row.get("viewer_id"), str):
            continue
        viewer, values = row["viewer_id"], session_metrics(row)
        claimed = claimed_arm(experiment, row) if row.get("session_id") not in arm_of else None
        if claimed is not None:
            arm_of[row["session_id"]] = claimed
            viewer_arm.setdefault(viewer, claimed)
        if row.get("session_id") in arm_of:
            sessions[viewer] += 1
            failed[viewer] += bool(row.get("playback_failed"))
            for metric, value in values.items():
                if value is not None:
                    during[viewer][metric].append(value)
        elif start - pre_period_s <= _timestamp(row) < start:
            for metric, value in values.items():
                if value is not None:
                    before[viewer][metric].append(value)
    outcomes = {name: ArmOutcomes() for name in experiment.arm_names()}
    for viewer, arm in viewer_arm.items():
        if sessions[viewer] == 0:
            continue  # assigned but no beacon yet: not a sample (SRM would catch beacons lost by arm)
        out = outcomes[arm]
        out.viewers.append(viewer)
        out.sessions += sessions[viewer]
        out.failed_sessions += failed[viewer]
        for metric in METRICS:
            seen, pre = during[viewer][metric], before[viewer][metric]
            out.metrics[metric].append(float(np.mean(seen)) if seen else float("nan"))
            out.pre[metric].append(float(np.mean(pre)) if pre else float("nan"))
    return outcomes
