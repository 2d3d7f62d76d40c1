"""Faults during a crowd: restart tiers on a schedule, then read how long the crowd took to recover.

Recovery is read from the viewers' own latency-to-live samples (one a second each, wall-stamped):
the *baseline* is their median over ``baseline_s`` before the tier went down; the crowd has
recovered at the end of the first one-second bin after the tier came back whose median is within
``recovery_tolerance_s`` of the baseline. Stalled viewers take no samples, so a bin's median is
that of the viewers playing; a bin with none playing is not recovered.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from streamlab.pipelines.peak.settings import FaultSettings
from streamlab.streaming.delivery.engines.faults import Fault, parse_faults, request_fault

RESTART_TIMEOUT_S = 30.0
BIN_S = 1.0


class FaultSchedule:
    """Runs ``plan`` from ``start_wall`` on (a background thread) and keeps each fault's outcome."""

    def __init__(self, settings: FaultSettings, fault_dir: Path, start_wall: float) -> None:
        self.settings = settings
        self.faults: list[Fault] = parse_faults(settings.plan)
        self.fault_dir = fault_dir
        self.start_wall = start_wall
        self.outcomes: list[dict[str, object]] = []
        self.cancelled = threading.Event()
        self.thread = threading.Thread(target=self._run, name="peak-faults", daemon=True)

    def _run(self) -> None:
        due = self.start_wall + self.settings.first_at_s
        for number, fault in enumerate(self.faults):
            if self.cancelled.wait(max(0.0, due - time.time())):
                return
            outcome = request_fault(self.fault_dir, number, fault, RESTART_TIMEOUT_S)
            self.outcomes.append({"fault": f"{fault.tier}{fault.index or ''}:{fault.down_s:g}", **outcome})
            due = time.time() + self.settings.gap_s


@contextmanager
def fault_folder(settings: FaultSettings) -> Iterator[Path | None]:
    """The folder the cluster watches for fault requests (None without a plan)."""
    if not settings.plan:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="streamlab-faults-") as folder:
        yield Path(folder)


def start_schedule(settings: FaultSettings, fault_dir: Path | None, start_wall: float) -> FaultSchedule | None:
    if fault_dir is None:
        return None
    schedule = FaultSchedule(settings, fault_dir, start_wall)
    schedule.thread.start()
    return schedule


def finish_schedule(schedule: FaultSchedule | None) -> list[dict[str, object]]:
    if schedule is None:
        return []
    schedule.cancelled.set()
    schedule.thread.join(timeout=RESTART_TIMEOUT_S + 130)
    return schedule.outcomes


def recovery(viewers: list[dict], outcomes: list[dict[str, object]], settings: FaultSettings, end_wall: float) -> list[dict[str, object]]:
    """Per fault: the baseline latency, the worst bin while it lasted and the recovery time (None: not seen)."""
    stamps = np.array([t for v in viewers for t in v["latency_at"]])
    values = np.array([x for v in viewers for x in v["latency_s"]])
    out = []
    for outcome in outcomes:
        if "error" in outcome:
            out.append(outcome)
            continue
        down_at, up_at = float(outcome["down_at"]), float(outcome["up_at"])  # type: ignore[arg-type]
        before = values[(stamps >= down_at - settings.baseline_s) & (stamps < down_at)]
        baseline = float(np.median(before)) if before.size else None
        recovered_s = None
        worst = None
        t = up_at
        while baseline is not None and t + BIN_S <= end_wall:
            in_bin = values[(stamps >= t) & (stamps < t + BIN_S)]
            if in_bin.size:
                median = float(np.median(in_bin))
                worst = max(worst or median, median)
                if median <= baseline + settings.recovery_tolerance_s:
                    recovered_s = round(t + BIN_S - up_at, 1)
                    break
            t += BIN_S
        out.append({**outcome, "down_s": round(up_at - down_at, 2),
                    "baseline_latency_s": round(baseline, 3) if baseline is not None else None,
                    "worst_latency_after_s": round(worst, 3) if worst is not None else None,
                    "recovery_s": recovered_s,
                    "recovered_within_limit": recovered_s is not None and recovered_s <= settings.recovery_limit_s})
    return out
