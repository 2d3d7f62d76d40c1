"""The BentoML service: ``/abr/decide``, ``/recommend``, ``/ladder``, ``/qoe/ingest`` and ``/qoe/alerts``.

One service, one process: on 2 cores a second service process would cost more than it serves.
Each model is a :class:`~streamlab.serving.registry.ServedModel` following its registry alias. Without a
loaded version ``abr/decide`` still answers, from BOLA; ``recommend``, ``ladder`` and
``qoe/ingest`` answer 503 and their callers fall back (catalog: the popular list; ingest: the
fixed ladder, see :mod:`streamlab.streaming.transcode.per_title.service_client`). Fallbacks are counted in
``streamlab_serving_fallbacks_total{endpoint,reason}``; ``/readyz`` is 200 only when every
enabled model is loaded.

Per-request cost (issue 8's load targets, ``benchmarks/bench_serving.py``): the cheap endpoints
run on the event loop (a thread hop costs as much CPU as the work; an ``abr/decide`` with a long
ladder is not cheap, so it takes the hop), OpenTelemetry spans are off
(``tracing: false``), and the loaded models are frozen out of the garbage collector
(:func:`freeze_heap`), whose full collections were the p99 stalls.

Seam for the remaining endpoints: add a ``ModelSettings`` entry in ``configs/serving.yaml``, a
loader (``Path -> model``) and request/response models in their own ``serving/<name>.py``, then
a ``ServedModel`` in ``__init__`` and an ``@bentoml.api`` method below, as ``abr`` does.

``/qoe/ingest`` takes a bare JSON list (the player's beacon batch), which a BentoML API cannot
declare, so it is a small Starlette app mounted at ``/qoe`` that calls into the service instance;
it shares the service's middleware (CORS, timeouts, metrics).

Browsers may call the API directly (the web player on the edge asks ``/abr/decide`` and sends
beacons): CORS is on for the origins matching ``cors.origin_regex``.

Nothing a client sends can stall the server (issue 20): header bytes and time, body bytes and time,
and JSON depth are bounded before any handler runs (``limits`` in ``configs/serving.yaml``,
:mod:`streamlab.serving.http_limits`); an ``abr/decide`` with a long ladder (the planner's work grows
steeply with the rungs) is decided on a worker thread. A refusal (4xx) is logged as one INFO line,
without a traceback, and its body names no server path.

Settings come from ``configs/serving.yaml``; ``streamlab serve start`` passes CLI overrides to the
server process in ``STREAMLAB_SERVING_OVERRIDES`` (a JSON list).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import time
from dataclasses import asdict
from http import HTTPStatus
from typing import Any

import bentoml
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streamlab.core.errors import StreamlabError
from streamlab.models.abr.family import FAMILY as ABR
from streamlab.models.abr.live.learned import live_checkpoint_identity
from streamlab.serving import abr, metrics, qoe
from streamlab.models.ladder.family import FAMILY as LADDER
from streamlab.models.ladder.wire import LadderRequest, LadderResponse
from streamlab.models.recsys.contract import RecommendRequest, RecommendResponse
from streamlab.models.qoe.family import FAMILY as QOE
from streamlab.models.recsys.family import FAMILY as RECSYS
from streamlab.serving.http_limits import RequestLimits, install_protocol
from streamlab.serving.ladder import LadderEndpoint, ProbesBusy
from streamlab.serving.qoe import QoeIngestor
from streamlab.serving.recommend import adapt_recommender
from streamlab.serving.registry import AliasWatcher, ServedModel
from streamlab.serving.settings import OVERRIDES_ENV, ServingSettings, load_serving_settings


def current_settings() -> ServingSettings:
    return load_serving_settings(json.loads(os.environ.get(OVERRIDES_ENV, "[]")))


class ModelsStatus(BaseModel):
    ready: bool
    models: dict[str, dict[str, Any]]
    live_abr: dict[str, Any] = {}
    """Which live ABR policy answers ``abr/decide`` with ``mode: live`` (:func:`live_abr_status`)."""


def live_abr_status() -> dict[str, Any]:
    """The live policy serving: the committed learned live checkpoint (its file, hash and validation
    QoE_live), or the live fallback (hls.js's rung rule, LoL+'s rate) when it did not load.

    Live is not a registered family: it has no promotion gate or pyfunc contract for live requests
    yet, so it is versioned with the code (the hash tells two servers apart) and never makes the
    server unready, since the fallback answers every live request.
    """
    loaded = abr.live_policy() is not None
    return {"policy": "learned-live" if loaded else "fallback (hls.js EWMA rung, LoL+ rate)", "loaded": loaded,
            **(live_checkpoint_identity() if loaded else {})}


class ModelNotReady(bentoml.exceptions.BentoMLException):
    error_code = HTTPStatus.SERVICE_UNAVAILABLE


class Busy(bentoml.exceptions.BentoMLException):
    error_code = HTTPStatus.SERVICE_UNAVAILABLE


EXPECTED_UNAVAILABLE = (ModelNotReady, Busy)
"""503s the service answers on purpose (its callers fall back): worth a warning line, not a traceback."""


class RefusalLogFilter(logging.Filter):
    """BentoML logs every exception of an API at ERROR with its traceback, refusals included (issue 20:
    33 lines per 400). A refusal is the client's mistake or an expected 503, not a server fault: one line
    (INFO for a 4xx, WARNING for an expected 503) with the status and the reason. Anything else keeps its
    ERROR and traceback. Attached to the logger BentoML's ``log_exception`` writes to.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        status = refusal_status(exc)
        if exc is None or status is None:
            return True
        level = logging.INFO if status < 500 else logging.WARNING
        record.levelno, record.levelname = level, logging.getLevelName(level)
        where = "%s [%s]" % record.args if isinstance(record.args, tuple) and len(record.args) == 2 else "request"
        record.msg, record.args = "%s refused %d: %s", (where, status, refusal_reason(exc))
        record.exc_info = record.exc_text = None
        return True


