"""The BentoML service: ``/abr/decide`` and ``/recommend`` (``ladder`` and ``qoe/ingest`` plug in here).

One service, one process: on 2 cores a second service process would cost more than it serves.
Each model is a :class:`~serving.registry.ServedModel` following its registry alias; an endpoint
whose model is not loaded still answers, from its fallback (BOLA; the popular list is the
model's own cold start, so ``recommend`` needs the model), and the fallback is counted.

Seam for the remaining endpoints: add a ``ModelSettings`` entry in ``configs/serving.yaml``, a
loader (``Path -> model``) and request/response models in their own ``serving/<name>.py``, then
a ``ServedModel`` in ``__init__`` and an ``@bentoml.api`` method below, as ``abr`` does.

Settings come from ``configs/serving.yaml``; ``streamlab serve start`` passes CLI overrides to the
server process in ``STREAMLAB_SERVING_OVERRIDES`` (a JSON list).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from http import HTTPStatus
from typing import Any

import bentoml
from pydantic import BaseModel

from serving import metrics
from serving.abr import AbrDecideRequest, AbrDecision, decide_bola, decide_learned, load_abr_policy
from serving.recommend import (
    RecommendedTitle,
    RecommendRequest,
    RecommendResponse,
    make_recommend_loader,
    popular_reason,
)
from serving.registry import AliasWatcher, ServedModel
from serving.settings import ServingSettings, load_serving_settings

OVERRIDES_ENV = "STREAMLAB_SERVING_OVERRIDES"


def current_settings() -> ServingSettings:
    return load_serving_settings(json.loads(os.environ.get(OVERRIDES_ENV, "[]")))


class ModelsStatus(BaseModel):
    ready: bool
    models: dict[str, dict[str, Any]]


class ModelNotReady(bentoml.exceptions.BentoMLException):
    error_code = HTTPStatus.SERVICE_UNAVAILABLE


@bentoml.service(
    name="streamlab",
    workers=current_settings().workers,
    traffic={"timeout": 30},
    logging={"access": {"enabled": False}},
)
class StreamlabServing:
    def __init__(self) -> None:
        self.settings = settings = current_settings()
        self.models: dict[str, ServedModel[Any]] = {}
        if settings.models.abr.enabled:
            self.models["abr"] = ServedModel(settings.models.abr.name, settings.models.abr.alias, load_abr_policy)
        if settings.models.recommend.enabled:
            spec = settings.models.recommend
            self.models["recommend"] = ServedModel(spec.name, spec.alias, make_recommend_loader(spec.feature_store))
        for served in self.models.values():
            served.listeners.append(metrics.record_model)
            served.poll()  # first load now (the listener records it); a failure leaves the fallback
        self.watcher = AliasWatcher(list(self.models.values()), settings.watch_interval_s).start()

    def __is_ready__(self) -> bool:
        """``/readyz``: every enabled model has a loaded version."""
        return all(served.ready for served in self.models.values())

    @bentoml.api(route="/models/status")
    def models_status(self) -> ModelsStatus:
        """Per model: the version serving, whether ready, and the last load error (a refused version)."""
        return ModelsStatus(ready=self.__is_ready__(), models={k: asdict(m.status()) for k, m in self.models.items()})

    @bentoml.api(route="/abr/decide", input_spec=AbrDecideRequest)
    async def abr_decide(self, **fields: Any) -> AbrDecision:
        """Player state → the next segment's rung and why; BOLA when no model version is loaded.

        ``async`` on purpose: a decision is ~0.2-0.5 ms of numpy, cheaper than the hop to a
        worker thread that a sync API costs, so it runs on the event loop.
        """
        started = time.perf_counter()
        request = AbrDecideRequest.model_validate(fields)
        served = self.models.get("abr")
        loaded = served.current if served else None
        source, version = "fallback", None
        if loaded is None:
            rung, reason = decide_bola(request)
            metrics.FALLBACKS.labels(endpoint="abr/decide", reason="no_model").inc()
        else:
            try:
                rung, reason = decide_learned(
                    loaded.model, request, self.settings.abr.max_samples, self.settings.abr.horizon_chunks
                )
                source, version = "model", loaded.version
            except Exception as exc:  # noqa: BLE001 - a model failure must not fail the player
                rung, reason = decide_bola(request)
                reason += f" (model failed: {exc})"
                metrics.FALLBACKS.labels(endpoint="abr/decide", reason="model_error").inc()
        metrics.REQUESTS.labels(endpoint="abr/decide", outcome="ok" if source == "model" else "fallback").inc()
        metrics.LATENCY.labels(endpoint="abr/decide").observe(time.perf_counter() - started)
        return AbrDecision(
            rung=rung,
            bitrate_kbps=request.ladder[rung].bitrate_kbps,
            reason=reason,
            source=source,
            model_version=version,
        )

    @bentoml.api(route="/recommend", input_spec=RecommendRequest)
    def recommend(self, **fields: Any) -> RecommendResponse:
        """Viewer, context, k → titles with scores and reasons; an unknown viewer gets the popular list."""
        started = time.perf_counter()
        request = RecommendRequest.model_validate(fields)
        if request.k > self.settings.recommend.max_k:
            raise bentoml.exceptions.InvalidArgument(
                f"k={request.k} is above the configured max_k={self.settings.recommend.max_k}"
            )
        served = self.models.get("recommend")
        loaded = served.current if served else None
        if loaded is None:
            metrics.REQUESTS.labels(endpoint="recommend", outcome="error").inc()
            raise ModelNotReady("no recommender version is loaded yet; see /models/status")
        items, personal = loaded.model.recommend(request)
        reason = "ranked for this viewer" if personal else popular_reason(request.context)
        titles = [RecommendedTitle(title=t, score=s, reason=reason) for t, s in items]
        metrics.REQUESTS.labels(endpoint="recommend", outcome="ok").inc()
        metrics.LATENCY.labels(endpoint="recommend").observe(time.perf_counter() - started)
        return RecommendResponse(
            viewer=request.viewer,
            titles=titles,
            source="model" if personal else "popular",
            model_version=loaded.version,
        )
