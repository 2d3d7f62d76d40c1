"""``qoe/ingest`` and ``qoe/alerts``: player beacons in, per-event scores and alerts out.

The served model is the QoE family's registered detector (:data:`streamlab.models.qoe.family.FAMILY`),
loaded as its native :class:`~streamlab.models.qoe.model.QoeModel` (no adapter). Scoring is
stateful: windows close as event time passes and alerts need consecutive windows, so the service
keeps **one** :class:`~streamlab.models.qoe.streaming.StreamingDetector` for every caller and hands each
request to the family's one decision (:func:`streamlab.models.qoe.decide.decide`). When the registry
alias moves, the next request starts a new detector on the new version (its windows start empty);
alerts opened so far are kept.

The body is a JSON list of events (the telemetry schema, :mod:`streamlab.models.qoe.telemetry`): the web
player batches its beacons. An invalid event is rejected with its reason in the answer and
counted in the metrics, never dropped silently; the valid events beside it are scored. The answers
are the family's wire types (:class:`~streamlab.models.qoe.decide.QoeIngestResponse`,
:class:`~streamlab.models.qoe.decide.QoeAlertsResponse`).

**No caller can hold the others up** (issue 20: a 5,000-event batch of new names held a normal beacon
39 s). The detector's own work per event is bounded (:mod:`streamlab.models.qoe.streaming`); here, a
request is scored in chunks of ``lock_chunk_events`` under a *first-come* lock, so a beacon that arrives
during someone's big batch waits for one chunk, not the batch (a plain lock lets the batch's thread
take it straight back). Parsing, scoring and serialising the answer all run on one worker thread: the
event loop only moves bytes (``model_dump`` of 5,000 scores alone took ~0.6 s). The detector gets the
wall clock, so a beacon stamped far in the future (``1e12``) is refused naming ``timestamp``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from streamlab.models.qoe.alerts import Alert
from streamlab.models.qoe.decide import AlertRequest, QoeAlertsResponse, QoeIngestResponse, decide
from streamlab.models.qoe.model import QoeModel
from streamlab.models.qoe.settings import StreamLimits, load_settings
from streamlab.models.qoe.streaming import EventScore, StreamingDetector
from streamlab.serving import metrics
from streamlab.serving.registry import LoadedModel, ServedModel

ENDPOINT = "qoe/ingest"
_SCORES: TypeAdapter[list[EventScore]] = TypeAdapter(list[EventScore])
COUNTED = ("groups_evicted", "sessions_evicted", "units_dropped", "refused_future", "refused_outlier", "clock_jumps")


class FairLock:
    """A first-come, first-served lock: a thread that releases it and asks again queues behind the waiters.

    ``threading.Lock`` makes no such promise: the thread scoring a big batch chunk by chunk would
    usually win it straight back, and the chunks would protect nobody.
    """

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._turn:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._turn.wait()

    def __exit__(self, *exc: object) -> None:
        with self._turn:
            self._serving += 1
            self._turn.notify_all()


class IngestRefused(Exception):
    """The request as a whole is refused (4xx/503) before any event is scored."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


_DECODER = json.JSONDecoder()
_SPACE = frozenset(" \t\n\r")


def parse_events(body: bytes, max_events: int) -> list[Any]:
    """The body as a list of at most ``max_events`` raw events; anything else is an :class:`IngestRefused`.

    Each event is judged later, one by one (a bad one is rejected with its reason beside the good
    ones); here only the envelope. The list is decoded one element at a time (``raw_decode``) rather
    than by one ``json.loads``: a 1.4 MB batch is ~40 ms of C that holds the GIL throughout, which is
    exactly the stall a player's beacon would wait behind; element by element the interpreter can
    switch threads, and the count is refused as soon as it passes ``max_events``. ``RecursionError``
    is caught too: the server's depth limit keeps a body shallow, but this must answer 400, not 500,
    without it.
    """
    try:
        text = body.decode("utf-8")
        start = _skip(text, 0)
        if start == len(text) or text[start] != "[":
            value = json.loads(text)  # a valid non-list (the answer says what it got) or the JSON error
            raise IngestRefused(HTTPStatus.BAD_REQUEST,
                                f"body must be a JSON list of events, got {type(value).__name__}")
        events: list[Any] = []
        at = _skip(text, start + 1)
        if at < len(text) and text[at] == "]":
            at += 1
        else:
            while True:
                event, at = _DECODER.raw_decode(text, at)
                events.append(event)
                if len(events) > max_events:
                    raise IngestRefused(HTTPStatus.BAD_REQUEST,
                                        f"more than {max_events} events in one request; at most {max_events} (qoe.max_events)")
                at = _skip(text, at)
                if at < len(text) and text[at] == ",":
                    at = _skip(text, at + 1)
                    continue
                if at < len(text) and text[at] == "]":
                    at += 1
                    break
                raise json.JSONDecodeError("expected ',' or ']' after an event", text, at)
        if _skip(text, at) != len(text):
            raise json.JSONDecodeError("extra data after the list", text, at)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise IngestRefused(HTTPStatus.BAD_REQUEST, f"body is not JSON: {str(exc)[:200]}") from None
    return events


def _skip(text: str, at: int) -> int:
    """The index of the first non-whitespace character at or after ``at`` (JSON's four whitespace characters)."""
    while at < len(text) and text[at] in _SPACE:
        at += 1
    return at


@dataclass
class Answered:
    """One ingest request's outcome: the serialised answer and the counts the metrics need."""

    body: bytes
    accepted: int
    rejected: int
    alerts_opened: int
    bounded: dict[str, int]
    """How much each of the stream's bound counters (:data:`COUNTED`) moved during the request."""


