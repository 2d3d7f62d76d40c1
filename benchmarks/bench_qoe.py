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


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
