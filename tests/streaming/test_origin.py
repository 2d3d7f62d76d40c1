"""The origin: MIME types, byte ranges, validators, cache headers, CORS, catalog, and no way out of the root."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import httpx
import pytest

from streamlab.streaming.delivery.origin import create_origin_app
from streamlab.streaming.delivery.sample_title import build_sample_title
from streamlab.streaming.delivery.settings import load_delivery_settings

SECRET = b"TOPSECRET-delivery-tests-7f3a"


class OriginClient:
    """Synchronous calls into an ASGI app through ``httpx.ASGITransport`` (no sockets needed).

    Starlette's own OriginClient is moving to the ``httpx2`` package; this keeps to our pinned httpx.
    """

    def __init__(self, app: object) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://origin") as client:
                return await client.request(method, url, **kwargs)  # type: ignore[arg-type]

        return asyncio.run(call())

    def get(self, url: str, **kwargs: object) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: object) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, **kwargs: object) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def options(self, url: str, **kwargs: object) -> httpx.Response:
        return self.request("OPTIONS", url, **kwargs)
RENDITION = "180p_400k"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A media root with one real CMAF title, plus every trap a traversal could reach."""
    base = tmp_path_factory.mktemp("origin")
    media = base / "media"
    media.mkdir()
    build_sample_title(media, "sample")
    (base / "secret.txt").write_bytes(SECRET)
    (media / "sample" / ".hidden").write_bytes(SECRET)
    (media / "sample" / "escape.m4s").symlink_to(base / "secret.txt")
    (media / "sample" / "outside").symlink_to(base, target_is_directory=True)
    staged = media / ".staging" / "half"
    staged.mkdir(parents=True)
    (staged / "title.json").write_bytes(SECRET)
    (media / "sample" / "hls.key").write_bytes(bytes(range(16)))
    player = base / "player"
    player.mkdir()
    (player / "index.html").write_text("<!doctype html><title>player</title>")
    (player / "app.js").write_text("console.log('player');")
    return {"base": base, "media": media, "player": player}


@pytest.fixture(scope="module")
def client(tree: dict[str, Path]) -> OriginClient:
    app = create_origin_app(load_delivery_settings(), media_root=tree["media"], player_dir=tree["player"])
    return OriginClient(app)


def segment(tree: dict[str, Path], number: int = 1) -> Path:
    return tree["media"] / "sample" / RENDITION / f"seg_{number:05d}.m4s"


# ---- MIME types and cache headers -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "mime", "cache"),
    [
        ("sample/master.m3u8", "application/vnd.apple.mpegurl", "public, max-age=2"),
        (f"sample/{RENDITION}/playlist.m3u8", "application/vnd.apple.mpegurl", "public, max-age=2"),
        ("sample/manifest.mpd", "application/dash+xml", "public, max-age=2"),
        (f"sample/{RENDITION}/seg_00001.m4s", "video/iso.segment", "public, max-age=31536000, immutable"),
        (f"sample/{RENDITION}/init.mp4", "video/mp4", "public, max-age=31536000, immutable"),
        ("sample/title.json", "application/json", "public, max-age=2"),
        ("sample/hls.key", "application/octet-stream", "no-store"),
    ],
)
def test_media_files_have_their_mime_type_and_cache_policy(client: OriginClient, path: str, mime: str, cache: str) -> None:
    response = client.get(f"/media/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"] == mime
    assert response.headers["cache-control"] == cache
    assert response.headers["accept-ranges"] == "bytes"


def test_mpeg_ts_segments_are_video_mp2t(tree: dict[str, Path], client: OriginClient) -> None:
    (tree["media"] / "sample" / "legacy.ts").write_bytes(b"\x47" * 188)
    response = client.get("/media/sample/legacy.ts")
    assert response.headers["content-type"] == "video/mp2t"
    assert response.headers["cache-control"].endswith("immutable")


def test_cache_control_values_come_from_the_config(tree: dict[str, Path]) -> None:
    settings = load_delivery_settings(["origin.cache_control.manifest=public, max-age=7"])
    response = OriginClient(create_origin_app(settings, media_root=tree["media"])).get("/media/sample/master.m3u8")
    assert response.headers["cache-control"] == "public, max-age=7"


def test_full_get_returns_the_file_bytes(tree: dict[str, Path], client: OriginClient) -> None:
    response = client.get(f"/media/sample/{RENDITION}/seg_00002.m4s")
    assert response.content == segment(tree, 2).read_bytes()
    assert int(response.headers["content-length"]) == segment(tree, 2).stat().st_size


def test_large_files_stream_in_chunks_with_the_same_bytes(tree: dict[str, Path]) -> None:
    settings = load_delivery_settings(["origin.read_chunk_bytes=1000"])
    response = OriginClient(create_origin_app(settings, media_root=tree["media"])).get(f"/media/sample/{RENDITION}/seg_00001.m4s")
    assert response.content == segment(tree).read_bytes()


