"""Protected titles in the browser: CENC via EME ClearKey (Shaka, DASH) and HLS AES-128 (hls.js).

A real licence server (keys wrapped under a throw-away master key, signed playback tokens,
entitlements) and the real packager encrypt a real ingested title; chromium must fetch the keys with
the viewer's token and decode frames. Without the right key playback stalls silently, so a pass
needs media time to advance with decoded frames (see streaming/player/browser.py).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamlab.streaming.catalog import DASH_MANIFEST, HLS_MASTER, TITLE_RECORD, TitleRecord, published_dir
from streamlab.streaming.ffmpeg import generate_test_source
from streamlab.streaming.player.browser import PlaybackError, check_playback, chromium

pytestmark = pytest.mark.slow

TITLE = "locked"
CENC_ONLY = "cenc-only"  # ClearKey CENC alone: HLS plays it through hls.js EME, not the AES-128 variant
STRIPPED = "stripped"
MEDIA_PLAYLIST = "playlist.m3u8"  # every rendition's HLS media playlist (streaming/catalog.py layout)
VIEWER = "viewer-1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, licence: tuple[Any, Any]) -> Iterator[Any]:
    """A title ingested in the clear, then protected with both CENC (ClearKey) and HLS AES-128."""
    from streamlab.streaming.delivery.stack import running_stack
    from streamlab.streaming.ingest.pipeline import ingest_title

    server, settings = licence
    sources = tmp_path_factory.mktemp("drm-sources")
    clip = generate_test_source(sources / "clip.mp4", width=640, height=360, duration_s=12.0)
    root = tmp_path_factory.mktemp("drm-media")
    record = ingest_title(
        clip, TITLE, name="Protected pattern", media_root=root,
        overrides=[f"ingest.allowed_roots=[{sources}]", "transcode.mode=serial", "transcode.profiles=[mobile]"],
    )
    record = _protect_published(root, record, "all", server, settings)
    server.service.entitlements.grant(VIEWER, TITLE)
    cenc = ingest_title(
        clip, CENC_ONLY, name="CENC only", media_root=root,
        overrides=[f"ingest.allowed_roots=[{sources}]", "transcode.mode=serial", "transcode.profiles=[mobile]"],
    )
    cenc = _protect_published(root, cenc, "clearkey", server, settings)
    server.service.entitlements.grant(VIEWER, CENC_ONLY)
    _publish_without_protection(root, record.model_dump(mode="json"))
    with running_stack(media_root=root) as running:
        yield running


def _protect_published(root: Path, record: TitleRecord, mode: str, server: Any, settings: Any) -> TitleRecord:
    """Encrypt a published (versioned) title in place: its version folder, aliases and record."""
    from streamlab.streaming.drm.packager import protect_title
    from streamlab.streaming.publish import write_version_aliases

    assert record.version is not None
    as_packaged = record.model_copy(update={"version": None, "hls": HLS_MASTER, "dash": DASH_MANIFEST})
    protected = protect_title(published_dir(root, record), as_packaged, mode, server.service.keys, settings, server.url)
    protected = protected.with_version(record.version)
    write_version_aliases(root / record.title_id, record.version)
    (root / record.title_id / TITLE_RECORD).write_text(protected.model_dump_json())
    return protected


def _publish_without_protection(root: Path, record: dict) -> None:
    """The CENC-encrypted title listed as clear, its manifests stripped of every key signal."""
    shutil.copytree(root / TITLE, root / STRIPPED)
    for mpd in (root / STRIPPED).rglob(DASH_MANIFEST):  # the alias and the version's own
        mpd.write_text(re.sub(r"<ContentProtection\b.*?</ContentProtection>|<ContentProtection\b[^>]*/>", "", mpd.read_text(), flags=re.S))
    for playlist in (root / STRIPPED).rglob(MEDIA_PLAYLIST):
        playlist.write_text("".join(line for line in playlist.read_text().splitlines(keepends=True) if not line.startswith("#EXT-X-KEY")))
    clear = {**record, "title_id": STRIPPED, "name": "Encrypted, keys withheld", "drm": "none", "protection": None}
    (root / STRIPPED / TITLE_RECORD).write_text(json.dumps(clear))


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    with chromium() as browser_context:
        yield browser_context


def _token(licence: tuple[Any, Any], title_id: str = TITLE) -> str:
    server, settings = licence
    return server.service.signer.issue(VIEWER, title_id, "web", settings.tokens.ttl_s)


@pytest.mark.parametrize("protocol", ["dash", "hls"])
def test_protected_title_plays_with_a_playback_token(stack: Any, context: Any, licence: tuple, protocol: str) -> None:
    result = check_playback(stack.edge_url + "/", TITLE, protocol, context=context, token=_token(licence))
    assert result.ok and result.advanced_s >= 5.0 and result.fatal_error is None
    assert licence[0].url in result.origins, "the keys must have come from the licence server"


@pytest.mark.parametrize("protocol", ["dash", "hls"])
def test_cenc_only_title_plays_in_both_players(stack: Any, context: Any, licence: tuple, protocol: str) -> None:
    result = check_playback(stack.edge_url + "/", CENC_ONLY, protocol, context=context, token=_token(licence, CENC_ONLY))
    assert result.ok and result.advanced_s >= 5.0 and result.fatal_error is None
    assert licence[0].url in result.origins, "the ClearKey licence must have come from the licence server"


def _bad_token(licence: tuple[Any, Any], kind: str) -> str:
    server, settings = licence
    if kind == "other-title":
        return _token(licence, "other")
    if kind == "expired":
        return server.service.signer.issue(VIEWER, TITLE, "web", ttl_s=60, now=time.time() - 3600)
    body, mac = _token(licence).split(".")  # tampered: a claim edited after signing
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["viewer_id"] = "someone-else"
    return base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=") + "." + mac


@pytest.mark.parametrize("kind", ["other-title", "expired", "tampered"])
@pytest.mark.parametrize("protocol,error", [("dash", "LICENSE_REQUEST_FAILED"), ("hls", "keyLoadError")])
def test_bad_token_shows_a_licence_error_and_decrypts_nothing(stack: Any, context: Any, licence: tuple, protocol: str,
                                                              error: str, kind: str) -> None:
    with pytest.raises(PlaybackError, match=error) as raised:
        check_playback(stack.edge_url + "/", TITLE, protocol, context=context, token=_bad_token(licence, kind), timeout_s=30)
    assert raised.value.result is not None and raised.value.result.decoded_frames == 0
    assert any(code in line for line in raised.value.console_errors for code in ("401", "403"))


def test_encrypted_hls_without_keys_fails_as_a_stall_not_a_pass(stack: Any, context: Any) -> None:
    """No error event fires: chromium just never decodes a frame, so only the advance check catches it."""
    with pytest.raises(PlaybackError, match=r"advanced only 0\.00 s .* stalled") as raised:
        check_playback(stack.edge_url + "/", STRIPPED, "hls", context=context, timeout_s=8)
    assert raised.value.result is not None and raised.value.result.fatal_error is None


def test_encrypted_dash_without_drm_info_is_a_fatal_shaka_error(stack: Any, context: Any) -> None:
    with pytest.raises(PlaybackError, match="ENCRYPTED_CONTENT_WITHOUT_DRM_INFO"):
        check_playback(stack.edge_url + "/", STRIPPED, "dash", context=context, timeout_s=20)
