"""The playback service: a signed token + title -> manifest URLs, DRM and the viewer's arm; every bad input one clear 4xx."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streamlab.streaming.drm.tokens import TokenSigner
from streamlab.streaming.edge.topology import RunningEdges, running_edges
from streamlab.streaming.experiment.definition import define, save
from streamlab.streaming.experiment.settings import load_experiment_settings

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
SIGNER = TokenSigner(os.urandom(32))


@pytest.fixture()
def service(ladder_media: Path, edge_home: Path) -> Iterator[RunningEdges]:
    settings = load_experiment_settings()
    save(define("abr-test", "control,treatment", "50/50", "qoe", settings))
    with running_edges(ladder_media, ["cdn-a"], signer=SIGNER) as running:
        yield running


def play(service: RunningEdges, body: dict, token: str | None = None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(service.playback_url + "/v1/playback", json=body, headers=headers, trust_env=False)


def test_a_viewer_gets_manifests_capped_for_their_device_and_the_abr_config_of_their_arm(service: RunningEdges) -> None:
    from streamlab.streaming.experiment.definition import load

    answers = {}
    for viewer in ("v-1", "v-2", "v-3", "v-4", "v-5", "v-6"):
        token = SIGNER.issue(viewer, "ladder", "mobile", ttl_s=60)
        answer = play(service, {"title": "ladder"}, token, **{"User-Agent": PHONE, "X-Country": "FR"})
        assert answer.status_code == 200, answer.text
        answers[viewer] = answer.json()
    experiment = load("abr-test")
    for viewer, answer in answers.items():
        assert answer["device_class"] == "mobile" and answer["region"] == "eu" and answer["drm"] is None
        assert answer["abr"]["experiment"] == "abr-test" and answer["abr"]["arm"] == experiment.assign(viewer).name
        assert answer["abr"]["policy"] == "bola"
    assert len({a["abr"]["arm"] for a in answers.values()}) == 2  # both arms are served, each to its own viewers
    master = httpx.get(answers["v-1"]["manifests"]["hls"], headers={"User-Agent": PHONE}, trust_env=False)
    assert master.status_code == 200 and re.findall(r"RESOLUTION=\d+x(\d+)", master.text) == ["720", "360"]


def test_a_protected_title_comes_with_its_clearkey_licence(service: RunningEdges, ladder_media: Path) -> None:
    record = (ladder_media / "ladder" / "title.json").read_text()
    protected = ladder_media / "locked"
    protected.mkdir(exist_ok=True)
    (protected / "title.json").write_text(record.replace('"title_id": "ladder"', '"title_id": "locked"')
                                          .replace('"drm": "none"', '"drm": "clearkey"'))
    token = SIGNER.issue("v-1", "locked", "tv", ttl_s=60)
    answer = play(service, {"title": "locked", "device_class": "tv"}, token).json()
    assert answer["drm"]["key_system"] == "org.w3.clearkey" and answer["drm"]["license_url"].endswith("/drm/clearkey/license")
    assert answer["drm"]["headers"] == {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("body", "token", "status", "reason"), [
    ({"title": "ladder"}, None, 401, "token_missing"),
    ({"title": "ladder"}, "forged", 401, "token_malformed"),
    ({"title": "ladder"}, "signed-by-someone-else", 401, "token_bad_signature"),
    ({"title": "ladder"}, "expired", 401, "token_expired"),
    ({"title": "other"}, "ok", 403, "title_not_in_token"),
    ({"title": "../etc"}, "ok", 400, "bad_title"),
    ({"title": "ladder", "device_class": "fridge"}, "ok", 400, "unknown_device"),
    ({"title": "ladder", "device_class": "mobile"}, "ok", 403, "device_mismatch"),
    ({"title": "ladder", "device_class": "tv", "experiment": "nosuch"}, "ok", 404, "unknown_experiment"),
    ({"title": "ladder", "device_class": "tv", "arm": "nosuch"}, "ok", 400, "unknown_arm"),
    ({"title": "ladder", "device_class": "tv", "arm": "wrong"}, "ok", 403, "arm_mismatch"),
    ({"title": "ladder", "channel": "news"}, "ok", 400, "bad_request"),
    ({"channel": "news"}, "news", 404, "unknown_channel"),
    ({"title": "ladder", "device_class": 7}, "ok", 400, "bad_request"),
])
def test_bad_input_gets_one_clear_refusal(service: RunningEdges, body: dict, token: str | None, status: int, reason: str) -> None:
    from streamlab.streaming.experiment.definition import load

    viewer = "v-9"
    tokens = {
        None: None, "forged": "not-a-token", "ok": SIGNER.issue(viewer, "ladder", "tv", ttl_s=60),
        "signed-by-someone-else": TokenSigner(os.urandom(32)).issue(viewer, "ladder", "tv", ttl_s=60),
        "expired": SIGNER.issue(viewer, "ladder", "tv", ttl_s=1, now=1_000_000.0),
        "news": SIGNER.issue(viewer, "news", "tv", ttl_s=60),
    }
    if body.get("arm") == "wrong":
        body = {**body, "arm": next(a for a in ("control", "treatment") if a != load("abr-test").assign(viewer).name)}
    response = play(service, body, tokens[token])
    assert response.status_code == status, response.text
    assert response.json()["reason"] == reason and response.json()["error"]


def test_the_viewers_own_arm_may_be_named_and_an_any_device_token_takes_the_requests_class(service: RunningEdges) -> None:
    from streamlab.streaming.experiment.definition import load

    arm = load("abr-test").assign("v-9").name
    answer = play(service, {"title": "ladder", "arm": arm}, SIGNER.issue("v-9", "ladder", "any", ttl_s=60), **{"User-Agent": "curl/8"})
    assert answer.status_code == 200 and answer.json()["abr"]["arm"] == arm and answer.json()["device_class"] == "unknown"


def test_a_huge_or_lengthless_body_is_refused_before_it_is_read(service: RunningEdges) -> None:
    big = httpx.post(service.playback_url + "/v1/playback", content=b"{" + b" " * 10_000 + b"}", trust_env=False,
                     headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and big.json()["reason"] == "too_large"
