"""Property-based fuzzing of the model server from its own OpenAPI schema (schemathesis): no 5xx, bounded time.

Every operation BentoML documents (``/docs.json``) plus the mounted ``/qoe`` routes, which BentoML
cannot document (a bare JSON list), described here from the QoE family's own event schema. Valid
and schema-violating inputs both (schemathesis' positive and negative modes), a fixed number of
examples per operation and a fixed seed, so a run is bounded (~1-2 min on 2 cores) and repeatable.
All four models are loaded (recommend included: a 503 for a missing model would be a 5xx too),
on a server of this module's own: the fuzzed beacons move the QoE detector's clock.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.serving.conftest import free_port, register_small_recsys

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 40
LATENCY_BOUND_S = 3.0
"""A generous bound for one answer on a shared 2-core box; a stalled handler takes the whole timeout."""

@pytest.fixture(scope="module")
def fuzz_server(models_store, tmp_path_factory: pytest.TempPathFactory):
    from streamlab.serving.server import running_server

    register_small_recsys(tmp_path_factory.mktemp("fuzz-recsys"))
    overrides = [f"port={free_port()}", "models.recommend.feature_store=false"]
    with running_server(overrides) as running:
        yield running


@pytest.fixture(scope="module")
def api_schema(fuzz_server) -> schemathesis.BaseSchema:
    document = httpx.get(fuzz_server.url + "/docs.json", trust_env=False, timeout=30).json()
    # BentoML labels the document OpenAPI 3.0 but writes pydantic's JSON Schema 2020-12 (a numeric
    # ``exclusiveMinimum``), which is what OpenAPI 3.1 uses; schemathesis rejects it as 3.0.
    document["openapi"] = "3.1.0"
    add_qoe_operations(document)
    loaded = schemathesis.openapi.from_dict(document)
    loaded.config.update(base_url=fuzz_server.url)
    loaded.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES_PER_OPERATION
    )
    return loaded


def add_qoe_operations(document: dict[str, Any]) -> None:
    """``POST /qoe/ingest`` (a list of telemetry events, at most ``qoe.max_events``) and ``GET /qoe/alerts``."""
    from streamlab.models.qoe.telemetry import EVENT_ADAPTER
    from streamlab.serving.settings import load_serving_settings

    event = EVENT_ADAPTER.json_schema(ref_template="#/components/schemas/{model}")
    document.setdefault("components", {}).setdefault("schemas", {}).update(event.pop("$defs", {}))
    body = {"type": "array", "items": event, "maxItems": load_serving_settings().qoe.max_events}
    ok = {"200": {"description": "scores and alerts", "content": {"application/json": {"schema": {"type": "object"}}}}}
    document["paths"]["/qoe/ingest"] = {
        "post": {
            "operationId": "qoe_ingest",
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": ok,
        }
    }
    document["paths"]["/qoe/alerts"] = {"get": {"operationId": "qoe_alerts", "responses": ok}}


def test_no_request_gets_a_server_error_or_stalls(api_schema) -> None:
    """Each operation, each mode, ``EXAMPLES_PER_OPERATION`` cases; every failure found is listed at the end.

    Driven through hypothesis directly rather than schemathesis' pytest plugin, which does not run
    under pytest 9 (it sets ``Function._nodeid``, gone in pytest 9).
    """
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {"/abr/decide", "/recommend", "/ladder", "/qoe/ingest"} <= {op.path for op in operations}
    for operation in operations:
        takes_input = operation.body or any(True for _ in operation.iter_parameters())
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if takes_input else (GenerationMode.POSITIVE,):
            try:
                check_operation(operation.as_strategy(generation_mode=mode), failures)
            except Exception as exc:  # noqa: BLE001 - hypothesis' own errors (unsatisfiable...): report them
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc!r}")
    assert not failures, "\n\n".join(failures[:10])


def check_operation(strategy, failures: list[str]) -> None:  # noqa: ANN001
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(case=strategy)
    def run(case) -> None:  # noqa: ANN001
        started = time.perf_counter()
        try:
            response = case.call(timeout=LATENCY_BOUND_S * 3)
        except Exception as exc:  # noqa: BLE001 - a dropped connection or a timeout is a finding too
            failures.append(f"{case.method} {case.formatted_path}: {exc!r}\n{case.as_curl_command()[:2000]}")
            return
        elapsed_s = time.perf_counter() - started
        where = f"{case.method} {case.formatted_path} -> {response.status_code} in {elapsed_s:.2f} s"
        if response.status_code >= 500 or elapsed_s >= LATENCY_BOUND_S:
            failures.append(f"{where}: {response.text[:300]}\n{case.as_curl_command()[:2000]}")

    run()
