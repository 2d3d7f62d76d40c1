"""Delivery throughput: 100 concurrent viewers fetching a real title through the edge tier.

The title (Big Buck Bunny, 720p source, the fixed ladder) is ingested into a temporary media
root; origin → shield → edge run in a *separate process* (so the load generator does not share
their GIL), and 100 asyncio keep-alive connections (one per viewer) each fetch every manifest
and every segment of the title through the edge, checking each body's length against the file: a cold pass first (caches empty: misses, single-flight coalescing),
then warm passes until the time or request budget runs out. Client and server share this
machine's cores, so the numbers are a lower bound on what the servers alone could do. The tiers
run with the configured connection limits (``configs/delivery.yaml`` ``connections``), recorded
in the result: issue 20 allows them at most 10% of the throughput.

The same load then runs through the Varnish edge (issue 14: the generated VCL, varnishd as a
child process, in front of the same Python shield and origin), its numbers under ``varnish`` and
side by side with the Python edge's under ``engines``. Hit ratios are each engine's own: the
Python edge counts a request coalesced onto another's fill apart from a hit, Varnish counts a
request woken from its waiting list as a hit; ``offload_ratio`` (requests answered without an
upstream fetch of their own) is the like-for-like figure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from streamlab.streaming.delivery.engines.cluster import cluster_in_subprocess
from streamlab.streaming.delivery.engines.varnish import read_counters
from streamlab.streaming.delivery.settings import load_delivery_settings
from streamlab.streaming.delivery.stack import stack_in_subprocess

CLIENTS = 100
WARM_DURATION_S = 15.0
MAX_REQUESTS = 30_000
TITLE_ID = "bbb"
SOURCE = "videos/bigbuckbunny.mp4"
INGEST_OVERRIDES = ["transcode.mode=serial", "transcode.x264_preset=ultrafast", "transcode.x265_preset=ultrafast"]


def _publish_title(media_root: Path) -> dict[str, object]:
    """Ingest the real clip; fall back to an FFmpeg-generated CMAF title if ingest is unavailable."""
    from streamlab.core import project

    started = time.perf_counter()
    try:
        from streamlab.streaming.ingest.pipeline import ingest_title

        record = ingest_title(project.raw_data_dir() / SOURCE, TITLE_ID, media_root=media_root,
                              overrides=INGEST_OVERRIDES)
        how = f"ingest_title({SOURCE}, fixed ladder)"
    except ImportError as exc:
        from streamlab.streaming.delivery.sample_title import build_sample_title

        record = build_sample_title(media_root, TITLE_ID, width=1280, height=720, duration_s=10.0, bitrate_kbps=3000)
        how = f"sample_title 720p (ingest unavailable: {exc})"
    return {
        "source": how,
        "renditions": [r.id for r in record.renditions],
        "duration_s": record.duration_s,
        "publish_s": round(time.perf_counter() - started, 1),
    }


def _title_urls(media_root: Path) -> list[str]:
    """Every manifest and segment of the title, as paths a player would request."""
    base = media_root / TITLE_ID
    paths = []
    for file in sorted(base.rglob("*")):
        if file.is_file() and file.suffix in {".m3u8", ".mpd", ".mp4", ".m4s", ".json"}:
            paths.append("/media/" + file.relative_to(media_root).as_posix())
    return paths


class _Connection:
    """A minimal keep-alive HTTP/1.1 GET client: one per viewer, like wrk's connections.

    httpx spends ~2 ms of CPU per 200 KB response on this machine (h11 is pure Python), about
    15x what the tiers spend serving it, so an httpx load generator would measure itself.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, int]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: bench\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in headers:
            size = len(await self.reader.readexactly(int(headers["content-length"])))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            size = 0
            while (chunk := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)) > 0:
                size += len(await self.reader.readexactly(chunk))
                await self.reader.readexactly(2)
            await self.reader.readuntil(b"\r\n")
        else:
            raise ValueError(f"{path}: response without Content-Length or chunked body")
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, size

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def _viewer(edge: tuple[str, int], urls: list[str], sizes: dict[str, int], deadline_s: float, budget: list[int],
                  latencies_ms: list[float], counters: dict[str, int], error_paths: dict[str, int], once: bool) -> None:
    connection = _Connection(*edge)
    try:
        while True:
            for url in urls:
                if budget[0] <= 0 or time.perf_counter() > deadline_s:
                    return
                budget[0] -= 1
                started = time.perf_counter()
                try:
                    status, size = await connection.get(url)
                    ok = status == 200 and size == sizes[url]  # every byte of the file, or it is an error
                except (OSError, ValueError, asyncio.IncompleteReadError):
                    ok, size = False, 0
                    await connection.close()
                latencies_ms.append((time.perf_counter() - started) * 1000)
                counters["requests"] += 1
                counters["bytes"] += size
                counters["errors"] += 0 if ok else 1
                if not ok:
                    error_paths[url] = error_paths.get(url, 0) + 1
                counters["segments"] += 1 if ok and url.endswith(".m4s") else 0
            if once:
                return
    finally:
        await connection.close()


