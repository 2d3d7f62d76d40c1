"""Batch scoring: events file → units → attributed causes per window → alerts.

``engine="local"`` scores the whole span in this process. ``engine="ray"`` cuts the units into
time shards (each carrying ``history_windows`` of history before its first scored window), scores
the shards with Ray Data ``map_batches`` on the cluster's CPUs, and assembles alerts on the
driver; both call :meth:`streamlab.models.qoe.model.QoeModel.window_causes`, so they give the same alerts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from streamlab.models.qoe.alerts import Alert, AlertTracker, Cause
from streamlab.models.qoe.model import QoeModel
from streamlab.models.qoe.windows import units_from_frames
from streamlab.pipelines.qoe.ingest import IngestResult, read_events

CAUSE_COLUMNS = ["window", "dimension", "value", "score", "evidence"]


@dataclass
class DetectResult:
    alerts: list[Alert]
    ingest: dict[str, Any]
    windows: int
    units: int


def detect_frames(model: QoeModel, heartbeats: pd.DataFrame, summaries: pd.DataFrame, engine: str = "local",
                  shards: int = 4) -> tuple[list[Alert], int, int]:
    units = units_from_frames(heartbeats, summaries, model.detection.window_s, model.score)
    if len(units) == 0:
        return [], 0, 0
    first, last = int(units["window"].iloc[0]), int(units["window"].iloc[-1])
    if engine == "ray":
        causes = _ray_causes(model, units, first, last, shards)
    elif engine == "local":
        causes = model.window_causes(units, first, last)
    else:
        from streamlab.models.qoe.errors import DetectorError

        raise DetectorError(f"unknown engine {engine!r}; valid: local, ray")
    return alerts_from_causes(model, causes), last - first + 1, len(units)


def alerts_from_causes(model: QoeModel, causes: list[Cause]) -> list[Alert]:
    tracker = AlertTracker(model.detection.window_s, model.detector.threshold, model.detector.name,
                           model.detection.confirm_windows, model.detection.close_after_windows,
                           model.detection.instant_ratio)
    by_window: dict[int, list[Cause]] = {}
    for cause in causes:
        by_window.setdefault(cause.window, []).append(cause)
    for window in sorted(by_window):
        tracker.feed(window, by_window[window])
    return tracker.finish()


def detect_file(model: QoeModel, events: Path, engine: str = "local") -> tuple[DetectResult, IngestResult]:
    ingest = read_events(events)
    hb, se = ingest.frames()
    alerts, windows, units = detect_frames(model, hb, se, engine)
    return DetectResult(alerts, ingest.summary(), windows, units), ingest


def _ray_causes(model: QoeModel, units: pd.DataFrame, first: int, last: int, shards: int) -> list[Cause]:
    import ray.data

    from streamlab.core.ray_runtime import init_ray

    init_ray()
    bounds = np.linspace(first, last + 1, shards + 1).astype(int)
    win = units["window"].to_numpy()
    blocks = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=False):
        if hi <= lo:
            continue
        a = np.searchsorted(win, lo - model.history_windows, side="left")
        b = np.searchsorted(win, hi - 1, side="right")
        blocks.append(units.iloc[a:b].assign(_first=lo, _last=hi - 1))

    def score_shard(batch: pd.DataFrame) -> pd.DataFrame:
        lo, hi = int(batch["_first"].iloc[0]), int(batch["_last"].iloc[0])
        found = model.window_causes(batch.drop(columns=["_first", "_last"]).reset_index(drop=True), lo, hi)
        # Evidence travels as JSON text: Arrow would turn dicts with differing keys into padded structs.
        return pd.DataFrame([{"window": c.window, "dimension": c.dimension, "value": c.value, "score": c.score,
                              "evidence": json.dumps(c.evidence)} for c in found], columns=CAUSE_COLUMNS)

    dataset = ray.data.from_pandas(blocks)
    rows = dataset.map_batches(score_shard, batch_format="pandas", batch_size=None).take_all()
    return [Cause(int(r["window"]), r["dimension"], r["value"], float(r["score"]), json.loads(r["evidence"])) for r in rows]
