"""Generate one Kestrel day: schema-v2 JSONL events sorted by timestamp, and its labels JSON.

Sessions are simulated in order of their start; each session's events go into a heap, and every event older than
the next session's start is written out, since no later session can emit anything earlier. Memory therefore holds
only the sessions alive at a moment (a few hundred), not the day.

    python -m benchmarks.qoe_world3.generate --out DAY.jsonl --labels DAY.labels.json --seed 1 [--day 0]
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.qoe_world.traces import find_trace_dir, load_traces
from benchmarks.qoe_world3.incidents import build_schedule
from benchmarks.qoe_world3.session import draw_session, prepare_traces, simulate
from benchmarks.qoe_world3.world import DAY_S, EPOCH_DAY0, REGIONS, build_catalogue, diurnal, local_hour

DEFAULT_SESSIONS = 15000


@dataclass
class DayStats:
    """What a generated day holds (also written into the labels)."""

    sessions: int
    events: int
    seconds: float


def _starts(rng: random.Random, n: int, day_start: float, premiere: tuple[float, float, float],
            sport: tuple[float, float, float]) -> list[tuple[float, int, int]]:
    """Session starts ``(t, region index, kind)``: ``n`` by region share and local diurnal load, plus decoy crowds.

    Kind 1 is the premiere's flash crowd (arrivals decaying from the premiere, mean 18 min after it), kind 2 the
    match's viewers (most join in the quarter hour around kick-off, some later).
    """
    shares = [(str(i), r.share) for i, r in enumerate(REGIONS)]
    out: list[tuple[float, int, int]] = []
    total = sum(s for _, s in shares)
    cum = []
    acc = 0.0
    for _, s in shares:
        acc += s / total
        cum.append(acc)

    def region() -> int:
        x = rng.random()
        return next((i for i, c in enumerate(cum) if x <= c), len(cum) - 1)

    while len(out) < n:
        r = region()
        t = day_start + rng.random() * DAY_S
        if rng.random() < diurnal(local_hour(t, REGIONS[r])):
            out.append((t, r, 0))
    p_start, p_end, p_share = premiere
    for _ in range(round(n * p_share)):
        t = p_start + rng.expovariate(1 / 1080.0)
        out.append((min(t, p_end - 1.0), region(), 1))
    s_start, s_end, s_share = sport
    for _ in range(round(n * s_share)):
        t = s_start + (abs(rng.gauss(0, 600.0)) if rng.random() < 0.7 else rng.uniform(0, s_end - s_start - 600))
        out.append((t, region(), 2))
    out.sort()
    return out


def generate_day(out: Path, labels_path: Path, seed: int, day: int = 0, sessions: int = DEFAULT_SESSIONS,
                 trace_dir: Path | None = None) -> DayStats:
    """Write a day's events to ``out`` and its labels to ``labels_path``; deterministic in (seed, day, sessions)."""
    began = time.monotonic()
    day_start = EPOCH_DAY0 + day * DAY_S
    catalogue = build_catalogue(seed)
    schedule = build_schedule(seed, day, day_start, catalogue)
    premiere = schedule.decoy("premiere_flash_crowd")
    sport = schedule.decoy("sports_live_spike")
    catalogue.extra[premiere.value] = 131 * 60.0
    traces = prepare_traces(load_traces(find_trace_dir(trace_dir)))
    rng = random.Random(f"kestrel-starts:{seed}:{day}:{sessions}")
    starts = _starts(rng, sessions, day_start, (premiere.start, premiere.end, premiere.effect["extra_share"]),
                     (sport.start, sport.end, sport.effect["extra_share"]))
    viewers = {r.name: max(50, int(sessions * r.share / 2.2)) for r in REGIONS}
    heap: list[tuple[float, int, str]] = []
    counter = 0
    events = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as fh:
        for index, (t0, r, kind) in enumerate(starts):
            while heap and heap[0][0] < t0:
                fh.write(heapq.heappop(heap)[2] + "\n")
                events += 1
            srng = random.Random(f"kestrel-session:{seed}:{day}:{index}")
            region = REGIONS[r]
            spec = draw_session(srng, index, t0, region, kind, day_start, schedule, catalogue, viewers[region.name])
            for ts, line in simulate(spec, srng, traces, schedule.incidents):
                heapq.heappush(heap, (ts, counter, line))
                counter += 1
        while heap:
            fh.write(heapq.heappop(heap)[2] + "\n")
            events += 1
    stats = DayStats(len(starts), events, round(time.monotonic() - began, 1))
    labels = {
        "world": "qoe_world3", "service": "kestrel", "seed": seed, "day": day, "day_start": day_start,
        "day_end": day_start + DAY_S, "sessions": stats.sessions, "events": stats.events,
        "incidents": [i.label() for i in schedule.incidents],
        "decoys": [d.label() for d in schedule.decoys],
    }
    labels_path.parent.mkdir(parents=True, exist_ok=True)
    labels_path.write_text(json.dumps(labels, indent=1))
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate one Kestrel (qoe_world3) day of schema-v2 telemetry.")
    parser.add_argument("--out", type=Path, required=True, help="events JSONL")
    parser.add_argument("--labels", type=Path, required=True, help="labels JSON (benchmarks.qoe_world.score format)")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--day", type=int, default=0)
    parser.add_argument("--sessions", type=int, default=DEFAULT_SESSIONS, help="baseline sessions (decoy crowds add)")
    parser.add_argument("--traces", type=Path, default=None, help="Pensieve-format throughput traces folder")
    args = parser.parse_args(argv)
    if args.sessions < 1:
        print(f"error: --sessions must be >= 1, got {args.sessions}", file=sys.stderr)
        return 2
    stats = generate_day(args.out, args.labels, args.seed, args.day, args.sessions, args.traces)
    print(f"{args.out}: {stats.sessions} sessions, {stats.events} events, {stats.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
