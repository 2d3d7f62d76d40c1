"""The viewer-request hook on real requests: device class from 12 real User-Agents (and client hints),
region from the country header, sticky arms; headers reach the origin and the manifest is capped per class."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from streamlab.streaming.delivery.cache_tier import CacheTier
from streamlab.streaming.delivery.settings import load_delivery_settings
from streamlab.streaming.delivery.stack import ServerThread, bind_socket, socket_url
from streamlab.streaming.edge.hook import ViewerHook, ViewerRequestHook
from streamlab.streaming.edge.settings import load_edge_settings
from streamlab.streaming.edge.topology import RunningEdges, running_edges
from streamlab.streaming.experiment.definition import define
from streamlab.streaming.experiment.settings import load_experiment_settings

UAS = {  # two real-world User-Agents per class, plus one nothing can classify
    "tv": ["Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36",
           "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.79 Safari/537.36 WebAppManager"],
    "mobile": ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
               "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"],
    "tablet": ["Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
               "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"],
    "desktop": ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"],
    "console": ["Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edge/44.18363.8131"],
    "unknown": ["curl/8.5.0"],
}
CASES = [(cls, ua) for cls, uas in UAS.items() for ua in uas]
OFFERED = {  # heights of the ladder fixture (2160 HEVC, 1080/720/360 H.264) each class is offered, per configs/edge.yaml
    "tv": [2160, 1080, 720, 360], "console": [2160, 1080, 720, 360], "tablet": [1080, 720, 360],
    "desktop": [1080, 720, 360], "unknown": [1080, 720, 360], "mobile": [720, 360],
}


@pytest.fixture(scope="module")
def edges(ladder_media: Path) -> Iterator[RunningEdges]:
    with running_edges(ladder_media, ["cdn-a"], experiments=[]) as running:
        yield running


def heights(master: str) -> list[int]:
    return [int(h) for h in re.findall(r"RESOLUTION=\d+x(\d+)", master)]


@pytest.mark.parametrize(("device_class", "ua"), CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_a_real_user_agent_gets_its_class_and_its_capped_master(edges: RunningEdges, device_class: str, ua: str) -> None:
    response = httpx.get(edges.edges["cdn-a"].url + "/media/ladder/master.m3u8", headers={"User-Agent": ua}, trust_env=False)
    assert response.status_code == 200
    assert response.headers["x-streamlab-device"] == device_class
    assert heights(response.text) == OFFERED[device_class]


def test_a_phone_never_gets_the_tvs_cached_master_or_mpd(edges: RunningEdges) -> None:
    url = edges.edges["cdn-a"].url + "/media/ladder/"
    for name in ("master.m3u8", "manifest.mpd"):
        tv = httpx.get(url + name, headers={"User-Agent": UAS["tv"][0]}, trust_env=False)
        phone = httpx.get(url + name, headers={"User-Agent": UAS["mobile"][0]}, trust_env=False)
        again = httpx.get(url + name, headers={"User-Agent": UAS["mobile"][1]}, trust_env=False)
        assert "2160" in tv.text and "2160" not in phone.text and "1080" not in phone.text, name
        assert again.headers["x-cache"] == "HIT" and again.text == phone.text
    assert 'height="720"' in phone.text and 'id="audio"' in phone.text  # the audio set is untouched


@pytest.mark.parametrize(("hints", "expected"), [
    ({"Sec-CH-UA-Mobile": "?0", "Sec-CH-UA-Platform": '"Android"'}, "tablet"),
    ({"Sec-CH-UA-Mobile": "?1", "Sec-CH-UA-Platform": '"Android"'}, "mobile"),
    ({"Sec-CH-UA-Mobile": "?0", "Sec-CH-UA-Platform": '"Android"', "Sec-CH-UA-Model": '"BRAVIA 4K VH2"'}, "tv"),
])
def test_client_hints_override_chromiums_reduced_user_agent(hints: dict[str, str], expected: str) -> None:
    """Reduced UA "Linux; Android 10; K" is the same for every Android: the hints say what it is."""
    hook = ViewerHook(load_edge_settings().hook, experiments=[])
    reduced = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
    assert hook.devices.classify({"user-agent": reduced, **{k.lower(): v for k, v in hints.items()}}) == expected


@pytest.fixture()
def echo_edge(edge_home: Path) -> Iterator[tuple[str, list]]:
    """hook -> a real cache tier -> an upstream that answers with the request headers it received."""
    settings = load_experiment_settings()
    experiments = [define("abr-test", "control,treatment", "20/80", "qoe", settings),
                   define("thumbs", "control,treatment,bola", "34/33/33", "qoe", settings)]

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(dict(request.headers), headers={"Cache-Control": "no-store"})

    upstream_sock, edge_sock = bind_socket("127.0.0.1", 0), bind_socket("127.0.0.1", 0)
    delivery = load_delivery_settings()
    tier = CacheTier("edge", socket_url(upstream_sock), delivery.edge, delivery.upstream)
    servers = ServerThread([(Starlette(routes=[Route("/{path:path}", echo)]), upstream_sock),
                            (ViewerRequestHook(tier, ViewerHook(load_edge_settings().hook, experiments)), edge_sock)])
    servers.start(10)
    try:
        yield socket_url(edge_sock), experiments
    finally:
        servers.stop()


def test_the_hooks_headers_reach_the_origin_and_spoofed_ones_do_not(echo_edge) -> None:
    url, experiments = echo_edge
    with httpx.Client(trust_env=False) as client:
        seen = client.get(url + "/x", headers={"User-Agent": UAS["tv"][1], "CloudFront-Viewer-Country": "de",
                                               "X-Streamlab-Viewer": "v-42", "X-Streamlab-Device": "mobile",
                                               "X-Streamlab-Arms": "abr-test=treatment"}).json()
        assert seen["x-streamlab-device"] == "tv" and seen["x-streamlab-region"] == "eu"
        expected = {e.name: e.assign("v-42").name for e in experiments}
        assert seen["x-streamlab-arms"] == ";".join(f"{k}={v}" for k, v in sorted(expected.items()))
        regions = [client.get(url + "/x", headers={"X-Country": c}).json()["x-streamlab-region"]
                   for c in ("US", "JP", "BR", "not-a-country", "")]
        assert regions == ["na", "apac", "other", "other", "other"]
        anonymous = client.get(url + "/x").json()
        assert "x-streamlab-arms" not in anonymous and anonymous["x-streamlab-device"] == "unknown"
        by_cookie = client.get(url + "/x", headers={"Cookie": "a=b; streamlab_viewer=v-42"}).json()
        assert by_cookie["x-streamlab-arms"] == seen["x-streamlab-arms"]
        stats = client.get(url + "/_viewers").json()
        assert {"device_class": "tv", "region": "eu", "requests": 1} in stats


def test_the_same_viewer_lands_in_the_same_arm_on_1000_requests(echo_edge) -> None:
    url, _ = echo_edge
    with httpx.Client(trust_env=False) as client:
        arms = Counter(client.get(url + "/x", headers={"X-Streamlab-Viewer": "sticky-7"}).headers["x-streamlab-arms"]
                       for _ in range(1000))
    assert len(arms) == 1


def test_the_observed_split_of_10000_viewers_is_within_a_point_of_the_config(edge_home: Path) -> None:
    settings = load_experiment_settings()
    experiments = [define("split", "control,treatment,bola", "20/30/50", "qoe", settings)]
    hook = ViewerHook(load_edge_settings().hook, experiments)
    counts = Counter(hook.context({"x-streamlab-viewer": f"viewer-{i}"}).arms["split"] for i in range(10_000))
    for arm, percent in (("control", 20), ("treatment", 30), ("bola", 50)):
        assert abs(counts[arm] / 100 - percent) <= 1.0, counts


def test_a_manifest_the_cap_does_not_touch_is_served_byte_for_byte() -> None:
    """Re-serializing an uncapped MPD changed its bytes (the XML declaration's quotes): players and caches that
    compare with the published file saw a different body. Only a manifest that loses rungs is rewritten."""
    from streamlab.streaming.edge.manifests import cap_dash_mpd, cap_hls_master
    from streamlab.streaming.edge.settings import CODEC_FAMILIES, DeviceCap

    mpd = ("<?xml version='1.0' encoding='UTF-8'?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\"><Period>"
           "<AdaptationSet mimeType=\"video/mp4\"><Representation id=\"a\" height=\"360\" bandwidth=\"800000\" "
           "codecs=\"avc1.64001e\"/><Representation id=\"b\" height=\"1080\" bandwidth=\"5000000\" "
           "codecs=\"avc1.640028\"/></AdaptationSet></Period></MPD>\n")
    master = ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.64001e\"\n360p/index.m3u8\n"
              "#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,CODECS=\"avc1.640028\"\n1080p/index.m3u8\n")
    everything = DeviceCap(max_height=4320, codecs=sorted(CODEC_FAMILIES))
    assert cap_dash_mpd(mpd, everything) == mpd and cap_hls_master(master, everything) == master
    phone = DeviceCap(max_height=720, codecs=sorted(CODEC_FAMILIES))
    assert 'id="b"' not in cap_dash_mpd(mpd, phone) and "1080p" not in cap_hls_master(master, phone)
