"""End to end: ingest real media, serve it through origin → shield → edge, play it in chromium.

One ingest, one stack and one browser per module keep this quick; every viewer request goes to the
edge tier, the only URL a viewer is given.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamlab.streaming.catalog import DASH_MANIFEST, HLS_MASTER, TITLE_RECORD, TitleRecord
from streamlab.streaming.ffmpeg import generate_test_source
from streamlab.streaming.player.browser import PlaybackError, PlaybackResult, check_playback, chromium, player_url

pytestmark = pytest.mark.slow

CLIP = "tone12"  # generated: 12 s leaves room for 5 s of advance at 4x
REAL = "bbb"  # data/raw/videos/bigbuckbunny.mp4: 5 s, about all of it is needed for 5 s of advance
GONE = "gone"  # listed in the catalog, but its manifests are missing
LOCKED = "locked"  # marked protected in the catalog: the page needs a playback token for it
PROTOCOLS = ("hls", "dash")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, raw_dir: Path) -> tuple[Path, dict[str, TitleRecord]]:
    from streamlab.streaming.ingest.pipeline import ingest_title

    root = tmp_path_factory.mktemp("media")
    sources = tmp_path_factory.mktemp("player-sources")
    clip = generate_test_source(sources / "tone12.mp4", width=640, height=360, duration_s=12.0, audio=True)
    common = [f"ingest.allowed_roots=[{sources}, {raw_dir}]", "transcode.mode=serial"]
    records = {
        CLIP: ingest_title(clip, CLIP, name="Test pattern", media_root=root, overrides=[*common, "transcode.profiles=[main, mobile]"]),
        REAL: ingest_title(
            raw_dir / "videos" / "bigbuckbunny.mp4", REAL, name="Big Buck Bunny", media_root=root,
            overrides=[*common, "transcode.profiles=[mobile]"],
        ),
    }
    gone = root / GONE
    shutil.copytree(root / CLIP, gone)
    record = json.loads((gone / TITLE_RECORD).read_text())
    (gone / TITLE_RECORD).write_text(json.dumps({**record, "title_id": GONE, "name": "Missing manifests"}))
    for manifest in (HLS_MASTER, DASH_MANIFEST, record["hls"], record["dash"]):  # aliases and the version's own
        (gone / manifest).unlink(missing_ok=True)
    locked = root / LOCKED
    shutil.copytree(root / CLIP, locked)
    (locked / TITLE_RECORD).write_text(json.dumps({**record, "title_id": LOCKED, "name": "Protected", "drm": "clearkey"}))
    return root, records


@pytest.fixture(scope="module")
def stack(published: tuple[Path, dict[str, TitleRecord]]) -> Iterator[Any]:
    from streamlab.streaming.delivery.stack import running_stack

    with running_stack(media_root=published[0]) as running:
        yield running


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    with chromium() as browser_context:
        yield browser_context


@pytest.fixture(scope="module")
def playbacks(stack: Any, context: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, PlaybackResult | PlaybackError]:
    """HLS then DASH of the generated clip through the edge (they share CMAF segments)."""
    shots = tmp_path_factory.mktemp("screenshots")
    outcomes: dict[str, PlaybackResult | PlaybackError] = {}
    for protocol in PROTOCOLS:
        try:
            outcomes[protocol] = check_playback(
                stack.edge_url + "/", CLIP, protocol, context=context, screenshot=shots / f"{protocol}.png"
            )
        except PlaybackError as error:
            outcomes[protocol] = error
    return outcomes


def _played(playbacks: dict[str, PlaybackResult | PlaybackError], protocol: str) -> PlaybackResult:
    outcome = playbacks[protocol]
    if isinstance(outcome, PlaybackError):
        raise outcome
    return outcome


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_clip_plays_five_seconds_through_the_edge(playbacks: dict, protocol: str, published: tuple) -> None:
    result = _played(playbacks, protocol)
    assert result.ok and result.fatal_error is None
    assert result.advanced_s >= 5.0
    assert result.decoded_frames >= 5.0 * 25 * 0.5  # 25 fps source; at 4x chromium may drop some frames
    assert result.rendition is not None
    assert result.rendition["id"] in {r.id for r in published[1][CLIP].renditions}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_request_of_the_page_went_to_the_edge(playbacks: dict, protocol: str, stack: Any) -> None:
    from streamlab.streaming.catalog_page.settings import load_catalog_settings

    # Besides the edge, the page talks only to the model server (ABR decisions, QoE beacons).
    serving = load_catalog_settings().serving_base
    assert [o for o in _played(playbacks, protocol).origins if o != serving] == [stack.edge_url.rstrip("/")]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_playback_runs_at_the_requested_rate(playbacks: dict, protocol: str) -> None:
    assert _played(playbacks, protocol).playback_rate == 4.0


def test_edge_counted_misses_then_hits_as_dash_reused_the_hls_segments(playbacks: dict, stack: Any) -> None:
    for protocol in PROTOCOLS:
        _played(playbacks, protocol)
    stats = httpx.get(stack.edge_url + "/_stats", timeout=5).json()
    assert stats["misses"] > 0, stats
    assert stats["hits"] > 0, stats


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_edge_holds_the_segments_the_browser_played(playbacks: dict, protocol: str, stack: Any, published: tuple) -> None:
    rendition = _played(playbacks, protocol).rendition["id"]
    for path in (f"{rendition}/init.mp4", "audio/init.mp4"):
        response = httpx.get(f"{stack.edge_url}/media/{CLIP}/{published[1][CLIP].media_path(path)}", timeout=5)
        assert response.status_code == 200 and response.headers["x-cache"] == "HIT", (path, response.headers)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_real_clip_plays_through_the_edge(stack: Any, context: Any, published: tuple, protocol: str) -> None:
    duration_s = published[1][REAL].duration_s
    result = check_playback(stack.edge_url + "/", REAL, protocol, context=context)
    assert result.ok and result.fatal_error is None
    assert result.advanced_s >= min(5.0, duration_s) - 0.25


def test_title_shorter_than_the_required_advance_passes_by_playing_to_its_end(stack: Any, context: Any) -> None:
    result = check_playback(stack.edge_url + "/", CLIP, "hls", min_advance_s=60.0, context=context)
    assert result.ok and result.state == "ended"
    assert result.advanced_s >= 11.5


def test_catalog_page_lists_the_ingested_titles(stack: Any, context: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    page = context.new_page()
    try:
        page.goto(stack.edge_url + "/")
        card = page.locator(".title-card", has_text="Test pattern")
        card.wait_for(state="visible", timeout=10_000)
        assert page.locator(".title-card", has_text="Big Buck Bunny").is_visible()
        assert card.get_by_role("button", name="Play Test pattern over HLS").is_visible()
        assert card.get_by_role("button", name="Play Test pattern over DASH").is_visible()
        assert "360p h264" in card.inner_text()
        page.screenshot(path=str(tmp_path_factory.mktemp("screenshots") / "catalog.png"))
    finally:
        page.close()


def test_clicking_play_starts_the_title_with_sound_at_normal_speed(stack: Any, context: Any) -> None:
    page = context.new_page()
    try:
        page.goto(stack.edge_url + "/")
        page.get_by_role("button", name="Play Test pattern over DASH").click()
        page.wait_for_function("() => window.streamlab.state === 'playing' && window.streamlab.currentTime > 0.5", timeout=15_000)
        state = page.evaluate("() => ({...window.streamlab, muted: document.querySelector('video').muted})")
        assert (state["title"], state["protocol"], state["playbackRate"], state["muted"]) == (CLIP, "dash", 1, False)
        assert page.url.endswith(f"?title={CLIP}&protocol=dash")
        assert page.locator("#status").inner_text().startswith("Playing Test pattern over DASH")
    finally:
        page.close()


def test_unknown_title_shows_an_error_in_the_page(stack: Any, context: Any) -> None:
    page = context.new_page()
    try:
        page.goto(player_url(stack.edge_url + "/", "no-such-title", "hls"))
        error_box = page.locator("#error")
        error_box.wait_for(state="visible", timeout=10_000)
        assert 'title "no-such-title" is not in the catalog' in error_box.inner_text()
    finally:
        page.close()


def test_check_playback_raises_for_an_unknown_title(stack: Any, context: Any) -> None:
    with pytest.raises(PlaybackError, match=r"'no-such-title' failed: catalog: title \"no-such-title\" is not in the catalog"):
        check_playback(stack.edge_url + "/", "no-such-title", "dash", context=context, timeout_s=20)


def test_protected_title_without_a_playback_token_is_refused_clearly(stack: Any, context: Any) -> None:
    with pytest.raises(PlaybackError, match=r"is protected \(clearkey\): open it with a playback token"):
        check_playback(stack.edge_url + "/", LOCKED, "dash", context=context, timeout_s=20)


@pytest.mark.parametrize(("protocol", "expected"), [("hls", r"manifestLoadError \(HTTP 404\)"), ("dash", "BAD_HTTP_STATUS: HTTP 404")])
def test_missing_manifest_is_a_fatal_player_error(stack: Any, context: Any, protocol: str, expected: str) -> None:
    with pytest.raises(PlaybackError, match=expected) as raised:
        check_playback(stack.edge_url + "/", GONE, protocol, context=context, timeout_s=30)
    assert raised.value.result is not None and raised.value.result.advanced_s == 0.0
    assert any("404" in line for line in raised.value.console_errors)


def test_chromium_decodes_h264_av1_and_aac_but_not_hevc(context: Any) -> None:
    """The ladder's browser variant set relies on this (HEVC rungs are marked not browser-playable)."""
    from streamlab.streaming.player.browser import codec_support

    support = codec_support(context=context)
    assert support == {"h264": True, "hevc": False, "av1": True, "vp9": True, "aac": True}
