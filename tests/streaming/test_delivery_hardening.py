"""Issue 20's delivery findings, probed on a real stack over raw loopback sockets (not an HTTP client).

Finding 4: request heads are bounded in size (431) and in time (408 and close), idle and
trickling (slowloris) connections are closed, and a normal viewer is served meanwhile, at every
tier. Finding 5: no public path changes the cache; purges go through the authenticated admin
API; requests with ``Authorization`` are cached by RFC 9111 §3.5. Finding 10: conditional
requests are answered 304 by the tiers from what they hold.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest

from streamlab.streaming.delivery.sample_title import build_sample_title
from streamlab.streaming.delivery.stack import RunningStack, StackError, purge_tiers, running_stack

TIMEOUT_S = 1.0
"""The stack's header, body and idle timeouts here, short so each probe takes about a second."""
OVERRIDES = [f"connections.{name}={TIMEOUT_S}" for name in ("header_timeout_s", "body_timeout_s", "idle_timeout_s")]
SLACK_S = 1.5
"""How much later than its timeout a connection may close on a loaded shared test machine."""
TIERS = ["edge", "shield", "origin"]
SEGMENT = "/media/sample/180p_400k/init.mp4"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hardening") / "media"
    root.mkdir()
    build_sample_title(root, "sample")
    return root


@pytest.fixture(scope="module")
def stack(media: Path) -> Iterator[RunningStack]:
    with running_stack(media_root=media, overrides=OVERRIDES) as running:
        yield running


