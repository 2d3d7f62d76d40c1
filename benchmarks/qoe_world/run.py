"""Driver: generate N days of the independent world, run the detector through its CLI, score.

``python -m benchmarks.qoe_world.run --days 3 --seed 0,1,2`` writes, under ``--work``, one
events file, labels file and alerts file per (seed, day), and ``results.json`` with the scores,
the detector's wall time and peak memory (of the child process) and its refusal line.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.qoe_world.generate import generate_day, parse_incidents
from benchmarks.qoe_world.score import (
    V1_ALIASES,
    read_alerts,
    rename_dimensions,
    score_day,
    summarize,
    table,
    to_json,
)
from benchmarks.qoe_world.traces import find_trace_dir, load_traces
from benchmarks.qoe_world.v1 import convert_file
from benchmarks.qoe_world.world import WorldConfig
from streamlab.core.errors import UsageError

REJECTED = re.compile(r"rejected (\d+) event")


def streamlab_cmd() -> list[str]:
    """The project's CLI from the same environment as this interpreter."""
    script = Path(sys.executable).parent / "streamlab"
    if not script.exists():
        raise UsageError(f"no streamlab CLI beside {sys.executable}")
    return [str(script)]


def detect(events: Path, alerts: Path, model: str | None, timeout_s: float) -> dict[str, object]:
    """Run ``streamlab qoe detect`` on one file; the child's output tail, time and peak RSS."""
    cmd = [*streamlab_cmd(), "qoe", "detect", "--events", str(events), "--out", str(alerts)]
    if model:
        cmd += ["--model", model]
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"rc": None, "error": f"timed out after {timeout_s:.0f} s", "seconds": timeout_s}
    out = (proc.stdout + proc.stderr).strip().splitlines()
    rejected = next((int(m.group(1)) for line in out if (m := REJECTED.search(line))), 0)
    rejects = events.with_name(events.stem + ".rejects.jsonl")
    first_reason = None
    if rejected and rejects.exists():
        with rejects.open() as fh:
            first_reason = json.loads(fh.readline() or "{}").get("reason")
    return {
        "first_reject_reason": first_reason,
        "rc": proc.returncode,
        "seconds": round(time.perf_counter() - started, 1),
        "max_rss_mib_children": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "rejected": rejected,
        "tail": out[-4:],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate, detect and score the independent QoE world.")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", default="0", help="a seed or a comma list of seeds")
    parser.add_argument("--sessions", type=int, default=WorldConfig.sessions_per_day)
    parser.add_argument("--titles", type=int, default=WorldConfig.titles)
    parser.add_argument("--incidents", default="all", help="all, none, or a comma list of types")
    parser.add_argument("--model", help="passed to `streamlab qoe detect --model`")
    parser.add_argument("--schema", choices=("v2", "v1"), default="v2",
                        help="v1: down-convert before detection, for a detector that reads only v1")
    parser.add_argument("--work", type=Path, default=Path("/tmp/qoe_world"))
    parser.add_argument("--detect-timeout-s", type=float, default=1800.0)
    parser.add_argument("--skip-detect", action="store_true", help="only generate (and score existing alerts)")
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seed.split(",") if s.strip()]
        cfg = WorldConfig(sessions_per_day=args.sessions, titles=args.titles,
                          incident_types=parse_incidents(args.incidents))
        traces = load_traces(find_trace_dir())
    except (ValueError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results: dict[str, object] = {"config": vars(args) | {"work": str(args.work)}, "seeds": {}}
    for seed in seeds:
        days = []
        runs = []
        for day in range(args.days):
            base = args.work / f"seed{seed}" / f"day{day}"
            events, labels_path, alerts = (base.with_suffix(".jsonl"), base.with_suffix(".labels.json"),
                                           base.with_suffix(".alerts.jsonl"))
            started = time.perf_counter()
            labels = generate_day(cfg, seed, day, events, labels_path, traces)
            gen_s = round(time.perf_counter() - started, 1)
            print(f"seed {seed} day {day}: generated {labels['summary']} in {gen_s} s", flush=True)
            run: dict[str, object] = {"day": day, "generate_s": gen_s}
            if not args.skip_detect:
                target = events
                if args.schema == "v1":
                    target = base.with_suffix(".v1.jsonl")
                    convert_file(events, target)
                result = detect(target, alerts, args.model, args.detect_timeout_s)
                run["detect"] = result
                print(f"seed {seed} day {day}: detect {result}", flush=True)
                if result.get("rejected") == labels["summary"]["events"]:  # type: ignore[index]
                    print(f"warning: the detector refused all {result['rejected']} events "
                          f"({result['first_reject_reason']}); try --schema v1", file=sys.stderr, flush=True)
            runs.append(run)
            alert_list = read_alerts(alerts) if alerts.exists() else []
            if args.schema == "v1":
                alert_list = rename_dimensions(alert_list, V1_ALIASES)
            days.append(score_day(alert_list, labels))
        summary = summarize(days)
        print(table(days, summary), flush=True)
        results["seeds"][str(seed)] = {"runs": runs, **to_json(days, summary)}  # type: ignore[index]
        out = args.work / "results.json"
        out.write_text(json.dumps(results, indent=1, default=str))  # after every seed: a long run keeps its start
    print(f"results -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
