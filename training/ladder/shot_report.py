"""Shot-based vs whole-title ladders on one clip: BD-rate vs fixed, top rung, worst shot, search CPU, cost.

For each codec the whole-title hull ladder and the shot-based ladder are chosen, then every rung
of both, and the stack's fixed ladder, is encoded as ingest would publish it (shot-based rungs
shot by shot through the stack's encoder) and scored against the source at full frame rate
(:func:`streamlab.training.ladder.evaluate.evaluate_ladders`). Run it with::

    python -m streamlab.training.ladder.shot_report CLIP [OUT_DIR] [configs/ladder.yaml overrides ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from streamlab.models.ladder.bdrate import BDRateError, bd_rate
from streamlab.models.ladder.cost import delivery_cost
from streamlab.models.ladder.schema import Ladder
from streamlab.models.ladder.settings import LadderOptimizerSettings, load_ladder_settings
from streamlab.streaming.transcode.per_title.optimize import hull_search
from streamlab.streaming.transcode.per_title.shots import shot_search
from streamlab.streaming.transcode.per_title.source import source_facts
from streamlab.training.ladder.evaluate import evaluate_ladders, rd_figure


def compare_shots(clip: Path, settings: LadderOptimizerSettings, out_dir: Path, codecs=("h264", "av1")) -> dict:  # noqa: ANN001
    """The comparison for one clip (see the module docstring); writes ``<clip>.shots.json`` and RD plots."""
    out_dir.mkdir(parents=True, exist_ok=True)
    facts = source_facts(clip, settings)
    ladders: dict[str, Ladder] = {}
    row: dict[str, Any] = {}
    for codec in codecs:
        hull = hull_search(facts, codec, settings)
        shots = shot_search(facts, codec, settings)
        ladders[f"{codec} hull"], ladders[f"{codec} shots"] = hull.ladder, shots.ladder
        row[codec] = {
            "hull_cpu_s": hull.ladder.decision_cpu_s,
            "shots_cpu_s": round(shots.cpu_s, 2),
            "shots_detect_cpu_s": round(shots.detect_cpu_s, 3),
            "cpu_ratio_shots_vs_hull": round(shots.cpu_s / max(hull.ladder.decision_cpu_s, 1e-9), 3),
            "shot_boundaries": shots.shots,
            "shot_rungs": [r.model_dump(exclude_none=True) for r in shots.ladder.rungs],
        }
    results = evaluate_ladders(facts, ladders)
    fixed = next(iter(results.values())).fixed
    row["fixed"] = {
        "rungs": [(m.rung.id, round(m.bitrate_kbps, 1), round(m.vmaf, 2)) for m in fixed],
        "top_vmaf": round(max(m.vmaf for m in fixed), 2),
        "cost": delivery_cost([m.bitrate_kbps for m in fixed], settings.cost).model_dump(),
    }
    for name, ev in results.items():
        codec, method = name.split()
        entry = row[codec].setdefault(method, {})
        entry["bd_rate_vs_fixed_pct"] = None if ev.bd_rate_pct is None else round(ev.bd_rate_pct, 2)
        entry["rungs"] = [(m.rung.id, round(m.bitrate_kbps, 1), round(m.vmaf, 2), m.shot_vmaf) for m in ev.ladder]
        entry["top_vmaf"] = round(max(m.vmaf for m in ev.ladder), 2)
        entry["cost"] = delivery_cost([m.bitrate_kbps for m in ev.ladder], settings.cost).model_dump()
        gaps = [m.vmaf - min(m.shot_vmaf) for m in ev.ladder if m.shot_vmaf]
        if gaps:
            entry["worst_shot_below_mean_max"] = round(max(gaps), 2)
    for codec in codecs:
        hull_pts = [(m.bitrate_kbps, m.vmaf) for m in results[f"{codec} hull"].ladder]
        shot_pts = [(m.bitrate_kbps, m.vmaf) for m in results[f"{codec} shots"].ladder]
        try:
            row[codec]["bd_rate_shots_vs_hull_pct"] = round(bd_rate(hull_pts, shot_pts), 2)
        except BDRateError as exc:
            row[codec]["bd_rate_shots_vs_hull_pct"] = str(exc)
    figure = rd_figure(results, f"{clip.name}: shot-based vs whole-title vs fixed")
    figure.savefig(out_dir / f"{clip.stem}.shots.rd.png", dpi=110)
    (out_dir / f"{clip.stem}.shots.json").write_text(json.dumps(row, indent=1))
    return row


def main(argv: list[str]) -> None:
    clip = Path(argv[0])
    out_dir = Path(argv[1]) if len(argv) > 1 else Path(".state/ladder/shots")
    row = compare_shots(clip, load_ladder_settings(argv[2:]), out_dir)
    print(json.dumps(row, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
