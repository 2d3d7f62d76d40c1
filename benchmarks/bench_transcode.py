"""Full-ladder transcode speed, as multiples of real time, with and without Ray parallelism.

Two sources: a generated 1080p25 clip with audio (a Mandelbrot zoom with film-grain-like noise and
pink-noise audio, so it is not trivially compressible the way ``testsrc2`` is; it gets the full
seven-rung H.264 ladder plus AAC) and bigbuckbunny (720p, six rungs plus AAC). Each ladder is
encoded with the shipped config, once with ``transcode.mode=serial`` (one FFmpeg at a time, each
free to use every core) and once with ``transcode.mode=ray`` (one Ray task per rendition on a
2-CPU local Ray). Ray's start-up is measured apart and not counted: an ingest service pays it once.

``x_realtime`` = source duration / wall time. The machine this runs on may be shared, so each
mode also reports FFmpeg's CPU time (``cpu_s``, summed over the encodes) and the speed two
otherwise idle cores would give at that cost (``cpu_bound_2core_x_realtime`` = duration /
(cpu_s / 2)), which does not move with other people's load. Probe and packaging take
milliseconds and are left out.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from streamlab.core import project
from streamlab.core.ray_runtime import init_ray
from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.ingest.pipeline import encode_jobs
from streamlab.streaming.ingest.probe import probe_source
from streamlab.streaming.ingest.settings import load_streaming_settings
from streamlab.streaming.transcode.ladder import select_ladder
from streamlab.streaming.transcode.runner import run_encodes

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
            "-f",
            "lavfi",
            "-i",
            "mandelbrot=size=1920x1080:rate=25",
            "-f",
            "lavfi",
            "-i",
            "anoisesrc=color=pink:sample_rate=48000:amplitude=0.2",
            "-t",
            f"{GENERATED_DURATION_S:g}",
            "-vf",
            "noise=alls=4:allf=t",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "20",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            partial,
        ],  # fmt: skip
        "generating the 1080p benchmark source",
    )
    partial.rename(path)
    return path


def time_ladder(source: Path, mode: str, work: Path) -> dict[str, float]:
    settings = load_streaming_settings([f"transcode.mode={mode}"])
    probe = probe_source(source)
    rungs = select_ladder(probe.display_width, probe.display_height, settings.transcode)
    out = work / f"{source.stem}-{mode}"
    out.mkdir(parents=True)
    jobs = encode_jobs(source, out, probe, rungs, settings)
    started = time.perf_counter()
    results = run_encodes(jobs, mode, f"{source.name} ({mode})")
    wall_s = time.perf_counter() - started
    cpu_s = sum(r.cpu_s for r in results)
    duration_s = probe.info.duration_s
    shutil.rmtree(out)
    return {
        "renditions": len(rungs),
        "wall_s": round(wall_s, 2),
        "x_realtime": round(duration_s / wall_s, 3),
        "cpu_s": round(cpu_s, 1),
        "cpu_bound_2core_x_realtime": round(duration_s / (cpu_s / NUM_CPUS), 3),
    }


def bench_source(source: Path, work: Path) -> dict[str, object]:
    probe = probe_source(source)
    serial = time_ladder(source, "serial", work)
    ray = time_ladder(source, "ray", work)
    return {
        "source": source.name,
        "size": f"{probe.info.width}x{probe.info.height}",
        "duration_s": probe.info.duration_s,
        "renditions": serial.pop("renditions"),
        **{f"serial_{k}": v for k, v in serial.items()},
        **{f"ray_{k}": v for k, v in ray.items() if k != "renditions"},
        "ray_speedup": round(serial["wall_s"] / ray["wall_s"], 3),
    }


def run() -> dict:
    os.environ.setdefault("STREAMLAB_PROGRESS", "0")
    # Ray lowers its workers' priority (niceness +15) so drivers stay responsive; on a shared
    # machine that alone would make the Ray encodes lose to the serial ones. Same priority for both.
    os.environ.setdefault("RAY_worker_niceness", "0")
    cache = project.state_dir() / "bench"
    generated = generated_source(cache)
    bbb = project.raw_data_dir() / "videos" / "bigbuckbunny.mp4"
    started = time.perf_counter()
    init_ray(num_cpus=NUM_CPUS)
    ray_init_s = time.perf_counter() - started
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench-transcode-"))
    try:
        results = {"generated_1080p": bench_source(generated, work), "bigbuckbunny": bench_source(bbb, work)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "cpus": NUM_CPUS,
        "x264_preset": load_streaming_settings().transcode.x264_preset,
        "ray_init_s": round(ray_init_s, 2),
        "load_avg_1m_before": round(load_before, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        **results,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
