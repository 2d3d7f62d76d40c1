"""The licence server bounds every request before doing work: ids, JSON depth, body size, device keys.

Issue 20 findings 7, 8 and 10 (licence part): each test here failed on the server before the fix.
Real HTTP on loopback (uvicorn), except where only the app's answer matters.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from streamlab.streaming.catalog import InvalidTitleId, validate_title_id
from streamlab.streaming.drm.crypto import b64url
from streamlab.streaming.drm.server import RunningLicenseServer, running_license_server
from streamlab.streaming.drm.tokens import TokenSigner

NESTED = b"[" * 8000


@pytest.fixture()
def server(drm_settings, master_key) -> Iterator[RunningLicenseServer]:
    with running_license_server(drm_settings) as running:
        yield running


def _grant(service, title: str = "bbb", device: str = "web"):
    key = service.keys.ensure_title_keys(title)[0]
    service.entitlements.grant("alice", title, (device,))
    return key, service.signer.issue("alice", title, device, ttl_s=60)


def _post(server: RunningLicenseServer, path: str, body: bytes, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(server.url + path, content=body, headers=headers, timeout=5, trust_env=False)


# --- finding 7: identifiers are matched whole, a trailing newline is not part of a valid id ------------------

@pytest.mark.parametrize("title_id", ["x\n", "bbb\n", "a" * 64 + "\n"])
def test_title_id_with_a_trailing_newline_is_refused(title_id: str) -> None:
    with pytest.raises(InvalidTitleId):
        validate_title_id(title_id)


@pytest.mark.parametrize("field", ["viewer", "title", "device"])
def test_token_ids_with_a_trailing_newline_are_refused(field: str) -> None:
    values = {"viewer": "alice", "title": "bbb", "device": "web"}
    values[field] += "\n"
    with pytest.raises(Exception, match="not valid"):
        TokenSigner(b"\x01" * 32).issue(values["viewer"], values["title"], values["device"], ttl_s=60)


@pytest.mark.parametrize(("viewer", "title", "devices"), [("alice\n", "bbb", ("web",)), ("alice", "bbb\n", ("web",)),
                                                       ("alice", "bbb", ("web\n",))])
def test_grants_with_a_trailing_newline_are_refused(service, viewer: str, title: str, devices: tuple[str, ...]) -> None:
    with pytest.raises(Exception, match="not valid"):
        service.entitlements.grant(viewer, title, devices)


def test_key_uri_with_a_trailing_newline_is_refused(server: RunningLicenseServer) -> None:
    key, token = _grant(server.service)
    response = httpx.get(f"{server.url}/drm/hls/bbb/{key.kid_hex}%0A.key", params={"token": token}, timeout=5,
                         trust_env=False)
    assert response.status_code == 404 and response.json()["error"] == "bad_key_uri"
    assert key.key not in response.content


# --- finding 8: no 500 for a malformed body -------------------------------------------------------------

@pytest.mark.parametrize("path", ["/drm/clearkey/license", "/drm/offline/license"])
def test_deeply_nested_json_is_a_400_with_a_reason(server: RunningLicenseServer, path: str) -> None:
    _, token = _grant(server.service)
    response = _post(server, path, NESTED, token)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_request" and "nest" in response.json()["detail"]


def test_offline_licence_for_an_all_zero_device_key_is_a_400(server: RunningLicenseServer) -> None:
    _, token = _grant(server.service)
    body = json.dumps({"device_public_key": b64url(b"\x00" * 32)}).encode()
    response = _post(server, "/drm/offline/license", body, token)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_device_key"


# --- finding 10: the body size is bounded before it is read, and the token is checked first -------------

def _raw_request(server: RunningLicenseServer, head: str, body: bytes, wait_s: float = 3.0) -> tuple[bytes, float]:
    """Send ``head`` and the start of a body, then read whatever the server answers within ``wait_s``."""
    host, port = server.url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=wait_s) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            pass
    return answer, time.monotonic() - started


def test_huge_content_length_is_refused_before_the_body_is_read(server: RunningLicenseServer) -> None:
    _, token = _grant(server.service)
    head = ("POST /drm/clearkey/license HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: 100000000\r\n")
    answer, elapsed_s = _raw_request(server, head, b"[" * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"body_too_large" in answer or elapsed_s < 1.0
    assert elapsed_s < 1.0


def test_streamed_body_over_the_limit_is_refused(server: RunningLicenseServer) -> None:
    _, token = _grant(server.service)
    limit = server.service.settings.license_server.max_body_bytes

    def chunks() -> Iterator[bytes]:
        for _ in range(64):  # no Content-Length: chunked, four times the limit in all
            yield b" " * (limit // 16)

    response = httpx.post(server.url + "/drm/clearkey/license", content=chunks(),
                          headers={"Authorization": f"Bearer {token}"}, timeout=5, trust_env=False)
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"


def test_large_body_without_a_token_is_refused_before_it_is_read(server: RunningLicenseServer) -> None:
    head = ("POST /drm/offline/license HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 15000\r\n")
    answer, elapsed_s = _raw_request(server, head, b"{")  # 14,999 bytes never arrive
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert elapsed_s < 1.0


def test_the_server_still_answers_after_the_refusals(server: RunningLicenseServer) -> None:
    key, token = _grant(server.service)
    for path in ("/drm/clearkey/license", "/drm/offline/license"):
        assert _post(server, path, NESTED, token).status_code == 400
    response = _post(server, "/drm/clearkey/license", json.dumps({"kids": [key.kid_b64url]}).encode(), token)
    assert response.status_code == 200 and response.json()["keys"][0]["kid"] == key.kid_b64url


# --- slow and oversized clients (uvicorn under the delivery stack's bounded protocol) ---------------------

def test_64_kb_of_headers_get_431(server: RunningLicenseServer) -> None:
    head = ("GET /healthz HTTP/1.1\r\nHost: x\r\n" + "".join(f"X-Pad-{i}: {'a' * 1000}\r\n" for i in range(64)))
    answer, elapsed_s = _raw_request(server, head, b"")
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert elapsed_s < 2.0


def test_trickling_clients_are_closed_and_never_block_the_others(drm_settings, master_key) -> None:
    """20 slowloris connections (one header byte every 0.2 s) are cut at the header timeout; /healthz stays fast."""
    drm_settings.license_server.connection.header_timeout_s = 1.0
    with running_license_server(drm_settings) as server:
        host, port = server.url.removeprefix("http://").split(":")
        slow = [socket.create_connection((host, int(port)), timeout=5) for _ in range(20)]
        for sock in slow:
            sock.sendall(b"POST /drm/clearkey/license HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        closed_after: dict[int, float] = {}
        health_s: list[float] = []
        started = time.monotonic()
        with httpx.Client(trust_env=False, timeout=2) as client:
            while len(closed_after) < len(slow) and time.monotonic() - started < 5.0:
                for i, sock in enumerate(slow):
                    if i in closed_after:
                        continue
                    try:
                        sock.sendall(b"a")
                        sock.setblocking(False)
                        try:
                            data = sock.recv(4096)
                            if data == b"" or data.startswith(b"HTTP/1.1 408"):
                                closed_after[i] = time.monotonic() - started
                        except BlockingIOError:
                            pass
                        finally:
                            sock.setblocking(True)
                    except OSError:  # reset or broken pipe: the server closed it
                        closed_after[i] = time.monotonic() - started
                t0 = time.perf_counter()
                assert client.get(server.url + "/healthz").status_code == 200
                health_s.append(time.perf_counter() - t0)
                time.sleep(0.2)
        for sock in slow:
            sock.close()
    assert len(closed_after) == len(slow), f"{len(slow) - len(closed_after)} trickling connections still open after 5 s"
    assert max(closed_after.values()) < 3.0
    assert max(health_s) < 0.1, health_s
