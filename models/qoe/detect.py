"""Scoring a whole events file: batch (local or Ray Data shards) or as a stream, to alerts.

Batch: events → units → attributed causes per window → alerts. ``engine="local"`` scores the whole
span in this process. ``engine="ray"`` cuts the units into time shards (each carrying
``history_windows`` of history before its first scored window), scores the shards with Ray Data
``map_batches`` on the cluster's CPUs, and assembles alerts on the driver; both call
:meth:`streamlab.models.qoe.model.QoeModel.window_causes`, which applies the one alert rule
(:meth:`~streamlab.models.qoe.model.QoeModel.decide_window`) to every window, so they give the same alerts.

Stream (:func:`detect_stream`): the file's events in beacon-sized batches through the family's
decision (:func:`streamlab.models.qoe.decide.decide`), exactly as ``/qoe/ingest`` scores them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from streamlab.models.qoe.alerts import Alert, AlertTracker, Cause
from streamlab.models.qoe.decide import AlertRequest, decide
from streamlab.models.qoe.errors import DetectorError, TelemetryError
from streamlab.models.qoe.ingest import IngestResult, iter_jsonl, read_events
from streamlab.models.qoe.model import QoeModel
from streamlab.models.qoe.streaming import StreamingDetector
from streamlab.models.qoe.windows import units_from_frames

CAUSE_COLUMNS = ["window", "dimension", "value", "score", "evidence"]
STREAM_BATCH = 5000
"""Events per :func:`decide` call when a file is streamed (about one ``/qoe/ingest`` request's worth)."""


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


@dataclass
class StreamResult:
    alerts: list[Alert]
    accepted: int
    rejected: int


def detect_stream(model: QoeModel, events: Path, batch: int = STREAM_BATCH) -> StreamResult:
    """Every event of ``events`` (JSONL lines as they are; parquet rows in time order) through :func:`decide`."""
    events = Path(events)
    stream = StreamingDetector(model)
    accepted = rejected = 0
    if events.suffix.lower() == ".parquet":
        parsed = read_events(events)
        rejected = len(parsed.rejects)
        items: Iterable[Any] = sorted(parsed.heartbeats + parsed.summaries, key=lambda e: e.timestamp)
    else:
        if not events.is_file():
            raise TelemetryError(f"{events}: events file not found")
        items = (line for line in iter_jsonl(events) if line.strip())
    for chunk in _chunks(items, batch):
        answer = decide(stream, AlertRequest(events=chunk))
        accepted += answer.accepted
        rejected += answer.rejected
    return StreamResult(stream.flush(), accepted, rejected)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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