async def _load(edge_url: str, urls: list[str], sizes: dict[str, int], duration_s: float, max_requests: int,
                once: bool, clients: int = CLIENTS) -> dict[str, object]:
    host, port = edge_url.removeprefix("http://").rsplit(":", 1)
    latencies_ms: list[float] = []
    counters = {"requests": 0, "bytes": 0, "errors": 0, "segments": 0}
    error_paths: dict[str, int] = {}
    budget = [max_requests]
    started = time.perf_counter()
    deadline_s = started + duration_s
    await asyncio.gather(*(
        _viewer((host, int(port)), urls[i % len(urls):] + urls[: i % len(urls)], sizes, deadline_s, budget,
                latencies_ms, counters, error_paths, once)
        for i in range(clients)
    ))
    elapsed_s = time.perf_counter() - started
    latencies_ms.sort()
    pick = lambda q: round(latencies_ms[min(len(latencies_ms) - 1, int(q * len(latencies_ms)))], 2)  # noqa: E731
    return {
        "requests": counters["requests"],
        "segments": counters["segments"],
        "errors": counters["errors"],
        "elapsed_s": round(elapsed_s, 2),
        "requests_per_s": round(counters["requests"] / elapsed_s, 1),
        "segments_per_s": round(counters["segments"] / elapsed_s, 1),
        "mb_per_s": round(counters["bytes"] / elapsed_s / 1e6, 2),
        "p50_ms": pick(0.50),
        "p99_ms": pick(0.99),
        "error_paths": sorted(error_paths.items(), key=lambda item: -item[1])[:5],  # a list: kept out of the table
    }


def _tier_stats(url: str) -> dict[str, object]:
    stats = httpx.get(url + "/_stats", trust_env=False, timeout=10).json()
    keys = ("requests", "hits", "misses", "coalesced", "hit_ratio", "offload_ratio", "upstream_requests",
            "bytes_served", "bytes_from_upstream", "entries", "bytes_cached", "evictions")
    return {k: stats[k] for k in keys}


@contextmanager
def _tiers(engine: str, media_root: Path) -> Iterator[dict[str, str]]:
    """Edge, shield (and the varnishd instance folder) of a stack with ``engine`` at the edge."""
    if engine == "python":
        with stack_in_subprocess(media_root) as tiers:
            yield tiers
        return
    with cluster_in_subprocess(engine=engine, edges=1, shields=1, media_root=str(media_root)) as cluster:
        yield {"edge": cluster["edges"][0], "shield": cluster["shields"][0], "varnish": cluster["varnish_instances"][0]}


def _edge_stats(tiers: dict[str, str]) -> dict[str, object]:
    """The edge's counters; varnishd's (``varnishstat``) in the Python edge's names where they match."""
    if "varnish" not in tiers:
        return _tier_stats(tiers["edge"])
    c = read_counters(tiers["varnish"])
    lookups = c.get("cache_hit", 0) + c.get("cache_miss", 0) + c.get("cache_hitmiss", 0) + c.get("cache_hitpass", 0)
    return {"requests": c.get("client_req", 0), "hits": c.get("cache_hit", 0), "misses": c.get("cache_miss", 0),
            "coalesced": c.get("busy_wakeup", 0), "waiting_list_sleeps": c.get("busy_sleep", 0),
            "hit_ratio": round(c.get("cache_hit", 0) / lookups, 4) if lookups else 0.0,
            "offload_ratio": round(c.get("cache_hit", 0) / lookups, 4) if lookups else 0.0,
            "upstream_requests": c.get("backend_req", 0), "bytes_served": c.get("s_resp_bodybytes", 0),
            "bytes_from_upstream": c.get("beresp_bodybytes", 0), "entries": c.get("n_object", 0)}