# ---- ranges ------------------------------------------------------------------------------------------
def test_single_range_is_206_with_content_range(tree: dict[str, Path], client: OriginClient) -> None:
    data = segment(tree).read_bytes()
    response = client.get(f"/media/sample/{RENDITION}/seg_00001.m4s", headers={"Range": "bytes=100-299"})
    assert response.status_code == 206
    assert response.content == data[100:300]
    assert response.headers["content-range"] == f"bytes 100-299/{len(data)}"
    assert response.headers["content-length"] == "200"


@pytest.mark.parametrize(("spec", "expected"), [("bytes=-50", slice(-50, None)), ("bytes=1000-", slice(1000, None))])
def test_suffix_and_open_ranges(tree: dict[str, Path], client: OriginClient, spec: str, expected: slice) -> None:
    data = segment(tree).read_bytes()
    response = client.get(f"/media/sample/{RENDITION}/seg_00001.m4s", headers={"Range": spec})
    assert response.status_code == 206
    assert response.content == data[expected]


def test_range_past_the_end_is_416_with_the_size(tree: dict[str, Path], client: OriginClient) -> None:
    size = segment(tree).stat().st_size
    response = client.get(f"/media/sample/{RENDITION}/seg_00001.m4s", headers={"Range": f"bytes={size}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"


def test_multi_range_is_answered_with_the_whole_file(tree: dict[str, Path], client: OriginClient) -> None:
    response = client.get(f"/media/sample/{RENDITION}/seg_00001.m4s", headers={"Range": "bytes=0-1,5-9"})
    assert response.status_code == 200
    assert response.content == segment(tree).read_bytes()


def test_if_range_with_a_stale_etag_gets_the_whole_file(tree: dict[str, Path], client: OriginClient) -> None:
    response = client.get(f"/media/sample/{RENDITION}/seg_00001.m4s", headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert response.status_code == 200
    assert len(response.content) == segment(tree).stat().st_size


# ---- validators, HEAD ------------------------------------------------------------------------------
def test_matching_etag_gets_304_without_body(client: OriginClient) -> None:
    first = client.get("/media/sample/master.m3u8")
    again = client.get("/media/sample/master.m3u8", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]


def test_other_etag_gets_the_body(client: OriginClient) -> None:
    response = client.get("/media/sample/master.m3u8", headers={"If-None-Match": '"something-else"'})
    assert response.status_code == 200 and response.content.startswith(b"#EXTM3U")


def test_if_modified_since_a_later_date_gets_304(client: OriginClient) -> None:
    response = client.get("/media/sample/master.m3u8", headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert response.status_code == 304


def test_head_has_the_headers_of_get_and_no_body(tree: dict[str, Path], client: OriginClient) -> None:
    response = client.head(f"/media/sample/{RENDITION}/seg_00001.m4s")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == segment(tree).stat().st_size
    assert response.headers["content-type"] == "video/iso.segment"


def test_other_methods_are_405(client: OriginClient) -> None:
    assert client.post("/media/sample/master.m3u8").status_code == 405


# ---- CORS --------------------------------------------------------------------------------------------
def test_preflight_allows_range_from_any_origin_by_default(client: OriginClient) -> None:
    response = client.options(
        f"/media/sample/{RENDITION}/seg_00001.m4s",
        headers={"Origin": "http://player.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "range"},
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "Range" in response.headers["access-control-allow-headers"]
    assert "GET" in response.headers["access-control-allow-methods"]


def test_every_response_carries_cors_even_without_an_origin_header(client: OriginClient) -> None:
    """A cache that stored a no-Origin answer must still be able to serve it cross-origin."""
    response = client.get("/media/sample/master.m3u8")
    assert response.headers["access-control-allow-origin"] == "*"
    for header in ("Content-Range", "Content-Length", "ETag"):
        assert header in response.headers["access-control-expose-headers"]


def test_explicit_origins_echo_the_allowed_one_and_vary_on_origin(tree: dict[str, Path]) -> None:
    settings = load_delivery_settings(['origin.cors.allow_origins=["http://good.example"]'])
    client = OriginClient(create_origin_app(settings, media_root=tree["media"]))
    good = client.get("/media/sample/master.m3u8", headers={"Origin": "http://good.example"})
    evil = client.get("/media/sample/master.m3u8", headers={"Origin": "http://evil.example"})
    assert good.headers["access-control-allow-origin"] == "http://good.example"
    assert "access-control-allow-origin" not in evil.headers
    assert "Origin" in good.headers["vary"] and "Origin" in evil.headers["vary"]


def test_preflight_from_a_disallowed_origin_is_refused(tree: dict[str, Path]) -> None:
    settings = load_delivery_settings(['origin.cors.allow_origins=["http://good.example"]'])
    client = OriginClient(create_origin_app(settings, media_root=tree["media"]))
    response = client.options("/media/sample/master.m3u8",
                              headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"})
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


# ---- catalog, health, player page --------------------------------------------------------------------
def test_catalog_lists_published_titles_but_not_staging(client: OriginClient) -> None:
    response = client.get("/api/titles")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=2"
    titles = response.json()
    assert [t["title_id"] for t in titles] == ["sample"]
    assert titles[0]["renditions"][0]["id"] == RENDITION


def test_one_title_record_and_a_missing_one(client: OriginClient) -> None:
    assert client.get("/api/titles/sample").json()["title_id"] == "sample"
    missing = client.get("/api/titles/nosuch")
    assert missing.status_code == 404
    assert "nosuch" in missing.json()["error"]
    assert client.get("/api/titles/..%2f..").status_code in (400, 404)


def test_healthz_is_not_cacheable(client: OriginClient) -> None:
    response = client.get("/healthz")
    assert response.json()["status"] == "ok"
    assert response.headers["cache-control"] == "no-store"


def test_player_page_and_static_files(client: OriginClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    script = client.get("/player/app.js")
    assert script.headers["content-type"].startswith("text/javascript")


def test_missing_player_folder_is_a_clear_404_not_a_crash(tree: dict[str, Path]) -> None:
    client = OriginClient(create_origin_app(load_delivery_settings(), media_root=tree["media"],
                                          player_dir=tree["base"] / "not-built-yet"))
    page = client.get("/")
    assert page.status_code == 404 and "player page is not built" in page.text
    assert client.get("/player/app.js").status_code == 404


def test_player_page_is_the_checkouts_under_a_private_home(tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """``STREAMLAB_HOME`` moves state, not the code's own player page (a demo with a private home got 404s)."""
    monkeypatch.setenv("STREAMLAB_HOME", str(tree["base"] / "private-home"))
    client = OriginClient(create_origin_app(load_delivery_settings(), media_root=tree["media"]))
    page = client.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert client.get("/player/app.js").status_code == 200


def test_missing_media_is_404_with_a_short_negative_ttl(client: OriginClient) -> None:
    response = client.get("/media/nosuch/master.m3u8")
    assert response.status_code == 404
    assert response.headers["cache-control"] == "public, max-age=1"


# ---- traversal: called with exact raw paths (HTTP clients would normalise them) ----------------------
TRAVERSALS = [
    "/media/../secret.txt",
    "/media/../../secret.txt",
    "/media/sample/../../secret.txt",
    "/media/%2e%2e/secret.txt",
    "/media/%2e%2e%2fsecret.txt",
    "/media/sample/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/media/sample/..%2f..%2fsecret.txt",
    "/media/%252e%252e/secret.txt",
    "/media/sample\\..\\..\\secret.txt",
    "/media/sample/..%5c..%5csecret.txt",
    "/media//secret.txt",
    "/media/%2f" + "%2f".join(["tmp", "secret.txt"]),
    "/media/sample/escape.m4s",
    "/media/sample/outside/secret.txt",
    "/media/sample/.hidden",
    "/media/.staging/half/title.json",
    "/media/sample/%00.m3u8",
    "/media/sample/master.m3u8%00.m4s",
    "/player/../media/sample/.hidden",
    "/player/%2e%2e/%2e%2e/secret.txt",
]


async def _asgi_get(app, raw_path: str) -> tuple[int, bytes]:
    """Call the ASGI app with exactly this target, decoded the way uvicorn decodes it."""
    from urllib.parse import unquote

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": unquote(raw_path), "raw_path": raw_path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"origin")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }
    messages: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        messages.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return status, body


@pytest.mark.parametrize("raw_path", TRAVERSALS)
def test_no_traversal_variant_reads_outside_the_root(tree: dict[str, Path], raw_path: str) -> None:
    app = create_origin_app(load_delivery_settings(), media_root=tree["media"], player_dir=tree["player"])
    status, body = asyncio.run(_asgi_get(app, raw_path.replace("/tmp/", str(tree["base"]) + "/")))
    assert status in (400, 404), (raw_path, status)
    assert SECRET not in body


def test_absolute_path_to_the_secret_is_refused(tree: dict[str, Path]) -> None:
    app = create_origin_app(load_delivery_settings(), media_root=tree["media"])
    absolute = "/media/" + str(tree["base"] / "secret.txt")  # -> /media//tmp/.../secret.txt
    status, body = asyncio.run(_asgi_get(app, absolute))
    assert status == 400 and SECRET not in body


def test_symlinks_inside_the_root_are_served(tree: dict[str, Path], client: OriginClient) -> None:
    link = tree["media"] / "sample" / "alias.m3u8"
    if not link.exists():
        os.symlink(tree["media"] / "sample" / "master.m3u8", link)
    assert client.get("/media/sample/alias.m3u8").status_code == 200


def test_directories_are_not_listed(client: OriginClient) -> None:
    assert client.get(f"/media/sample/{RENDITION}").status_code == 404
    assert client.get("/media/sample/").status_code in (400, 404)


def test_catalog_json_is_valid_for_the_player(client: OriginClient) -> None:
    body = json.loads(client.get("/api/titles").content)
    assert {"title_id", "name", "hls", "dash", "renditions", "duration_s"} <= body[0].keys()
