"""Seek thumbnails in Shaka Player's UI: its seek bar reads the DASH image AdaptationSet and shows the
tile of the position under the pointer, cut from the right sprite sheet, in Debian chromium; a click
there seeks to that position.

The UI build (``shaka-player.ui.js`` and its CSS) is vendored from the npm package like the core player
(``make player``); the test drives it with the mouse, as a viewer would.
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


SEEK_TO_S = 7.0
SEEK_BAR_JS = "(() => { const r = document.querySelector('.shaka-seek-bar').getBoundingClientRect(); " \
              "return {x: r.x, y: r.y, width: r.width, height: r.height}; })()"
SHOWN_JS = """(() => { const box = document.querySelector('.shaka-player-ui-thumbnail-container');
  const frame = document.querySelector('.shaka-player-ui-thumbnail-image-container');
  const image = document.querySelector('.shaka-player-ui-thumbnail-image');
  if (!box || !image || getComputedStyle(box).visibility !== 'visible' || !image.src.includes('/thumbnails/')) return null;
  return {uri: image.src, left: image.style.left, top: image.style.top, frameWidth: frame.clientWidth,
          time: document.querySelector('.shaka-player-ui-thumbnail-time').textContent}; })()"""


def test_the_seek_bar_shows_the_thumbnail_of_the_sought_position(stack: Any) -> None:
    from streamlab.streaming.player.browser import chromium, player_url

    with chromium() as context:
        page = context.new_page()
        page.goto(player_url(stack.edge_url + "/", TITLE, "dash", playback_rate=1.0), wait_until="load")
        wait_for_page(page, "window.streamlab && window.streamlab.state === 'playing' && window.streamlab.imageTracks "
                            "&& window.streamlab.shakaUi && document.querySelector('.shaka-seek-bar')")
        # paused, so the position only moves when the seek bar moves it
        before_s = page.evaluate("(() => { const v = document.getElementById('video'); v.pause(); return v.currentTime; })()")
        assert before_s < SEEK_TO_S - 2
        duration_s = page.evaluate("document.getElementById('video').duration")
        bar = page.evaluate(SEEK_BAR_JS)
        x, y = bar["x"] + bar["width"] * SEEK_TO_S / duration_s, bar["y"] + bar["height"] / 2
        page.mouse.move(x - 30, y)
        page.mouse.move(x, y)  # hovering the seek bar previews that position
        shown = wait_for_page(page, f"(({SHOWN_JS}) || {{}}).time === '0:0{SEEK_TO_S:.0f}' && ({SHOWN_JS})")
        # 7 s at one thumbnail per 2 s: thumbnail 3 = the 4th tile of the first 5x5 sheet, 160x90 each,
        # drawn scaled to the preview's width
        assert shown["uri"].endswith("thumbnails/tile_00001.jpg")
        scale = shown["frameWidth"] / 160
        assert float(shown["left"].removesuffix("px")) == pytest.approx(-480 * scale, abs=0.5)
        assert shown["top"] in ("0px", "-0px")
        page.mouse.click(x, y)  # and clicking there seeks there
        wait_for_page(page, f"Math.abs(document.getElementById('video').currentTime - {SEEK_TO_S}) < 0.5")
        assert page.evaluate("window.streamlab.fatalErrors.length") == 0
    sheet = httpx.get(shown["uri"], trust_env=False, timeout=10)
    assert sheet.status_code == 200 and sheet.content[:2] == b"\xff\xd8"  # a JPEG, served through the edge
