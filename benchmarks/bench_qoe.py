"""QoE detection throughput: batch events/s (local and Ray Data on 2 CPUs) and streaming per-event latency.

Data: one simulated hour at nominal evening load (``configs/qoe.yaml``) with an edge collapse,
written as JSONL. Batch = read + validate + units + windows + scoring + attribution + alerts, the
whole ``streamlab qoe detect`` path minus process start, each measured warm (second run); with Ray
the file is parsed and validated in the driver and the time shards are scored by Ray Data tasks,
and the time excludes cluster start.
Streaming latency is per ``StreamingDetector.ingest([event])`` call on pre-parsed JSON dicts
(validation included), p50/p99/p99.9 and max in ms; window closes land on the event that crosses
the window boundary and are inside these numbers.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

TARGET_EVENTS_PER_S = 50_000
TARGET_P99_MS = 10.0


def run() -> dict:
    import torch

    from streamlab.models.qoe.detect import detect_file
    from streamlab.models.qoe.settings import load_settings
    from streamlab.models.qoe.streaming import StreamingDetector
    from streamlab.training.qoe.registry import load_model
    from streamlab.training.qoe.simulate import simulate, write_simulation

    torch.set_num_threads(1)
    settings = load_settings([f"population.start_epoch_s={1767571200 + 19 * 3600}"])
    sim = simulate(settings, seed=11, days=1 / 24, spec="edge_collapse(us-east-1)@20m+25m")
    model = load_model(None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        write_simulation(sim, path)
        events = sim.events
        detect_file(model, path, "local")  # warm imports and first-call costs, as for Ray below
        t0 = time.perf_counter()
        local, _ = detect_file(model, path, "local")
        local_s = time.perf_counter() - t0
        from streamlab.core.ray_runtime import init_ray

        init_ray(num_cpus=2)
        detect_file(model, path, "ray")  # warm the workers
        t0 = time.perf_counter()
        ray_result, _ = detect_file(model, path, "ray")
        ray_s = time.perf_counter() - t0
        lines = [json.loads(line) for line in path.read_text().splitlines()]
    stream = StreamingDetector(model)
    latencies = np.empty(len(lines))
    for i, event in enumerate(lines):
        t0 = time.perf_counter()
        stream.ingest([event])
        latencies[i] = time.perf_counter() - t0
    stream_alerts = stream.flush()
    ms = latencies * 1000.0
    return {
        "events": events,
        "batch_local_events_per_s": round(events / local_s),
        "batch_ray_events_per_s_2cpu": round(events / ray_s),
        "batch_target_events_per_s": TARGET_EVENTS_PER_S,
        "stream_p50_ms": round(float(np.percentile(ms, 50)), 4),
        "stream_p99_ms": round(float(np.percentile(ms, 99)), 4),
        "stream_p999_ms": round(float(np.percentile(ms, 99.9)), 3),
        "stream_max_ms": round(float(ms.max()), 3),
        "stream_target_p99_ms": TARGET_P99_MS,
        "alerts_batch": len(local.alerts), "alerts_ray": len(ray_result.alerts), "alerts_stream": len(stream_alerts),
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
    }


def _write_world(path: str, sessions: int, titles: int) -> int:
    """In a child process, so the generator's memory is not in the detector's peak RSS."""
    from streamlab.training.qoe.world_v2 import generate

    world = generate(21, sessions=sessions, titles=titles)
    with open(path, "w") as handle:
        for event in world.events:
            handle.write(json.dumps(event) + "\n")
    return len(world.events)


def run_eb(sessions: int = 55_000, titles: int = 3_000) -> dict:
    """Issue 19: one schema-v2 day (~2M events at the default 55k sessions) at 3,000 titles through the ``eb`` detector.

    Batch = read the JSONL file + validate (:func:`parse_event`) + detect, one process; memory = this
    process's peak RSS (the file is streamed, never held). Streaming = per-event latency of
    ``parse_event`` + ``EbDetector.ingest`` on the first 300k lines (window closes included).
    """
    import multiprocessing
    import resource

    from streamlab.models.qoe.eb import EbDetector
    from streamlab.models.qoe.schema_v2 import parse_event

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "day.jsonl")
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            events = pool.apply(_write_world, (path, sessions, titles))
        det = EbDetector()
        t0 = time.perf_counter()
        with open(path) as handle:
            for line in handle:
                event, _ = parse_event(line)
                if event is not None:
                    det.ingest(event)
        alerts = det.flush()
        batch_s = time.perf_counter() - t0
        peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        stream = EbDetector()
        latencies = []
        with open(path) as handle:
            for i, line in enumerate(handle):
                if i >= 300_000:
                    break
                t1 = time.perf_counter()
                event, _ = parse_event(line)
                if event is not None:
                    stream.ingest(event)
                latencies.append(time.perf_counter() - t1)
    ms = np.array(latencies) * 1000.0
    return {"events": events, "titles": titles, "batch_events_per_s": round(events / batch_s), "batch_s": round(batch_s, 1),
            "peak_rss_gib": round(peak_gib, 2), "alerts": len(alerts), "stats": det.stats(),
            "stream_p50_ms": round(float(np.percentile(ms, 50)), 4), "stream_p99_ms": round(float(np.percentile(ms, 99)), 4),
            "stream_max_ms": round(float(ms.max()), 3), "load_average_1m": os.getloadavg()[0]}


if __name__ == "__main__":
    import sys

    if "--eb" in sys.argv:
        sessions = int(sys.argv[sys.argv.index("--sessions") + 1]) if "--sessions" in sys.argv else 55_000
        print(json.dumps(run_eb(sessions), indent=2))
    else:
        print(json.dumps(run(), indent=2))