class QoeIngestor:
    """The one detector state of the service; the detector is touched only under the fair lock."""

    def __init__(self, max_alerts_kept: int, limits: StreamLimits | None = None) -> None:
        self._lock = FairLock()
        self._limits = limits or load_settings().streaming
        self._detector: StreamingDetector | None = None
        self._version: str | None = None
        self._alerts: OrderedDict[str, Alert] = OrderedDict()
        self._max_alerts = max_alerts_kept

    def ingest(self, loaded: LoadedModel[QoeModel], events: list[Any]) -> QoeIngestResponse:
        """Score ``events`` in chunks, each under the lock; the answer covers all of them, in order."""
        return self._ingest(loaded, events)[0]

    def answer(self, loaded: LoadedModel[QoeModel], body: bytes, max_events: int) -> Answered:
        """Parse, score and serialise one request (on a worker thread: none of it belongs on the event loop)."""
        response, bounded = self._ingest(loaded, parse_events(body, max_events))
        return Answered(self._serialise(response), response.accepted, response.rejected,
                        len(response.alerts_opened), bounded)

    def _serialise(self, response: QoeIngestResponse) -> bytes:
        """The answer's JSON, its scores a chunk at a time: one ``model_dump_json`` of 5,000 scores holds the
        GIL for tens of milliseconds, in chunks the interpreter can switch to the event loop in between."""
        chunk = self._limits.lock_chunk_events
        scores = b",".join(_SCORES.dump_json(response.scores[i:i + chunk])[1:-1]
                           for i in range(0, len(response.scores), chunk))
        shell = response.model_copy(update={"scores": []}).model_dump_json().encode()
        return shell.replace(b'"scores":[]', b'"scores":[' + scores + b"]", 1)

    def _ingest(self, loaded: LoadedModel[QoeModel], events: list[Any]) -> tuple[QoeIngestResponse, dict[str, int]]:
        scores: list[EventScore] = []
        opened: list[Alert] = []
        bounded = dict.fromkeys(COUNTED, 0)
        chunk = self._limits.lock_chunk_events
        for start in range(0, max(len(events), 1), chunk):
            with self._lock:
                if self._detector is None or self._version != loaded.version:
                    self._detector = StreamingDetector(loaded.model, self._limits, now=time.time)
                    self._version = loaded.version
                before = self._detector.stats()
                answer = decide(self._detector, AlertRequest(events=events[start:start + chunk]))
                after = self._detector.stats()
                for alert in answer.alerts_opened:
                    self._alerts[alert.id] = alert
                    self._alerts.move_to_end(alert.id)
                while len(self._alerts) > self._max_alerts:
                    self._alerts.popitem(last=False)
            time.sleep(0)  # let the threads that queued meanwhile (a beacon, the event loop) take the GIL now
            for key in COUNTED:
                bounded[key] += after[key] - before[key]
            scores += answer.scores
            opened += answer.alerts_opened
        accepted = sum(1 for s in scores if s.accepted)
        response = QoeIngestResponse(scores=scores, accepted=accepted, rejected=len(scores) - accepted,
                                     alerts_opened=opened, model_version=loaded.version)
        return response, bounded

    def alerts(self) -> QoeAlertsResponse:
        with self._lock:
            closed = self._detector.windows_closed if self._detector else 0
            stats = self._detector.stats() if self._detector else {}
            return QoeAlertsResponse(alerts=list(self._alerts.values()), model_version=self._version,
                                     windows_closed=closed, stats=stats)


def refuse(status: HTTPStatus, message: str) -> JSONResponse:
    metrics.REQUESTS.labels(endpoint=ENDPOINT, outcome="error").inc()
    return JSONResponse({"error": message}, status_code=status)


async def ingest_endpoint(request: Request, ingestor: QoeIngestor, served: ServedModel[QoeModel] | None,
                          max_events: int) -> Response:
    """``POST /qoe/ingest``: a JSON list of telemetry events → per-event scores and alerts opened.

    Every malformed or ill-typed body is a 4xx with the reason (never a 500); a body whose envelope
    is fine but whose events are not is a 200 that rejects each bad event with its reason.
    """
    started = time.perf_counter()
    body = await request.body()
    loaded = served.current if served else None
    if loaded is None:
        return refuse(HTTPStatus.SERVICE_UNAVAILABLE, "no QoE detector version is loaded yet; see /models/status")
    try:
        answered = await run_in_threadpool(ingestor.answer, loaded, body, max_events)
    except IngestRefused as exc:
        return refuse(exc.status, str(exc))
    metrics.QOE_EVENTS.labels(outcome="accepted").inc(answered.accepted)
    metrics.QOE_EVENTS.labels(outcome="rejected").inc(answered.rejected)
    metrics.QOE_ALERTS.inc(answered.alerts_opened)
    for what, moved in answered.bounded.items():
        if moved:
            metrics.QOE_BOUNDED.labels(what=what).inc(moved)
    metrics.REQUESTS.labels(endpoint=ENDPOINT, outcome="ok").inc()
    metrics.LATENCY.labels(endpoint=ENDPOINT).observe(time.perf_counter() - started)
    return Response(answered.body, media_type="application/json")


async def alerts_endpoint(ingestor: QoeIngestor) -> Response:
    """``GET /qoe/alerts``: every alert kept (newest last), windows closed and the stream's bound counters."""
    answer = await run_in_threadpool(ingestor.alerts)
    return Response(answer.model_dump_json().encode(), media_type="application/json")
