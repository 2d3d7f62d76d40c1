"""The closing-note experiment: fixed vs per-title (hull, predicted; H.264 and AV1) on the real clips.

For every clip: the exhaustive hull ladder, and the predicted ladder from a model that never saw
that clip or its segments (leave-one-group-out, so the number is honest), for each codec; every
ladder is encoded and scored against the source next to the stack's fixed ladder, and BD-rate is
computed on the ladders as published and on their curves extended over the fixed ladder's range
(:func:`streamlab.training.ladder.evaluate.extended_for_comparison`). RD plots and a summary go to MLflow
and to ``<out_dir>``.
"""

from __future__ import annotations

import json
from pathlib import Path

from streamlab.models.ladder.cost import delivery_cost
from streamlab.models.ladder.settings import LadderOptimizerSettings
from streamlab.streaming.transcode.per_title.optimize import hull_search, predicted_ladder
from streamlab.streaming.transcode.per_title.shots import shot_search
from streamlab.streaming.transcode.per_title.source import source_facts
from streamlab.training.ladder.corpus import CorpusEntry
from streamlab.training.ladder.evaluate import evaluate_ladders, extended_for_comparison, rd_figure
from streamlab.training.ladder.train import fit_excluding

EXPERIMENT = "ladder-real-clips"


def report_real_clips(
    clips: list[Path], entries: list[CorpusEntry], settings: LadderOptimizerSettings, out_dir: Path,
    codecs: tuple[str, ...] = ("h264", "av1"), log_mlflow: bool = True, shots: bool = False,
) -> dict:  # fmt: skip
    from streamlab.core import tracking

    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict = {}
    for clip in clips:
        facts = source_facts(clip, settings)
        predictor = fit_excluding(entries, clip.stem)
        ladders = {}
        row: dict = {}
        for codec in codecs:
            search = hull_search(facts, codec, settings)  # type: ignore[arg-type]
            predicted = predicted_ladder(facts, codec, settings, predictor)  # type: ignore[arg-type]
            trial_encode_cpu_s = sum(p.encode_cpu_s for p in search.points)
            row[codec] = {
                "hull_decision_cpu_s": search.ladder.decision_cpu_s,
                "hull_trial_encode_cpu_s": round(trial_encode_cpu_s, 2),
                "predicted_decision_cpu_s": predicted.decision_cpu_s,
                "cpu_ratio_predicted_vs_hull_encodes": round(
                    predicted.decision_cpu_s / max(trial_encode_cpu_s, 1e-9), 4
                ),
                "hull_rungs": [r.model_dump() for r in search.ladder.rungs],
                "predicted_rungs": [r.model_dump() for r in predicted.rungs],
                "predicted_notes": predicted.notes,  # the top-rung verification (configs/ladder.yaml verify) says here
            }
            candidates = [(f"{codec} hull", search.ladder), (f"{codec} predicted", predicted)]
            if shots:
                shot_based = shot_search(facts, codec, settings)  # type: ignore[arg-type]
                row[codec]["shots_decision_cpu_s"] = round(shot_based.cpu_s, 2)
                row[codec]["cpu_ratio_shots_vs_hull"] = round(shot_based.cpu_s / max(search.ladder.decision_cpu_s, 1e-9), 3)
                row[codec]["shots"] = shot_based.shots
                row[codec]["shots_rungs"] = [r.model_dump() for r in shot_based.ladder.rungs]
                candidates.append((f"{codec} shots", shot_based.ladder))
            for name, ladder in candidates:
                ladders[name] = ladder
                if ladder.method != "shots":  # a shot-based rung's CRFs are per shot: no single-CRF extension
                    ladders[f"{name} +ext"] = extended_for_comparison(ladder)
        results = evaluate_ladders(facts, ladders)
        for name, ev in results.items():
            codec = name.split()[0]
            row[codec].setdefault("bd_rate_pct", {})[name] = ev.bd_rate_pct
            row[codec].setdefault("measured", {})[name] = [
                (round(m.bitrate_kbps, 1), round(m.vmaf, 2), m.id, m.shot_vmaf) for m in ev.ladder
            ]
            if not name.endswith("+ext"):
                row[codec].setdefault("cost", {})[name] = delivery_cost(
                    [m.bitrate_kbps for m in ev.ladder], settings.cost).model_dump()  # fmt: skip
        fixed_measured = next(iter(results.values())).fixed
        row["fixed"] = [(round(m.bitrate_kbps, 1), round(m.vmaf, 2), m.id) for m in fixed_measured]
        row["fixed_cost"] = delivery_cost([m.bitrate_kbps for m in fixed_measured], settings.cost).model_dump()
        summary[clip.stem] = row
        figure = rd_figure(
            {k: v for k, v in results.items() if not k.endswith("+ext")}, f"{clip.name}: per-title vs fixed"
        )
        figure.savefig(out_dir / f"{clip.stem}.rd.png", dpi=110)
        figure_ext = rd_figure(
            {k: v for k, v in results.items() if k.endswith("+ext")},
            f"{clip.name}: per-title curves (extended) vs fixed",
        )
        figure_ext.savefig(out_dir / f"{clip.stem}.rd_ext.png", dpi=110)
        if log_mlflow:
            with tracking.start_run(EXPERIMENT, run_name=clip.stem, params={"clip": clip.name}):
                mlflow = tracking.configure()
                for name, ev in results.items():
                    if ev.bd_rate_pct is not None:
                        mlflow.log_metric("bd_rate_pct." + name.replace(" ", "_").replace("+", ""), ev.bd_rate_pct)
                tracking.log_figure(figure, f"{clip.stem}.rd.png")
                tracking.log_figure(figure_ext, f"{clip.stem}.rd_ext.png")
                tracking.log_json(row, "summary.json")
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
