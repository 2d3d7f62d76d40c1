"""Ingest refuses hostile sources cheaply and cleans up after killed ingests (issue 20, findings 7, 9, 10).

Each test failed on the ingest before the fix. The oversized source is a tiny real H.264 stream whose
sequence parameter set (SPS) is rewritten to declare 16000x16000: a few kilobytes that FFmpeg happily
starts decoding into a 384 MB picture.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin

import httpx
import m3u8
import pytest

from streamlab.streaming.catalog import InvalidTitleId, published_dir, read_title
from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.ingest.errors import DimensionsOutOfRange
from streamlab.streaming.ingest.pipeline import ingest_title
from streamlab.streaming.ingest.probe import probe_source
from streamlab.streaming.ingest.settings import load_streaming_settings
from streamlab.streaming.publish import STAGING_LOCK_SUFFIX

# --- a source that declares 16000x16000 in its SPS (H.264 baseline, 7.3.2.1.1) ------------------------------


def _unescape(payload: bytes) -> bytes:
    """NAL payload → RBSP: drop the emulation-prevention 0x03 after two zero bytes."""
    out, zeros = bytearray(), 0
    for byte in payload:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _escape(rbsp: bytes) -> bytes:
    out, zeros = bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.out = data, 0, []

    def read(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | ((self.data[self.pos >> 3] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def read_ue(self) -> int:
        zeros = 0
        while self.read(1) == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.read(zeros)

    def write(self, n: int, value: int) -> None:
        self.out += [(value >> (n - 1 - i)) & 1 for i in range(n)]

    def write_ue(self, value: int) -> None:
        value += 1
        self.write(value.bit_length() - 1, 0)
        self.write(value.bit_length(), value)

    def copy(self, n: int = 1) -> None:
        self.write(n, self.read(n))

    def copy_ue(self) -> int:
        value = self.read_ue()
        self.write_ue(value)
        return value


def _resize_sps(rbsp: bytes, width_mbs: int, height_mbs: int) -> bytes:
    """Rewrite a baseline SPS's pic_width_in_mbs_minus1/pic_height_in_map_units_minus1; the rest is copied."""
    assert rbsp[0] == 66, "baseline profile keeps the SPS short (no chroma/scaling fields)"
    bits = _Bits(rbsp)
    bits.copy(24)  # profile_idc, constraint flags, level_idc
    bits.copy_ue()  # seq_parameter_set_id
    bits.copy_ue()  # log2_max_frame_num_minus4
    if bits.copy_ue() == 0:  # pic_order_cnt_type
        bits.copy_ue()  # log2_max_pic_order_cnt_lsb_minus4
    bits.copy_ue()  # max_num_ref_frames
    bits.copy(1)  # gaps_in_frame_num_value_allowed_flag
    bits.read_ue(), bits.read_ue()
    bits.write_ue(width_mbs - 1)
    bits.write_ue(height_mbs - 1)
    stop_bit = max(i for i in range(len(rbsp) * 8) if (rbsp[i >> 3] >> (7 - (i & 7))) & 1)
    while bits.pos < stop_bit:
        bits.copy()
    out = bits.out + [1]
    out += [0] * (-len(out) % 8)
    return bytes(int("".join(map(str, out[i : i + 8])), 2) for i in range(0, len(out), 8))


def declare_size(annex_b: bytes, width: int, height: int) -> bytes:
    """The same H.264 elementary stream with every SPS declaring ``width`` x ``height``."""
    starts = []
    at = annex_b.find(b"\x00\x00\x01")
    while at >= 0:
        starts.append(at + 3)
        at = annex_b.find(b"\x00\x00\x01", at + 3)
    out, previous = bytearray(), 0
    for i, start in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(annex_b)
        if annex_b[start] & 0x1F == 7:
            sps = _resize_sps(_unescape(annex_b[start + 1 : end]), width // 16, height // 16)
            out += annex_b[previous : start + 1] + _escape(sps)
            previous = end
    return bytes(out + annex_b[previous:])


@pytest.fixture(scope="module")
def huge_declared(tmp_path_factory: pytest.TempPathFactory, source_dir: Path) -> Path:
    """A ~4 KB MP4 of three 64x64 frames whose SPS says 16000x16000 (built in ~0.1 s)."""
    work = tmp_path_factory.mktemp("huge")
    small = work / "small.h264"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=64x64:rate=25", "-frames:v", "3", "-c:v", "libx264",
                "-profile:v", "baseline", "-preset", "ultrafast", "-bsf:v", "h264_mp4toannexb", small],
               "encoding a tiny H.264 stream")
    patched = work / "huge.h264"
    patched.write_bytes(declare_size(small.read_bytes(), 16000, 16000))
    out = source_dir / "huge_declared.mp4"
    # -max_pixels: FFmpeg's own stream-info pass would otherwise decode the 16000x16000 frame here too
    run_ffmpeg(["-max_pixels", "4096", "-i", patched, "-c", "copy", out], "muxing the patched stream")
    return out


