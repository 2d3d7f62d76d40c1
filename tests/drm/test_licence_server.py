"""The licence server answers authorised viewers only, with reason codes and no key material in logs."""

from __future__ import annotations

import base64
import json
import logging
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamlab.streaming.drm.crypto import b64url, b64url_decode
from streamlab.streaming.drm.license_server import RateLimiter, build_service, create_license_app


def _setup(service, title="bbb", device="web"):
    key = service.keys.ensure_title_keys(title)[0]
    service.entitlements.grant("alice", title, (device,))
    token = service.signer.issue("alice", title, device, ttl_s=60)
    return key, token


def _licence(client, token, kids):
    return client.post("/drm/clearkey/license", json={"kids": kids, "type": "temporary"},
                       headers={"Authorization": f"Bearer {token}"})


def test_valid_token_gets_the_jwk_set(client, service):
    key, token = _setup(service)
    response = _licence(client, token, [key.kid_b64url])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "temporary"
    assert body["keys"] == [{"kty": "oct", "kid": key.kid_b64url, "k": key.key_b64url}]
    assert b64url_decode(body["keys"][0]["k"]) == key.key
    assert response.headers["cache-control"] == "no-store"


def test_expired_token_is_refused(client, service):
    key, _ = _setup(service)
    token = service.signer.issue("alice", "bbb", "web", ttl_s=10, now=time.time() - 3600)
    response = _licence(client, token, [key.kid_b64url])
    assert response.status_code == 401 and response.json()["error"] == "token_expired"


def test_tampered_token_is_refused(client, service):
    key, token = _setup(service)
    body, mac = token.split(".")
    claims = json.loads(b64url_decode(body))
    claims["title_id"] = "other"
    forged = b64url(json.dumps(claims).encode()) + "." + mac
    response = _licence(client, forged, [key.kid_b64url])
    assert response.status_code == 401 and response.json()["error"] == "token_bad_signature"


def test_token_signed_with_another_master_key_is_refused(client, service, drm_settings):
    key, _ = _setup(service)
    other = build_service(drm_settings, b"\x01" * 32)
    response = _licence(client, other.signer.issue("alice", "bbb", "web", ttl_s=60), [key.kid_b64url])
    assert response.status_code == 401 and response.json()["error"] == "token_bad_signature"


def test_token_for_another_title_cannot_fetch_this_titles_key(client, service):
    key, _ = _setup(service, "bbb")
    service.keys.ensure_title_keys("other")
    service.entitlements.grant("alice", "other", ("web",))
    token = service.signer.issue("alice", "other", "web", ttl_s=60)
    response = _licence(client, token, [key.kid_b64url])
    assert response.status_code == 403 and response.json()["error"] == "kid_not_for_title"


def test_unknown_kid_is_refused(client, service):
    _, token = _setup(service)
    response = _licence(client, token, [b64url(b"\x00" * 16)])
    assert response.status_code == 403 and response.json()["error"] == "unknown_kid"


def test_viewer_without_entitlement_is_refused(client, service):
    key = service.keys.ensure_title_keys("bbb")[0]
    token = service.signer.issue("mallory", "bbb", "web", ttl_s=60)
    response = _licence(client, token, [key.kid_b64url])
    assert response.status_code == 403 and response.json()["error"] == "not_entitled"


def test_wrong_device_class_is_refused(client, service):
    key, _ = _setup(service, device="tv")
    token = service.signer.issue("alice", "bbb", "web", ttl_s=60)
    response = _licence(client, token, [key.kid_b64url])
    assert response.status_code == 403 and response.json()["error"] == "device_not_allowed"


def test_replayed_token_is_refused_after_its_use_budget(client, service):
    key, token = _setup(service)
    budget = service.settings.tokens.max_uses
    statuses = [_licence(client, token, [key.kid_b64url]).status_code for _ in range(budget + 1)]
    assert statuses[:budget] == [200] * budget
    last = _licence(client, token, [key.kid_b64url])
    assert last.status_code == 403 and last.json()["error"] == "token_replayed"


def test_missing_token_is_401(client, service):
    key, _ = _setup(service)
    response = client.post("/drm/clearkey/license", json={"kids": [key.kid_b64url]})
    assert response.status_code == 401 and response.json()["error"] == "token_missing"


def test_hls_key_uri_returns_raw_key_bytes(client, service):
    key, token = _setup(service)
    response = client.get(f"/drm/hls/bbb/{key.kid_hex}.key", params={"token": token})
    assert response.status_code == 200 and response.content == key.key


def test_hls_key_uri_rejects_traversal_and_junk(client, service):
    key, token = _setup(service)
    for path in ["/drm/hls/bbb/..%2f..%2fkeys.db.key", "/drm/hls/bbb/../../etc/passwd.key",
                 f"/drm/hls/bbb/{key.kid_hex.upper()}.key", "/drm/hls/bbb/%00.key", f"/drm/hls/../{key.kid_hex}.key"]:
        response = client.get(path, params={"token": token})
        assert response.status_code in (403, 404), path
        assert key.key not in response.content


def test_rate_limit_per_viewer():
    limiter = RateLimiter(rate=1.0, burst=3)
    assert [limiter.allow("a", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", now=0.0)
    assert limiter.allow("a", now=1.5)


def test_rate_limited_requests_get_429(drm_settings, master_key):
    from starlette.testclient import TestClient

    drm_settings.rate_limit.requests_per_s = 0.001
    drm_settings.rate_limit.burst = 2
    service = build_service(drm_settings, master_key)
    client = TestClient(create_license_app(service))
    key, token = _setup(service)
    codes = [_licence(client, token, [key.kid_b64url]).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_no_key_material_in_logs(client, service, caplog):
    key, token = _setup(service)
    with caplog.at_level(logging.DEBUG, logger="streamlab.drm.license"):
        _licence(client, token, [key.kid_b64url])
        _licence(client, "garbage.token", [key.kid_b64url])
    text = caplog.text
    assert "licence granted" in text and "token_bad_signature" in text
    for secret in (key.key_b64url, key.key.hex(), base64.b64encode(key.key).decode()):
        assert secret not in text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                 max_leaves=12).map(lambda v: json.dumps(v).encode()),
    st.lists(st.text(max_size=40), max_size=5).map(lambda kids: json.dumps({"kids": kids}).encode()),
))
def test_malformed_licence_bodies_never_crash_or_leak(client, service, body):
    key, token = _setup(service)
    service.settings.tokens.max_uses = 10**9
    response = client.post("/drm/clearkey/license", content=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 400, 403)
    if response.status_code == 200:  # only a well-formed request for a real key of this title gets keys
        assert json.loads(body)["kids"]
    assert key.key_b64url not in response.text or response.status_code == 200
