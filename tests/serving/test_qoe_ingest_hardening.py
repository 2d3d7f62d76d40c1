"""Issue 20 for ``/qoe/ingest``: new names cannot slow it, a timestamp cannot freeze it, no body makes it 500."""

from __future__ import annotations

import json
import statistics
import threading
import time

import httpx
import psutil
import pytest

from streamlab.serving.qoe import FairLock, IngestRefused, parse_events

BAD_BODIES = [
    b"", b"{not json", b"[" * 8000, b"[" * 30 + b"]" * 30, b"\xff\xfe\x00", b"null", b'"x"', b"3", b"1" * 5000,
    b'{"events": []}', b"[1e999]", b"[NaN, Infinity]", b'[{"kind": "heartbeat", "timestamp": 1e999}]', b"[1,]",
    b"[1 2]", b"[1] x", b"[", json.dumps(["[" * 5000]).encode(),
    json.dumps([{"kind": ["x"] * 10}, None, [], {"session_id": {"a": 1}}]).encode(),
]  # fmt: skip


@pytest.mark.parametrize("body", BAD_BODIES)
def test_the_envelope_parser_answers_a_list_or_a_4xx_for_any_body(body: bytes) -> None:
    try:
        events = parse_events(body, 5000)
    except IngestRefused as exc:
        assert exc.status == 400 and str(exc)
    else:
        assert events == json.loads(body)


def test_the_envelope_parser_stops_at_the_event_limit() -> None:
    with pytest.raises(IngestRefused, match="qoe.max_events"):
        parse_events(json.dumps([{}] * 4).encode(), 3)
    assert parse_events(b" [ {} , {} ] ", 2) == [{}, {}]


def test_the_fair_lock_serves_waiters_in_arrival_order() -> None:
    """A thread that releases and asks again queues behind whoever waited: a big batch cannot starve a beacon."""
    lock, order = FairLock(), []
    lock.__enter__()
    waiters = [threading.Thread(target=lambda n=n: (lock.__enter__(), order.append(n), lock.__exit__())) for n in range(4)]
    for waiter in waiters:
        waiter.start()
        time.sleep(0.05)
    lock.__exit__()
    for waiter in waiters:
        waiter.join(timeout=5)
    assert order == [0, 1, 2, 3]


@pytest.fixture(scope="module")
def client(model_server):
    with httpx.Client(base_url=model_server.url, trust_env=False, timeout=120) as http:
        yield http


def beat(session: str, timestamp: float, **dims: str) -> dict:
    return {
        "kind": "heartbeat", "viewer_id": f"v-{session}", "session_id": session, "timestamp": timestamp,
        "title_id": dims.get("title_id", "t001"), "device": dims.get("device", "web"),
        "region": dims.get("region", "eu-west"), "edge": dims.get("edge", "eu-west-1"),
        "playhead_s": 30.0, "buffer_s": 12.0, "bitrate_kbps": 1800.0, "throughput_kbps": 5000.0, "startup_s": 1.2,
    }  # fmt: skip


def windows_closed(client: httpx.Client) -> int:
    return client.get("/qoe/alerts").json()["windows_closed"]


@pytest.mark.slow
def test_a_far_future_beacon_is_refused_and_windows_keep_closing(client) -> None:
    """The probe's 1e12 beacon froze every window after it; now it is refused and the stream's windows close."""
    start = time.time() - 400.0
    first = [beat(f"n{s}", start + k * 5.0) for k in range(6) for s in range(8)]
    assert client.post("/qoe/ingest", json=first).json()["accepted"] == len(first)
    answer = client.post("/qoe/ingest", json=[beat("rogue", 1e12)])
    assert answer.status_code == 200
    score = answer.json()["scores"][0]
    assert not score["accepted"] and "timestamp" in score["reason"]
    before = windows_closed(client)
    rest = [beat(f"n{s}", start + 30.0 + k * 5.0) for k in range(70) for s in range(8)]  # ~12 more windows, to now
    assert client.post("/qoe/ingest", json=rest).json()["accepted"] == len(rest)
    assert windows_closed(client) - before >= 10
    assert client.get("/qoe/alerts").json()["stats"]["refused_future"] >= 1


