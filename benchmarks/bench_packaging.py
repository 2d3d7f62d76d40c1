"""Packaging time per title: Shaka Packager (today's path) against the retired FFmpeg path, same encodes.

Packaging moved onto Shaka Packager in issue #17; the old path (FFmpeg's CMAF segments kept as they
were, HLS playlists and the MPD written by our own ``hls.py``/``dash.py``) was removed in the commit
after :data:`OLD_PATH_COMMIT`. It is measured from that commit's tree, read-only: ``git archive`` into a
temporary folder, imported in a subprocess with ``PYTHONPATH`` pointing there (the working tree is never
checked out or changed). Without the repository's history (a shallow clone) the old path is reported as
unavailable and only the new one is timed.

One source, one ladder, one set of encodes: a generated :data:`SOURCE_SIZE` clip of
:data:`SOURCE_DURATION_S` s with audio gets the shipped fixed ladder (every profile it fits, H.264
only; the encode preset does not change what packaging does, so it is ``ultrafast`` to keep the
bench short). Each path then packages its own fresh copy of those encodes :data:`REPEATS` times, the
paths interleaved so load on a shared machine hits them alike. Shaka runs twice: with the shipped
defaults (``shaka``: seek thumbnails and the trick-mode set on) and without them (``shaka_bare``, the
closest to what the old path wrote); their CPU difference is what the two defaults cost. Reported per
path: the median and every wall time of one ``package_title`` call (clear title, imports and interpreter
start-up excluded),
and the CPU seconds it cost (the Python process plus its children, i.e. the packager binary), which
moves less than wall time with other people's load. Shaka's run does more: it rewrites every segment,
writes per-segment ``EXT-X-BITRATE`` and the I-frame playlists (and, by default, thumbnails and the
trick-mode set), so ``what_new_writes`` says what the time buys.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from streamlab.core import project

OLD_PATH_COMMIT = "0da8162^"
"""The last commit with ``packaging.engine: ffmpeg`` (its child, 0da8162, retired the FFmpeg path)."""
SOURCE_SIZE = (1280, 720)
SOURCE_DURATION_S = 30.0
REPEATS = 3
BARE = {"trick_play_factor": 0, "thumbnails": {"enabled": False}}
"""Shaka without the defaults the old path never had (seek thumbnails, the trick-mode set): like for like."""
ENCODE_OVERRIDES = ["transcode.mode=serial", "transcode.x264_preset=ultrafast", "transcode.profiles=[main, mobile]"]

# Runs inside the old tree (PYTHONPATH) or the current one: package one copy of the encodes, print timings.
_PACKAGE_ONCE = """
import json, resource, sys, time
from pathlib import Path
from streamlab.streaming.packaging.package import package_title
from streamlab.streaming.packaging.settings import PackagingSettings
from streamlab.streaming.transcode.ladder import Rung
args = json.loads(sys.argv[1])
rungs = [Rung.model_validate(r) for r in args["rungs"]]
settings = PackagingSettings(**args["settings"]) if args["settings"] is not None else None
def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
cpu, child, started = time.process_time(), children_cpu(), time.perf_counter()
packaged = package_title(Path(args["title_dir"]), rungs, args["fps"], audio_bitrate_kbps=args["audio_kbps"],
                         expected_duration_s=args["duration_s"], settings=settings)
wall = time.perf_counter() - started
print(json.dumps({"wall_s": wall, "cpu_s": time.process_time() - cpu + children_cpu() - child,
                  "renditions": len(packaged.renditions)}))
"""


def old_tree(into: Path) -> Path | None:
    """The old path's source tree under ``into`` (``git archive``, read-only on the repository); None without history."""
    repo = project.checkout_root()
    if repo is None:
        return None
    archive = into / "old.tar"
    with archive.open("wb") as out:
        done = subprocess.run(["git", "-C", str(repo), "archive", OLD_PATH_COMMIT], stdout=out,
                              stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        return None
    tree = into / "old"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="tar")  # keeps the streamlab/* package links
    archive.unlink()
    return tree


def encode_title(work: Path) -> dict[str, object]:
    """The generated clip and its fixed-ladder encodes (the packagers' common input) under ``work/encoded``."""
    from streamlab.streaming.ffmpeg import generate_test_source
    from streamlab.streaming.ingest.pipeline import encode_jobs
    from streamlab.streaming.ingest.probe import probe_source
    from streamlab.streaming.ingest.settings import load_streaming_settings
    from streamlab.streaming.transcode.ladder import select_ladder
    from streamlab.streaming.transcode.runner import run_encodes

    width, height = SOURCE_SIZE
    source = generate_test_source(work / "source.mp4", width=width, height=height, duration_s=SOURCE_DURATION_S)
    settings = load_streaming_settings(ENCODE_OVERRIDES)
    probe = probe_source(source)
    rungs = [r for r in select_ladder(probe.display_width, probe.display_height, settings.transcode) if r.codec == "h264"]
    encoded = work / "encoded"
    encoded.mkdir()
    started = time.perf_counter()
    run_encodes(encode_jobs(source, encoded, probe, rungs, settings), "serial", "bench packaging: encodes")
    return {
        "title_dir": str(encoded),
        "rungs": [json.loads(r.model_dump_json()) for r in rungs],
        "fps": probe.info.fps,  # only the old writers use it (the MPD's frameRate); Shaka reads the streams
        "audio_kbps": settings.audio.bitrate_kbps,
        "duration_s": probe.info.duration_s,
        "encode_s": round(time.perf_counter() - started, 1),
    }


