"""Delivery throughput: 100 concurrent viewers fetching a real title through the edge tier.

The title (Big Buck Bunny, 720p source, the fixed ladder) is ingested into a temporary media
root; origin → shield → edge run in a *separate process* (so the load generator does not share
their GIL), and 100 asyncio keep-alive connections (one per viewer) each fetch every manifest
and every segment of the title through the edge, checking each body's length against the file: a cold pass first (caches empty: misses, single-flight coalescing),
then warm passes until the time or request budget runs out. Client and server share this
machine's cores, so the numbers are a lower bound on what the servers alone could do. The tiers
run with the configured connection limits (``configs/delivery.yaml`` ``connections``), recorded
in the result: issue 20 allows them at most 10% of the throughput.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

import httpx

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
                  latencies_ms: list[float], counters: dict[str, int], once: bool) -> None:
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
                counters["segments"] += 1 if ok and url.endswith(".m4s") else 0
            if once:
                return
    finally:
        await connection.close()


async def _load(edge_url: str, urls: list[str], sizes: dict[str, int], duration_s: float, max_requests: int,
                once: bool) -> dict[str, float]:
    host, port = edge_url.removeprefix("http://").rsplit(":", 1)
    latencies_ms: list[float] = []
    counters = {"requests": 0, "bytes": 0, "errors": 0, "segments": 0}
    budget = [max_requests]
    started = time.perf_counter()
    deadline_s = started + duration_s
    await asyncio.gather(*(
        _viewer((host, int(port)), urls[i % len(urls):] + urls[: i % len(urls)], sizes, deadline_s, budget,
                latencies_ms, counters, once)
        for i in range(CLIENTS)
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
    }


def _tier_stats(url: str) -> dict[str, object]:
    stats = httpx.get(url + "/_stats", trust_env=False, timeout=10).json()
    keys = ("requests", "hits", "misses", "coalesced", "hit_ratio", "offload_ratio", "upstream_requests",
            "bytes_served", "bytes_from_upstream", "entries", "bytes_cached", "evictions")
    return {k: stats[k] for k in keys}


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        media_root = Path(tmp) / "media"
        media_root.mkdir()
        title = _publish_title(media_root)
        urls = _title_urls(media_root)
        sizes = {url: (media_root / url.removeprefix("/media/")).stat().st_size for url in urls}
        title |= {"objects": len(urls), "object_bytes": sum(sizes.values())}
        with stack_in_subprocess(media_root) as tiers:
            cold = asyncio.run(_load(tiers["edge"], urls, sizes, duration_s=120, max_requests=CLIENTS * len(urls), once=True))
            after_cold = {"edge": _tier_stats(tiers["edge"]), "shield": _tier_stats(tiers["shield"])}
            warm = asyncio.run(_load(tiers["edge"], urls, sizes, duration_s=WARM_DURATION_S, max_requests=MAX_REQUESTS, once=False))
            edge, shield = _tier_stats(tiers["edge"]), _tier_stats(tiers["shield"])
    return {
        "title": title,
        "clients": CLIENTS,
        "cold": cold | {"edge_hit_ratio": after_cold["edge"]["hit_ratio"],
                        "edge_coalesced": after_cold["edge"]["coalesced"],
                        "shield_requests": after_cold["shield"]["requests"],
                        "origin_fetches": after_cold["shield"]["upstream_requests"]},
        "warm": warm,
        "segments_per_s": warm["segments_per_s"],
        "mb_per_s": warm["mb_per_s"],
        "p50_ms": warm["p50_ms"],
        "p99_ms": warm["p99_ms"],
        "errors": cold["errors"] + warm["errors"],
        "edge_hit_ratio": edge["hit_ratio"],
        "shield_hit_ratio": shield["hit_ratio"],
        "edge": edge,
        "shield": shield,
        "connection_limits": load_delivery_settings().connections.model_dump(),
        "note": (f"loopback; client (1 process, asyncio, {CLIENTS} keep-alive HTTP/1.1 connections) and the three tiers "
                 f"(1 process, 1 uvloop event loop) share the machine's {os.cpu_count()} cores, with other work "
                 "running; headline numbers are the warm phase"),
        "shield_note": ("with a single edge the shield only sees the edge's misses, each a first request for "
                        "its object, and a manifest expires at both tiers at once (the edge's TTL is the "
                        "shield's minus Age): its hit ratio is 0 by construction; it pays off with several edges"),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
