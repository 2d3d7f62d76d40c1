"""The origin's viewer routes without a browser: config, signed viewers, player counters, catalog fallbacks."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from streamlab.streaming.catalog_page.page import play_target
from streamlab.streaming.catalog_page.settings import OVERRIDES_ENV, RecommendPageSettings, load_catalog_settings
from streamlab.streaming.catalog_page.viewer_identity import ViewerSigner, ViewerTokenInvalid, load_or_create_secret
from tests.player.conftest import free_port, viewer_overrides


@pytest.fixture()
def secret_file(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "viewer.key"


@pytest.fixture()
def origin(tmp_path: Path, secret_file: Path, monkeypatch: pytest.MonkeyPatch):
    """``origin(serving_url)``: a TestClient on a fresh origin app with the viewer pages configured."""
    from streamlab.streaming.delivery.origin import create_origin_app

    media = tmp_path / "media"
    media.mkdir()

    def make(serving_url: str, *extra: str) -> TestClient:
        monkeypatch.setenv(OVERRIDES_ENV, viewer_overrides(serving_url, secret_file, *extra))
        return TestClient(create_origin_app(media_root=media))

    return make


@pytest.fixture()
def black_hole() -> Iterator[str]:
    """A port that accepts connections and never answers: a hung model server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def counter(client: TestClient, name: str, label: str, value: str) -> float:
    match = re.search(rf'^{name}{{{label}="{value}"}} ([0-9.e+]+)$', client.get("/metrics").text, re.MULTILINE)
    assert match, f"{name}{{{label}={value!r}}} not exposed"
    return float(match.group(1))


def signer(secret_file: Path) -> ViewerSigner:
    return ViewerSigner(load_or_create_secret(secret_file), 3600)


def test_config_tells_the_page_its_serving_url_budget_and_bola_constants(origin) -> None:
    from streamlab.models.abr.policies.bola import MINIMUM_BUFFER_S, TARGET_BUFFER_S

    response = origin("http://127.0.0.1:3999/", "abr.decide_budget_ms=40").get("/config.json")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["serving_url"] == "http://127.0.0.1:3999" and body["abr"]["decide_budget_ms"] == 40
    assert body["bola"] == {"minimum_buffer_s": MINIMUM_BUFFER_S, "target_buffer_s": TARGET_BUFFER_S}
    assert body["viewer_id"] == "anonymous" and body["signed_in"] is False


def test_config_names_the_signed_viewer(origin, secret_file) -> None:
    client = origin("http://127.0.0.1:3999")
    token = signer(secret_file).issue("196")
    body = client.get("/config.json", params={"viewer_token": token}).json()
    assert body["viewer_id"] == "196" and body["signed_in"] is True


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), lambda t: "x" + t, lambda t: "no-dot"]
)
def test_forged_viewer_links_are_refused(origin, secret_file, mangle) -> None:
    client = origin("http://127.0.0.1:3999")
    token = mangle(signer(secret_file).issue("196"))
    config = client.get("/config.json", params={"viewer_token": token})
    assert config.status_code == 401 and "viewer link refused" in config.json()["error"]
    page = client.get("/browse", params={"viewer_token": token})
    assert page.status_code == 401 and "not valid" in page.text


def test_viewer_tokens_expire_and_carry_only_valid_ids(secret_file) -> None:
    s = signer(secret_file)
    token = s.issue("196", now=1_000_000)
    assert s.verify(token, now=1_000_100).viewer_id == "196"
    with pytest.raises(ViewerTokenInvalid, match="expired"):
        s.verify(token, now=1_000_000 + 3601)
    with pytest.raises(Exception, match="not valid"):
        s.issue("../etc/passwd")


def test_the_link_secret_is_private_to_its_owner(secret_file) -> None:
    load_or_create_secret(secret_file)
    assert secret_file.stat().st_mode & 0o777 == 0o600
    secret_file.chmod(0o644)
    with pytest.raises(Exception, match="chmod 600"):
        load_or_create_secret(secret_file)


