"""The shot-based acceptance report (issue 21): shot-based per-title ladders vs the fixed ladder, on real clips.

For every clip and codec (H.264, AV1) it runs what ``stream ingest --ladder per-title`` runs with
``per_title_method: shots`` (:func:`~streamlab.streaming.transcode.per_title.shots.shot_search`),
the whole-title hull search (for its CPU only: the trials are cached), and the *predicted* shot-based
ladder (:func:`~streamlab.streaming.transcode.per_title.shots.predicted_shot_search`) from a model
that never saw the held-out clip (``shots.held_out_clip``). Every rung of every ladder, and the
stack's fixed ladder, is encoded as ingest publishes it and scored against the source at full frame
rate (:func:`streamlab.training.ladder.evaluate.evaluate_ladders`). Per clip and codec it reports:

- BD-rate of the shot-based ladder vs the fixed ladder over their shared VMAF range (real bytes);
- top-rung VMAF of fixed and shot-based, and whether the ceiling is met where fixed reaches it;
- the worst shot of each rung vs the rung's pooled VMAF (acceptance: within ``shots.jnd_vmaf``);
- the CPU of the shot search vs the whole-title hull search;
- the predicted shot ladder: BD-quality (VMAF at equal bitrate) vs the shot-based ladder's measured
  curve, and its CPU as a share of the shot search's (goal: within 3 VMAF at <= 25 % of the CPU);
- the delivery-cost view (GB per hour watched, CDN $ per million hours) of every ladder.

It also measures the ladder ingest publishes with the committed ``per_title_method`` (the *default*
method: ``predicted`` is the whole-title predicted ladder with its verified top rung, from the same
held-out model), because that, not the shot-based method, is what ``stream ingest --ladder per-title``
runs: BD-rate vs fixed, top-rung VMAF (and what the verification measured for it), worst shot, CPU.

The held-out clip is reported on its own line; averages are over the other clips. Outputs (also
logged to MLflow): ``acceptance.json``, ``acceptance.md``, RD plots per codec and clip, and the
per-shot operating points of one rung. Run it with ``streamlab ladder acceptance`` or::

    python -m streamlab.training.ladder.shot_report [OUT_DIR] [configs/ladder.yaml overrides ...]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streamlab.models.ladder.bdrate import BDRateError, bd_quality, rate_at_anchor_quality
from streamlab.models.ladder.cost import CostSettings, delivery_cost
from streamlab.models.ladder.dynamic import shot_ladder
from streamlab.models.ladder.schema import Codec, Ladder
from streamlab.models.ladder.settings import LadderOptimizerSettings, RuleSettings, load_ladder_settings
from streamlab.training.ladder.evaluate import LadderEvaluation, MeasuredRung, finish_rd_axes, rd_figure

EXPERIMENT = "ladder-shots-acceptance"
CODECS: tuple[Codec, ...] = ("h264", "av1")
GOALS = {"bd_rate_pct": {"h264": -30.0, "av1": -60.0}, "top_vmaf": 95.0, "predicted_vmaf_gap": 3.0,
         "predicted_cpu_share": 0.25}  # fmt: skip
"""The issue's acceptance goals (the worst-shot bound is ``shots.jnd_vmaf``)."""


