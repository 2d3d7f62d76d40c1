"""``qoe/ingest`` and ``qoe/alerts``: player beacons in, per-event scores and alerts out.

The served model is the QoE detector (:class:`streamlab.models.qoe.model.QoeModel`, registered as
``qoe-detector`` by ``streamlab qoe train``). Scoring is stateful: windows close as event time
passes and alerts need consecutive windows, so the service keeps **one**
:class:`~streamlab.models.qoe.streaming.StreamingDetector` for every caller, guarded by a lock (BentoML
runs handlers on several threads). When the registry alias moves, the next request starts a new
detector on the new version (its windows start empty); alerts opened so far are kept.

The body is a JSON list of events (the telemetry schema, :mod:`streamlab.models.qoe.telemetry`): the web
player batches its beacons. An invalid event is rejected with its reason in the answer and
counted in the metrics, never dropped silently; the valid events beside it are scored.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from streamlab.models.qoe.alerts import Alert
from streamlab.models.qoe.streaming import EventScore, StreamingDetector
from streamlab.serving.registry import LoadedModel, ModelLoadError


class QoeIngestResponse(BaseModel):
    scores: list[EventScore]
    """One per event, in request order: accepted (with its window's scores) or rejected (with why)."""
    accepted: int
    rejected: int
    alerts_opened: list[Alert]
    model_version: str


class QoeAlertsResponse(BaseModel):
    alerts: list[Alert]
    model_version: str | None
    windows_closed: int


def load_qoe_detector(directory: Path) -> Any:
    """The registry loader: the detector artifact folder (``model.json``) inside a ``qoe-detector`` version."""
    from streamlab.models.qoe.model import QoeModel

    found = sorted(Path(directory).rglob("model.json"), key=lambda p: len(p.parts))
    if not found:
        raise ModelLoadError(f"{directory}: no QoE detector artifact (model.json) inside this version")
    return QoeModel.load(found[0].parent)


class QoeIngestor:
    """The one detector state of the service; every method takes the lock."""

    def __init__(self, max_alerts_kept: int) -> None:
        self._lock = threading.Lock()
        self._detector: StreamingDetector | None = None
        self._version: str | None = None
        self._alerts: OrderedDict[str, Alert] = OrderedDict()
        self._max_alerts = max_alerts_kept

    def ingest(self, loaded: LoadedModel[Any], events: list[Any]) -> QoeIngestResponse:
        with self._lock:
            if self._detector is None or self._version != loaded.version:
                self._detector = StreamingDetector(loaded.model)
                self._version = loaded.version
            scores, opened = self._detector.ingest(events)
            for alert in opened:
                self._alerts[alert.id] = alert
                self._alerts.move_to_end(alert.id)
            while len(self._alerts) > self._max_alerts:
                self._alerts.popitem(last=False)
        accepted = sum(1 for s in scores if s.accepted)
        return QoeIngestResponse(
            scores=scores,
            accepted=accepted,
            rejected=len(scores) - accepted,
            alerts_opened=opened,
            model_version=loaded.version,
        )

    def alerts(self) -> QoeAlertsResponse:
        with self._lock:
            closed = self._detector.windows_closed if self._detector else 0
            return QoeAlertsResponse(
                alerts=list(self._alerts.values()), model_version=self._version, windows_closed=closed
            )
