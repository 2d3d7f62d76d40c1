"""Warming real edges: fetch a plan's objects through each region's edge, so the edge fills from upstream now.

Each request carries a country of the edge's region (the hook then classifies it as that region,
as its viewers' requests will be) and is an ordinary ``GET``: the tier stores it exactly as it
would a viewer's miss (same key, same TTL from the origin's ``Cache-Control``), so warming needs
no cache API and cannot put anything in the cache a viewer could not have put there.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import httpx

from streamlab.core.errors import StreamlabError
from streamlab.pipelines.warming.plan import WarmObject
from streamlab.streaming.catalog import read_title


@dataclass(frozen=True)
class WarmResult:
    region: str
    fetched: int
    bytes: int
    failed: list[str]


def title_warm_objects(media_root: Path, title_id: str, first_segments: int) -> list[WarmObject]:
    """A published title's warm set: each rendition's (and the audio's) media playlist, init and first segments."""
    try:
        record = read_title(media_root, title_id)
    except (StreamlabError, ValueError, OSError):
        return []
    folders = [r.id for r in record.renditions] + (["audio"] if record.audio else [])
    objects = []
    for folder in folders:
        names = ["playlist.m3u8", "init.mp4"] + [f"seg_{n:05d}.m4s" for n in range(1, first_segments + 1)]
        for name in names:
            relative = record.media_path(f"{folder}/{name}")
            path = media_root / title_id / relative
            if path.is_file():
                objects.append(WarmObject(f"/media/{title_id}/{relative}", path.stat().st_size))
    return objects


async def _warm(edge_url: str, headers: dict[str, str], objects: list[WarmObject], concurrency: int) -> tuple[int, int, list[str]]:
    gate = asyncio.Semaphore(concurrency)
    fetched, size, failed = 0, 0, []
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        async def one(obj: WarmObject) -> None:
            nonlocal fetched, size
            async with gate:
                try:
                    response = await client.get(edge_url.rstrip("/") + obj.path, headers=headers)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
            if ok:
                fetched, size = fetched + 1, size + len(response.content)
            else:
                failed.append(obj.path)

        await asyncio.gather(*(one(o) for o in objects))
    return fetched, size, sorted(failed)


def warm_edge(region: str, edge_url: str, country: str | None, country_header: str, objects: list[WarmObject],
              concurrency: int = 8) -> WarmResult:
    """GET every object through ``edge_url`` as a viewer of ``region`` would (bounded concurrency)."""
    headers = {"User-Agent": "streamlab-warmer", **({country_header: country} if country else {})}
    fetched, size, failed = asyncio.run(_warm(edge_url, headers, objects, concurrency))
    return WarmResult(region, fetched, size, failed)
