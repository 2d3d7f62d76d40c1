"""``streamlab experiment report``: per-arm metrics with CIs, the CUPED effect, SRM, a verdict; to MLflow.

Comparisons are each arm against the first (the control, conventionally the champion). Every
interval is at ``confidence`` (per comparison, Bonferroni over the non-control arms). The verdict
reads the CUPED estimate of the experiment's primary metric; the raw difference is reported beside
it so a reader sees what the variance reduction bought.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from streamlab.pipelines.experiment.outcomes import collect
from streamlab.streaming.experiment import stats
from streamlab.streaming.experiment.definition import Experiment, beacons_path, exposures_path
from streamlab.streaming.experiment.settings import METRICS, ExperimentSettings


def _finite(values: list[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[~np.isnan(array)]


def build_report(experiment: Experiment, settings: ExperimentSettings, beacons: Sequence[Path] | None = None) -> dict[str, Any]:
    """The report as a JSON-ready dict (what the CLI prints and MLflow keeps as ``report.json``)."""
    if beacons is None:  # the experiment's own file: absent until its first viewer played (no beacons yet, not an error)
        own = beacons_path(experiment.name)
        beacons = [own] if own.is_file() else []
    outcomes = collect(experiment, exposures_path(experiment.name), list(beacons), settings.pre_period_s)
    control = experiment.arms[0].name
    level = stats.bonferroni(settings.confidence, len(experiment.arms) - 1)
    primary = experiment.metric
    arms: dict[str, Any] = {}
    for arm in experiment.arms:
        out = outcomes[arm.name]
        arms[arm.name] = {
            "target": arm.label,
            "percent": arm.percent,
            "viewers": len(out.viewers),
            "sessions": out.sessions,
            "failed_sessions": out.failed_sessions,
            "metrics": {m: stats.mean_ci(_finite(out.metrics[m]), settings.confidence).as_dict() for m in METRICS},
        }
    # CUPED on the primary metric: theta pooled over every arm's viewers that have a value.
    ys, xs, owners = [], [], []
    for name, out in outcomes.items():
        y, x = np.asarray(out.metrics[primary], float), np.asarray(out.pre[primary], float)
        keep = ~np.isnan(y)
        ys.append(y[keep])
        xs.append(x[keep])
        owners += [name] * int(keep.sum())
    y_all, x_all, owner = np.concatenate(ys), np.concatenate(xs), np.asarray(owners)
    adjusted, theta = stats.cuped_adjust(y_all, x_all) if len(y_all) else (y_all, 0.0)
    with_pre = float(np.mean(~np.isnan(x_all))) if len(x_all) else 0.0
    effects: dict[str, Any] = {}
    cuped: dict[str, stats.Estimate] = {}
    for arm in experiment.arms[1:]:
        name = arm.name
        raw = {m: stats.difference_ci(_finite(outcomes[name].metrics[m]), _finite(outcomes[control].metrics[m]), level)
               for m in METRICS}
        cuped[name] = stats.difference_ci(adjusted[owner == name], adjusted[owner == control], level)
        pair = np.isin(owner, [name, control])
        var_raw, var_adj = (float(np.var(y_all[pair], ddof=1)), float(np.var(adjusted[pair], ddof=1))) if pair.sum() > 1 else (0.0, 0.0)
        effects[name] = {
            "vs": control,
            "difference": {m: e.as_dict() for m, e in raw.items()},
            "cuped": {**cuped[name].as_dict(), "metric": primary, "theta": round(theta, 6),
                      "variance_reduction": round(1 - var_adj / var_raw, 4) if var_raw > 0 else 0.0},
        }
    srm = stats.sample_ratio_check({a: v["viewers"] for a, v in arms.items()}, {a.name: a.percent for a in experiment.arms},
                                   settings.srm_alpha)
    decision = stats.verdict(srm, cuped, {a: v["viewers"] for a, v in arms.items()}, METRICS[primary],
                             settings.min_sessions_per_arm, settings.max_sessions_per_arm, control)
    return {
        "experiment": experiment.name,
        "metric": primary,
        "confidence": settings.confidence,
        "comparison_confidence": level,
        "control": control,
        "arms": arms,
        "effects": effects,
        "pre_period_coverage": round(with_pre, 4),
        "srm": {"chi2": round(srm.chi2, 4), "p_value": srm.p_value, "mismatch": srm.mismatch,
                "viewers": srm.counts, "expected_percent": srm.expected_percent},
        "verdict": {"decision": decision.decision, "winner": decision.winner, "reason": decision.reason},
    }


def log_report(report: dict[str, Any], experiment: Experiment, settings: ExperimentSettings) -> str:
    """Log the report to MLflow (metrics, ``report.json``) and tag every model version an arm serves."""
    from streamlab.core import tracking

    versions = [(a.target.model, a.version) for a in experiment.arms if a.target.model and a.version]
    tags = {"experiment": experiment.name, "verdict": report["verdict"]["decision"],
            "winner": str(report["verdict"]["winner"]),
            "model_versions": ",".join(f"{m}/{v}" for m, v in versions) or "(heuristics only)"}
    params = {"metric": experiment.metric, "confidence": settings.confidence,
              "arms": {a.name: {"target": a.label, "percent": a.percent} for a in experiment.arms}}
    with tracking.start_run(settings.tracking_experiment, run_name=f"{experiment.name}-report", params=params, tags=tags) as run:
        mlflow = tracking.configure()
        metrics: dict[str, float] = {}
        for arm, body in report["arms"].items():
            metrics[f"{arm}.viewers"] = body["viewers"]
            for metric, estimate in body["metrics"].items():
                metrics[f"{arm}.{metric}.mean"] = estimate["value"]
        for arm, body in report["effects"].items():
            metrics[f"{arm}.cuped_effect"] = body["cuped"]["value"]
            metrics[f"{arm}.cuped_low"] = body["cuped"]["low"]
            metrics[f"{arm}.cuped_high"] = body["cuped"]["high"]
        metrics["srm_p_value"] = report["srm"]["p_value"]
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)})
        tracking.log_json(report, "report.json")
        run_id = run.info.run_id
    client = tracking.configure().MlflowClient()
    for model, version in versions:
        client.set_model_version_tag(model, version, f"experiment.{experiment.name}",
                                     f"{report['verdict']['decision']} (winner {report['verdict']['winner']}); run {run_id}")
    return run_id


def format_report(report: dict[str, Any]) -> str:
    """The report as a few human lines: per-arm metrics, each effect vs the control, SRM, the verdict."""

    def ci(e: dict[str, Any]) -> str:
        return f"{e['value']:.4g} [{e['low']:.4g}, {e['high']:.4g}]"

    lines = [f"experiment {report['experiment']} (metric {report['metric']}, {report['confidence']:.0%} CIs)"]
    for arm, body in report["arms"].items():
        metrics = "  ".join(f"{m} {ci(e)}" for m, e in body["metrics"].items())
        lines.append(f"  {arm} ({body['target']}, {body['percent']:g}%): {body['viewers']} viewers, "
                     f"{body['sessions']} sessions, {body['failed_sessions']} failed; {metrics}")
    for arm, body in report["effects"].items():
        raw = body["difference"][report["metric"]]
        lines.append(f"  {arm} - {body['vs']}: {report['metric']} {ci(raw)}; CUPED {ci(body['cuped'])} "
                     f"(variance -{body['cuped']['variance_reduction']:.0%}, pre-period coverage {report['pre_period_coverage']:.0%})")
    srm = report["srm"]
    lines.append(f"  sample ratio: {srm['viewers']} vs {srm['expected_percent']}% -> chi2 {srm['chi2']:.3g}, "
                 f"p {srm['p_value']:.3g}{'  MISMATCH' if srm['mismatch'] else ''}")
    v = report["verdict"]
    lines.append(f"verdict: {v['decision']}" + (f" (winner {v['winner']})" if v["winner"] else "") + f": {v['reason']}")
    return "\n".join(lines)
