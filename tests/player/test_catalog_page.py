"""The catalog page in chromium: the model's list for a signed-in viewer, the popular list when it is down."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from streamlab.models.recsys.contract import RecommendRequest
from streamlab.streaming.catalog_page.viewer_identity import ViewerSigner, load_or_create_secret
from tests.player.conftest import TITLE, free_port

pytestmark = pytest.mark.slow


def read_page(browser, url: str) -> dict:
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(url)
        main = page.locator("#catalog-page")
        return {
            "source": main.get_attribute("data-source"),
            "reason": main.get_attribute("data-fallback-reason"),
            "heading": page.inner_text("#list-heading"),
            "names": page.locator(".rec .title-name").all_inner_texts(),
            "reasons": page.locator(".rec .reason").all_inner_texts(),
            "links": [a.get_attribute("href") for a in page.locator(".rec a.play").all()],
            "errors": errors,
        }
    finally:
        page.close()


def fallbacks_counted(origin_url: str, reason: str) -> float:
    text = httpx.get(origin_url + "/metrics", trust_env=False).text
    return float(re.search(rf'^streamlab_catalog_fallbacks_total{{reason="{reason}"}} (\S+)$', text, re.M).group(1))


def test_signed_in_viewer_sees_the_models_recommendations(stack_for, model_server, browser, tmp_path) -> None:
    with stack_for(model_server, "recommend.timeout_ms=2000") as stack:  # generous: the box is shared in CI
        token = ViewerSigner(load_or_create_secret(tmp_path / "viewer.key"), 3600).issue("196")
        shown = read_page(browser, f"{stack.edge_url}/browse?viewer_token={token}")
        # The same question the page asks: its context carries the request time (the ranking depends on it).
        asked = RecommendRequest.of("196", 12, time.time(), "web").model_dump(mode="json")
        direct = httpx.post(model_server + "/recommend", json=asked, trust_env=False).json()
    assert shown["source"] == "model" and shown["heading"] == "For you" and not shown["errors"]
    assert len(shown["names"]) == 12 and all(r == "ranked for this viewer" for r in shown["reasons"])
    from streamlab.core import project
    from streamlab.streaming.catalog_page.popular import movie_names

    names = movie_names(project.raw_data_dir() / "ml-100k" / "ml-100k.item")
    assert shown["names"][:5] == [names[t["title"]] for t in direct["titles"][:5]]
    assert all(f"title={TITLE}" in link and "viewer_token=" in link for link in shown["links"])


def test_catalog_shows_popular_titles_when_the_recommender_is_down(stack_for, browser, tmp_path) -> None:
    with stack_for(f"http://127.0.0.1:{free_port()}") as stack:
        token = ViewerSigner(load_or_create_secret(tmp_path / "viewer.key"), 3600).issue("196")
        shown = read_page(browser, f"{stack.edge_url}/browse?viewer_token={token}")
        counted = fallbacks_counted(stack.origin_url, "unreachable")
    assert shown["source"] == "fallback" and shown["reason"] == "unreachable"
    assert shown["heading"] == "Popular right now" and shown["names"][0] == "Star Wars"
    assert counted == 1
