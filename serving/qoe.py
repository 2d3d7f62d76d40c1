"""``qoe/ingest`` and ``qoe/alerts``: player beacons in, per-event scores and alerts out.

The served model is the QoE family's registered detector (:data:`streamlab.models.qoe.family.FAMILY`),
loaded as its native :class:`~streamlab.models.qoe.model.QoeModel` (no adapter). Scoring is
stateful: windows close as event time passes and alerts need consecutive windows, so the service
keeps **one** :class:`~streamlab.models.qoe.streaming.StreamingDetector` for every caller, guarded by
a lock (BentoML runs handlers on several threads), and hands each request to the family's one
decision (:func:`streamlab.models.qoe.decide.decide`). When the registry alias moves, the next request
starts a new detector on the new version (its windows start empty); alerts opened so far are kept.

The body is a JSON list of events (the telemetry schema, :mod:`streamlab.models.qoe.telemetry`): the web
player batches its beacons. An invalid event is rejected with its reason in the answer and
counted in the metrics, never dropped silently; the valid events beside it are scored. The answers
are the family's wire types (:class:`~streamlab.models.qoe.decide.QoeIngestResponse`,
:class:`~streamlab.models.qoe.decide.QoeAlertsResponse`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from streamlab.models.qoe.alerts import Alert
from streamlab.models.qoe.decide import AlertRequest, QoeAlertsResponse, QoeIngestResponse, decide
from streamlab.models.qoe.model import QoeModel
from streamlab.models.qoe.streaming import StreamingDetector
from streamlab.serving.registry import LoadedModel


class QoeIngestor:
    """The one detector state of the service; every method takes the lock."""

    def __init__(self, max_alerts_kept: int) -> None:
        self._lock = threading.Lock()
        self._detector: StreamingDetector | None = None
        self._version: str | None = None
        self._alerts: OrderedDict[str, Alert] = OrderedDict()
        self._max_alerts = max_alerts_kept

    def ingest(self, loaded: LoadedModel[QoeModel], events: list[Any]) -> QoeIngestResponse:
        with self._lock:
            if self._detector is None or self._version != loaded.version:
                self._detector = StreamingDetector(loaded.model)
                self._version = loaded.version
            answer = decide(self._detector, AlertRequest(events=events))
            for alert in answer.alerts_opened:
                self._alerts[alert.id] = alert
                self._alerts.move_to_end(alert.id)
            while len(self._alerts) > self._max_alerts:
                self._alerts.popitem(last=False)
        return QoeIngestResponse(**dict(answer), model_version=loaded.version)

    def alerts(self) -> QoeAlertsResponse:
        with self._lock:
            closed = self._detector.windows_closed if self._detector else 0
            return QoeAlertsResponse(
                alerts=list(self._alerts.values()), model_version=self._version, windows_closed=closed
            )
