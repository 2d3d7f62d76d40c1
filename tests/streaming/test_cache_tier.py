"""The cache tier over real loopback HTTP: single-flight, LRU by bytes, TTLs, ranges, Vary, stats."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from streamlab.streaming.delivery.cache_admin import create_admin_app
from streamlab.streaming.delivery.cache_tier import CacheTier
from streamlab.streaming.delivery.settings import TierSettings
from streamlab.streaming.delivery.stack import ServerThread, bind_socket, socket_url


class Scripted:
    """An upstream whose answers are set by the query string, counting what reaches it.

    ``?size=N&status=S&cc=<Cache-Control>&age=A&lm=<Last-Modified>&vary=origin``; paths under ``/gated/`` wait
    until :attr:`gate` is set, so a test can hold a fill open while it piles requests up. Paths
    under ``/dribble/`` send the first half of the body, wait for :attr:`body_gate`, then send
    the rest (or, with ``?break=1``, drop the connection instead).
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.headers: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
        self.gate = threading.Event()
        self.gate.set()
        self.body_gate = threading.Event()
        self.body_gate.set()
        self.app = Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET", "HEAD", "OPTIONS"])])

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        self.counts[path] += 1
        self.headers[path].append(dict(request.headers))
        if path.startswith("/gated/"):
            await anyio.to_thread.run_sync(self.gate.wait, 20)
        query = request.query_params
        size = int(query.get("size", "100"))
        body = (path.encode() * (size // len(path) + 1))[:size]
        headers = {
            "Cache-Control": query.get("cc", "public, max-age=60"),
            "ETag": '"' + hashlib.sha1(body).hexdigest()[:16] + '"',
        }
        if "age" in query:
            headers["Age"] = query["age"]
        if "lm" in query:
            headers["Last-Modified"] = query["lm"]
        if query.get("vary") == "origin":
            headers["Vary"] = "Origin"
            headers["Access-Control-Allow-Origin"] = request.headers.get("origin", "none")
        if path.startswith("/dribble/"):
            async def halves():
                yield body[: size // 2]
                await anyio.to_thread.run_sync(self.body_gate.wait, 20)
                if query.get("break"):
                    raise ConnectionResetError("upstream broke off mid-body")
                yield body[size // 2 :]

            headers["Content-Length"] = str(size)
            return StreamingResponse(halves(), headers=headers, media_type="application/octet-stream")
        return Response(body, int(query.get("status", "200")), headers=headers, media_type="application/octet-stream")


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[Scripted, str]]:
    scripted = Scripted()
    sock = bind_socket("127.0.0.1", 0)
    servers = ServerThread([(scripted.app, sock)])
    servers.start(10)
    yield scripted, socket_url(sock)
    servers.stop()


ADMIN_TOKEN = "cache-tier-tests-admin-token"


@contextmanager
def tier_and_admin(upstream_url: str, capacity_bytes: int = 1_000_000, fraction: float = 0.5,
                   clock: FakeClock | None = None, name: str = "edge",
                   ) -> Iterator[tuple[CacheTier, httpx.Client, httpx.Client]]:
    """A tier in front of ``upstream_url`` with its admin API, both served from one event loop."""
    tier = CacheTier(name, upstream_url, TierSettings(capacity_bytes=capacity_bytes, max_object_fraction=fraction),
                     **({"clock": clock} if clock else {}))
    sock, admin_sock = bind_socket("127.0.0.1", 0), bind_socket("127.0.0.1", 0)
    servers = ServerThread([(tier, sock), (create_admin_app(tier, ADMIN_TOKEN), admin_sock)])
    servers.start(10)
    try:
        with httpx.Client(base_url=socket_url(sock), trust_env=False, timeout=20) as client, \
                httpx.Client(base_url=socket_url(admin_sock), trust_env=False, timeout=20,
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
            yield tier, client, admin
    finally:
        servers.stop()


@contextmanager
def tier_in_front(upstream_url: str, capacity_bytes: int = 1_000_000, fraction: float = 0.5,
                  clock: FakeClock | None = None, name: str = "edge") -> Iterator[tuple[CacheTier, httpx.Client]]:
    with tier_and_admin(upstream_url, capacity_bytes, fraction, clock, name) as (tier, client, _):
        yield tier, client


def unique(prefix: str = "/obj") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


# ---- hits, misses, single-flight ---------------------------------------------------------------------
def test_second_request_is_a_hit_and_reaches_upstream_once(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    path = unique()
    with tier_in_front(url) as (tier, client):
        first, second = client.get(path + "?size=500"), client.get(path + "?size=500")
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert first.content == second.content and len(second.content) == 500
    assert second.headers["x-cache-tier"] == "edge"
    assert "age" in second.headers
    assert scripted.counts[path] == 1


def test_fifty_concurrent_misses_make_exactly_one_upstream_request(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    path = unique("/gated")
    scripted.gate.clear()
    with tier_in_front(url) as (tier, client):
        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=str(client.base_url), trust_env=False, timeout=20,
                                         limits=httpx.Limits(max_connections=100)) as many:
                tasks = [asyncio.create_task(many.get(path + "?size=20000")) for _ in range(50)]
                for _ in range(2000):  # every request has joined the one fill (at most 20 s)
                    if tier.stats.misses + tier.stats.coalesced >= 50:
                        break
                    await asyncio.sleep(0.01)
                scripted.gate.set()
                return await asyncio.gather(*tasks)

        try:
            responses = asyncio.run(burst())
        finally:
            scripted.gate.set()
    assert scripted.counts[path] == 1
    assert Counter(r.headers["x-cache"] for r in responses) == {"MISS": 1, "COALESCED": 49}
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert tier.stats.upstream_requests == 1


def test_range_request_is_cut_from_the_full_cached_object(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    path = unique()
    with tier_in_front(url) as (tier, client):
        full = client.get(path + "?size=1000").content
        client.get(path + "?size=1000")  # fill done; purge it so the range itself is the miss
        tier.store.purge(lambda key: True)
        miss = client.get(path + "?size=1000", headers={"Range": "bytes=100-199"})
        hit = client.get(path + "?size=1000", headers={"Range": "bytes=-10"})
        beyond = client.get(path + "?size=1000", headers={"Range": "bytes=5000-"})
    assert (miss.status_code, miss.headers["x-cache"]) == (206, "MISS")
    assert miss.content == full[100:200] and miss.headers["content-range"] == "bytes 100-199/1000"
    assert (hit.status_code, hit.headers["x-cache"], hit.content) == (206, "HIT", full[-10:])
    assert beyond.status_code == 416 and beyond.headers["content-range"] == "bytes */1000"
    assert all("range" not in seen for seen in scripted.headers[path])  # fills always ask for the whole object


def test_head_miss_fills_the_cache_and_sends_no_body(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    path = unique()
    with tier_in_front(url) as (_, client):
        head = client.head(path + "?size=300")
        get = client.get(path + "?size=300")
    assert head.content == b"" and head.headers["content-length"] == "300"
    assert get.headers["x-cache"] == "HIT" and len(get.content) == 300
    assert scripted.counts[path] == 1


def test_matching_etag_gets_304_from_the_tier(upstream: tuple[Scripted, str]) -> None:
    _, url = upstream
    path = unique()
    with tier_in_front(url) as (_, client):
        etag = client.get(path).headers["etag"]
        again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["x-cache"] == "HIT"


def test_if_modified_since_on_a_miss_waits_for_the_fill_and_gets_304(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    path = unique()
    with tier_in_front(url) as (_, client):
        miss = client.get(path, params={"lm": "Wed, 02 Dec 2026 10:00:00 GMT"},
                          headers={"If-Modified-Since": "Thu, 03 Dec 2026 10:00:00 GMT"})
        hit = client.get(path, params={"lm": "Wed, 02 Dec 2026 10:00:00 GMT"},
                         headers={"If-Modified-Since": "Tue, 01 Dec 2026 10:00:00 GMT"})
    assert (miss.status_code, miss.headers["x-cache"], miss.content) == (304, "MISS", b"")
    assert (hit.status_code, hit.headers["x-cache"]) == (200, "HIT") and len(hit.content) == 100
    assert all("if-modified-since" not in seen for seen in scripted.headers[path])  # the fill is unconditional


# ---- requests with Authorization (RFC 9111 §3.5) ------------------------------------------------------
def test_authorized_requests_share_what_the_upstream_marked_public(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    path = unique()
    with tier_in_front(url) as (_, client):
        outcomes = [client.get(path, params={"cc": "public, max-age=60"},
                               headers={"Authorization": f"Bearer user-{i}"}).headers["x-cache"] for i in range(3)]
        anonymous = client.get(path, params={"cc": "public, max-age=60"}).headers["x-cache"]
    assert (outcomes, anonymous) == (["MISS", "HIT", "HIT"], "HIT")
    assert scripted.counts[path] == 1


def test_an_answer_not_marked_public_is_never_shared_with_or_from_an_authorized_request(
    upstream: tuple[Scripted, str],
) -> None:
    scripted, url = upstream
    stored, personal = unique(), unique()
    with tier_in_front(url) as (tier, client):
        client.get(stored, params={"cc": "max-age=60"})  # stored for anonymous viewers only
        authorized = client.get(stored, params={"cc": "max-age=60"}, headers={"Authorization": "Bearer a"})
        client.get(personal, params={"cc": "max-age=60"}, headers={"Authorization": "Bearer a"})
        after = client.get(personal, params={"cc": "max-age=60"})
    assert authorized.headers["x-cache"] == "PASS" and after.headers["x-cache"] == "MISS"
    assert scripted.counts[stored] == 2 and scripted.counts[personal] == 2


# ---- what is (not) stored, and for how long --------------------------------------------------------------
@pytest.mark.parametrize("cache_control", ["no-store", "private, max-age=60", "no-cache", "public, max-age=0"])
def test_uncacheable_answers_go_upstream_every_time(upstream: tuple[Scripted, str], cache_control: str) -> None:
    scripted, url = upstream
    path = unique()
    with tier_in_front(url) as (tier, client):
        for _ in range(3):
            assert client.get(path, params={"cc": cache_control}).headers["x-cache"] == "MISS"
    assert scripted.counts[path] == 3
    assert len(tier.store) == 0


def test_entries_expire_after_max_age_and_are_never_served_stale(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    clock = FakeClock()
    path = unique()
    with tier_in_front(url, clock=clock) as (_, client):
        assert client.get(path, params={"cc": "max-age=5"}).headers["x-cache"] == "MISS"
        clock.now_s += 4.9
        fresh = client.get(path, params={"cc": "max-age=5"})
        clock.now_s += 0.2
        expired = client.get(path, params={"cc": "max-age=5"})
    assert (fresh.headers["x-cache"], fresh.headers["age"]) == ("HIT", "4")
    assert expired.headers["x-cache"] == "MISS"
    assert scripted.counts[path] == 2


def test_upstream_age_shortens_the_lifetime(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    clock = FakeClock()
    path = unique()
    with tier_in_front(url, clock=clock) as (tier, client):
        client.get(path, params={"cc": "max-age=10", "age": "9"})
        clock.now_s += 1.5
        again = client.get(path, params={"cc": "max-age=10", "age": "9"})
    assert again.headers["x-cache"] == "MISS"
    assert scripted.counts[path] == 2


def test_not_found_is_cached_for_its_short_ttl_then_asked_again(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    clock = FakeClock()
    path = unique()
    params = {"status": "404", "cc": "public, max-age=1"}
    with tier_in_front(url, clock=clock) as (_, client):
        first, second = client.get(path, params=params), client.get(path, params=params)
        clock.now_s += 1.1
        third = client.get(path, params=params)
    assert [r.status_code for r in (first, second, third)] == [404, 404, 404]
    assert [r.headers["x-cache"] for r in (first, second, third)] == ["MISS", "HIT", "MISS"]
    assert scripted.counts[path] == 2


def test_server_errors_are_passed_through_and_never_cached(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    path = unique()
    with tier_in_front(url) as (_, client):
        statuses = [client.get(path, params={"status": "503"}).status_code for _ in range(2)]
    assert statuses == [503, 503]
    assert scripted.counts[path] == 2


def test_lru_evicts_the_least_recently_used_by_bytes(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    a, b, c, d = (unique() for _ in range(4))
    with tier_in_front(url, capacity_bytes=10_000, fraction=0.5) as (tier, client):
        for path in (a, b, c):
            client.get(path + "?size=3000")
        client.get(a + "?size=3000")  # a is now the most recently used
        client.get(d + "?size=3000")  # no room for four: b goes
        stats = client.get("/_stats").json()
        b_again = client.get(b + "?size=3000").headers["x-cache"]
        a_again = client.get(a + "?size=3000").headers["x-cache"]
    assert stats["evictions"] == 1 and stats["entries"] == 3
    assert stats["bytes_cached"] <= 10_000
    assert (b_again, a_again) == ("MISS", "HIT")


def test_objects_over_the_size_limit_stream_through_uncached(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    path = unique()
    with tier_in_front(url, capacity_bytes=10_000, fraction=0.5) as (tier, client):
        first = client.get(path + "?size=6000")
        second = client.get(path + "?size=6000", headers={"Range": "bytes=0-9"})
    assert first.status_code == 200 and len(first.content) == 6000
    assert first.headers["x-cache"] == "PASS" and second.headers["x-cache"] == "PASS"
    assert len(tier.store) == 0
    assert scripted.counts[path] == 3  # the aborted fill, then each request straight through (hit-for-pass)


def test_vary_origin_keeps_one_entry_per_origin(upstream: tuple[Scripted, str]) -> None:
    _, url = upstream
    path = unique()
    with tier_in_front(url) as (_, client):
        a1 = client.get(path, params={"vary": "origin"}, headers={"Origin": "http://a.example"})
        b1 = client.get(path, params={"vary": "origin"}, headers={"Origin": "http://b.example"})
        a2 = client.get(path, params={"vary": "origin"}, headers={"Origin": "http://a.example"})
    assert [r.headers["x-cache"] for r in (a1, b1, a2)] == ["MISS", "MISS", "HIT"]
    assert b1.headers["access-control-allow-origin"] == "http://b.example"
    assert a2.headers["access-control-allow-origin"] == "http://a.example"


def test_purge_drops_entries_under_a_prefix(upstream: tuple[Scripted, str]) -> None:
    _, url = upstream
    path, other = unique("/media/a"), unique("/media/b")
    with tier_and_admin(url) as (_, client, admin):
        client.get(path)
        client.get(other)
        purged = admin.post("/purge", params={"prefix": "/media/a/"}).json()["purged"]
        again, kept = client.get(path).headers["x-cache"], client.get(other).headers["x-cache"]
    assert (purged, again, kept) == (1, "MISS", "HIT")


def test_a_fill_in_flight_during_a_purge_serves_its_waiters_but_stores_nothing(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    path = unique("/gated")
    scripted.gate.clear()
    try:
        with tier_and_admin(url) as (tier, client, admin):
            with httpx.Client(base_url=str(client.base_url), trust_env=False, timeout=20) as other:
                waiting = threading.Thread(target=lambda: other.get(path), daemon=True)
                waiting.start()
                for _ in range(2000):  # the fill has started (at most 20 s)
                    if tier.stats.misses:
                        break
                    threading.Event().wait(0.01)
                admin.post("/purge", params={"prefix": "/gated/"})
                scripted.gate.set()
                waiting.join(20)
            after = client.get(path)
    finally:
        scripted.gate.set()
    assert after.headers["x-cache"] == "MISS" and scripted.counts[path] == 2


# ---- cut-through fills ----------------------------------------------------------------------------------
def test_a_miss_streams_its_first_bytes_before_the_fill_completes(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    path = unique("/dribble")
    scripted.body_gate.clear()
    try:
        with tier_in_front(url) as (tier, client), client.stream("GET", path + "?size=200000") as response:
            chunks = response.iter_raw()
            first = next(chunks)  # arrives while the upstream still holds back the second half
            assert response.headers["x-cache"] == "MISS" and response.headers["content-length"] == "200000"
            assert len(tier.store) == 0 and 0 < len(first) <= 100_000
            scripted.body_gate.set()
            body = first + b"".join(chunks)
            again = client.get(path + "?size=200000")
    finally:
        scripted.body_gate.set()
    assert len(body) == 200_000 and body == again.content
    assert again.headers["x-cache"] == "HIT" and scripted.counts[path] == 1


def test_a_request_joining_a_fill_gets_the_bytes_received_so_far_at_once(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    path = unique("/dribble")
    scripted.body_gate.clear()
    try:
        with tier_in_front(url) as (tier, client):
            with client.stream("GET", path + "?size=100000") as leader:
                leader_chunks = leader.iter_raw()
                next(leader_chunks)
                with httpx.Client(base_url=str(client.base_url), trust_env=False, timeout=20) as other, \
                        other.stream("GET", path + "?size=100000") as joiner:
                    joiner_chunks = joiner.iter_raw()
                    joined = next(joiner_chunks)  # the leader's half, while the upstream still waits
                    assert joiner.headers["x-cache"] == "COALESCED" and len(joined) >= 1
                    scripted.body_gate.set()
                    joined += b"".join(joiner_chunks)
                b"".join(leader_chunks)
    finally:
        scripted.body_gate.set()
    assert len(joined) == 100_000 and scripted.counts[path] == 1
    assert (tier.stats.misses, tier.stats.coalesced) == (1, 1)


def test_a_reader_that_stops_reading_does_not_hold_up_the_fill(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    path = unique()
    size = 8_000_000  # far more than the socket buffers hold: the tier cannot push it all to the sleeper
    with tier_in_front(url, capacity_bytes=20_000_000) as (tier, client), \
            client.stream("GET", f"{path}?size={size}") as sleeper:
        assert sleeper.headers["x-cache"] == "MISS"
        for _ in range(500):  # the fill completes at the upstream's speed (at most 5 s)
            if len(tier.store):
                break
            threading.Event().wait(0.01)
        with httpx.Client(base_url=str(client.base_url), trust_env=False, timeout=20) as other:
            hit = other.get(f"{path}?size={size}")
        slow = sleeper.read()
    assert hit.headers["x-cache"] == "HIT" and len(hit.content) == size
    assert slow == hit.content and scripted.counts[path] == 1


def test_an_upstream_breaking_off_mid_body_aborts_the_client_and_stores_nothing(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    path = unique("/dribble")
    with tier_in_front(url) as (tier, client):
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(path + "?size=100000&break=1")
        stats = client.get("/_stats").json()
    assert len(tier.store) == 0 and stats["errors"] == 1


# ---- safety and failure ------------------------------------------------------------------------------
def test_dot_segments_are_refused_before_anything_is_forwarded(upstream: tuple[Scripted, str]) -> None:
    scripted, url = upstream
    with tier_in_front(url) as (tier, client):
        for raw in ("/media/%2e%2e/secret", "/media/a/..%2f..%2fsecret", "/media/a%5c..%5csecret"):
            request = client.build_request("GET", "/")
            request.url = request.url.copy_with(raw_path=raw.encode())
            assert client.send(request).status_code == 400, raw
    assert tier.stats.upstream_requests == 0
    assert not any("secret" in path for path in scripted.counts)


def test_unreachable_upstream_is_502_and_counted() -> None:
    dead = bind_socket("127.0.0.1", 0)
    dead_url = socket_url(dead)
    dead.close()
    with tier_in_front(dead_url) as (tier, client):
        response = client.get("/media/x/master.m3u8")
        stats = client.get("/_stats").json()
    assert response.status_code == 502 and "upstream failed" in response.text
    assert stats["errors"] == 1


# ---- statistics ------------------------------------------------------------------------------------------
def test_stats_json_counts_what_happened(upstream: tuple[Scripted, str]) -> None:
    _, url = upstream
    path = unique()
    with tier_in_front(url) as (_, client):
        client.get(path + "?size=1000")
        client.get(path + "?size=1000")
        client.get(path + "?size=1000", headers={"Range": "bytes=0-99"})
        stats = client.get("/_stats").json()
    assert {k: stats[k] for k in ("requests", "hits", "misses", "coalesced", "entries")} == {
        "requests": 3, "hits": 2, "misses": 1, "coalesced": 0, "entries": 1}
    assert stats["hit_ratio"] == pytest.approx(2 / 3, abs=1e-3)
    assert stats["bytes_served"] == 2100 and stats["bytes_from_upstream"] == 1000
    assert stats["bytes_cached"] >= 1000 and stats["evictions"] == 0


def test_metrics_are_prometheus_text_per_tier_without_clashes(upstream: tuple[Scripted, str]) -> None:
    _, url = upstream
    path = unique()
    with tier_in_front(url, name="shield") as (_, shield_client), tier_in_front(url, name="edge") as (_, edge_client):
        shield_client.get(path)
        shield_client.get(path)
        edge_client.get(path)
        shield_text = shield_client.get("/metrics").text
        edge_text = edge_client.get("/metrics").text
    assert 'streamlab_cache_hits_total{tier="shield"} 1.0' in shield_text
    assert 'streamlab_cache_misses_total{tier="edge"} 1.0' in edge_text
    assert 'streamlab_cache_hits_total{tier="edge"} 0.0' in edge_text
    assert "# TYPE streamlab_cache_bytes_cached gauge" in edge_text
    assert 'tier="edge"' not in shield_text
