"""Content protection costs: licence requests/s and latency on loopback, encryption overhead at packaging.

The licence server runs in a child process (its own GIL); 32 concurrent asyncio clients post W3C
ClearKey licence requests with real signed tokens for 200 entitled viewers (rate limit and token
budgets raised so the server is measured, not its refusals). Packaging overhead: a real ingest of a
20 s 720p source in the clear, then ``protect_title`` on a copy for CENC and for CENC + AES-128.
Packaging: the same encoded title packaged (and CENC-encrypted) by Shaka Packager, median of 3 runs
on fresh copies of the same files. The old FFmpeg/own-writer path is retired (issue #17), so the
comparison with it is the one recorded when both existed, not re-measured here.
Client and server share the 2 cores, so throughput is a lower bound.
"""

from __future__ import annotations

import asyncio
import base64
import multiprocessing
import os
import secrets
import shutil
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import httpx

from streamlab.streaming.catalog import TitleRecord, published_dir
from streamlab.streaming.drm.keys import KeyStore
from streamlab.streaming.drm.packager import protect_title
from streamlab.streaming.drm.settings import DrmSettings

CLIENTS = 32
PACKAGING_RUNS = 3
REQUESTS = 3000
VIEWERS = 200


def _settings(state: Path) -> list[str]:
    return [f"key_store={state / 'keys.db'}", f"entitlements={state / 'ent.db'}", "rate_limit.requests_per_s=1e9",
            "rate_limit.burst=1000000000", "tokens.max_uses=1000000000"]


def _serve(conn: Connection, state: str) -> None:
    import logging

    from streamlab.streaming.drm.server import running_license_server
    from streamlab.streaming.drm.settings import load_drm_settings

    logging.getLogger("streamlab.drm.license").setLevel(logging.WARNING)
    with running_license_server(load_drm_settings(_settings(Path(state)))) as server:
        conn.send(server.url)
        conn.recv()


async def _load(url: str, tokens: list[str], kid: str) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    remaining = [REQUESTS]

    async def client(worker: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(timeout=10) as http:
            while remaining[0] > 0:
                remaining[0] -= 1
                token = tokens[(worker + remaining[0]) % len(tokens)]
                started = time.perf_counter()
                response = await http.post(url, json={"kids": [kid], "type": "temporary"},
                                           headers={"Authorization": f"Bearer {token}"})
                latencies.append((time.perf_counter() - started) * 1000)
                errors += response.status_code != 200

    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return latencies, errors


def licence_throughput(state: Path) -> dict[str, object]:
    from streamlab.streaming.drm.license_server import build_service
    from streamlab.streaming.drm.settings import load_drm_settings, load_master_key

    settings = load_drm_settings(_settings(state))
    service = build_service(settings, load_master_key(settings))
    key = service.keys.ensure_title_keys("bench")[0]
    tokens = []
    for i in range(VIEWERS):
        service.entitlements.grant(f"viewer-{i}", "bench")
        tokens.append(service.signer.issue(f"viewer-{i}", "bench", "web", ttl_s=3600))
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve, args=(child, str(state)), daemon=True)
    process.start()
    try:
        url = parent.recv() + "/drm/clearkey/license"
        asyncio.run(_load(url, tokens[:8], key.kid_b64url))  # warm-up
        started = time.perf_counter()
        latencies, errors = asyncio.run(_load(url, tokens, key.kid_b64url))
        wall = time.perf_counter() - started
    finally:
        parent.send("stop")
        process.join(timeout=20)
    latencies.sort()
    return {
        "requests": len(latencies), "concurrency": CLIENTS, "errors": errors,
        "licences_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 2),
        "note": "client and server share 2 cores; each request verifies a token, checks the entitlement, "
                "counts the token's use and unwraps the key (SQLite)",
    }


def packaging_overhead(work: Path) -> dict[str, object]:
    from streamlab.streaming.drm.settings import load_drm_settings, load_master_key
    from streamlab.streaming.ffmpeg import generate_test_source
    from streamlab.streaming.ingest.pipeline import ingest_title

    source = generate_test_source(work / "src" / "clip.mp4", width=1280, height=720, duration_s=20.0, pattern="testsrc2")
    started = time.perf_counter()
    record: TitleRecord = ingest_title(source, "clip", media_root=work / "media",
                                       overrides=[f"ingest.allowed_roots=[{work / 'src'}]", "transcode.mode=serial"])
    ingest_s = time.perf_counter() - started
    settings = load_drm_settings(_settings(work))
    keys = KeyStore(settings.key_store_path(), load_master_key(settings))
    result: dict[str, object] = {"source": "lavfi testsrc2 1280x720 20 s + AAC", "renditions": len(record.renditions),
                                 "clear_ingest_s": round(ingest_s, 2)}
    published = published_dir(work / "media", record)
    as_packaged = record.model_copy(update={"version": None})  # protect_title works on the version folder
    for mode in ("clearkey", "all"):
        copy = work / f"protect-{mode}"
        shutil.copytree(published, copy)
        started = time.perf_counter()
        protect_title(copy, as_packaged, mode, keys, settings, "http://127.0.0.1:8010")
        seconds = time.perf_counter() - started
        result[f"{mode}_encrypt_s"] = round(seconds, 2)
        result[f"{mode}_overhead_pct"] = round(100 * seconds / ingest_s, 1)
    result["shaka_packaging"] = packaging_runs(work, published, as_packaged, keys, settings)
    return result


def packaging_runs(work: Path, published: Path, record: TitleRecord, keys: KeyStore,
                   settings: DrmSettings) -> dict[str, object]:
    """Seconds to package one title with Shaka Packager (same ladder, same files) and to CENC-encrypt it."""
    from streamlab.streaming.packaging.package import package_title
    from streamlab.streaming.transcode.ladder import Rung

    rungs = [Rung(id=r.id, profile=r.profile, codec=r.codec, width=r.width, height=r.height,
                  bitrate_kbps=r.bitrate_kbps) for r in record.renditions]
    audio_kbps = record.audio.bitrate_kbps if record.audio else None
    package_s, encrypt_s = [], []
    for run in range(PACKAGING_RUNS):
        copy = work / f"package-{run}"
        shutil.copytree(published, copy)
        started = time.perf_counter()
        package_title(copy, rungs, record.source.fps, audio_bitrate_kbps=audio_kbps)
        package_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        protect_title(copy, record, "clearkey", keys, settings, "http://127.0.0.1:8010")
        encrypt_s.append(time.perf_counter() - started)
        shutil.rmtree(copy)
    return {"renditions": len(rungs), "runs": PACKAGING_RUNS, "package_s": round(statistics.median(package_s), 3),
            "cenc_s": round(statistics.median(encrypt_s), 3),
            "note": "median wall seconds on a shared 2-core box (other sessions running): compare, do not quote alone"}


def run() -> dict[str, object]:
    os.environ["STREAMLAB_DRM_MASTER_KEY"] = base64.b64encode(secrets.token_bytes(32)).decode()
    with tempfile.TemporaryDirectory(prefix="bench-drm-") as tmp:
        root = Path(tmp)
        (root / "licence").mkdir()
        return {"licence_server": licence_throughput(root / "licence"), "packaging": packaging_overhead(root)}