def test_player_counters_reach_the_origins_metrics(origin) -> None:
    client = origin("")
    report = {"decisions": {"model": 11, "fallback": 2}, "fallbacks": {"timeout": 1, "error": 1}}
    assert client.post("/_player_metrics", json=report).status_code == 204
    assert client.post("/_player_metrics", json={"decisions": {"model": 1}}).status_code == 204
    assert counter(client, "streamlab_player_abr_decisions_total", "source", "model") == 12
    assert counter(client, "streamlab_player_abr_decisions_total", "source", "fallback") == 2
    assert counter(client, "streamlab_player_abr_fallbacks_total", "reason", "timeout") == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"decisions": {"modle": 1}}, "Extra inputs"),
        ({"decisions": {"model": -1}}, "greater than or equal"),
        ({"fallbacks": {"gremlins": 1}}, "unknown fallback reason"),
        ([1, 2], "not a player metrics report"),
    ],
)
def test_bad_player_counters_are_refused_and_count_nothing(origin, body, message) -> None:
    client = origin("")
    response = client.post("/_player_metrics", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and message in response.json()["error"]
    assert counter(client, "streamlab_player_abr_decisions_total", "source", "model") == 0


def test_an_oversized_counter_report_is_refused(origin) -> None:
    response = origin("").post("/_player_metrics", content=b"{" + b" " * 5000 + b"}")
    assert response.status_code == 413


def test_signed_out_viewers_see_popular_titles_by_name(origin) -> None:
    page = origin("").get("/browse")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert 'data-source="popular"' in page.text and "Popular right now" in page.text
    assert page.text.index("Star Wars") < page.text.index("Contact")  # most-rated first in ml-100k
    client = origin("")
    client.get("/browse")
    assert counter(client, "streamlab_catalog_fallbacks_total", "reason", "unreachable") == 0


def test_unreachable_recommender_shows_popular_and_counts_the_fallback(origin, secret_file) -> None:
    client = origin(f"http://127.0.0.1:{free_port()}")
    page = client.get("/browse", params={"viewer_token": signer(secret_file).issue("196")})
    assert page.status_code == 200 and 'data-source="fallback"' in page.text
    assert 'data-fallback-reason="unreachable"' in page.text and "Recommendations are unavailable" in page.text
    assert "Star Wars" in page.text
    assert counter(client, "streamlab_catalog_fallbacks_total", "reason", "unreachable") == 1


def test_a_hung_recommender_costs_the_page_only_its_budget(origin, secret_file, black_hole) -> None:
    client = origin(black_hole, "recommend.timeout_ms=150")
    page = client.get("/browse", params={"viewer_token": signer(secret_file).issue("196")})
    assert 'data-fallback-reason="timeout"' in page.text
    elapsed_ms = float(re.search(r"titles · (\d+) ms", page.text).group(1))
    assert elapsed_ms < 1000  # budget 150 ms + the popular list; never the 5 s httpx default
    assert counter(client, "streamlab_catalog_fallbacks_total", "reason", "timeout") == 1


def test_movies_link_to_mapped_titles_or_labelled_stand_ins(player_media) -> None:
    from streamlab.streaming.catalog import list_titles

    published = list_titles(player_media)
    assert play_target("50", published, RecommendPageSettings(title_map={"50": "clip"})) == ("clip", False)
    assert play_target("50", published, RecommendPageSettings()) == ("clip", True)
    assert play_target("50", published, RecommendPageSettings(stand_in_clips=False)) is None
    assert play_target("50", [], RecommendPageSettings()) is None


def test_bad_override_env_is_a_clear_error(monkeypatch) -> None:
    from streamlab.core.config import ConfigError

    monkeypatch.setenv(OVERRIDES_ENV, "serving_url=x")
    with pytest.raises(ConfigError, match="not JSON"):
        load_catalog_settings()
    monkeypatch.setenv(OVERRIDES_ENV, '["telemetry.region=eu west"]')
    with pytest.raises(ConfigError):
        load_catalog_settings()


def test_cli_prints_a_link_the_origin_accepts(origin, secret_file, monkeypatch) -> None:
    from typer.testing import CliRunner

    from streamlab.cli.catalog import app

    client = origin("")  # sets the overrides (secret file) the CLI reads too
    printed = CliRunner().invoke(app, ["link", "196", "--edge-url", "http://edge.test:8000/"])
    assert printed.exit_code == 0 and printed.output.startswith("http://edge.test:8000/browse?viewer_token=")
    token = printed.output.strip().split("viewer_token=")[1]
    assert client.get("/config.json", params={"viewer_token": token}).json()["viewer_id"] == "196"
    refused = CliRunner().invoke(app, ["link", "bad id"])
    assert refused.exit_code != 0 and "not valid" in str(refused.exception)


def test_playback_checks_can_speak_for_a_signed_viewer() -> None:
    from urllib.parse import parse_qs, urlsplit

    from streamlab.streaming.player.browser import player_url

    query = parse_qs(urlsplit(player_url("http://edge:8000/", "clip", "hls", viewer_token="abc.def")).query)
    assert query["viewer_token"] == ["abc.def"] and query["title"] == ["clip"] and query["autoplay"] == ["1"]
    assert "viewer_token" not in parse_qs(urlsplit(player_url("http://edge:8000/", "clip", "hls")).query)
