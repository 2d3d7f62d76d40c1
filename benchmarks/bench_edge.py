"""Edge intelligence: the hook's cost per request, steering reaction time, and predictive warming's hit ratio.

1. ``hook``: the viewer-request hook's decision (device class from UA + hints, region, arms of two
   running experiments) per request, in-process (``decide_us``), and the request rate of cached
   segment hits through a hooked edge on loopback (``hooked_hits_per_s``, one keep-alive client).
2. ``steering``: two pathways, 8 steering-following headless viewers in eu and na, a 50% 5xx
   rate on pathway cdn-a for eu only: seconds until >= 90% of eu's new segment requests go to
   cdn-b (``moved_off_s``, the issue's bound is 60), and until they return after the fault
   clears (``moved_back_s``, at least the hysteresis ``promote_after_s``). Steering TTL 1 s.
3. ``warming``: the simulated premiere (600 viewers, 3 regions, 30 titles, configs/edge.yaml
   budget) over 5 seeds: first-minute hit ratio cold / warm / oracle, warm/oracle (goal >= 0.9)
   and the share of the oracle's gain over cold the forecast captures.

Numbers on the shared 2-core box are noisy; the steering times are bounded by the 2 s
measurement rounds.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from streamlab.pipelines.warming.simulate import simulate_premiere
from streamlab.streaming.edge.hook import ViewerHook
from streamlab.streaming.edge.sample_ladder import write_ladder_title
from streamlab.streaming.edge.settings import load_edge_settings
from streamlab.streaming.edge.topology import running_edges
from streamlab.streaming.experiment.definition import define
from streamlab.streaming.experiment.settings import load_experiment_settings
from streamlab.streaming.steering.client import SteeredViewer, share

HOOK_REQUESTS = 2000
UA = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"
DRILL = ["steering.ttl_s=1", "steering.probe_interval_s=0.5", "steering.window_s=3", "steering.min_samples=3",
         "steering.demote_after_s=1", "steering.promote_after_s=6"]


def bench_hook(media: Path) -> dict[str, float]:
    settings = load_experiment_settings()
    experiments = [define("bench-a", "control,treatment", "50/50", "qoe", settings, started_at=0.0),
                   define("bench-b", "control,treatment,bola", "20/30/50", "qoe", settings, started_at=0.0)]
    hook = ViewerHook(load_edge_settings().hook, experiments)
    headers = {"user-agent": UA, "sec-ch-ua-mobile": "?1", "sec-ch-ua-platform": '"Android"', "x-country": "DE",
               "x-streamlab-viewer": "viewer-1"}
    started = time.perf_counter()
    for i in range(HOOK_REQUESTS):
        hook.context({**headers, "x-streamlab-viewer": f"viewer-{i}"})
    decide_us = (time.perf_counter() - started) / HOOK_REQUESTS * 1e6
    path = "/media/ladder/360p_h264/seg_00001.m4s"
    with running_edges(media, ["cdn-a"], experiments=experiments) as edges:
        node = edges.edges["cdn-a"]
        with httpx.Client(trust_env=False) as client:
            client.get(node.url + path, headers=headers)  # fills the edge: what follows are hits
            started = time.perf_counter()
            for _ in range(HOOK_REQUESTS // 4):
                client.get(node.url + path, headers=headers)
            rate = HOOK_REQUESTS // 4 / (time.perf_counter() - started)
        per_request = {name: asyncio.run(_asgi_us(app, path, headers)) for name, app in (("plain", node.tier), ("hooked", node.hook))}
    return {"decide_us": round(decide_us, 1), "hooked_hits_per_s": round(rate, 1),
            "hit_us_plain_tier": per_request["plain"], "hit_us_hooked_tier": per_request["hooked"]}


async def _asgi_us(app: object, path: str, headers: dict[str, str]) -> float:
    """Microseconds per cached hit through ``app`` called in-process (no sockets: the hook's own cost shows)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge") as client:  # type: ignore[arg-type]
        await client.get(path, headers=headers)
        started = time.perf_counter()
        for _ in range(HOOK_REQUESTS // 4):
            await client.get(path, headers=headers)
        return round((time.perf_counter() - started) / (HOOK_REQUESTS // 4) * 1e6, 1)


async def _round(viewers: list[SteeredViewer], seconds: float) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        for viewer in viewers:
            viewer.client = client
        until = time.monotonic() + seconds
        await asyncio.gather(*(v.play(until) for v in viewers))


async def _viewers(edges_url: dict[str, str]) -> list[SteeredViewer]:
    viewers = []
    client = httpx.AsyncClient(trust_env=False, timeout=5)
    for region, country in (("eu", "DE"), ("na", "US")):
        for i in range(4):
            viewer = SteeredViewer(client, edges_url["cdn-a" if i % 2 else "cdn-b"] + "/media/ladder/master.m3u8", region,
                                   {"X-Country": country})
            await viewer.start()
            viewers.append(viewer)
    await client.aclose()
    return viewers


def bench_steering(media: Path) -> dict[str, float | None]:
    with running_edges(media, ["cdn-a", "cdn-b"], edge=load_edge_settings(DRILL), steering=True, experiments=[]) as edges:
        viewers = asyncio.run(_viewers({p: n.url for p, n in edges.edges.items()}))
        eu = [v.log for v in viewers if v.region == "eu"]
        asyncio.run(_round(viewers, 3.0))
        faults = edges.edges["cdn-a"].faults
        faults.error_rate, faults.regions = 0.5, {"eu"}
        degraded = time.monotonic()
        moved = None
        while moved is None and time.monotonic() - degraded < 90:
            asyncio.run(_round(viewers, 2.0))
            if share(eu, "cdn-a", time.monotonic() - 2, time.monotonic())[0] <= 0.1:
                moved = time.monotonic() - degraded
        faults.clear()
        restored = time.monotonic()
        back = None
        while back is None and time.monotonic() - restored < 90:
            asyncio.run(_round(viewers, 2.0))
            if share(eu, "cdn-a", time.monotonic() - 2, time.monotonic())[0] >= 0.9:
                back = time.monotonic() - restored
        return {"moved_off_s": None if moved is None else round(moved, 1), "moved_back_s": None if back is None else round(back, 1),
                "failed_segments": sum(v.log.failed_segments for v in viewers)}


def bench_warming() -> dict[str, float]:
    w = load_edge_settings().warming
    outcomes = [simulate_premiere(600, budget_bytes=w.budget_bytes, first_segments=w.first_segments,
                                  first_window_s=w.first_window_s, rank_decay=w.rank_decay, seed=seed) for seed in range(5)]
    out = {f"{k}_hit_ratio": round(statistics.mean(o.hit_ratio[k] for o in outcomes), 4) for k in ("cold", "warm", "oracle")}
    out["warm_vs_oracle_min"] = round(min(o.warm_vs_oracle for o in outcomes), 4)
    out["gain_captured_mean"] = round(statistics.mean(o.gain_captured for o in outcomes), 4)
    return out


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp:
        media = Path(tmp) / "media"
        write_ladder_title(media, "ladder")
        os.environ.setdefault("STREAMLAB_HOME", tmp)
        return {"hook": bench_hook(media), "steering": bench_steering(media), "warming": bench_warming()}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