def _run_engine(engine: str, media_root: Path, urls: list[str], sizes: dict[str, int], clients: int = CLIENTS,
                warm_s: float = WARM_DURATION_S) -> dict[str, object]:
    """The cold pass and the warm phase through ``engine``'s edge, with both tiers' counters."""
    with _tiers(engine, media_root) as tiers:
        cold = asyncio.run(_load(tiers["edge"], urls, sizes, duration_s=120, max_requests=clients * len(urls), once=True,
                                 clients=clients))
        after_cold = {"edge": _edge_stats(tiers), "shield": _tier_stats(tiers["shield"])}
        warm = asyncio.run(_load(tiers["edge"], urls, sizes, duration_s=warm_s, max_requests=MAX_REQUESTS, once=False,
                                 clients=clients))
        edge, shield = _edge_stats(tiers), _tier_stats(tiers["shield"])
    return {
        "cold": cold | {"edge_hit_ratio": after_cold["edge"]["hit_ratio"],
                        "edge_coalesced": after_cold["edge"]["coalesced"],
                        "shield_requests": after_cold["shield"]["requests"],
                        "origin_fetches": after_cold["shield"]["upstream_requests"]},
        "warm": warm,
        "segments_per_s": warm["segments_per_s"],
        "mb_per_s": warm["mb_per_s"],
        "p50_ms": warm["p50_ms"],
        "p99_ms": warm["p99_ms"],
        "errors": cold["errors"] + warm["errors"],  # type: ignore[operator]
        "edge_hit_ratio": edge["hit_ratio"],
        "edge_offload_ratio": edge["offload_ratio"],
        "shield_hit_ratio": shield["hit_ratio"],
        "edge": edge,
        "shield": shield,
    }


def _side_by_side(results: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    keys = ("errors", "segments_per_s", "mb_per_s", "p50_ms", "p99_ms", "edge_hit_ratio", "edge_offload_ratio")
    table = {engine: {k: r[k] for k in keys} for engine, r in results.items()}
    if "varnish" in results:
        python, varnish = results["python"], results["varnish"]
        table["varnish"] |= {
            "zero_errors": varnish["errors"] == 0,
            "hit_ratio_at_least_python": varnish["edge_hit_ratio"] >= python["edge_hit_ratio"],  # type: ignore[operator]
            "offload_at_least_python": varnish["edge_offload_ratio"] >= python["edge_offload_ratio"],  # type: ignore[operator]
        }
    return table


def run() -> dict[str, object]:
    engines = ["python", *(["varnish"] if shutil.which(load_delivery_settings().varnish.varnishd) else [])]
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        media_root = Path(tmp) / "media"
        media_root.mkdir()
        title = _publish_title(media_root)
        urls = _title_urls(media_root)
        sizes = {url: (media_root / url.removeprefix("/media/")).stat().st_size for url in urls}
        title |= {"objects": len(urls), "object_bytes": sum(sizes.values())}
        results = {engine: _run_engine(engine, media_root, urls, sizes) for engine in engines}
    return {
        "title": title,
        "clients": CLIENTS,
        **results["python"],
        "varnish": results.get("varnish", {"skipped": "varnishd is not installed"}),
        "engines": _side_by_side(results),
        "connection_limits": load_delivery_settings().connections.model_dump(),
        "note": (f"loopback; client (1 process, asyncio, {CLIENTS} keep-alive HTTP/1.1 connections) and the tiers "
                 f"(1 process, 1 uvloop event loop; varnishd its own process) share the machine's {os.cpu_count()} "
                 "cores, with other work running; headline numbers are the warm phase of the Python edge"),
        "shield_note": ("with a single edge the shield only sees the edge's misses, each a first request for "
                        "its object, and a manifest expires at both tiers at once (the edge's TTL is the "
                        "shield's minus Age): its hit ratio is 0 by construction; it pays off with several edges"),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
