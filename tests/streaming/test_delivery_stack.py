"""Origin → shield → edge on loopback: what a viewer's player sees, end to end, and `stream serve`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streamlab.streaming.delivery.sample_title import build_sample_title
from streamlab.streaming.delivery.stack import RunningStack, StackError, bind_socket, running_stack

SECRET = b"TOPSECRET-stack-tests-91c2"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("stack")
    root = base / "media"
    root.mkdir()
    build_sample_title(root, "sample")
    (base / "secret.txt").write_bytes(SECRET)
    (root / "sample" / "escape.m4s").symlink_to(base / "secret.txt")
    return root


@pytest.fixture(scope="module")
def stack(media: Path) -> Iterator[RunningStack]:
    with running_stack(media_root=media) as running:
        yield running


def get(url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(url, trust_env=False, timeout=10, **kwargs)  # type: ignore[arg-type]


def stats(url: str) -> dict:
    return get(url + "/_stats").json()


def playlist_uris(text: str) -> list[str]:
    uris = [line for line in text.splitlines() if line and not line.startswith("#")]
    uris += re.findall(r'URI="([^"]+)"', text)
    return uris


def fetch_title_via(base: str, title_id: str) -> dict[str, bytes]:
    """Walk the HLS tree as a player does: master → media playlists → init + every segment."""
    fetched: dict[str, bytes] = {}
    master_url = f"{base}/media/{title_id}/master.m3u8"
    master = get(master_url)
    fetched[master_url] = master.content
    for variant in playlist_uris(master.text):
        playlist_url = f"{base}/media/{title_id}/{variant}"
        playlist = get(playlist_url)
        fetched[playlist_url] = playlist.content
        folder = playlist_url.rsplit("/", 1)[0]
        for uri in playlist_uris(playlist.text):
            response = get(f"{folder}/{uri}")
            assert response.status_code == 200, (uri, response.status_code)
            fetched[f"{folder}/{uri}"] = response.content
    return fetched


def test_a_player_gets_every_byte_of_the_title_through_the_edge(stack: RunningStack, media: Path) -> None:
    fetched = fetch_title_via(stack.edge_url, "sample")
    segments = [url for url in fetched if url.endswith(".m4s")]
    assert len(segments) == 4 and any(url.endswith("init.mp4") for url in fetched)
    for url, body in fetched.items():
        on_disk = media / url.split("/media/", 1)[1]
        assert body == on_disk.read_bytes(), url


def test_a_second_viewer_is_served_from_the_edge_alone(stack: RunningStack) -> None:
    fetch_title_via(stack.edge_url, "sample")
    shield_before = stats(stack.shield_url)["requests"]
    edge_before = stats(stack.edge_url)
    segment = get(f"{stack.edge_url}/media/sample/180p_400k/seg_00003.m4s")
    fetch_title_via(stack.edge_url, "sample")
    edge_after = stats(stack.edge_url)
    assert segment.headers["x-cache"] == "HIT" and segment.headers["x-cache-tier"] == "edge"
    assert segment.headers["x-cache-chain"] == "shield=MISS, edge=HIT"  # how it came in, and this answer
    assert stats(stack.shield_url)["requests"] - shield_before <= 2  # at most the 2 s manifests expired meanwhile
    assert edge_after["hits"] - edge_before["hits"] >= 5


def test_segments_are_immutable_and_manifests_short_lived_at_the_edge(stack: RunningStack) -> None:
    segment = get(f"{stack.edge_url}/media/sample/180p_400k/seg_00001.m4s")
    manifest = get(f"{stack.edge_url}/media/sample/manifest.mpd")
    assert segment.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert segment.headers["content-type"] == "video/iso.segment"
    assert manifest.headers["cache-control"] == "public, max-age=2"
    assert manifest.headers["content-type"] == "application/dash+xml"


def test_a_range_through_the_edge_is_206(stack: RunningStack, media: Path) -> None:
    data = (media / "sample" / "180p_400k" / "seg_00004.m4s").read_bytes()
    response = get(f"{stack.edge_url}/media/sample/180p_400k/seg_00004.m4s", headers={"Range": "bytes=8-15"})
    assert response.status_code == 206 and response.content == data[8:16]
    assert response.headers["content-range"] == f"bytes 8-15/{len(data)}"


@pytest.mark.parametrize("path", ["/media/nosuch/master.m3u8", "/media/sample/nosuch.m4s", "/api/titles/nosuch"])
def test_a_missing_title_is_404_at_every_tier(stack: RunningStack, path: str) -> None:
    for base in (stack.edge_url, stack.shield_url, stack.origin_url):
        assert get(base + path).status_code == 404, base


def test_the_catalog_and_health_come_through_the_edge(stack: RunningStack) -> None:
    titles = get(stack.edge_url + "/api/titles")
    assert [t["title_id"] for t in titles.json()] == ["sample"]
    assert titles.headers["x-cache-tier"] == "edge"
    assert get(stack.edge_url + "/api/titles/sample").json()["renditions"][0]["segment_count"] == 4
    assert get(stack.edge_url + "/healthz").json()["status"] == "ok"


def test_the_edge_classifies_each_viewer_request(stack: RunningStack) -> None:
    """`stream serve`'s edge runs the viewer-request hook: device class and region travel with the request."""
    phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
    answer = get(f"{stack.edge_url}/media/sample/master.m3u8", headers={"User-Agent": phone, "X-Country": "DE"})
    assert answer.status_code == 200
    assert answer.headers["X-Streamlab-Device"] == "mobile" and answer.headers["X-Streamlab-Region"] != "other"
    spoofed = get(f"{stack.edge_url}/api/titles", headers={"User-Agent": phone, "X-Streamlab-Device": "tv"})
    assert spoofed.headers["X-Streamlab-Device"] == "mobile", "a client cannot set the hook's own headers"


