"""Full-ladder transcode speed, as multiples of real time, with and without Ray parallelism.

Two sources: a generated 1080p25 clip with audio (a Mandelbrot zoom with film-grain-like noise and
pink-noise audio, so it is not trivially compressible the way ``testsrc2`` is: it gets the full
seven-rung H.264 ladder) and bigbuckbunny (720p, six rungs). Each is ingested end to end (probe,
every encode, packaging, publish) with the shipped config, once with ``transcode.mode=serial``
(one FFmpeg at a time, each free to use every core) and once with ``transcode.mode=ray`` (one
Ray task per rendition on a 2-CPU local Ray). Ray's start-up is measured apart and not counted:
a long-running ingest service pays it once. ``x_realtime`` = source duration / wall time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from pipelines import project
from pipelines.ray_runtime import init_ray
from streaming.ffmpeg import run_ffmpeg
from streaming.ingest.pipeline import ingest_title
from streaming.ingest.probe import probe_source

NUM_CPUS = 2
GENERATED_DURATION_S = 20.0


def generated_source(folder: Path) -> Path:
    """1080p25, 20 s, H.264 + AAC; cached under the state dir (generation costs about a minute)."""
    path = folder / "mandelbrot_1080p_20s.mp4"
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    run_ffmpeg(
        [
            "-f", "lavfi", "-i", "mandelbrot=size=1920x1080:rate=25",
            "-f", "lavfi", "-i", "anoisesrc=color=pink:sample_rate=48000:amplitude=0.2",
            "-t", f"{GENERATED_DURATION_S:g}", "-vf", "noise=alls=4:allf=t",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", partial,
        ],  # fmt: skip
        "generating the 1080p benchmark source",
    )
    partial.rename(path)
    return path


def time_ingest(source: Path, mode: str, media_root: Path, allowed: list[Path]) -> dict[str, float]:
    roots = ", ".join(str(r) for r in allowed)
    overrides = [f"ingest.allowed_roots=[{roots}]", f"transcode.mode={mode}", "publish.replace=true"]
    started = time.perf_counter()
    record = ingest_title(source, f"bench-{mode}", overrides=overrides, media_root=media_root)
    wall_s = time.perf_counter() - started
    return {"wall_s": round(wall_s, 2), "x_realtime": round(record.duration_s / wall_s, 3), "renditions": len(record.renditions)}


def bench_source(source: Path, media_root: Path, allowed: list[Path]) -> dict[str, object]:
    probe = probe_source(source)
    serial = time_ingest(source, "serial", media_root, allowed)
    ray = time_ingest(source, "ray", media_root, allowed)
    return {
        "source": source.name,
        "size": f"{probe.info.width}x{probe.info.height}",
        "duration_s": probe.info.duration_s,
        "renditions": serial["renditions"],
        "serial_wall_s": serial["wall_s"],
        "serial_x_realtime": serial["x_realtime"],
        "ray_wall_s": ray["wall_s"],
        "ray_x_realtime": ray["x_realtime"],
        "ray_speedup": round(serial["wall_s"] / ray["wall_s"], 3),
    }


def run() -> dict:
    os.environ.setdefault("STREAMLAB_PROGRESS", "0")
    cache = project.state_dir() / "bench"
    generated = generated_source(cache)
    bbb = project.raw_data_dir() / "videos" / "bigbuckbunny.mp4"
    started = time.perf_counter()
    init_ray(num_cpus=NUM_CPUS)
    ray_init_s = time.perf_counter() - started
    media_root = Path(tempfile.mkdtemp(prefix="bench-transcode-"))
    try:
        allowed = [cache, bbb.parent]
        results = {
            "generated_1080p": bench_source(generated, media_root, allowed),
            "bigbuckbunny": bench_source(bbb, media_root, allowed),
        }
    finally:
        shutil.rmtree(media_root, ignore_errors=True)
    load_1m = os.getloadavg()[0]
    return {
        "cpus": NUM_CPUS,
        "preset": "config default (transcode.x264_preset)",
        "ray_init_s": round(ray_init_s, 2),
        "load_avg_1m_after": round(load_1m, 2),
        **results,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
