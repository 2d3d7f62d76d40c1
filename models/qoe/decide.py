"""The QoE alert decision, typed: a batch of telemetry events in, per-event scores and the alerts it opened out.

Every caller goes through :func:`decide`: the served ``/qoe/ingest`` endpoint
(:mod:`streamlab.serving.qoe`), ``streamlab qoe detect --mode stream`` and the registered pyfunc
(:mod:`streamlab.models.qoe.pyfunc`). Scoring is stateful (windows close as event time passes,
alerts need consecutive windows), so :func:`decide` advances a
:class:`~streamlab.models.qoe.streaming.StreamingDetector` the caller keeps; whoever owns the
stream owns the detector (the service keeps one for every player, a file keeps one for its lines).
Each window that closes is judged by :meth:`QoeModel.decide_window
<streamlab.models.qoe.model.QoeModel.decide_window>`, the rule batch scoring (local or Ray Data
shards, :mod:`streamlab.models.qoe.detect`) applies too, so both raise the same alerts.

The request and response here are also the wire contract of ``/qoe/ingest`` and ``/qoe/alerts``
(:class:`QoeIngestResponse`, :class:`QoeAlertsResponse`): a client reads them from the family,
never from the server.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from streamlab.models.qoe.alerts import Alert
from streamlab.models.qoe.streaming import EventScore, StreamingDetector


class AlertRequest(BaseModel):
    """Telemetry events in arrival order: a player's beacon batch, a slice of a file's lines.

    Each event is a dict, a JSON string or a schema model (:mod:`streamlab.models.qoe.telemetry`); an
    invalid one is rejected with its reason in the response, and the valid events beside it are scored.
    """

    events: list[Any]


class AlertResponse(BaseModel):
    scores: list[EventScore]
    """One per event, in request order: accepted (with its window's scores) or rejected (with why)."""
    accepted: int
    rejected: int
    alerts_opened: list[Alert]
    """Alerts confirmed by the windows these events closed (an alert's final ``end`` comes when it closes)."""


def decide(detector: StreamingDetector, request: AlertRequest) -> AlertResponse:
    """Advance ``detector`` over the request's events and say what they scored and which alerts opened."""
    scores, opened = detector.ingest(request.events)
    accepted = sum(1 for s in scores if s.accepted)
    return AlertResponse(scores=scores, accepted=accepted, rejected=len(scores) - accepted, alerts_opened=opened)


class QoeIngestResponse(AlertResponse):
    """The answer of ``POST /qoe/ingest``: :class:`AlertResponse` and the detector version that scored it."""

    model_version: str


class QoeAlertsResponse(BaseModel):
    """The answer of ``GET /qoe/alerts``: every alert opened so far (newest last)."""

    alerts: list[Alert]
    model_version: str | None
    windows_closed: int
    stats: dict[str, int] = {}
    """What the detector holds and what its bounds cost so far (:meth:`StreamingDetector.stats
    <streamlab.models.qoe.streaming.StreamingDetector.stats>`): groups and sessions live and evicted, units
    dropped, beacons refused for their timestamp, clock jumps."""