PROBE_CHILD = """
import re, sys, time
from pathlib import Path
from streamlab.streaming.ingest.errors import DimensionsOutOfRange
from streamlab.streaming.ingest.probe import probe_source
from streamlab.streaming.ingest.settings import load_streaming_settings
limits = load_streaming_settings().ingest
started = time.perf_counter()
try:
    probe_source(Path(sys.argv[1]), limits)
    outcome = "accepted"
except DimensionsOutOfRange:
    outcome = "refused"
# VmHWM, not ru_maxrss: getrusage keeps the forking parent's peak across exec (the pytest process's)
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
print(outcome, time.perf_counter() - started, peak_kb // 1024)
"""


def test_declared_16000x16000_is_refused_from_the_header_before_any_decode(huge_declared: Path) -> None:
    assert huge_declared.stat().st_size < 8192
    run = subprocess.run([sys.executable, "-c", PROBE_CHILD, str(huge_declared)], capture_output=True, text=True,
                         timeout=60)
    outcome, elapsed_s, peak_mb = run.stdout.split()
    assert outcome == "refused", run.stderr[-2000:]
    # before: 1.2 s and 726 MB in the container's stream-info pass, then the first frame decoded again
    assert float(elapsed_s) < 0.5 and int(peak_mb) < 400, (elapsed_s, peak_mb)


def test_ingest_of_a_declared_16000x16000_source_fails_fast_and_names_the_size(
    huge_declared: Path, fast: list[str], media_root: Path, assert_nothing_published
) -> None:
    started = time.perf_counter()
    with pytest.raises(DimensionsOutOfRange, match="16000x16000"):
        ingest_title(huge_declared, "huge", overrides=fast, media_root=media_root)
    assert time.perf_counter() - started < 1.0
    assert_nothing_published()


def test_probe_with_limits_still_describes_a_normal_source(clip_360p_silent: Path) -> None:
    probe = probe_source(clip_360p_silent, load_streaming_settings().ingest)
    assert (probe.info.width, probe.info.height, probe.video_frames) == (640, 360, 100)


# --- finding 7: a title id with a trailing newline ---------------------------------------------------------


def test_title_id_with_a_trailing_newline_is_refused_before_any_work(
    clip_360p_silent: Path, fast: list[str], media_root: Path, assert_nothing_published
) -> None:
    with pytest.raises(InvalidTitleId):
        ingest_title(clip_360p_silent, "x\n", overrides=fast, media_root=media_root)
    assert_nothing_published()


# --- finding 10: a killed ingest's staging folder is removed at the next start ------------------------------

HOLD_STAGING = """
import sys, time
from pathlib import Path
from streamlab.streaming.publish import staging_dir
with staging_dir(Path(sys.argv[1]), sys.argv[2]) as staged:
    (staged / "360p_800k").mkdir()
    (staged / "360p_800k" / "seg_00001.m4s").write_bytes(b"x" * 1000)
    print(staged, flush=True)
    time.sleep(120)
"""


