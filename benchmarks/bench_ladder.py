"""Per-title ladder benchmarks: trial-grid wall time with 1 vs 2 Ray workers, VMAF scoring speed, the
CPU price of publishing AV1 rungs at a slower SVT-AV1 preset than the trials (``grid.av1.publish_preset``),
and what the published rungs' own options (``grid.av1.publish_params``) save at equal VMAF.

The grid (a 640x360 3 s lavfi source, 2 sizes x 4 CRFs, x264 ``fast``, one FFmpeg thread per task)
runs in a fresh process per worker count (Ray's CPU count is fixed at init), uncached. VMAF speed
is libvmaf (vmaf_v0.6.1 + PSNR + SSIM) on the 720p real clip against itself, with 1 and 2 threads.
The preset section encodes the 720p real clip as one published 720p AV1 rung (CRF 30, one thread, the
rung's GOP) at each SVT-AV1 preset and reports CPU seconds (``RUSAGE_CHILDREN``: steadier than wall time
on a shared machine), bitrate and VMAF on every frame. The options section encodes the same rung at the
publish preset over four CRFs with and without the committed ``publish_params`` and reports the BD-rate
between the two curves (bits at equal VMAF) and the encode CPU ratio.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

GRID = r"""
import json, sys, tempfile, time
from pathlib import Path
from streamlab.core.ray_runtime import init_ray
from streamlab.models.ladder.settings import load_ladder_settings
from streamlab.streaming.transcode.per_title.source import inspect_source
from streamlab.streaming.transcode.per_title.trials import build_grid, run_grid
init_ray(num_cpus=int(sys.argv[2]))
settings = load_ladder_settings(["grid.h264.preset=fast", "grid.h264.crf=[20,26,32,38]", "grid.heights=[360,240]"])
facts = inspect_source(Path(sys.argv[1]), 1.0)
with tempfile.TemporaryDirectory() as work:
    specs = build_grid(facts, "h264", settings, Path(work))
    started = time.perf_counter()
    run_grid(specs, "bench grid", cache=False)