def refusal_status(exc: BaseException | None) -> int | None:
    """The HTTP status BentoML answers ``exc`` with, when that answer is a refusal rather than a fault."""
    if isinstance(exc, ValidationError):
        return HTTPStatus.BAD_REQUEST
    if isinstance(exc, EXPECTED_UNAVAILABLE) or (
        isinstance(exc, bentoml.exceptions.BentoMLException) and exc.error_code < 500
    ):
        return int(exc.error_code)
    return None


def refusal_reason(exc: BaseException) -> str:
    """One line: the first few validation errors (where and what, never the input), or the message."""
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_input=False, include_context=False, include_url=False)
        shown = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in errors[:3])
        return shown + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else "")
    return " ".join(str(exc).split())


def freeze_heap(_: object = None) -> None:
    """Move everything alive now (the models: ~140k objects) out of the garbage collector's sight.

    A full (generation 2) collection walks every tracked object: ~40 ms with the models loaded,
    and requests trigger one every few hundred, which is exactly a p99 stall. Frozen objects are
    never walked; refcounting still frees them. Called after the first loads and after each swap
    (unfreeze + collect first, so a replaced model's cycles are freed).
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def http_config(settings: ServingSettings) -> dict[str, Any]:
    """BentoML's ``http`` block: CORS for the browser callers when an origin pattern is configured."""
    if settings.cors.origin_regex is None:
        return {}
    return {
        "cors": {
            "enabled": True,
            "access_control_allow_origins": [],
            "access_control_allow_origin_regex": settings.cors.origin_regex,
            "access_control_allow_methods": ["GET", "POST", "OPTIONS"],
            "access_control_allow_headers": ["content-type"],
            "access_control_max_age": settings.cors.max_age_s,
        }
    }


async def _qoe_ingest(request: Request) -> Response:
    """``POST /qoe/ingest``: see :func:`streamlab.serving.qoe.ingest_endpoint`."""
    service: StreamlabServing = bentoml.get_current_service()
    return await qoe.ingest_endpoint(request, service.qoe, service.models.get("qoe"), service.settings.qoe.max_events)


async def _qoe_alerts(request: Request) -> Response:
    """``GET /qoe/alerts``: see :func:`streamlab.serving.qoe.alerts_endpoint`."""
    del request
    service: StreamlabServing = bentoml.get_current_service()
    return await qoe.alerts_endpoint(service.qoe)


