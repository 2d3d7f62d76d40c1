"""Seek thumbnails on the player page: Shaka Player reads the DASH image AdaptationSet and the page
shows the sought position's tile, cut from the right sprite sheet, in Debian chromium.

Only the core Shaka Player is vendored (no shaka UI), so the preview is the page's own element
(``#thumbnail``), fed by ``player.getThumbnails()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from streamlab.streaming.ffmpeg import generate_test_source
from tests.package.helpers import WITH_TRICK_AND_THUMBNAILS, packaging_configs
from tests.player.conftest import wait_for_page

pytestmark = pytest.mark.slow

TITLE = "thumbs"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from streamlab.streaming.delivery.stack import running_stack
    from streamlab.streaming.ingest.pipeline import ingest_title

    root = tmp_path_factory.mktemp("thumbs")
    (root / "src").mkdir()
    clip = generate_test_source(root / "src" / "clip.mp4", width=640, height=360, duration_s=12.0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMLAB_CONFIG_DIR", str(packaging_configs(root, **WITH_TRICK_AND_THUMBNAILS)))
        ingest_title(clip, TITLE, name="thumbs", media_root=root / "media",
                     overrides=[f"ingest.allowed_roots=[{root / 'src'}]", "transcode.mode=serial",
                                "transcode.profiles=[mobile]"])
    with running_stack(media_root=root / "media") as running:
        yield running


def test_seeking_shows_the_thumbnail_of_the_sought_position(stack: Any) -> None:
    from streamlab.streaming.player.browser import chromium, player_url

    with chromium() as context:
        page = context.new_page()
        page.goto(player_url(stack.edge_url + "/", TITLE, "dash", playback_rate=1.0), wait_until="load")
        wait_for_page(page, "window.streamlab && window.streamlab.state === 'playing' && window.streamlab.imageTracks")
        page.evaluate("document.getElementById('video').currentTime = 7.0")
        thumb = wait_for_page(page, "window.streamlab.thumbnail && window.streamlab.thumbnail.time > 6 "
                            "&& window.streamlab.thumbnail")
        # 7 s at one thumbnail per 2 s: thumbnail 3 = the 4th tile of the first 5x5 sheet, 160x90 each
        assert thumb["uri"].endswith("thumbnails/tile_00001.jpg")
        assert (thumb["x"], thumb["y"], thumb["width"], thumb["height"]) == (480, 0, 160, 90)
        style = page.evaluate("(() => { const b = document.getElementById('thumbnail'); "
                              "return {hidden: b.hidden, image: b.style.backgroundImage, pos: b.style.backgroundPosition}; })()")
        assert style["image"].count("tile_00001.jpg") == 1 and style["pos"] == "-480px 0px"
        assert page.evaluate("window.streamlab.fatalErrors.length") == 0
    sheet = httpx.get(thumb["uri"], trust_env=False, timeout=10)
    assert sheet.status_code == 200 and sheet.content[:2] == b"\xff\xd8"  # a JPEG, served through the edge
