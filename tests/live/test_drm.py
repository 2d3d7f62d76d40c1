"""Live DRM (``live start --drm clearkey``): CENC-encrypted parts, keys from the VOD key store, the
VOD licence flow (signed playback token, entitlement, ClearKey licence), played by hls.js in
chromium; without a master key, one ``error:`` line."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import m3u8
import pytest

from streamlab.cli import run
from tests.live.conftest import stop_and_check, test_overrides

pytestmark = pytest.mark.slow

VIEWER = "viewer-live"
SOURCE = "testsrc2=size=320x180:rate=30"
SMALL = ["contribution.width=320", "contribution.height=180"]


@pytest.fixture()
def master_key(live_env: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMLAB_DRM_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
        yield


def test_an_encrypted_channel_plays_with_a_licence(master_key: None, live_env: Path) -> None:
    from streamlab.streaming.delivery.stack import running_stack
    from streamlab.streaming.drm.server import running_license_server
    from streamlab.streaming.live.lifecycle import start_channel
    from streamlab.streaming.live.watch import watch_live
    from streamlab.streaming.packaging.mp4box import find_all
    from streamlab.streaming.player.browser import chromium

    import streamlab.streaming.player as player

    with running_license_server() as licence:
        state = start_channel("locked", source=SOURCE, overrides=[*test_overrides(backup=False), *SMALL], drm="clearkey")
        try:
            drm = state["drm"]
            assert drm["title_id"] == "live-locked" and drm["mode"] == "clearkey"
            stored = licence.service.keys.title_keys("live-locked")
            assert [key.kid_hex for key in stored] == [drm["kid"]]  # the VOD key store's key for the channel
            base = f"{state['origin_url']}/live/locked"
            with httpx.Client(timeout=10) as client:
                for rendition in ("180p", "audio"):
                    text = client.get(f"{base}/{rendition}/playlist.m3u8").text
                    playlist = m3u8.loads(text)
                    keys = [key for key in playlist.keys if key is not None]
                    assert {key.method for key in keys} == {"SAMPLE-AES-CTR"} and f"KEYID=0x{drm['kid']}" in text
                    assert "org.w3.clearkey" in {key.keyformat for key in keys}
                    init = client.get(f"{base}/{rendition}/init0.mp4").content
                    assert find_all(init, ["moov", "pssh"]) and b"tenc" in init  # signalled and encrypted
                    first_part = re.search(r'#EXT-X-PART:.*URI="(seg\d+\.\d+\.m4s)"', text)
                    assert first_part, text
                    part = client.get(f"{base}/{rendition}/{first_part.group(1)}").content
                    assert b"senc" in part  # the samples are encrypted as they are written
                mpd = client.get(f"{base}/manifest.mpd").text
                assert mpd.count("urn:mpeg:dash:mp4protection:2011") == 2 and drm["kid"][:8] in mpd  # video and audio
                assert f"<dashif:Laurl>{drm['license_url']}</dashif:Laurl>" in mpd
            licence.service.entitlements.grant(VIEWER, "live-locked")
            token = licence.service.signer.issue(VIEWER, "live-locked", "web", 600)
            license_url = f"{licence.url}/drm/clearkey/license"
            page_dir = Path(player.__file__).parent / "static"
            with running_stack(media_root=live_env / "media", overrides=[f"origin.player_dir={page_dir}"]) as stack, \
                    chromium() as context:
                master = f"{stack.edge_url}/live/locked/master.m3u8"
                query = {"license": license_url, "token": token}
                watched = watch_live(context, f"{stack.edge_url}/player/live.html", master, 12.0, query=query)
                dash = watch_live(context, f"{stack.edge_url}/player/live.html", master.replace("master.m3u8", "manifest.mpd"),
                                  8.0, query=query)
            for engine, seen in (("hls.js", watched), ("shaka", dash)):
                assert seen.state["frames"] > 60 and len(seen.state["latencies"]) >= 6, (engine, seen.state)  # decrypted, decoded
                assert seen.state["audioBytes"] > 0, (engine, seen.state)
                print(f"\nencrypted channel through the edge, {engine}: {seen.summary()}")
        finally:
            stop_and_check("locked")


def test_drm_without_a_master_key_is_one_error(live_env: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREAMLAB_DRM_MASTER_KEY", raising=False)
    assert run(["live", "start", "nokey", "--drm", "clearkey", "--source", SOURCE, *test_overrides(backup=False)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no DRM master key"), err
    assert run(["live", "start", "nokey", "--drm", "widevine"]) == 2