def package_once(title: dict[str, object], copy_to: Path, tree: Path | None, settings: dict | None) -> dict[str, float]:
    """One ``package_title`` on a fresh copy of the encodes, in a subprocess of ``tree`` (None: this tree)."""
    shutil.rmtree(copy_to, ignore_errors=True)
    shutil.copytree(str(title["title_dir"]), copy_to)
    args = {**title, "title_dir": str(copy_to), "settings": settings}
    env = {**os.environ, "STREAMLAB_PROGRESS": "0"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    done = subprocess.run([sys.executable, "-c", _PACKAGE_ONCE, json.dumps(args)], cwd=tree or project.checkout_root(),
                          env=env, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"packaging failed ({'old' if tree else 'new'} path): {done.stderr.strip()[-600:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _summary(runs: list[dict[str, float]]) -> dict[str, object]:
    walls = [r["wall_s"] for r in runs]
    cpus = [r["cpu_s"] for r in runs]
    return {"median_wall_s": round(statistics.median(walls), 3), "wall_s": [round(w, 3) for w in walls],
            "median_cpu_s": round(statistics.median(cpus), 3), "renditions": int(runs[0]["renditions"])}


def _what_new_writes(title_dir: Path) -> dict[str, object]:
    return {
        "iframe_playlists": len(list(title_dir.glob("*/iframe.m3u8"))),
        "thumbnail_sheets": len(list(title_dir.glob("thumbnails/tile_*.jpg"))),
        "trick_mode_set": (title_dir / "trick").is_dir(),
        "segment_bitrates": "#EXT-X-BITRATE" in next(title_dir.glob("*/playlist.m3u8")).read_text(),
    }


def run() -> dict[str, object]:
    from streamlab.streaming.packaging.settings import load_packaging_settings

    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench-packaging-"))
    try:
        tree = old_tree(work)
        title = encode_title(work)
        paths: dict[str, tuple[Path | None, dict | None]] = {"shaka": (None, None), "shaka_bare": (None, BARE)}
        if tree is not None:
            paths["ffmpeg_old"] = (tree, {"engine": "ffmpeg"})
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
        for i in range(REPEATS):
            order = list(paths) if i % 2 == 0 else list(reversed(paths))
            for name in order:
                tree_of, settings = paths[name]
                runs[name].append(package_once(title, work / name, tree_of, settings))
        out: dict[str, object] = {
            "source": f"generated {SOURCE_SIZE[0]}x{SOURCE_SIZE[1]}, {SOURCE_DURATION_S:g} s, H.264 + AAC",
            "ladder_kbps": [r["bitrate_kbps"] for r in title["rungs"]],  # type: ignore[index]
            "encode_s": title["encode_s"],
            "repeats": REPEATS,
            "shaka": _summary(runs["shaka"]),
            "shaka_bare": _summary(runs["shaka_bare"]),
            "thumbnails_and_trick_cpu_s": round(statistics.median(r["cpu_s"] for r in runs["shaka"])
                                                - statistics.median(r["cpu_s"] for r in runs["shaka_bare"]), 3),
            "what_new_writes": _what_new_writes(work / "shaka"),
            "shaka_defaults": load_packaging_settings().model_dump(exclude={"timeout_s"}),
        }
        if tree is not None:
            out["ffmpeg_old"] = _summary(runs["ffmpeg_old"])
            out["old_path"] = f"git archive {OLD_PATH_COMMIT}: packaging.engine=ffmpeg (own HLS/DASH writers)"
            out["shaka_bare_over_old_wall"] = round(out["shaka_bare"]["median_wall_s"] / out["ffmpeg_old"]["median_wall_s"], 2)
            out["shaka_bare_over_old_cpu"] = round(out["shaka_bare"]["median_cpu_s"] / max(out["ffmpeg_old"]["median_cpu_s"], 1e-3), 1)
        else:
            out["ffmpeg_old"] = f"unavailable: no {OLD_PATH_COMMIT} in this clone's history"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["load_avg_1m_before"] = round(load_before, 2)
    out["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