@pytest.mark.slow
@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_malformed_or_ill_typed_body_is_never_a_500(client, body: bytes) -> None:
    answer = client.post("/qoe/ingest", content=body, headers={"content-type": "application/json"})
    assert answer.status_code < 500, answer.text
    if answer.status_code == 200:  # the envelope was a list: each bad event is rejected with its reason
        assert all(s["reason"] for s in answer.json()["scores"] if not s["accepted"])
    else:
        assert answer.status_code == 400 and answer.json()["error"]


@pytest.mark.slow
def test_too_many_events_are_refused_before_any_is_scored(client) -> None:
    answer = client.post("/qoe/ingest", json=[beat("x", time.time())] * 5001)
    assert answer.status_code == 400 and "qoe.max_events" in answer.text


def server_rss_mb(pid: int) -> float:
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20


@pytest.mark.slow
def test_batches_of_new_names_neither_hold_up_a_beacon_nor_grow_memory(client, model_server) -> None:
    """20 batches of 5,000 events with new title/edge/region/device ids each while a player beacons every 50 ms.

    Before: one such batch took 35 s and the next over 115 s, a beacon waited 39 s. The bound is the issue's
    100 ms p99 on top of the beacon's own p99 with no batch running (measured first), so a busy shared test
    machine's scheduling tail is not counted against the server.
    """
    now = time.time()
    warm = [beat(f"w{s}", now - 60 + k) for k in range(10) for s in range(10)]
    assert client.post("/qoe/ingest", json=warm).status_code == 200
    batches = [json.dumps([beat(f"u{b}-{n}", now, title_id=f"t{b}-{n}", edge=f"e{b}-{n}", region=f"r{b}-{n}",
                                device=f"d{b}-{n}") for n in range(5000)]).encode() for b in range(20)]  # fmt: skip

    def beacons_while(work) -> list[float]:  # noqa: ANN001 - a callable run in this thread
        latencies: list[float] = []
        done = threading.Event()

        def player() -> None:
            with httpx.Client(base_url=model_server.url, trust_env=False, timeout=60) as own:
                while not done.is_set():
                    started = time.perf_counter()
                    answer = own.post("/qoe/ingest", json=[beat("player", time.time())])
                    latencies.append(time.perf_counter() - started)
                    assert answer.status_code == 200 and answer.json()["accepted"] == 1
                    time.sleep(0.05)

        beacons = threading.Thread(target=player)  # batches are encoded first: its timings are the server's, not ours
        beacons.start()
        try:
            work()
        finally:
            done.set()
            beacons.join(timeout=60)
        return latencies

    rss: list[float] = []

    def post_batches() -> None:
        for body in batches:
            answer = client.post("/qoe/ingest", content=body, headers={"content-type": "application/json"}, timeout=30)
            assert answer.status_code == 200 and b'"accepted":5000' in answer.content
            rss.append(server_rss_mb(model_server.process.pid))

    idle = beacons_while(lambda: time.sleep(3.0))
    busy = beacons_while(post_batches)
    # The caps (20,000 sessions = 4 batches, 10,000 groups) fill over the first batches; from then on memory is flat.
    filling, growth = rss[3] - rss[0], max(rss[4:]) - rss[3]
    idle_p99, p99 = (statistics.quantiles(x, n=100)[98] for x in (idle, busy))
    assert len(busy) >= 50, busy
    assert p99 < 0.1 + idle_p99, f"beacon p99 {p99 * 1000:.0f} ms over {len(busy)} (idle: {idle_p99 * 1000:.0f} ms)"
    assert filling < 80, f"filling the caps took {filling:.0f} MB ({rss[0]:.0f} MB after the first batch)"
    assert growth < 50, f"server memory grew {growth:.0f} MB once the caps were full ({rss[3]:.0f} MB then)"
    stats = client.get("/qoe/alerts").json()["stats"]
    assert stats["groups_evicted"] > 0 and stats["sessions_evicted"] > 0
    assert 'streamlab_qoe_bounded_total{what="groups_evicted"}' in client.get("/metrics").text
