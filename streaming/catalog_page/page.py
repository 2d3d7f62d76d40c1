"""The catalog page as server-rendered HTML: the list, where it came from, and links to play.

MovieLens movies have no video in this lab; the stack publishes a few clips. A recommended movie
links to the published title mapped to it (``recommend.title_map``, or a title whose id is the
movie id) and otherwise, with ``stand_in_clips``, to a published clip chosen by the movie id,
labelled as a stand-in so nobody mistakes it for the film.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from streamlab.streaming.catalog import TitleRecord
from streamlab.streaming.catalog_page.recommendations import CatalogList
from streamlab.streaming.catalog_page.settings import RecommendPageSettings

HEADINGS = {"model": "For you", "popular": "Popular right now", "fallback": "Popular right now"}


def play_target(item_id: str, published: list[TitleRecord], settings: RecommendPageSettings) -> tuple[str, bool] | None:
    """(published title id, is a stand-in) for a movie, or ``None`` when nothing can play it."""
    ids = sorted(r.title_id for r in published if r.hls)
    if not ids:
        return None
    mapped = settings.title_map.get(item_id)
    if mapped in ids:
        return mapped, False
    if item_id in ids:
        return item_id, False
    if not settings.stand_in_clips:
        return None
    index = int(item_id) if item_id.isdigit() else sum(item_id.encode())
    return ids[index % len(ids)], True


def render_catalog_page(
    listing: CatalogList, published: list[TitleRecord], settings: RecommendPageSettings, viewer_token: str | None
) -> str:
    names = {r.title_id: r.name for r in published}
    rows = []
    for rank, item in enumerate(listing.items, start=1):
        target = play_target(item.item_id, published, settings)
        if target is None:
            action = '<span class="muted">no clip published</span>'
        else:
            title_id, stand_in = target
            query = {"title": title_id, "protocol": "hls", **({"viewer_token": viewer_token} if viewer_token else {})}
            label = f"▶ play stand-in clip “{escape(names[title_id])}”" if stand_in else "▶ play"
            action = (
                f'<a class="play" data-title-id="{escape(title_id)}" href="/?{escape(urlencode(query))}">{label}</a>'
            )
        rows.append(
            f'<li class="rec" data-item-id="{escape(item.item_id)}">'
            f'<span class="rank">{rank}</span>'
            f'<span class="title-name">{escape(item.name)}</span>'
            f'<span class="reason muted">{escape(item.reason)}</span>'
            f"{action}</li>"
        )
    who = f"signed in as viewer {escape(listing.viewer_id)}" if listing.viewer_id else "signed out"
    note = ""
    if listing.source == "fallback":
        note = (
            f'<p class="status" data-state="buffering" id="fallback-note">Recommendations are unavailable right now '
            f"({escape(listing.fallback_reason or '')}: {escape(listing.detail)}); showing what is popular.</p>"
        )
    player_href = "/?" + urlencode({"viewer_token": viewer_token}) if viewer_token else "/"
    version = f" · model version {escape(listing.model_version)}" if listing.model_version else ""
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>streamlab catalog</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/player/style.css">
</head>
<body>
  <header class="topbar">
    <div class="brand">stream<span>lab</span></div>
    <div class="tagline">{who} &middot; <a href="{escape(player_href)}">player</a></div>
  </header>
  <main class="layout catalog-page" id="catalog-page" data-source="{listing.source}"
        data-fallback-reason="{escape(listing.fallback_reason or "")}" data-viewer="{escape(listing.viewer_id or "")}">
    <section class="catalog-panel" aria-label="recommendations">
      <div class="panel-head">
        <h2 id="list-heading">{HEADINGS[listing.source]}</h2>
        <span class="badge" id="list-source">{listing.source}</span>
      </div>
      {note}
      <p class="muted">{len(listing.items)} titles · {listing.elapsed_ms:.0f} ms{version}</p>
      <ol class="catalog recs" id="recs">{"".join(rows)}</ol>
    </section>
  </main>
</body>
</html>
"""


def render_error_page(status: int, message: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>streamlab catalog</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/player/style.css"></head>
<body><main class="layout"><div class="error-box" role="alert" id="error">{status}: {escape(message)}</div></main></body></html>
"""
