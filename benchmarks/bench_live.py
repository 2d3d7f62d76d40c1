"""Live channel: glass-to-glass latency in chromium, CPU per channel, edge coalescing of blocked viewers.

One channel on the real clip (``data/raw/videos/bigbuckbunny.mp4``, looped by the contribution
encoder in real time over SRT), the two-rung ladder the tests use (360p + 180p: the default
three rungs with 720p do not run in real time on this 2-core box beside chromium), no backup
feed. The delivery stack (edge → shield → origin → the channel's live origin) runs in a process
of its own (:func:`stack_in_subprocess`) and everything is watched through its edge.

1. ``latency`` (HLS) and ``latency_dash``: the live page plays for :data:`PLAY_S` seconds (env
   ``STREAMLAB_BENCH_LIVE_S``) each, first the LL-HLS playlist in hls.js low-latency mode, then
   the LL-DASH MPD in Shaka Player low-latency mode; once a second it records now minus the
   capture time of the frame on screen (the contribution's capture clock): median and p95 glass
   to glass, and where the time goes: ``packager_median_s`` (capture → part published at the live
   origin: encode + contribution + transcode + package) is sampled from the channel's state
   meanwhile; the rest is delivery and the player's hold-back.
2. ``cpu``: CPU seconds per second of wall time (cores) of the channel's process tree over the
   play window: the channel process (packager, origin, health), the ladder transcoder and the
   SRT receiver; the contribution encoder (a venue's machine in real life) separately; and the
   ladder transcoder alone (``ladder_cores``: one decode, every rung and the AAC audio encoded in
   one process). Live runs at real time, so cores = CPU seconds per second of media (x real time
   on one core).
3. ``coalescing``: :data:`VIEWERS` clients block on the next part (``_HLS_msn``/``_HLS_part`` of
   the preload hint) through one edge, and fetch the hinted part itself, for :data:`ROUNDS`
   consecutive parts; the live origin's own request counters (its ``/metrics``) give the
   upstream requests per part (goal: 1).
4. ``health_quiet``: a healthy channel (the same setup) for :data:`QUIET_MIN` minutes (env
   ``STREAMLAB_BENCH_LIVE_QUIET_MIN``, default 1; ``python -m benchmarks.bench_live --quiet
   --minutes 10`` for the acceptance figure): the health alerts it raised, by check (goal: none),
   and the largest of each measure the checks compare with their limits.

5. ``served_abr_shaped`` (also alone: ``python -m benchmarks.bench_live --served-abr``): the live
   page with the served ABR rule (``?abr=served``, the model server on loopback answering
   ``/abr/decide`` with the learned live policy) and with hls.js's own ABR, side by side for
   :data:`PLAY_S` s, each on its own replay of a held-out throughput trace scaled to the ladder
   (:func:`streamlab.streaming.player.shaping.reference_link`: chromium's DevTools network
   emulation, updated 4x a second): latency median/p95, stalls, seconds per rung, and the served
   decisions the page used (and the model server's ``/abr/decide`` count).

The ladder is the fixed two-rung one (``transcode.ladder_from=fixed``), so that figures compare
across runs; the model's choice depends on the first seconds of content and costs seconds at start.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

PLAY_S = float(os.environ.get("STREAMLAB_BENCH_LIVE_S", "60"))
QUIET_MIN = float(os.environ.get("STREAMLAB_BENCH_LIVE_QUIET_MIN", "1"))
VIEWERS = 50
ROUNDS = 10
CHANNEL = "benchlive"
LADDER = (
    "transcode.ladder=[{name: 360p, width: 640, height: 360, bitrate_kbps: 800},"
    " {name: 180p, width: 320, height: 180, bitrate_kbps: 250}]"
)


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _overrides() -> list[str]:
    return [
        LADDER, "contribution.width=640", "contribution.height=360", "contribution.preset=ultrafast",
        "contribution.bitrate_kbps=1500", "contribution.backup=false", "ingest.backup_port=0",
        f"origin.port={_free_port(socket.SOCK_STREAM)}", f"ingest.primary_port={_free_port(socket.SOCK_DGRAM)}",
        "transcode.ladder_from=fixed",
    ]


def _cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
            seconds[process.pid] = times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return seconds


def _requests(origin_url: str) -> dict[str, int]:
    text = httpx.get(f"{origin_url}/metrics", timeout=5).text
    return {kind: int(n) for kind, n in re.findall(r'^streamlab_live_origin_requests_total\{kind="(\w+)"\} (\d+)', text, re.M)}


HINT = re.compile(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg(\d+)\.(\d+)\.m4s"')


def _hint(playlist: str) -> tuple[int, int]:
    found = HINT.search(playlist)
    assert found, f"no preload hint in {playlist[-300:]}"
    return int(found.group(1)), int(found.group(2))


async def _coalescing(edge_url: str, rung: str) -> list[tuple[int, int]]:
    """Like LL-HLS players: each round blocks on the part the previous answer's preload hint named
    (all viewers the same), then fetches that part; returns (ok playlists, ok parts) per round."""
    base = f"{edge_url}/live/{CHANNEL}/{rung}"
    limits = httpx.Limits(max_connections=2 * VIEWERS)
    rounds = []
    async with httpx.AsyncClient(limits=limits, timeout=15, trust_env=False) as client:
        msn, part = _hint((await client.get(f"{base}/playlist.m3u8")).text)
        for _ in range(ROUNDS):
            params = {"_HLS_msn": msn, "_HLS_part": part}
            playlists = await asyncio.gather(*(client.get(f"{base}/playlist.m3u8", params=params) for _ in range(VIEWERS)))
            parts = await asyncio.gather(*(client.get(f"{base}/seg{msn}.{part}.m4s") for _ in range(VIEWERS)))
            rounds.append((sum(r.status_code == 200 for r in playlists), sum(r.status_code == 200 for r in parts)))
            msn, part = _hint(playlists[0].text)
    return rounds



@contextmanager
def _isolated_home(prefix: str) -> Iterator[str]:
    """A throwaway STREAMLAB_HOME (and media root) for one benchmark run; the caller's environment comes back."""
    saved = {key: os.environ.get(key) for key in ("STREAMLAB_HOME", "STREAMLAB_MEDIA_ROOT")}
    with tempfile.TemporaryDirectory(prefix=prefix) as home:
        os.environ["STREAMLAB_HOME"] = home
        os.environ["STREAMLAB_MEDIA_ROOT"] = str(Path(home) / "media")
        try:
            yield home
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def run() -> dict:
    from streamlab.core import project
    from streamlab.streaming.delivery.stack import stack_in_subprocess
    from streamlab.streaming.live.lifecycle import channel_processes, channel_status, start_channel, stop_channel
    from streamlab.streaming.live.state import ChannelPaths
    from streamlab.streaming.live.watch import watch_live
    from streamlab.streaming.player.browser import chromium

    import streamlab.streaming.player as player

    source = project.raw_data_dir() / "videos" / "bigbuckbunny.mp4"
    page_dir = Path(player.__file__).parent / "static"
    with _isolated_home("streamlab-bench-live-") as home:
        state = start_channel(CHANNEL, source=str(source), overrides=_overrides())
        try:
            with stack_in_subprocess(Path(home) / "media", [f"origin.player_dir={page_dir}"]) as urls:
                paths = ChannelPaths.for_channel(CHANNEL)
                contribution = paths.process("contribution-primary")
                channel_tree = [p for p in channel_processes(CHANNEL) if contribution is None or p.pid != contribution.pid]
                packager: list[float] = []
                stop = threading.Event()

                def sample_packager() -> None:
                    while not stop.wait(1.0):
                        latency = channel_status(CHANNEL).get("packager_latency_s")
                        if latency is not None:
                            packager.append(latency)

                sampler = threading.Thread(target=sample_packager, daemon=True)
                transcoder_pid = channel_status(CHANNEL).get("transcoder_pid")
                before = _cpu_seconds(channel_tree + ([contribution] if contribution else []))
                started = time.monotonic()
                sampler.start()
                with chromium() as context:
                    page = f"{urls['edge']}/player/live.html"
                    watched = watch_live(context, page, f"{urls['edge']}/live/{CHANNEL}/master.m3u8", PLAY_S)
                    watched_dash = watch_live(context, page, f"{urls['edge']}/live/{CHANNEL}/manifest.mpd", PLAY_S)
                wall_s = time.monotonic() - started
                stop.set()
                sampler.join(timeout=5)
                # a transcoder restarted meanwhile is a new process: count it from its start
                after = _cpu_seconds(channel_processes(CHANNEL))
                used = {pid: after[pid] - before.get(pid, 0.0) for pid in after}
                contribution_s = used.pop(contribution.pid, 0.0) if contribution else 0.0
                counts_before = _requests(state["origin_url"])
                rounds = asyncio.run(_coalescing(urls["edge"], state["rungs"][0]["name"]))
                counts_after = _requests(state["origin_url"])
        finally:
            stop_channel(CHANNEL)
    packager_s = round(statistics.median(packager), 3) if packager else -1.0
    latency, latency_dash = watched.summary(), watched_dash.summary()
    for summary in (latency, latency_dash):
        summary["packager_median_s"] = packager_s
        summary["after_packager_median_s"] = round(summary["median_s"] - packager_s, 3)
    latency_dash.pop("hlsjs_edge_latency_median_s", None)
    blocked = counts_after.get("blocked_playlist", 0) - counts_before.get("blocked_playlist", 0)
    media = counts_after.get("media", 0) - counts_before.get("media", 0)
    return {
        "latency": latency,
        "latency_dash": latency_dash,
        "cpu": {
            "channel_cores": round(sum(used.values()) / wall_s, 3),  # = CPU s per s of media, x real time
            "contribution_encoder_cores": round(contribution_s / wall_s, 3),
            "ladder_cores": round(used.get(transcoder_pid, 0.0) / wall_s, 3) if transcoder_pid else -1.0,
            "rungs": len(state["rungs"]),
            "wall_s": round(wall_s, 1),
        },
        "coalescing": {
            "viewers": VIEWERS,
            "rounds": ROUNDS,
            "upstream_playlist_requests_per_part": round(blocked / ROUNDS, 3),
            "upstream_part_requests_per_part": round(media / ROUNDS, 3),
            "viewer_answers_ok_ratio": round(sum(p + m for p, m in rounds) / (2 * VIEWERS * ROUNDS), 4),
        },
        "served_abr_shaped": served_abr_shaped(),
        "health_quiet": health_quiet(QUIET_MIN),
    }