def test_the_player_page_comes_through_the_edge(stack: RunningStack) -> None:
    page = get(stack.edge_url + "/")
    index = REPO / "streaming" / "player" / "static" / "index.html"
    if index.is_file():
        assert page.status_code == 200 and page.content == index.read_bytes()
    else:
        assert page.status_code == 404 and "not built yet" in page.text


def test_cors_preflight_for_range_reaches_the_origin_through_the_tiers(stack: RunningStack) -> None:
    response = httpx.options(
        stack.edge_url + "/media/sample/180p_400k/seg_00001.m4s", trust_env=False,
        headers={"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "range"},
    )
    assert response.status_code == 204 and response.headers["x-cache"] == "PASS"
    assert response.headers["access-control-allow-origin"] == "*"
    assert "Range" in response.headers["access-control-allow-headers"]


def raw_get(base_url: str, target: bytes) -> tuple[int, bytes]:
    """Send exactly ``target`` on the wire (HTTP clients would normalise dot segments)."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data


@pytest.mark.parametrize(
    "target",
    [b"/media/../secret.txt", b"/media/sample/../../secret.txt", b"/media/%2e%2e/secret.txt",
     b"/media/sample/%2e%2e%2f%2e%2e%2fsecret.txt", b"/media/sample/..%5c..%5csecret.txt",
     b"/media/sample/escape.m4s", b"/media/sample/%00.m3u8", b"/player/../../secret.txt", b"/media/.staging/x"],
)
def test_no_traversal_on_the_wire_at_the_edge_or_the_origin(stack: RunningStack, target: bytes) -> None:
    for base in (stack.edge_url, stack.origin_url):
        status, data = raw_get(base, target)
        assert status in (400, 404), (base, target, status)
        assert SECRET not in data


# ---- `streamlab stream serve` ------------------------------------------------------------------------
ADMIN_OFFSET = 20  # configs/delivery.yaml admin.port_offset


def free_port_triple() -> int:
    """A free edge port whose shield, origin and two admin ports (+1, +2, +20, +21) are free too."""
    for _ in range(50):
        sockets = []
        try:
            first = bind_socket("127.0.0.1", 0)
            sockets.append(first)
            port = first.getsockname()[1]
            if port > 65535 - ADMIN_OFFSET - 1:
                continue
            for offset in (1, 2, ADMIN_OFFSET, ADMIN_OFFSET + 1):
                sockets.append(bind_socket("127.0.0.1", port + offset))
            return port
        except StackError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free ports for the edge, shield, origin and admin listeners")


def test_stream_serve_runs_the_stack_until_terminated(media: Path) -> None:
    from streamlab.streaming.delivery.stack import purge_tiers

    port = free_port_triple()
    token = "stream-serve-test-token-0123456789"
    env = dict(os.environ, STREAMLAB_MEDIA_ROOT=str(media), PYTHONUNBUFFERED="1", STREAMLAB_DELIVERY_ADMIN_TOKEN=token)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlab.cli", "stream", "serve", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
            if "Ctrl-C" in line:
                break
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in output, output
        assert get(f"http://127.0.0.1:{port}/api/titles").json()[0]["title_id"] == "sample"
        assert get(f"http://127.0.0.1:{port + 1}/_stats").json()["tier"] == "shield"
        assert get(f"http://127.0.0.1:{port + 2}/healthz").status_code == 200
        edge_admin, shield_admin = (f"http://127.0.0.1:{port + ADMIN_OFFSET + i}" for i in (0, 1))
        assert f"edge {edge_admin}" in output and "$STREAMLAB_DELIVERY_ADMIN_TOKEN" in output and token not in output
        assert purge_tiers([("shield", shield_admin), ("edge", edge_admin)], token, "/api/") == {"shield": 1, "edge": 1}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_stream_serve_on_a_taken_port_is_one_clear_error(media: Path) -> None:
    # Every other port of the block is free, so the only port the stack can report is the one held here
    # (an ephemeral port's neighbours are often taken by other connections on a busy CI box).
    port = free_port_triple()
    taken = bind_socket("127.0.0.1", port)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "streamlab.cli", "stream", "serve", "--port", str(port)], cwd=REPO,
            env=dict(os.environ, STREAMLAB_MEDIA_ROOT=str(media)), capture_output=True, text=True, timeout=60,
        )
    finally:
        taken.close()
    assert result.returncode == 1  # a port in use is a run-time failure, not a usage error
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_manifests_expire_at_the_edge_after_their_real_max_age(media: Path) -> None:
    with running_stack(media_root=media, overrides=["origin.cache_control.manifest=public, max-age=1"]) as short:
        url = f"{short.edge_url}/media/sample/master.m3u8"
        first, second = get(url), get(url)
        time.sleep(1.1)
        third = get(url)
    assert [r.headers["x-cache"] for r in (first, second, third)] == ["MISS", "HIT", "MISS"]
    assert second.headers["cache-control"] == "public, max-age=1"


@pytest.mark.parametrize(
    ("override", "complaint"),
    [("edge.capacity_bytes=0", "capacity_bytes"), ("edge.max_object_fraction=2", "max_object_fraction"),
     ("edge.capacty_bytes=5", "unknown key")],
)
def test_bad_settings_are_refused_before_anything_starts(media: Path, override: str, complaint: str) -> None:
    from streamlab.core.errors import StreamlabError

    with pytest.raises(StreamlabError, match=complaint):
        with running_stack(media_root=media, overrides=[override]):
            pass


def test_an_invalid_edge_port_is_refused() -> None:
    from streamlab.streaming.delivery.stack import serve_forever

    with pytest.raises(StackError, match="70000"):
        serve_forever(host=None, port=70000, overrides=None)


def test_purge_empties_both_tiers_so_a_republished_title_is_fetched_anew(stack: RunningStack) -> None:
    url = f"{stack.edge_url}/media/sample/180p_400k/init.mp4"
    get(url)
    assert get(url).headers["x-cache"] == "HIT"
    purged = stack.purge("/media/sample/")
    again = get(url)
    assert purged["edge"] >= 1 and purged["shield"] >= 1
    assert again.headers["x-cache-chain"] == "shield=MISS, edge=MISS"
    with pytest.raises(StackError, match="must start with '/'"):
        stack.purge("media/sample")


def test_the_stack_in_its_own_process_serves_the_title_and_stops(media: Path) -> None:
    import psutil

    from streamlab.streaming.delivery.stack import stack_in_subprocess

    with stack_in_subprocess(media) as urls:
        child = psutil.Process(int(urls["pid"]))
        response = get(urls["edge"] + "/media/sample/master.m3u8")
        assert response.status_code == 200 and child.pid != os.getpid()
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def test_a_stack_process_that_cannot_start_is_one_clear_error(media: Path) -> None:
    from streamlab.streaming.delivery.stack import stack_in_subprocess

    with pytest.raises(StackError, match="failed to start.*edge.capacity_bytes"), \
            stack_in_subprocess(media, overrides=["edge.capacity_bytes=-1"]):
        pass