print(json.dumps({"trials": len(specs), "wall_s": time.perf_counter() - started}))
"""


def _grid_wall_s(source: Path, workers: int) -> dict:
    done = subprocess.run([sys.executable, "-c", GRID, str(source), str(workers)], capture_output=True, text=True, timeout=900,
                          env={**__import__("os").environ, "STREAMLAB_PROGRESS": "0", "RAY_ADDRESS": ""})  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-1500:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _publish_720p(clip: Path, work: Path, preset: str, crf: float, params: dict[str, str] | None = None) -> dict:
    """One published 720p AV1 rung of ``clip`` (the rung's GOP, one thread): encode CPU s, kbit/s, VMAF (all frames)."""
    from streamlab.models.ladder.grid import encoder_for
    from streamlab.models.ladder.schema import LadderRung
    from streamlab.streaming.ffmpeg import run_ffmpeg
    from streamlab.streaming.quality import measure_quality
    from streamlab.streaming.quality.video_info import read_video_info
    from streamlab.streaming.transcode.encoder_args import rung_video_args

    fps = read_video_info(clip).fps
    rung = LadderRung(width=1280, height=720, codec="av1", bitrate_kbps=1000,
                      encoder=encoder_for("av1", preset, None, crf, "crf", params=params))  # fmt: skip
    encoded = work / f"p{preset}_crf{crf:g}_{len(params or {})}.mp4"
    before = _cpu_s()
    run_ffmpeg(["-i", clip, *rung_video_args(rung, gop_frames=round(4 * fps), segment_duration_s=4.0, threads=1),
                encoded], f"AV1 preset {preset} CRF {crf:g}")  # fmt: skip
    cpu_s = _cpu_s() - before
    vmaf = measure_quality(encoded, clip, n_threads=2, keep_per_frame=False).vmaf.mean
    return {"cpu_s": cpu_s, "kbps": read_video_info(encoded).bitrate_kbps, "vmaf": vmaf}


def publish_presets(clip: Path, presets: tuple[str, ...] = ("8", "6", "5"), crf: float = 30.0) -> dict:
    """CPU s, kbit/s and VMAF of one 720p AV1 rung of ``clip`` at each SVT-AV1 preset (what ingest spends per rung)."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in presets:
            point = _publish_720p(clip, Path(tmp), preset, crf)
            out[f"av1_720p_crf{crf:g}_preset{preset}_encode_cpu_s"] = round(point["cpu_s"], 2)
            out[f"av1_720p_crf{crf:g}_preset{preset}_kbps"] = round(point["kbps"], 1)
            out[f"av1_720p_crf{crf:g}_preset{preset}_vmaf"] = round(point["vmaf"], 2)
    return out


def publish_params(clip: Path, crfs: tuple[float, ...] = (24, 32, 40, 48)) -> dict:
    """BD-rate (bits at equal VMAF) of the committed ``grid.av1.publish_params`` vs none, at the publish preset."""
    from streamlab.models.ladder.bdrate import bd_rate
    from streamlab.models.ladder.settings import load_ladder_settings

    grid = load_ladder_settings().grid.av1
    curves: dict[str, list[dict]] = {"none": [], "params": []}
    with tempfile.TemporaryDirectory() as tmp:
        for crf in crfs:
            curves["none"].append(_publish_720p(clip, Path(tmp), grid.published_preset, crf))
            curves["params"].append(_publish_720p(clip, Path(tmp), grid.published_preset, crf, grid.publish_params))
    anchor, test = ([(p["kbps"], p["vmaf"]) for p in curves[k]] for k in ("none", "params"))
    cpu = {k: sum(p["cpu_s"] for p in v) for k, v in curves.items()}
    return {
        "av1_720p_publish_params": ":".join(f"{k}={v}" for k, v in grid.publish_params.items()),
        "av1_720p_publish_params_bd_rate_pct": round(bd_rate(anchor, test), 2),
        "av1_720p_publish_params_encode_cpu_ratio": round(cpu["params"] / cpu["none"], 3),
        **{f"av1_720p_crf{crf:g}_{k}_kbps_vmaf": [round(curves[k][i]["kbps"], 1), round(curves[k][i]["vmaf"], 2)]
           for i, crf in enumerate(crfs) for k in curves},
    }  # fmt: skip


def run() -> dict:
    import os

    from streamlab.core import project
    from streamlab.streaming.ffmpeg import generate_test_source
    from streamlab.streaming.quality import measure_quality

    # Other work on the machine distorts the 1-vs-2 worker comparison; record how busy it was.
    results: dict[str, float] = {"load_average_1min_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        source = generate_test_source(Path(tmp) / "grid.mp4", width=640, height=360, duration_s=3, fps=25, audio=False)
        one = _grid_wall_s(source, 1)
        two = _grid_wall_s(source, 2)
    results["grid_trials"] = one["trials"]
    results["grid_wall_s_1_worker"] = round(one["wall_s"], 2)
    results["grid_wall_s_2_workers"] = round(two["wall_s"], 2)
    results["grid_speedup_2_vs_1"] = round(one["wall_s"] / two["wall_s"], 2)
    results["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    clip = project.raw_data_dir() / "videos" / "bigbuckbunny.mp4"
    for threads in (1, 2):
        report = measure_quality(clip, clip, n_threads=threads, keep_per_frame=False)
        results[f"vmaf_720p_frames_per_s_{threads}_threads"] = round(report.frames_scored / report.wall_s, 1)
    report = measure_quality(clip, clip, n_threads=2, n_subsample=2, keep_per_frame=False)
    results["vmaf_720p_source_frames_per_s_2_threads_subsample_2"] = round(2 * report.frames_scored / report.wall_s, 1)
    results.update(publish_presets(clip))
    results.update(publish_params(clip))
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