def served_abr_shaped(play_s: float = PLAY_S) -> dict:
    """The served live rule vs hls.js's own ABR on the reference shaped trace (module docstring, 5)."""
    from streamlab.core import project
    from streamlab.serving.server import running_server
    from streamlab.streaming.delivery.stack import stack_in_subprocess
    from streamlab.streaming.live.lifecycle import start_channel, stop_channel
    from streamlab.streaming.live.watch import compare_served_abr
    from streamlab.streaming.player.browser import chromium
    from streamlab.streaming.player.shaping import reference_link

    import streamlab.streaming.player as player

    source = project.raw_data_dir() / "videos" / "bigbuckbunny.mp4"
    traces = project.raw_data_dir() / "abr" / "train_traces"  # resolved before STREAMLAB_HOME moves
    page_dir = Path(player.__file__).parent / "static"
    # no registered model: /abr/decide live needs only the committed live checkpoint
    server_overrides = [f"port={_free_port(socket.SOCK_STREAM)}",
                        *(f"models.{name}.enabled=false" for name in ("abr", "recommend", "ladder", "qoe"))]
    with _isolated_home("streamlab-bench-served-abr-") as home:
        start_channel(CHANNEL, source=str(source), overrides=_overrides())
        try:
            with stack_in_subprocess(Path(home) / "media", [f"origin.player_dir={page_dir}"]) as urls, \
                    running_server(server_overrides) as server, chromium() as context:
                master = f"{urls['edge']}/live/{CHANNEL}/master.m3u8"
                link = reference_link(traces, httpx.get(master, trust_env=False, timeout=10).text)
                compared = compare_served_abr(context, f"{urls['edge']}/player/live.html", master, play_s, link, server.url)
        finally:
            stop_channel(CHANNEL)
    return {**compared.summary(), "load_average_1m": round(os.getloadavg()[0], 1)}


