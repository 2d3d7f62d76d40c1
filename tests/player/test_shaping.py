"""A real throughput trace replayed as a browser's link (streaming/player/shaping.py)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from streamlab.models.abr.errors import TraceFormatError
from streamlab.streaming.player.shaping import (
    MIN_KBPS,
    CdpShaper,
    ShapedLink,
    ShapingError,
    scale_for_ladder,
    top_variant_kbps,
    trace_window,
)

TRACE = "0.0 1.0\n1.0 2.0\n2.5 0.5\n3.0 0.0\n4.0 3.0\n"


def _trace(tmp_path: Path, text: str = TRACE) -> Path:
    path = tmp_path / "trace.log"
    path.write_text(text)
    return path


def test_a_window_follows_the_trace_lines_scaled_and_starts_over(tmp_path: Path) -> None:
    """Line i holds over (t[i-1], t[i]], as in the simulator (models/abr/simulator.py, Mahimahi)."""
    link = trace_window(_trace(tmp_path), start_s=1.0, duration_s=3.0, scale=2.0)
    assert link.offsets_s == (0.0, 1.5, 2.0)
    assert link.kbps == (4000.0, 1000.0, MIN_KBPS)  # 0 Mbit/s stays an outage, not "unthrottled"
    at = (0.0, 0.5, 1.5, 1.6, 2.9, 3.0, 4.6)
    assert [link.kbps_at(t) for t in at] == [4000.0, 1000.0, 1000.0, MIN_KBPS, MIN_KBPS, 4000.0, MIN_KBPS]


def test_the_scale_puts_the_window_median_at_headroom_times_the_top_rung(tmp_path: Path) -> None:
    scale = scale_for_ladder(_trace(tmp_path), 0.0, 4.5, top_rung_kbps=1000.0, headroom=2.0)
    assert trace_window(_trace(tmp_path), 0.0, 4.5, scale).median_kbps == pytest.approx(2000.0)


@pytest.mark.parametrize(("start", "duration", "scale", "needle"), [
    (10.0, 5.0, 1.0, "fewer than 2 lines in [10.0, 15.0) s"), (0.0, 0.0, 1.0, "duration_s, scale > 0"),
    (0.0, 5.0, -1.0, "duration_s, scale > 0"),
])
def test_a_window_that_cannot_shape_a_link_is_refused(tmp_path: Path, start, duration, scale, needle) -> None:
    with pytest.raises(ShapingError, match=re.escape(needle)):
        trace_window(_trace(tmp_path), start, duration, scale)


def test_a_malformed_trace_is_refused_naming_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match=r"trace.log:3: .*finite"):
        trace_window(_trace(tmp_path, "0.0 1.0\n1.0 2.0\n2.0 nan\n"), 0.0, 5.0)


def test_the_top_variant_is_the_highest_bandwidth() -> None:
    master = ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=380000,RESOLUTION=320x180\n180p.m3u8\n"
              "#EXT-X-STREAM-INF:AVERAGE-BANDWIDTH=900000,BANDWIDTH=1012000,CODECS=\"avc1\"\n360p.m3u8\n")
    assert top_variant_kbps(master) == 1012.0
    with pytest.raises(ShapingError, match="no #EXT-X-STREAM-INF"):
        top_variant_kbps("#EXTM3U\n")


@pytest.fixture(scope="module")
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real HTTP server on loopback serving one 100 kB file."""
    root = tmp_path_factory.mktemp("shaping-www")
    (root / "blob.bin").write_bytes(bytes(100_000))
    (root / "index.html").write_text("<!doctype html><title>shaping</title>")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_chromium_downloads_at_the_shaped_throughput(file_server: str) -> None:
    """100 kB at 400 kbit/s takes 2 s in the page; unshaped, on loopback, a fraction of that."""
    from streamlab.streaming.player.browser import chromium

    fetch = "async (url) => { const t = performance.now(); await (await fetch(url, {cache: 'no-store'})).arrayBuffer();" \
            " return (performance.now() - t) / 1000; }"
    with chromium() as context:
        page = context.new_page()
        page.goto(f"{file_server}/index.html")
        unshaped_s = page.evaluate(fetch, f"{file_server}/blob.bin")
        shaper = CdpShaper(ShapedLink("flat", 0.0, 60.0, 1.0, (0.0,), (400.0,)))
        shaper.start(context, page)
        started = time.monotonic()
        shaped_s = page.evaluate(fetch, f"{file_server}/blob.bin")
        page.close()
    assert shaper.applied == [(pytest.approx(0.0, abs=1.0), 400.0)]
    assert unshaped_s < 1.0 and 1.6 <= shaped_s <= time.monotonic() - started + 0.1, (unshaped_s, shaped_s)