def codec_row(
    shots: LadderEvaluation,
    predicted: LadderEvaluation,
    *,
    shots_curve: LadderEvaluation | None = None,
    predicted_curve: LadderEvaluation | None = None,
    shots_cpu_s: float,
    hull_cpu_s: float,
    predicted_cpu_s: float,
    top_vmaf: float,
    jnd_vmaf: float,
    cost: CostSettings,
) -> dict[str, Any]:
    """One clip and codec of the table, from the measured ladders (pure: no encoding here).

    ``*_curve``: the evaluation-only curves (:func:`comparison_rules`) where the published ladders are
    too short to compare. The BD-rate that counts toward the goal is the published ladders' when they
    share a range, else the curve's, else the rate at the fixed rungs' own qualities; ``bd_basis`` says which.
    """
    fixed_top = max(m.vmaf for m in shots.fixed)
    shots_top = max(m.vmaf for m in shots.ladder)
    gaps = [round(m.vmaf - min(m.shot_vmaf), 2) for m in shots.ladder if m.shot_vmaf]
    shots_pts = _curve((shots_curve or shots).ladder)
    predicted_pts = _curve((predicted_curve or predicted).ladder)
    try:
        gap: float | str = round(bd_quality(shots_pts, predicted_pts), 2)
    except BDRateError as exc:
        gap = f"n/a: {exc}"
    try:
        at_fixed: float | str = round(rate_at_anchor_quality(_curve(shots.fixed), shots_pts), 2)
    except BDRateError as exc:
        at_fixed = f"n/a: {exc}"
    published = None if shots.bd_rate_pct is None else round(shots.bd_rate_pct, 2)
    curve = None if shots_curve is None or shots_curve.bd_rate_pct is None else round(shots_curve.bd_rate_pct, 2)
    basis, goal_bd = next(((b, v) for b, v in (("published", published), ("curve", curve),
                           ("at fixed rungs' quality", at_fixed)) if isinstance(v, float)), ("none", None))  # fmt: skip
    return {
        "bd_rate_pct": goal_bd,
        "bd_basis": basis,
        "bd_rate_published_pct": published,
        "bd_rate_published_note": shots.note,
        "bd_rate_curve_pct": curve,
        "rate_at_fixed_quality_pct": at_fixed,
        "shared_vmaf_range": shots.shared_vmaf_range,
        "top_vmaf": {"fixed": round(fixed_top, 2), "shots": round(shots_top, 2),
                     "predicted": round(max(m.vmaf for m in predicted.ladder), 2)},  # fmt: skip
        # the ceiling is owed where the fixed ladder reaches it (a source that cannot is not held to it)
        "top_vmaf_ok": shots_top >= top_vmaf or fixed_top < top_vmaf,
        "worst_shot_below_mean": gaps,
        "worst_shot_ok": all(g <= jnd_vmaf + 1e-9 for g in gaps),
        "cpu_s": {"shots": round(shots_cpu_s, 2), "hull": round(hull_cpu_s, 2), "predicted": round(predicted_cpu_s, 2)},
        "cpu_ratio_shots_vs_hull": round(shots_cpu_s / max(hull_cpu_s, 1e-9), 3),
        "predicted_bd_vmaf_vs_shots": gap,
        "predicted_cpu_share_of_shots": round(predicted_cpu_s / max(shots_cpu_s, 1e-9), 4),
        "predicted_bd_rate_pct": None if predicted.bd_rate_pct is None else round(predicted.bd_rate_pct, 2),
        "rungs": {name: _points(ev.ladder) for name, ev in (("fixed", _fixed(shots)), ("shots", shots),
                  ("predicted", predicted), ("shots curve", shots_curve), ("predicted curve", predicted_curve))
                  if ev is not None},  # fmt: skip
        "cost": {name: delivery_cost([m.bitrate_kbps for m in ms], cost).model_dump()
                 for name, ms in (("fixed", shots.fixed), ("shots", shots.ladder), ("predicted", predicted.ladder))},
    }  # fmt: skip


def default_row(ev: LadderEvaluation, ladder: Ladder, *, method: str, top_vmaf: float, jnd_vmaf: float) -> dict[str, Any]:
    """The default method's ladder (what ingest publishes) as the maintainers score it (pure: no encoding here).

    BD-rate over the shared range of the published renditions when there is one, else the rate at
    the fixed rungs' own qualities; the ceiling is owed where the fixed ladder reaches it. ``verified``
    is what the top-rung verification measured (uncapped, every frame) vs ``published`` (the real,
    capped rendition): the gap is the verification's blind spot.
    """
    fixed_top = max(m.vmaf for m in ev.fixed)
    top = max(ev.ladder, key=lambda m: m.bitrate_kbps)
    gaps = [round(m.vmaf - min(m.shot_vmaf), 2) for m in ev.ladder if m.shot_vmaf]
    try:
        at_fixed: float | str = round(rate_at_anchor_quality(_curve(ev.fixed), _curve(ev.ladder)), 2)
    except BDRateError as exc:
        at_fixed = f"n/a: {exc}"
    published = None if ev.bd_rate_pct is None else round(ev.bd_rate_pct, 2)
    basis, goal_bd = next(((b, v) for b, v in (("published", published), ("at fixed rungs' quality", at_fixed))
                           if isinstance(v, float)), ("none", None))  # fmt: skip
    return {
        "method": method,
        "bd_rate_pct": goal_bd,
        "bd_basis": basis,
        "bd_rate_published_note": ev.note,
        "shared_vmaf_range": ev.shared_vmaf_range,
        "top_vmaf": {"fixed": round(fixed_top, 2), "default": round(top.vmaf, 2),
                     "verified": ladder.rungs[0].measured_vmaf},  # fmt: skip
        "top_vmaf_ok": top.vmaf >= top_vmaf or fixed_top < top_vmaf,
        "top_preset": top.rung.encoder.preset,
        "worst_shot_below_mean": gaps,
        "worst_shot_ok": all(g <= jnd_vmaf + 1e-9 for g in gaps),
        "cpu_s": round(ladder.decision_cpu_s, 2),
        "publish_encode_cpu_s": round(ev.ladder_encode_cpu_s, 2),
        "notes": ladder.notes,
        "rungs": _points(ev.ladder),
    }