def health_quiet(minutes: float) -> dict:
    """A healthy channel for ``minutes``: every health alert it raised (by check) and the worst of
    each measure, sampled every 5 s from its state (the measures are over the checks' windows)."""
    from streamlab.core import project
    from streamlab.streaming.live.health import CHECKS
    from streamlab.streaming.live.lifecycle import channel_status, start_channel, stop_channel

    source = project.raw_data_dir() / "videos" / "bigbuckbunny.mp4"
    worst: dict[str, float] = {}
    with _isolated_home("streamlab-bench-quiet-"):
        start_channel(CHANNEL, source=str(source), overrides=_overrides())
        try:
            deadline = time.monotonic() + minutes * 60
            while time.monotonic() < deadline:
                time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
                report = channel_status(CHANNEL)["health"]
                for name, value in report["measures"].items():
                    if value is not None:
                        worst[name] = max(worst.get(name, value), abs(value) if name == "av_drift_s" else value)
            raised = channel_status(CHANNEL)["health"]["raised"]
        finally:
            stop_channel(CHANNEL)
    return {
        "minutes": minutes,
        "alerts_raised": len(raised),
        "by_check": {check: sum(alert["dimension"] == check for alert in raised) for check in CHECKS},
        "worst_measures": {name: round(value, 3) for name, value in worst.items()},
    }


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description="live channel benchmark (the whole run, or only the health-quiet run)")
    parser.add_argument("--quiet", action="store_true", help="only the health-quiet run")
    parser.add_argument("--minutes", type=float, default=QUIET_MIN, help="length of the health-quiet run")
    parser.add_argument("--served-abr", action="store_true", help="only the served-ABR vs hls.js run on the shaped trace")
    parser.add_argument("--seconds", type=float, default=PLAY_S, help="latency samples per page of the served-ABR run")
    args = parser.parse_args()
    if args.served_abr:
        print(json.dumps(served_abr_shaped(args.seconds), indent=1))
    else:
        print(json.dumps(health_quiet(args.minutes) if args.quiet else run(), indent=1))
