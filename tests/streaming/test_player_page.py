"""The player page's build and the playback check's input handling (no browser needed)."""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from streamlab.streaming.player import browser
from streamlab.streaming.player.browser import PlaybackError, check_playback, player_url

PLAYER_DIR = Path(browser.__file__).resolve().parent
STATIC = PLAYER_DIR / "static"
PACKAGES = ("hls.js", "shaka-player")
BUNDLES = {"hls.js": "hls.min.js", "shaka-player": "shaka-player.compiled.js"}


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def _pinned_versions() -> dict[str, str]:
    return json.loads((PLAYER_DIR / "package.json").read_text())["dependencies"]


def test_package_json_pins_exact_versions_that_the_lockfile_locks() -> None:
    pinned = _pinned_versions()
    lock = json.loads((PLAYER_DIR / "package-lock.json").read_text())["packages"]
    assert set(pinned) == set(PACKAGES)
    for package, version in pinned.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{package} is not pinned exactly: {version!r}"
        assert lock[f"node_modules/{package}"]["version"] == version
        assert lock[f"node_modules/{package}"]["integrity"].startswith("sha512-")


def test_page_loads_every_asset_from_its_own_origin() -> None:
    parser = _Assets()
    parser.feed((STATIC / "index.html").read_text())
    external = [u for u in parser.urls if not (u.startswith("/player/") or u.startswith("data:"))]
    assert parser.urls and not external, f"assets not served by the stack (CDN?): {external}"
    assert not re.search(r"https?://", (STATIC / "app.js").read_text()), "app.js must not name an absolute URL"


def test_vendor_target_installs_the_locked_bundles() -> None:
    subprocess.run(["make", "-s", "-C", str(PLAYER_DIR), "vendor"], check=True, capture_output=True, timeout=300)
    for package, version in _pinned_versions().items():
        bundle = STATIC / "vendor" / BUNDLES[package]
        assert version in bundle.read_text(errors="replace"), f"{bundle.name} is not {package} {version}"
        assert (STATIC / "vendor" / f"LICENSE.{package}.txt").stat().st_size > 0


def test_vendor_target_installs_shakas_ui_with_no_font_cdn() -> None:
    """The page plays DASH through Shaka's UI build (seek-bar thumbnails); its stylesheet ships an
    ``@font-face`` on a font CDN, which the vendored copy must not keep (the page names no other host)."""
    subprocess.run(["make", "-s", "-C", str(PLAYER_DIR), "vendor"], check=True, capture_output=True, timeout=300)
    ui = STATIC / "vendor" / "shaka-player.ui.js"
    assert _pinned_versions()["shaka-player"] in ui.read_text(errors="replace")
    css = (STATIC / "vendor" / "shaka-controls.css").read_text()
    assert ".shaka-seek-bar" in css and ".shaka-player-ui-thumbnail-container" in css
    assert not re.findall(r"url\(\s*['\"]?https?:", css), "the vendored controls.css loads from another host"


def test_player_url_starts_muted_autoplay_at_the_requested_rate() -> None:
    url = player_url("http://127.0.0.1:8000/", "bbb", "dash", playback_rate=4)
    assert url == "http://127.0.0.1:8000/?title=bbb&protocol=dash&autoplay=1&rate=4"


def test_player_url_keeps_the_page_query_and_adds_a_path() -> None:
    assert player_url("http://edge:8000?debug=1", "bbb", "hls", 2.5) == (
        "http://edge:8000/?debug=1&title=bbb&protocol=hls&autoplay=1&rate=2.5"
    )


def test_player_url_carries_the_playback_token_of_a_protected_title() -> None:
    url = player_url("http://127.0.0.1:8000/", "bbb", "dash", 4, token="abc.def")
    assert url.endswith("&rate=4&token=abc.def")


def test_check_playback_rejects_an_unknown_protocol_before_starting_a_browser() -> None:
    with pytest.raises(PlaybackError, match=r"protocol 'smooth' is not supported: use one of hls, dash"):
        check_playback("http://127.0.0.1:1/", "bbb", "smooth")  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["min_advance_s", "timeout_s", "playback_rate"])
def test_check_playback_rejects_non_positive_limits(field: str) -> None:
    with pytest.raises(PlaybackError, match="must be positive"):
        check_playback("http://127.0.0.1:1/", "bbb", "hls", **{field: 0})
