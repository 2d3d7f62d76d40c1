"""Generate Kestrel days, run ``streamlab qoe detect`` on each, and score them with ``benchmarks.qoe_world.score``.

The scorer is reused, not copied, so this world's numbers mean exactly what the other worlds' numbers mean.

    python -m benchmarks.qoe_world3.run --seeds 1,2,3 --work /tmp/w3 [--model eb] [--sessions N] [--day D]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.qoe_world import score
from benchmarks.qoe_world.run import streamlab_cmd
from benchmarks.qoe_world3.generate import DEFAULT_SESSIONS, generate_day
from streamlab.core.errors import UsageError


def detect(events: Path, alerts: Path, model: str) -> dict[str, object]:
    """Run the detector CLI on one day; returns its counters line (accepted, refused, ...) and wall seconds."""
    began = time.monotonic()
    proc = subprocess.run([*streamlab_cmd(), "qoe", "detect", "--events", str(events), "--out", str(alerts),
                           "--model", model], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        said = [line for line in proc.stderr.splitlines() if line.strip()]
        raise RuntimeError(f"detect failed on {events} (exit {proc.returncode}): {said[-1] if said else 'no message'}")
    counters: dict[str, object] = {}
    match = re.search(r"^\w+: (\{.*\})$", proc.stdout, re.MULTILINE)
    if match:
        counters = json.loads(match.group(1))
    counters["detect_s"] = round(time.monotonic() - began, 1)
    return counters


def _seeds(text: str) -> list[int]:
    """``--seeds``: comma-separated integers, at least one (argparse turns the error into one ``error:`` line)."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated integers, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("at least one seed")
    return seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate, detect and score Kestrel (qoe_world3) days.")
    parser.add_argument("--seeds", type=_seeds, default="1,2,3", help="comma-separated seeds, one day each")
    parser.add_argument("--work", type=Path, required=True, help="folder for events, labels, alerts, scores")
    parser.add_argument("--model", default="eb")
    parser.add_argument("--day", type=int, default=0)
    parser.add_argument("--sessions", type=int, default=DEFAULT_SESSIONS)
    parser.add_argument("--reuse", action="store_true", help="keep an existing day's events instead of regenerating")
    args = parser.parse_args(argv)
    if args.sessions < 1:
        parser.error(f"--sessions must be >= 1, got {args.sessions}")
    try:
        return _run(args)
    except (RuntimeError, OSError, UsageError) as exc:  # a detector that failed, a folder not writable: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    seeds: list[int] = args.seeds
    pairs: list[tuple[Path, Path]] = []
    runs: dict[str, object] = {}
    for seed in seeds:
        folder = args.work / f"seed{seed}"
        events, labels = folder / f"day{args.day}.jsonl", folder / f"day{args.day}.labels.json"
        alerts = folder / f"day{args.day}.alerts.{args.model.replace('/', '_')}.jsonl"
        if not (args.reuse and events.exists() and labels.exists()):
            stats = generate_day(events, labels, seed, args.day, args.sessions)
            print(f"seed {seed}: {stats.sessions} sessions, {stats.events} events, generated in {stats.seconds:.1f} s")
        counters = detect(events, alerts, args.model)
        print(f"seed {seed}: detect {json.dumps(counters)}")
        runs[str(seed)] = counters
        pairs.append((alerts, labels))
    days, summary = score.score_files(pairs)
    print(score.table(days, summary))
    result = {"seeds": seeds, "model": args.model, "detect": runs, **score.to_json(days, summary)}
    (args.work / f"score.{args.model.replace('/', '_')}.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
