"""Write ``data/abr_requests.json``: abr/decide requests from real traces and chunk sizes, with today's decisions.

Run once, before a change to the decision path (``python -m tests.abr.record_abr_requests``);
``test_decide_recorded.py`` then checks every decision is unchanged. The requests span what players
send: 2-8 rungs with per-title bitrates, 2/4/6 s segments, with and without chunk sizes, empty to
long histories, buffers from 0 to 60 s, last chunks of a title.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from streamlab.models.abr.policies.learned import load_learned
from streamlab.models.abr.traces import load_traces
from streamlab.core import project
from streamlab.models.abr.decide import AbrDecideRequest, decide

RECORDED = Path(__file__).with_name("data") / "abr_requests.json"


def make_requests(count: int, seed: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed)
    traces = load_traces(project.raw_data_dir() / "abr" / "train_traces")
    sizes = [
        np.loadtxt(project.raw_data_dir() / "abr" / "video_sizes" / f"video_size_{i}", dtype=np.int64) for i in range(6)
    ]
    requests = []
    for n in range(count):
        trace = traces[int(rng.integers(len(traces)))]
        rungs = int(rng.integers(2, 9))
        base = float(rng.uniform(150, 600))
        rates = np.round(base * np.cumprod(rng.uniform(1.3, 2.2, rungs)) / 1.3).astype(int).tolist()
        segment_s = float(rng.choice([2.0, 4.0, 6.0]))
        start = int(rng.integers(len(trace.bandwidth_mbps) - 10))
        history = int(rng.choice([0, 1, 3, 8, 20]))
        samples = []
        for k in range(history):
            mbps = max(float(trace.bandwidth_mbps[(start + k) % len(trace.bandwidth_mbps)]), 0.05)
            size = int(rates[int(rng.integers(rungs))] * 125 * segment_s * rng.uniform(0.7, 1.3))
            samples.append({"bytes": size, "download_ms": round(size * 8 / (mbps * 1000) + 80, 3)})
        ladder = []
        with_sizes = bool(rng.integers(2))
        chunk = int(rng.integers(40))
        for i, rate in enumerate(rates):
            rung: dict = {"bitrate_kbps": rate}
            if with_sizes:
                row = sizes[min(i, 5)][chunk : chunk + 6] * rate / [300, 750, 1200, 1850, 2850, 4300][min(i, 5)]
                rung["chunk_sizes_bytes"] = [max(1, int(s * segment_s / 4)) for s in row]
            ladder.append(rung)
        requests.append(
            {
                "buffer_s": round(
                    float(rng.choice([0.0, rng.uniform(0, 8), rng.uniform(8, 30), rng.uniform(30, 60)])), 3
                ),
                "last_rung": int(rng.integers(rungs)),
                "chunks_remaining": int(rng.choice([1, 2, 3, 5, 12, 40, 150])),
                "segment_duration_s": segment_s,
                "samples": samples,
                "ladder": ladder,
                "session_id": f"recorded-{n}",
            }
        )
    return requests


def main() -> None:
    policy = load_learned()
    records = []
    for body in make_requests(400):
        decision = decide(policy, AbrDecideRequest.model_validate(body))
        records.append({"request": body, "rung": decision.rung, "reason": decision.reason})
    RECORDED.parent.mkdir(exist_ok=True)
    RECORDED.write_text(json.dumps(records, separators=(",", ":")) + "\n")
    print(f"{len(records)} requests -> {RECORDED} ({RECORDED.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