def guard_server(service: Any, settings: ServingSettings) -> None:
    """Bound what every connection may cost (issue 20) and log refusals as one line; see :mod:`.http_limits`.

    Runs at import, in BentoML's worker process too: it imports the service before starting uvicorn.
    """
    install_protocol(settings.limits.connection)
    service.add_asgi_middleware(RequestLimits, limits=settings.limits)
    refusals = logging.getLogger("bentoml._internal.server.http_app")  # where BentoML's log_exception writes
    if not any(isinstance(f, RefusalLogFilter) for f in refusals.filters):
        refusals.addFilter(RefusalLogFilter())
    # BentoML's server logging lets only ``bentoml.*`` through at INFO; the guard's refusals are INFO too.
    logging.getLogger("streamlab.serving.http_limits").setLevel(logging.INFO)


qoe_app = Starlette(
    routes=[Route("/ingest", _qoe_ingest, methods=["POST"]), Route("/alerts", _qoe_alerts, methods=["GET"])]
)


@bentoml.asgi_app(qoe_app, path="/qoe", name="qoe")
@bentoml.service(
    name="streamlab",
    workers=current_settings().workers,
    traffic={"timeout": current_settings().request_timeout_s},
    logging={"access": {"enabled": False}},
    tracing={} if current_settings().tracing else {"excluded_urls": [".*"]},
    http=http_config(current_settings()),
)
class StreamlabServing:
    def __init__(self) -> None:
        self.settings = settings = current_settings()
        self.models: dict[str, ServedModel[Any]] = {}
        if settings.models.abr.enabled:
            self.models["abr"] = ServedModel(settings.models.abr.registered_name(ABR), settings.models.abr.alias)
        if settings.models.recommend.enabled:
            spec = settings.models.recommend
            self.models["recommend"] = ServedModel(spec.registered_name(RECSYS), spec.alias,
                                                   adapt_recommender(spec.feature_store))
        if settings.models.ladder.enabled:
            spec = settings.models.ladder
            self.models["ladder"] = ServedModel(spec.registered_name(LADDER), spec.alias)
        if settings.models.qoe.enabled:
            spec = settings.models.qoe
            self.models["qoe"] = ServedModel(spec.registered_name(QOE), spec.alias)
        self.arm_router = abr.ArmRouter(settings.abr)  # A/B arms: their pinned versions load on first use
        self.ladder_endpoint = LadderEndpoint(settings.ladder)
        self.qoe = QoeIngestor(settings.qoe.max_alerts_kept)
        for served in self.models.values():
            served.listeners.append(metrics.record_model)
            served.poll()  # first load now (the listener records it); a failure leaves the fallback
            served.listeners.append(freeze_heap)
        self.live_abr = live_abr_status()  # loads the live policy now, not on the first live request
        freeze_heap()
        self.watcher = AliasWatcher(list(self.models.values()), settings.watch_interval_s).start()

    def __is_ready__(self) -> bool:
        """``/readyz``: every enabled model has a loaded version."""
        return all(served.ready for served in self.models.values())

    @bentoml.api(route="/models/status")
    def models_status(self) -> ModelsStatus:
        """Per model: the version serving, whether ready, and the last load error (a refused version);
        and which live ABR policy answers live requests."""
        return ModelsStatus(ready=self.__is_ready__(), models={k: asdict(m.status()) for k, m in self.models.items()},
                            live_abr=self.live_abr)

    @bentoml.api(route="/abr/decide", input_spec=abr.ArmDecideRequest)
    async def abr_decide(self, **fields: Any) -> abr.ArmDecision:
        """Player state → the next segment's rung and why; BOLA when no model version is loaded.

        The planner's work grows steeply with the rungs a request carries (issue 20: 28 rungs took
        2.7 s and held ``/healthz`` for as long on the event loop). A usual ladder (at most
        ``abr.inline_max_rungs``) is decided on the event loop: ~0.2 ms, at worst ~2.5 ms measured,
        less than the CPU of a hop to a worker thread (~0.1 ms a request, a third of the decision).
        A longer one runs on a thread (Starlette's pool), so the event loop keeps answering health
        checks and other callers meanwhile, whatever the planner costs.

        A request naming ``experiment`` and ``arm`` (an online A/B test) is answered by that arm's
        target, the version pinned at the experiment's start or its heuristic (:class:`abr.ArmRouter`);
        an unknown experiment or arm is a 400, never another arm's answer.
        """
        started = time.perf_counter()
        request = abr.ArmDecideRequest.model_construct(**fields)  # BentoML validated it (input_spec) already
        served = self.models.get("abr")
        loaded = served.current if served else None
        arm = self.arm_router.route(request)  # an unknown experiment or arm: 400 here, before any work
        if len(request.ladder) <= self.settings.abr.inline_max_rungs and not self.arm_router.loads(arm):
            decision, fallback = self.arm_router.answer(request, arm, loaded)
        else:  # a long ladder, or an arm's pinned version to load first: off the event loop
            decision, fallback = await run_in_threadpool(self.arm_router.answer, request, arm, loaded)
        if fallback is not None:
            metrics.FALLBACKS.labels(endpoint="abr/decide", reason=fallback).inc()
        metrics.REQUESTS.labels(endpoint="abr/decide", outcome="ok" if fallback is None else "fallback").inc()
        metrics.LATENCY.labels(endpoint="abr/decide").observe(time.perf_counter() - started)
        return decision

    @bentoml.api(route="/recommend", input_spec=RecommendRequest)
    async def recommend(self, **fields: Any) -> RecommendResponse:
        """Viewer, context, k → titles with scores and reasons; an unknown viewer gets the popular list.

        In-process ranking (~1 ms of numpy) runs on the event loop: the hop to a worker thread
        costs as much again in CPU. Reading viewer features from the Feast online store is I/O,
        so with a store open the ranking runs on a thread instead.
        """
        started = time.perf_counter()
        request = RecommendRequest.model_construct(**fields)
        if request.k > self.settings.recommend.max_k:
            raise bentoml.exceptions.InvalidArgument(
                f"k={request.k} is above the configured max_k={self.settings.recommend.max_k}"
            )
        served = self.models.get("recommend")
        loaded = served.current if served else None
        if loaded is None:
            metrics.REQUESTS.labels(endpoint="recommend", outcome="error").inc()
            raise ModelNotReady("no recommender version is loaded yet; see /models/status")
        served_model = loaded.model
        if served_model.store is None:
            response = served_model.decide(request)
        else:
            response = await run_in_threadpool(served_model.decide, request)
        if response.source != "model":  # the catalog's fallback (popular titles), answered by the model's own cold start
            metrics.FALLBACKS.labels(endpoint="recommend", reason="unknown_viewer").inc()
        response.model_version = loaded.version
        metrics.REQUESTS.labels(endpoint="recommend", outcome="ok").inc()
        metrics.LATENCY.labels(endpoint="recommend").observe(time.perf_counter() - started)
        return response

    @bentoml.api(route="/ladder", input_spec=LadderRequest)
    def ladder(self, **fields: Any) -> LadderResponse:
        """Features or a source path → the predicted per-title ladder for each codec asked.

        Sync on purpose: a path is probed (SI/TI + one encode: seconds of CPU) on BentoML's
        thread pool, never on the event loop, and at most ``ladder.max_concurrent_probes`` at once.
        """
        started = time.perf_counter()
        request = LadderRequest.model_construct(**fields)
        served = self.models.get("ladder")
        loaded = served.current if served else None
        if loaded is None:
            metrics.REQUESTS.labels(endpoint="ladder", outcome="error").inc()
            raise ModelNotReady("no ladder model version is loaded yet; see /models/status")
        try:
            response = self.ladder_endpoint.answer(request, loaded.model, loaded.name, loaded.version)
        except ProbesBusy as exc:
            metrics.REQUESTS.labels(endpoint="ladder", outcome="error").inc()
            raise Busy(str(exc)) from None
        except StreamlabError as exc:  # outside the roots, missing, not a video, no model for a codec
            # 400 with the reason: BentoML blanks the body of a 403, and the caller needs the why.
            metrics.REQUESTS.labels(endpoint="ladder", outcome="error").inc()
            raise bentoml.exceptions.InvalidArgument(str(exc)) from None
        metrics.REQUESTS.labels(endpoint="ladder", outcome="ok").inc()
        metrics.LATENCY.labels(endpoint="ladder").observe(time.perf_counter() - started)
        return response


guard_server(StreamlabServing, current_settings())
