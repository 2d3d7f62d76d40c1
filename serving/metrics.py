"""Prometheus metrics of the services, exported on BentoML's ``/metrics`` beside its own.

Plain prometheus-client metrics: BentoML's multiprocess collector merges the values of every worker process
(``bentoml.metrics``, which only forwarded to prometheus-client, is deprecated). They are created when a worker
imports the service module, after BentoML has set ``PROMETHEUS_MULTIPROC_DIR`` for it, so they write to the
multiprocess files; the client must not be imported earlier in a worker for the same reason.
"""

from __future__ import annotations

import prometheus_client

REQUESTS = prometheus_client.Counter(
    name="streamlab_serving_requests",
    documentation="Requests per endpoint and outcome (ok, fallback, error).",
    labelnames=["endpoint", "outcome"],
)
LATENCY = prometheus_client.Histogram(
    name="streamlab_serving_latency_seconds",
    documentation="Time spent deciding inside the service.",
    labelnames=["endpoint"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
)
FALLBACKS = prometheus_client.Counter(
    name="streamlab_serving_fallbacks",
    documentation="Answers given without the model (and why).",
    labelnames=["endpoint", "reason"],
)
QOE_EVENTS = prometheus_client.Counter(
    name="streamlab_qoe_events",
    documentation="Telemetry events through qoe/ingest: accepted or rejected (invalid, with a reason in the answer).",
    labelnames=["outcome"],
)
QOE_ALERTS = prometheus_client.Counter(
    name="streamlab_qoe_alerts_opened",
    documentation="QoE alerts opened by the streaming detector.",
)
QOE_BOUNDED = prometheus_client.Counter(
    name="streamlab_qoe_bounded",
    documentation="What the QoE stream's bounds cost: groups/sessions evicted, units dropped, beacons refused "
                  "for their timestamp (future, outlier), clock jumps.",
    labelnames=["what"],
)
MODEL_VERSION = prometheus_client.Gauge(
    name="streamlab_serving_model_version",
    documentation="Registry version serving now (0: none loaded).",
    labelnames=["model", "alias"],
    multiprocess_mode="max",
)
MODEL_LOAD_FAILURES = prometheus_client.Counter(
    name="streamlab_serving_model_load_failures",
    documentation="Versions refused at load (or alias unresolved).",
    labelnames=["model"],
)
MODEL_READY = prometheus_client.Gauge(
    name="streamlab_serving_model_ready",
    documentation="1 when the model has a loaded version.",
    labelnames=["model"],
    multiprocess_mode="min",
)
MODEL_WARM_UP = prometheus_client.Gauge(
    name="streamlab_serving_model_warm_up_seconds",
    documentation="How long the serving version's warm-up decision took before it served (0: none).",
    labelnames=["model"],
    multiprocess_mode="max",
)


def record_model(served) -> None:  # noqa: ANN001 - a ServedModel; listener signature
    """Listener for :class:`streamlab.serving.registry.ServedModel`: mirror its status into the gauges."""
    status = served.status()
    MODEL_VERSION.labels(model=status.name, alias=status.alias).set(float(status.version or 0))
    MODEL_READY.labels(model=status.name).set(1.0 if status.ready else 0.0)
    MODEL_WARM_UP.labels(model=status.name).set((status.warm_up_ms or 0.0) / 1e3)
    if status.last_error is not None:
        MODEL_LOAD_FAILURES.labels(model=status.name).inc()