def _hold_staging(media_root: Path, title_id: str) -> tuple[subprocess.Popen[str], Path]:
    child = subprocess.Popen([sys.executable, "-c", HOLD_STAGING, str(media_root), title_id],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    return child, Path(child.stdout.readline().strip())


def test_killed_ingests_staging_is_removed_at_the_next_start_and_a_live_one_kept(
    clip_360p_silent: Path, fast: list[str], media_root: Path
) -> None:
    killed, killed_staging = _hold_staging(media_root, "killed")
    live, live_staging = _hold_staging(media_root, "live")
    try:
        assert killed_staging.is_dir() and live_staging.is_dir()
        os.kill(killed.pid, signal.SIGKILL)  # no finally, no atexit: exactly what a crash leaves
        killed.wait(timeout=10)
        day_ago = time.time() - 48 * 3600  # a live ingest stays protected however old its files look
        for path in [live_staging, *live_staging.rglob("*")]:
            os.utime(path, (day_ago, day_ago))
        ingest_title(clip_360p_silent, "next", overrides=fast, media_root=media_root)
        assert not killed_staging.exists(), "the killed ingest's staging folder survived the next ingest"
        assert not (killed_staging.parent / (killed_staging.name + STAGING_LOCK_SUFFIX)).exists()
        assert live_staging.is_dir(), "a running ingest's staging folder was removed"
    finally:
        live.kill()
        live.wait(timeout=10)


# --- finding 6: a republished title never serves a stale segment through the tiers ------------------------


def _walk_hls(client: httpx.Client, base: str, master_url: str) -> dict[str, bytes]:
    """Every URL a player reaches from ``master_url`` (playlists, init and media segments) and its bytes."""
    fetched: dict[str, bytes] = {}

    def get(url: str) -> bytes:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        fetched[url.removeprefix(base)] = response.content
        return response.content

    master = m3u8.loads(get(master_url).decode(), uri=master_url)
    playlists = [urljoin(master_url, p.uri) for p in master.playlists]
    playlists += [urljoin(master_url, m.uri) for m in master.media if m.uri]
    for playlist_url in playlists:
        media = m3u8.loads(get(playlist_url).decode(), uri=playlist_url)
        for uri in [media.segment_map[0].uri, *(s.uri for s in media.segments)]:
            get(urljoin(playlist_url, uri))
    return fetched


def test_republished_title_serves_only_the_new_encode_through_the_edge(
    clip_480p: Path, fast: list[str], media_root: Path
) -> None:
    """The edge's segments equal the origin's after a republish, and old playlists stay whole."""
    from streamlab.streaming.delivery.stack import running_stack

    common = [*fast, "transcode.profiles=[main]", "transcode.segment_duration_s=2"]
    first = ingest_title(clip_480p, "rerun", overrides=common, media_root=media_root)
    with running_stack(media_root=media_root) as stack, httpx.Client(trust_env=False, timeout=10) as client:
        master = f"{stack.edge_url}/media/rerun/{first.hls}"
        before = _walk_hls(client, stack.edge_url, master)  # the edge and shield now hold the first encode
        assert any(path.endswith("seg_00001.m4s") for path in before)
        second = ingest_title(clip_480p, "rerun", overrides=[*common, "transcode.x264_preset=superfast",
                                                             "publish.replace=true"], media_root=media_root)
        time.sleep(2.2)  # manifests and the catalog are cached for max-age=2 (configs/delivery.yaml)
        record = client.get(f"{stack.edge_url}/api/titles/rerun").json()
        after = _walk_hls(client, stack.edge_url, f"{stack.edge_url}/media/rerun/{record['hls']}")
        alias = _walk_hls(client, stack.edge_url, f"{stack.edge_url}/media/rerun/master.m3u8")
        for path, body in {**after, **alias}.items():
            assert body == client.get(stack.origin_url + path).content, f"edge and origin differ on {path}"
        assert record["version"] == second.version != first.version
        on_disk = published_dir(media_root, read_title(media_root, "rerun"))
        segments = [p for p in after if p.endswith(".m4s")]
        assert segments and all(after[p] == (on_disk / p.split(f"/{second.version}/", 1)[1]).read_bytes()
                                for p in segments)
        assert any(after[p] != before.get(p.replace(second.version, first.version)) for p in segments), \
            "the two encodes should differ, or this test proves nothing"
        # a viewer who loaded the first version's playlists before the republish still gets only its segments
        replay = _walk_hls(client, stack.edge_url, master)
        assert replay == before
