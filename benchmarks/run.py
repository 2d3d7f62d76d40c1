"""``make bench``: run every ``benchmarks/bench_*.py`` and write ``benchmarks/results/<name>.json``.

Each benchmark module exposes ``run() -> dict`` returning flat-ish numbers with units in the key
names (``segments_per_s``, ``p99_ms``); this runner stamps the machine and time, writes the JSON
and prints one short table. ``python -m benchmarks.run transcode`` runs only the named ones.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def discover() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))


def machine() -> dict[str, object]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def main(argv: list[str]) -> int:
    names = argv or discover()
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, object]] = []
    failed = []
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        started = time.perf_counter()
        print(f"== bench {name}", flush=True)
        try:
            numbers = module.run()
        except Exception as exc:  # a broken benchmark is reported, the others still run
            failed.append(name)
            print(f"   FAILED: {type(exc).__name__}: {exc}", flush=True)
            continue
        result = {
            "benchmark": name,
            "finished_at": datetime.now(UTC).isoformat(),
            "wall_s": round(time.perf_counter() - started, 2),
            "machine": machine(),
            "results": numbers,
        }
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        for key, value in _flatten(numbers).items():
            rows.append((name, key, value))
    width = max((len(f"{n}.{k}") for n, k, _ in rows), default=10)
    print("\n" + "benchmark".ljust(width) + "  value")
    for name, key, value in rows:
        shown = f"{value:.4g}" if isinstance(value, float) else value
        print(f"{name}.{key}".ljust(width) + f"  {shown}")
    print(f"\nresults in {RESULTS}")
    return 1 if failed else 0


def _flatten(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif not isinstance(value, list):
            flat[f"{prefix}{key}"] = value
    return flat


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
