"""A live channel's master playlist and MPD are capped per device class through the stack, as a
title's are (``configs/edge.yaml`` ``manifests.caps``: a phone gets at most 720p), while media
playlists and parts pass through untouched. The channel is synthetic (no FFmpeg), its origin real."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streamlab.streaming.delivery.stack import RunningStack, running_stack
from streamlab.streaming.live.settings import LiveOriginSettings, LiveRung
from streamlab.streaming.live.timeline import RungTimeline
from tests.edge.test_hook import UAS
from tests.live.test_origin_blocking import SyntheticChannel, serving_origin
from tests.live.test_timeline_properties import INIT, NOW, chunk

RUNGS = [LiveRung(name="1080p", width=1920, height=1080, bitrate_kbps=5000),
         LiveRung(name="720p", width=1280, height=720, bitrate_kbps=2500),
         LiveRung(name="360p", width=640, height=360, bitrate_kbps=800)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """Edge (with the viewer hook) → shield → origin → a three-rung synthetic channel's live origin."""
    folder = tmp_path_factory.mktemp("live-caps")
    channel = SyntheticChannel(folder, name="caps", rungs=RUNGS)
    for rung in RUNGS:
        timeline = RungTimeline(rung.name, folder / rung.name, 2.0, 60.0)
        timeline.start_generation(b"init", INIT)
        for frame in range(0, 90, 10):
            timeline.add_chunk(chunk(frame, 10, frame % 60 == 0), now_s=NOW)
        channel.timelines[rung.name] = timeline
    with serving_origin(channel, LiveOriginSettings()) as (origin_url, _):
        state_dir = folder / "live-state"
        (state_dir / "caps").mkdir(parents=True)
        (state_dir / "caps" / "state.json").write_text(json.dumps({"state": "live", "origin_url": origin_url}))
        with running_stack(media_root=folder / "media", overrides=[f"origin.live.state_dir={state_dir}"]) as running:
            yield running


def _get(stack: RunningStack, path: str, ua: str) -> httpx.Response:
    response = httpx.get(f"{stack.edge_url}/live/caps/{path}", headers={"User-Agent": ua}, trust_env=False, timeout=10)
    assert response.status_code == 200, response.text
    return response


def test_a_phone_gets_the_channel_without_its_1080p_rung_and_a_tv_gets_it_all(stack: RunningStack) -> None:
    phone = _get(stack, "master.m3u8", UAS["mobile"][0])
    tv = _get(stack, "master.m3u8", UAS["tv"][0])
    assert re.findall(r"RESOLUTION=\d+x(\d+)", tv.text) == ["1080", "720", "360"]
    assert re.findall(r"RESOLUTION=\d+x(\d+)", phone.text) == ["720", "360"]
    assert "1080p/playlist.m3u8" not in phone.text and "720p/playlist.m3u8" in phone.text
    assert "x-streamlab-device" in phone.headers["vary"].lower()
    again = _get(stack, "master.m3u8", UAS["mobile"][1])  # the edge keeps a phone's copy apart from the TV's
    assert again.text == phone.text and again.headers["x-cache"] == "HIT"


def test_the_live_mpd_is_capped_too(stack: RunningStack) -> None:
    phone = _get(stack, "manifest.mpd", UAS["mobile"][0])
    tv = _get(stack, "manifest.mpd", UAS["tv"][0])
    assert 'height="1080"' in tv.text and 'height="1080"' not in phone.text and 'height="720"' in phone.text
    assert phone.text.count("<Representation") == tv.text.count("<Representation") - 1


def test_media_playlists_pass_through_byte_for_byte(stack: RunningStack) -> None:
    phone = _get(stack, "1080p/playlist.m3u8", UAS["mobile"][0])  # capping hides a rung; it does not forbid it
    tv = _get(stack, "1080p/playlist.m3u8", UAS["tv"][0])
    assert phone.content == tv.content and "#EXT-X-PART:" in phone.text