def comparison_rules(rules: RuleSettings) -> RuleSettings:
    """Rules for an evaluation-only curve: from the best the grid reaches down, half a JND apart, no rate window.

    A published shot-based ladder stops at the ceiling and drops rungs under ``min_bitrate_kbps``; on
    a small source that leaves one or two rungs, no curve to compare. The same per-shot curves, chosen
    from by the same optimizer with these rules, give one (never published).
    """
    return rules.model_copy(update={"top_vmaf": 100.0, "vmaf_step": rules.vmaf_step / 2, "min_bitrate_kbps": 1,
                                    "max_rungs": 8, "lowest_throughput_kbps": 1})  # fmt: skip


def acceptance_table(summary: dict[str, dict[str, Any]], held_out: str | None) -> str:
    """The markdown table: one line per clip and codec, the held-out clip apart, averages over the rest."""
    lines = [
        "| clip | codec | BD-rate vs fixed | top VMAF fixed / shots | worst shot below rung mean (max) | "
        "shot search CPU / hull CPU | predicted: BD-VMAF vs shots, CPU share | $/M hours (low price) fixed -> shots |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for clip in _ordered(summary, held_out):
        for codec in CODECS:
            row = summary[clip].get(codec)
            if row is None or "bd_basis" not in row:  # only the default method was measured
                continue
            bd = f"{row['bd_rate_pct']:+.1f}% ({row['bd_basis']})" if row["bd_rate_pct"] is not None else "n/a"
            worst = max(row["worst_shot_below_mean"], default=0.0)
            gap = row["predicted_bd_vmaf_vs_shots"]
            gap_s = f"{gap:+.2f}" if isinstance(gap, float) else "n/a"
            cost = row["cost"]
            label = f"{clip} (held out)" if clip == held_out else clip
            lines.append(
                f"| {label} | {codec} | {bd} | {row['top_vmaf']['fixed']:.1f} / {row['top_vmaf']['shots']:.1f}"
                f"{'' if row['top_vmaf_ok'] else ' (miss)'} | {worst:.1f} | {row['cpu_s']['shots']:.0f} s / "
                f"{row['cpu_s']['hull']:.0f} s ({row['cpu_ratio_shots_vs_hull']:.2f}x) | {gap_s} VMAF, "
                f"{100 * row['predicted_cpu_share_of_shots']:.1f}% | "
                f"${_usd(cost['fixed']):,.0f} -> ${_usd(cost['shots']):,.0f} |"
            )  # fmt: skip
    if len(lines) > 2:
        for codec, mean in averages(summary, held_out).items():
            value = f"{mean:+.1f}%" if mean is not None else "n/a (no clip with a comparable curve)"
            lines.append(f"\nMean BD-rate vs fixed, {codec}, clips other than the held-out one: {value} "
                         f"(goal <= {GOALS['bd_rate_pct'][codec]:+.0f}%)")  # fmt: skip
    else:
        lines = []
    tail = default_table(summary, held_out)
    return "\n".join(lines) + ("\n\n" if lines and tail else "\n" if lines else "") + tail


def averages(summary: dict[str, dict[str, Any]], held_out: str | None, block: str | None = None) -> dict[str, float | None]:
    """Mean BD-rate vs fixed per codec over the clips that are not held out and have a shared range.

    ``block``: a method's own entry in each codec row (``"default"``); ``None``: the shot-based row itself.
    """
    out: dict[str, float | None] = {}
    for codec in CODECS:
        entries = [row[codec] if block is None else row[codec].get(block) for clip, row in summary.items()
                   if clip != held_out and codec in row]  # fmt: skip
        values = [e["bd_rate_pct"] for e in entries if e and e["bd_rate_pct"] is not None]
        out[codec] = sum(values) / len(values) if values else None
    return out


def default_table(summary: dict[str, dict[str, Any]], held_out: str | None) -> str:
    """The default method's table (what ingest publishes), held-out clip apart, averages over the rest."""
    rows = [(clip, codec, summary[clip][codec]["default"]) for clip in _ordered(summary, held_out) for codec in CODECS
            if "default" in summary[clip].get(codec, {})]  # fmt: skip
    if not rows:
        return ""
    lines = [
        f"Default method (`per_title_method: {rows[0][2]['method']}`, what `stream ingest --ladder per-title` runs):",
        "",
        "| clip | codec | BD-rate vs fixed | top VMAF fixed / published (verified) | top preset | worst shot below "
        "rung mean (max) | decision CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for clip, codec, d in rows:
        bd = f"{d['bd_rate_pct']:+.1f}% ({d['bd_basis']})" if d["bd_rate_pct"] is not None else "n/a"
        verified = d["top_vmaf"]["verified"]
        worst = f"{max(d['worst_shot_below_mean']):.1f}" if d["worst_shot_below_mean"] else "- (one CRF per rung)"
        label = f"{clip} (held out)" if clip == held_out else clip
        lines.append(f"| {label} | {codec} | {bd} | {d['top_vmaf']['fixed']:.1f} / {d['top_vmaf']['default']:.1f}"
                     f"{'' if verified is None else f' ({verified:.1f})'}{'' if d['top_vmaf_ok'] else ' (miss)'} | "
                     f"{d['top_preset']} | {worst} | {d['cpu_s']:.0f} s |")  # fmt: skip
    for codec, mean in averages(summary, held_out, "default").items():
        value = f"{mean:+.1f}%" if mean is not None else "n/a"
        lines.append(f"\nMean BD-rate vs fixed, default method, {codec}, clips other than the held-out one: {value} "
                     f"(goal <= {GOALS['bd_rate_pct'][codec]:+.0f}%)")  # fmt: skip
    return "\n".join(lines) + "\n"


def _ordered(summary: dict[str, Any], held_out: str | None) -> list[str]:
    return [c for c in summary if c != held_out] + ([held_out] if held_out in summary else [])


def shot_points_figure(search, rung_index: int, title: str):  # noqa: ANN001, ANN201 - ShotSearch, matplotlib Figure
    """Each shot's measured RD curve at one rung's size, the point the optimizer chose, and the rung's floor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rung = search.ladder.rungs[rung_index]
    mine = sorted((r for r in search.results if (r.width, r.height) == (rung.width, rung.height)), key=lambda r: r.crf)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, shot in enumerate(rung.shots or []):
        color = f"C{i % 10}"
        ax.plot([r.kbps[i] for r in mine], [r.vmaf[i] for r in mine], "-o", color=color, ms=3, alpha=0.6,
                label=f"shot {i + 1} ({shot.start_s:g}-{shot.start_s + shot.duration_s:g} s)")  # fmt: skip
        ax.plot([shot.expected_kbps], [shot.expected_vmaf], "*", color=color, ms=14, mec="k")
        ax.annotate(f"crf {shot.crf:g}", (shot.expected_kbps or 0, shot.expected_vmaf or 0), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")  # fmt: skip
    if rung.expected_vmaf is not None:
        ax.axhline(rung.expected_vmaf, color="k", lw=0.8, label=f"rung pooled VMAF {rung.expected_vmaf:.1f}")
    return finish_rd_axes(fig, ax, "shot bitrate (kbit/s, log)", "shot VMAF",
                          f"{title}: {rung.id}, per-shot operating points (stars)")  # fmt: skip


MIN_CURVE_RUNGS = 4
"""Published ladders shorter than this are also compared as evaluation-only curves (:func:`comparison_rules`)."""


def curve_ladder(ladder: Ladder, per_size: dict, settings: LadderOptimizerSettings) -> Ladder:
    """A shot-based ladder's evaluation-only curve: same per-shot curves and optimizer, :func:`comparison_rules`."""
    grid = settings.grid.codec(ladder.codec)
    rungs = shot_ladder(per_size, comparison_rules(settings.rules), ladder.codec, preset=grid.published_preset,
                        tune=grid.tune, params=grid.publish_params, jnd_vmaf=settings.shots.jnd_vmaf,
                        crf_step=settings.shots.crf_step, top_margin_vmaf=settings.shots.top_margin_vmaf)  # fmt: skip
    return ladder.model_copy(update={"rungs": rungs, "notes": [*ladder.notes, "evaluation-only curve"]})


METHODS = ("default", "shots")
"""What the acceptance measures: the default method's ladder, and the shot-based comparison (shots, the
whole-title hull's CPU, the predicted shot ladder)."""


def run_acceptance(
    clips: Sequence[Path],
    settings: LadderOptimizerSettings,
    out_dir: Path,
    *,
    codecs: Sequence[Codec] = CODECS,
    methods: Sequence[str] = METHODS,
    ingest_model: bool = False,
    log_mlflow: bool = True,
) -> dict[str, Any]:
    """Measure every clip (see the module docstring); write and return the summary.

    ``methods``: ``default`` (the ladder ingest publishes) and/or ``shots`` (the shot-based comparison).
    ``ingest_model``: the default method's predicted ladders come from the model ingest loads
    (``predictor.model_alias``, else the committed default: it has seen every real clip, so no clip is
    held out from it) instead of the held-out model.
    """
    from streamlab.core import tracking
    from streamlab.streaming.transcode.per_title.optimize import hull_search
    from streamlab.streaming.transcode.per_title.shots import predicted_shot_search, shot_search
    from streamlab.streaming.transcode.per_title.selector import method_ladders
    from streamlab.streaming.transcode.per_title.source import source_facts
    from streamlab.training.ladder.corpus import load_corpus
    from streamlab.training.ladder.evaluate import evaluate_ladders
    from streamlab.training.ladder.train import fit_excluding

    out_dir.mkdir(parents=True, exist_ok=True)
    held_out = settings.shots.held_out_clip
    predictor = fit_excluding(load_corpus(), held_out)  # trained on every clip but the held-out one
    with_shots = "shots" in methods
    summary: dict[str, Any] = {}
    for clip in clips:
        facts = source_facts(clip, settings)
        searches, predicted, hull_cpu = {}, {}, {}
        ladders: dict[str, Ladder] = {}
        if with_shots:
            for codec in codecs:
                # Measured now, as the shot search is (it never recalls trials): a remembered hull carries
                # an earlier run's CPU on another load (1.03x vs 1.35x for one unchanged AV1 search).
                hull_cpu[codec] = hull_search(facts, codec, settings, cache=False).ladder.decision_cpu_s
                searches[codec] = shot_search(facts, codec, settings)
                predicted[codec] = predicted_shot_search(facts, codec, settings, predictor)
            ladders = {f"{c} {kind}": (searches[c] if kind == "shots" else predicted[c]).ladder
                       for c in codecs for kind in ("shots", "predicted-shots")}  # fmt: skip
            for codec in codecs:
                if min(len(searches[codec].ladder.rungs), len(predicted[codec].ladder.rungs)) < MIN_CURVE_RUNGS:
                    for kind, search in (("shots", searches[codec]), ("predicted-shots", predicted[codec])):
                        ladders[f"{codec} {kind} curve"] = curve_ladder(search.ladder, search.per_size, settings)
        defaults: dict[str, Ladder] = {}
        if "default" in methods:
            defaults = dict(zip(codecs, method_ladders(facts, codecs, settings, None if ingest_model else predictor,
                                                       searches), strict=True))  # fmt: skip
            if not (with_shots and settings.per_title_method == "shots"):  # else: the shots ladders, measured above
                ladders.update({f"{c} default": defaults[c] for c in codecs})
        results = evaluate_ladders(facts, ladders)
        row: dict[str, Any] = {"held_out": clip.stem == held_out}
        figures = {}
        for codec in codecs:
            row[codec] = {}
            if with_shots:
                row[codec] = codec_row(results[f"{codec} shots"], results[f"{codec} predicted-shots"],
                                       shots_curve=results.get(f"{codec} shots curve"),
                                       predicted_curve=results.get(f"{codec} predicted-shots curve"),
                                       shots_cpu_s=searches[codec].cpu_s, hull_cpu_s=hull_cpu[codec],
                                       predicted_cpu_s=predicted[codec].cpu_s, top_vmaf=settings.rules.top_vmaf,
                                       jnd_vmaf=settings.shots.jnd_vmaf, cost=settings.cost)  # fmt: skip
            if defaults:
                ev = results.get(f"{codec} default") or results[f"{codec} shots"]
                row[codec]["default"] = default_row(ev, defaults[codec], method=settings.per_title_method,
                                                    top_vmaf=settings.rules.top_vmaf, jnd_vmaf=settings.shots.jnd_vmaf)  # fmt: skip
            figures[f"{clip.stem}.{codec}.rd.png"] = rd_figure(
                {k: v for k, v in results.items() if k.startswith(codec)}, f"{clip.name} {codec}: per-title vs fixed"
            )
        if with_shots:
            row["shots"] = searches[codecs[0]].shots
            first = searches[codecs[0]]
            figures[f"{clip.stem}.{codecs[0]}.shot_points.png"] = shot_points_figure(
                first, min(1, len(first.ladder.rungs) - 1), f"{clip.name} {codecs[0]}"
            )
        for name, figure in figures.items():
            figure.savefig(out_dir / name, dpi=110)
        summary[clip.stem] = row
        if log_mlflow:
            with tracking.start_run(EXPERIMENT, run_name=clip.stem, params={"clip": clip.name, "held_out": held_out,
                                    "per_title_method": settings.per_title_method}):  # fmt: skip
                mlflow = tracking.configure()
                for codec in codecs:
                    for prefix, entry in (("", row[codec]), ("default.", row[codec].get("default") or {})):
                        if entry.get("bd_rate_pct") is not None:
                            mlflow.log_metric(f"{prefix}bd_rate_pct.{codec}", entry["bd_rate_pct"])
                    if with_shots:
                        mlflow.log_metric(f"cpu_ratio_shots_vs_hull.{codec}", row[codec]["cpu_ratio_shots_vs_hull"])
                        if isinstance(row[codec]["predicted_bd_vmaf_vs_shots"], float):
                            mlflow.log_metric(f"predicted_bd_vmaf.{codec}", row[codec]["predicted_bd_vmaf_vs_shots"])
                for name, figure in figures.items():
                    tracking.log_figure(figure, name)
                tracking.log_json(row, "acceptance.json")
        else:
            import matplotlib.pyplot as plt

            for figure in figures.values():
                plt.close(figure)
        (out_dir / "acceptance.json").write_text(json.dumps(summary, indent=1))
    (out_dir / "acceptance.md").write_text(acceptance_table(summary, held_out))
    return summary


def _usd(cost: dict[str, Any]) -> float:
    """Delivery cost per million hours at the low end of the configured price range."""
    return float(cost["usd_per_million_hours"][0])


def _fixed(ev: LadderEvaluation) -> LadderEvaluation:
    return ev.model_copy(update={"ladder": ev.fixed})


def _curve(points: list[MeasuredRung]) -> list[tuple[float, float]]:
    return [(m.bitrate_kbps, m.vmaf) for m in points]


def _points(points: list[MeasuredRung]) -> list[tuple[str, float, float]]:
    return [(m.id, round(m.bitrate_kbps, 1), round(m.vmaf, 2)) for m in points]


def main(argv: list[str]) -> None:
    from streamlab.core import project

    out_dir = Path(argv[0]) if argv else Path(".state/ladder/acceptance")
    settings = load_ladder_settings(argv[1:])
    clips = [project.raw_data_dir() / "videos" / f"{name}.mp4" for name in settings.corpus.real]
    summary = run_acceptance(clips, settings, out_dir)
    print(acceptance_table(summary, settings.shots.held_out_clip))


if __name__ == "__main__":
    main(sys.argv[1:])