def tier_url(stack: RunningStack, tier: str) -> str:
    return {"edge": stack.edge_url, "shield": stack.shield_url, "origin": stack.origin_url}[tier]


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def get(url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(url, trust_env=False, timeout=10, **kwargs)  # type: ignore[arg-type]


def exchange(url: str, raw: bytes, wait_s: float = 10.0) -> bytes:
    """Send ``raw`` on a fresh connection and read until the server closes it (or ``wait_s``)."""
    received = b""
    with socket.create_connection(address(url), timeout=wait_s) as sock:
        try:
            sock.sendall(raw)
        except OSError:  # the server refused before reading everything: its answer may still be there
            pass
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
    return received


def status_of(response: bytes) -> int | None:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else None


def seconds_until_closed(sock: socket.socket, limit_s: float) -> float:
    """Read (and drop) what the server sends until it closes the connection; ``inf`` if it never does."""
    started = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - started < limit_s:
        try:
            if not sock.recv(65536):
                return time.monotonic() - started
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - started
    return float("inf")


# ---- finding 4: bounded request heads ------------------------------------------------------------
@pytest.mark.parametrize("tier", TIERS)
def test_a_64_kb_request_head_is_refused_with_431(stack: RunningStack, tier: str) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n"
    response = exchange(tier_url(stack, tier), head)
    assert status_of(response) == 431, response[:200]
    assert b"connection: close" in response.lower()


def test_a_head_sent_in_many_small_pieces_is_counted_as_a_whole(stack: RunningStack) -> None:
    with socket.create_connection(address(stack.edge_url), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            for i in range(100):  # 100 headers of 1 KB: each read is small, their sum is not
                sock.sendall(b"X-%d: %s\r\n" % (i, b"b" * 1024))
                time.sleep(0.001)
        except OSError:
            pass
        response = sock.recv(65536)
    assert status_of(response) == 431


def test_a_head_under_the_limit_and_pipelined_requests_are_served(stack: RunningStack) -> None:
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fine: " + b"c" * 20_000 + b"\r\nConnection: close\r\n\r\n"
    assert status_of(exchange(stack.edge_url, big)) == 200
    pipelined = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 2 + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert exchange(stack.edge_url, pipelined).count(b"HTTP/1.1 200 OK") == 3


# ---- finding 4: header, body and idle timeouts ---------------------------------------------------
@pytest.mark.parametrize("tier", TIERS)
def test_a_connection_that_sends_nothing_is_closed_within_the_header_timeout(stack: RunningStack, tier: str) -> None:
    with socket.create_connection(address(tier_url(stack, tier)), timeout=10) as sock:
        assert seconds_until_closed(sock, TIMEOUT_S + SLACK_S + 3) <= TIMEOUT_S + SLACK_S


@pytest.mark.parametrize("tier", TIERS)
def test_a_keep_alive_connection_left_idle_is_closed_within_the_idle_timeout(stack: RunningStack, tier: str) -> None:
    with socket.create_connection(address(tier_url(stack, tier)), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(sock.recv(65536)) == 200
        assert seconds_until_closed(sock, TIMEOUT_S + SLACK_S + 3) <= TIMEOUT_S + SLACK_S


def test_a_body_that_never_arrives_is_cut_off_within_the_body_timeout(stack: RunningStack) -> None:
    with socket.create_connection(address(stack.edge_url), timeout=10) as sock:
        sock.sendall(b"POST /api/titles HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"d" * 10)
        assert seconds_until_closed(sock, TIMEOUT_S + SLACK_S + 10) <= TIMEOUT_S + SLACK_S


async def _slowloris(url: str, connections: int, budget_s: float) -> tuple[list[float], list[bytes], list[float]]:
    """``connections`` clients trickle a head one byte per 0.1 s while a viewer fetches /healthz.

    Returns when each trickler was closed (seconds after its first byte), what each was told,
    and the viewer's latencies, all within ``budget_s``.
    """
    host, port = address(url)
    started = time.monotonic()

    async def trickle() -> tuple[float, bytes]:
        reader, writer = await asyncio.open_connection(host, port)
        first_byte_s = time.monotonic()
        told = b""
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            while time.monotonic() - started < budget_s:
                writer.write(b"X")
                await writer.drain()
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), 0.1)
                except TimeoutError:
                    continue
                if not chunk:
                    return time.monotonic() - first_byte_s, told
                told += chunk
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - first_byte_s, told
        finally:
            writer.close()
        return float("inf"), told

    async def viewer() -> list[float]:
        latencies = []
        async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
            while time.monotonic() - started < TIMEOUT_S + SLACK_S:
                begun = time.monotonic()
                assert (await client.get(url + "/healthz")).status_code == 200
                latencies.append(time.monotonic() - begun)
                await asyncio.sleep(0.1)
        return latencies

    outcomes, latencies = await asyncio.gather(asyncio.gather(*(trickle() for _ in range(connections))), viewer())
    return [closed for closed, _ in outcomes], [told for _, told in outcomes], latencies


@pytest.mark.parametrize("tier", TIERS)
def test_slowloris_connections_are_closed_and_a_viewer_is_served_meanwhile(stack: RunningStack, tier: str) -> None:
    closed_after_s, told, latencies_s = asyncio.run(_slowloris(tier_url(stack, tier), 20, budget_s=TIMEOUT_S + SLACK_S + 3))
    assert max(closed_after_s) <= TIMEOUT_S + SLACK_S
    assert all(status_of(answer) == 408 for answer in told)
    assert latencies_s and max(latencies_s) < 1.0


# ---- finding 5: cache control is not public; authenticated requests are cached ----------------------
@pytest.mark.parametrize("tier", ["edge", "shield"])
def test_the_public_listeners_cannot_purge(stack: RunningStack, tier: str) -> None:
    url = tier_url(stack, tier)
    get(url + SEGMENT)
    purge = httpx.post(url + "/_purge", params={"prefix": "/"}, trust_env=False, timeout=10)
    assert purge.status_code in (404, 405)
    assert get(url + SEGMENT).headers["x-cache"] == "HIT"


def test_the_admin_api_purges_only_with_the_token(stack: RunningStack) -> None:
    get(stack.edge_url + SEGMENT)
    url = stack.edge_admin_url + "/purge"
    anonymous = httpx.post(url, params={"prefix": "/media/"}, trust_env=False, timeout=10)
    wrong = httpx.post(url, params={"prefix": "/media/"}, headers={"Authorization": "Bearer guess-guess-guess"},
                       trust_env=False, timeout=10)
    assert (anonymous.status_code, wrong.status_code) == (401, 401)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert get(stack.edge_url + SEGMENT).headers["x-cache"] == "HIT"
    assert stack.admin_token not in repr(stack)
    with pytest.raises(StackError, match="401"):
        purge_tiers([("edge", stack.edge_admin_url)], "guess-guess-guess", "/media/")
    assert stack.purge("/media/sample/")["edge"] >= 1
    assert get(stack.edge_url + SEGMENT).headers["x-cache-chain"].endswith("edge=MISS")


def test_the_admin_api_listens_on_loopback_apart_from_the_public_ports(stack: RunningStack) -> None:
    public = {address(stack.edge_url)[1], address(stack.shield_url)[1], address(stack.origin_url)[1]}
    admin = {address(stack.edge_admin_url), address(stack.shield_admin_url)}
    assert {host for host, _ in admin} == {"127.0.0.1"}
    assert not public & {port for _, port in admin}


def test_a_short_admin_token_from_the_environment_is_refused(media: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMLAB_DELIVERY_ADMIN_TOKEN", "short")
    with pytest.raises(StackError, match="at least 16"), running_stack(media_root=media):
        pass


def test_a_hundred_authorized_requests_reach_the_origin_once(stack: RunningStack) -> None:
    path = "/media/sample/180p_400k/seg_00001.m4s"
    stack.purge("/media/sample/")
    before = stack.shield.stats.upstream_requests
    with httpx.Client(trust_env=False, timeout=10) as client:
        responses = [client.get(stack.edge_url + path, headers={"Authorization": f"Bearer viewer-{i}"}) for i in range(100)]
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert stack.shield.stats.upstream_requests - before == 1
    assert responses[-1].headers["x-cache"] == "HIT"


# ---- finding 10: conditional requests are answered from the cache ------------------------------------
@pytest.mark.parametrize("tier", ["edge", "shield"])
def test_if_modified_since_is_304_from_the_cache(stack: RunningStack, tier: str) -> None:
    url = tier_url(stack, tier) + SEGMENT
    last_modified = get(url).headers["last-modified"]
    unchanged = get(url, headers={"If-Modified-Since": last_modified})
    older = get(url, headers={"If-Modified-Since": formatdate(0, usegmt=True)})
    assert (unchanged.status_code, unchanged.content, unchanged.headers["x-cache"]) == (304, b"", "HIT")
    assert older.status_code == 200 and older.content


def test_if_none_match_decides_over_if_modified_since_at_the_edge(stack: RunningStack) -> None:
    url = stack.edge_url + SEGMENT
    first = get(url)
    both = get(url, headers={"If-None-Match": '"other"', "If-Modified-Since": first.headers["last-modified"]})
    assert both.status_code == 200 and both.content == first.content
