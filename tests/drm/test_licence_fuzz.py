"""Property-based fuzzing of the licence server from its own OpenAPI document (schemathesis): no 5xx, bounded time.

Valid and schema-violating requests (schemathesis' positive and negative modes) against every route
of the document the server serves at ``/openapi.json``, a fixed number of examples per operation and
a fixed seed, so a run is bounded and repeatable. Requests that schemathesis sends without an
``Authorization`` header get a real playback token of an entitled viewer, so they reach the parsers
and the key store; the rest exercise the refusals.

schemathesis' own pytest integration (``schemathesis.pytest.from_fixture``) fails under pytest 9.2
(it reads ``request.node._nodeid``), so each operation's strategy is driven with hypothesis directly.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from streamlab.streaming.drm.license_server import MAX_KIDS
from streamlab.streaming.drm.openapi import openapi_document
from streamlab.streaming.drm.server import RunningLicenseServer, running_license_server
from streamlab.streaming.drm.settings import load_drm_settings

pytestmark = pytest.mark.slow  # ~25 s: 7 operation x mode combinations of 60 requests each, on a shared box

EXAMPLES_PER_OPERATION = 60
LATENCY_BOUND_S = 2.0
"""Generous for a shared 2-core box; a stalled handler (e.g. reading a body that never comes) takes the timeout."""

DOCUMENT = openapi_document(load_drm_settings(), MAX_KIDS)
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = [result.ok().label for result in SCHEMA.get_all_operations()]


@pytest.fixture(scope="module")
def fuzz_licence(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningLicenseServer, str]]:
    root = tmp_path_factory.mktemp("licence-fuzz")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMLAB_DRM_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
        drm = load_drm_settings([f"key_store={root / 'keys.db'}", f"entitlements={root / 'ent.db'}",
                                 "rate_limit.requests_per_s=100000", "rate_limit.burst=100000",
                                 "tokens.max_uses=1000000"])
        with running_license_server(drm) as server:
            server.service.keys.ensure_title_keys("bbb")
            server.service.entitlements.grant("alice", "bbb", ("web",))
            yield server, server.service.signer.issue("alice", "bbb", "web", ttl_s=3600)


def test_the_server_serves_the_document_the_fuzzer_reads(fuzz_licence) -> None:
    server, _ = fuzz_licence
    assert httpx.get(server.url + "/openapi.json", trust_env=False, timeout=5).json() == DOCUMENT
    assert len(OPERATIONS) == 4


CASES = [(label, mode) for label in OPERATIONS for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
         if not (label == "GET /healthz" and mode is GenerationMode.NEGATIVE)]  # nothing there to get wrong


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{label}-{mode.value}" for label, mode in CASES])
def test_no_licence_request_gets_a_server_error_or_stalls(label: str, mode: GenerationMode, fuzz_licence) -> None:
    server, token = fuzz_licence
    operation = SCHEMA.find_operation_by_label(label)

    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(case=operation.as_strategy(mode))
    def one_request(case) -> None:  # noqa: ANN001 - schemathesis' Case
        headers = dict(case.headers or {})
        if not any(name.lower() == "authorization" for name in headers):
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        response = case.call(base_url=server.url, headers=headers, timeout=LATENCY_BOUND_S * 3)
        elapsed_s = time.perf_counter() - started
        assert response.status_code < 500, (
            f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}\n{case.as_curl_command()}"
        )
        assert elapsed_s < LATENCY_BOUND_S, f"{case.method} {case.path} took {elapsed_s:.2f} s"

    one_request()
