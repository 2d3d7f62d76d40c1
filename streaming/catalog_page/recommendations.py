"""The catalog list for a viewer: ``/recommend`` within its budget, else the local popular list.

The origin calls the model server itself (server-side: the page works without JavaScript and the
viewer id never leaves the signed link), in the recommender family's wire contract
(:mod:`streamlab.models.recsys.contract`). The whole call, connect included, must finish within
``recommend.timeout_ms``; anything else (timeout, refused, 5xx such as "no recommender loaded",
an answer that does not parse) shows :func:`popular_items` instead and says why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import anyio
import httpx
from pydantic import ValidationError

from streamlab.core import project
from streamlab.models.recsys.contract import RecommendRequest, RecommendResponse
from streamlab.streaming.catalog_page.popular import movie_names, popular_items
from streamlab.streaming.catalog_page.settings import CatalogPageSettings

ListSource = Literal["model", "popular", "fallback"]


@dataclass(frozen=True)
class CatalogItem:
    item_id: str
    name: str
    score: float
    reason: str


@dataclass
class CatalogList:
    viewer_id: str | None
    source: ListSource
    """``model``: ranked for this viewer; ``popular``: the model's own list for a viewer it does not
    know; ``fallback``: the origin's popular list because the model server did not answer in time."""
    items: list[CatalogItem]
    fallback_reason: str | None = None
    model_version: str | None = None
    elapsed_ms: float = 0.0
    detail: str = field(default="")


async def catalog_for(
    viewer_id: str | None, settings: CatalogPageSettings, client: httpx.AsyncClient, now_s: float | None = None
) -> CatalogList:
    """The list to show ``viewer_id`` (``None``: signed out, which gets the popular list)."""
    started = time.perf_counter()
    rec = settings.recommend
    names = await anyio.to_thread.run_sync(movie_names, project.raw_data_dir() / rec.items)
    if viewer_id is None:
        return await _fallback(None, settings, names, None, "signed out", started)
    if not settings.serving_base:
        return await _fallback(viewer_id, settings, names, "disabled", "no serving_url configured", started)
    body = RecommendRequest.of(viewer_id, rec.k, time.time() if now_s is None else now_s, rec.device).model_dump(mode="json")
    try:
        with anyio.fail_after(rec.timeout_ms / 1000.0):
            response = await client.post(f"{settings.serving_base}/recommend", json=body)
    except TimeoutError:
        return await _fallback(
            viewer_id, settings, names, "timeout", f"no answer within {rec.timeout_ms:g} ms", started
        )
    except httpx.HTTPError as exc:
        return await _fallback(viewer_id, settings, names, "unreachable", f"{type(exc).__name__}: {exc}", started)
    if response.status_code != 200:
        return await _fallback(viewer_id, settings, names, "http_error", f"HTTP {response.status_code}", started)
    try:
        answer = RecommendResponse.model_validate_json(response.content)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "body"
        return await _fallback(viewer_id, settings, names, "bad_response", f"unreadable answer: {where}: {problem['msg']}", started)
    source: ListSource = "model" if answer.source == "model" else "popular"
    items = [CatalogItem(t.title, names.get(t.title, f"title {t.title}"), t.score, t.reason) for t in answer.titles]
    version = answer.model_version
    return CatalogList(viewer_id, source, items, None, version, (time.perf_counter() - started) * 1000.0)


async def _fallback(
    viewer_id: str | None,
    settings: CatalogPageSettings,
    names: dict[str, str],
    reason: str | None,
    detail: str,
    started: float,
) -> CatalogList:
    """The origin's popular list; ``reason`` ``None`` (signed out) is no failure, so no ``fallback``."""
    rec = settings.recommend
    top = await anyio.to_thread.run_sync(popular_items, project.raw_data_dir() / rec.interactions, rec.k)
    items = [
        CatalogItem(item, names.get(item, f"title {item}"), float(count), f"{count} ratings, mean {mean:.2f}")
        for item, count, mean in top
    ]
    source: ListSource = "fallback" if reason is not None else "popular"
    return CatalogList(viewer_id, source, items, reason, None, (time.perf_counter() - started) * 1000.0, detail)
