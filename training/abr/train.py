"""``streamlab abr train``: rollouts (Ray) -> goodput quantile model -> planner knobs chosen on training traces.

The validation split is held out: nothing is fitted or chosen on it (the quantile model trains on
rollouts over the training traces; the planner knobs are chosen on the training traces plus rotated
copies and copies with deep drops added), so its scores are what an unseen trace set would give.

Every run is logged to MLflow (the family's experiment, :data:`streamlab.models.abr.family.FAMILY`):
the config as params, the predictor's learning curves, validation QoE / bitrate / rebuffer ratio /
switches of every policy and of the oracle, the gap to the oracle, figures. The checkpoint is
written to ``output`` (default the committed ``models/abr/weights/learned.npz``), logged with the
chunk-size tables it was tuned on as the family's model, registered, and promoted to the alias
only if its validation mean QoE beats the holder's (:func:`streamlab.core.registry.promote`).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from streamlab.core import project, registry, tracking
from streamlab.core.ray_runtime import map_tasks
from streamlab.models.abr.family import FAMILY, checkpoint_artifacts
from streamlab.models.abr.policies.learned import PlannerKnobs, save_checkpoint
from streamlab.models.abr.traces import Trace, load_traces
from streamlab.models.abr.video import load_video
from streamlab.training.abr.predictor import fit_ensemble
from streamlab.training.abr.rollouts import RolloutJob, augment, car_like_drops, rollout, session_drops, with_drops
from streamlab.training.abr.settings import TrainSettings
from streamlab.training.abr.splits import split_traces
from streamlab.training.abr.tuning import KnobJob, PolicyJob, evaluate_knobs, evaluate_policy

SUMMARY_KEYS = ("mean_qoe", "mean_bitrate_kbps", "rebuffer_ratio", "mean_switches")


@dataclass(frozen=True)
class TrainReport:
    checkpoint: Path
    knobs: PlannerKnobs
    validation: dict[str, dict]
    seconds: float
    run_id: str
    version: str | None = None
    """The registered version (``None`` when ``tracking.register_model`` is off)."""
    promotion: registry.Promotion | None = None
    """Whether that version became ``tracking.alias``, with both metrics (``None``: not registered)."""


def _rollout_data(traces, video, episodes: int, settings: TrainSettings, seed_base: int, label: str,
                  drop_probability: float = 0.0):
    r = settings.rollouts
    jobs = [RolloutJob(t, video, episodes, r.scale_min, r.scale_max, r.epsilon, seed_base + i, settings.predictor.steps,
                       drop_probability)
            for i, t in enumerate(traces)]
    parts = map_tasks(rollout, jobs, label)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def rotated_copies(traces: list[Trace], copies: int, seed: int) -> list[Trace]:
    """``copies`` versions of each trace started at a random line (same link, other moments)."""
    rng = np.random.default_rng(seed)
    return [augment(trace, rng, 1.0, 1.0) for _ in range(copies) for trace in traces]


def _copies(make: Callable[[Trace, np.random.Generator], Trace], traces: list[Trace], copies: int,
            seed: int) -> list[Trace]:
    """``copies`` versions of each trace from ``make``, drawn from one generator seeded ``seed``."""
    rng = np.random.default_rng(seed)
    return [make(trace, rng) for _ in range(copies) for trace in traces]


def drop_copies(traces: list[Trace], copies: int, seed: int) -> list[Trace]:
    """``copies`` versions of each trace with deep throughput drops added (:func:`with_drops`)."""
    return _copies(with_drops, traces, copies, seed)


def session_drop_copies(traces: list[Trace], copies: int, seed: int) -> list[Trace]:
    """``copies`` versions of each trace with sudden deep drops where a session plays (:func:`session_drops`)."""
    return _copies(session_drops, traces, copies, seed)


def stress_copies(traces: list[Trace], copies: int, seed: int) -> list[Trace]:
    """``copies`` versions of each trace with car-like drops where a session plays (:func:`car_like_drops`)."""
    return _copies(car_like_drops, traces, copies, seed)


def selection_traces(train_set: list[Trace], settings: TrainSettings) -> list[Trace]:
    """The traces the planner knobs are chosen on: the training traces, rotated copies, drop copies and
    session-drop copies (all of training traces only)."""
    split = settings.split
    return (train_set + rotated_copies(train_set, split.selection_rotations, split.seed)
            + drop_copies(train_set, split.selection_drop_copies, split.seed + 1)
            + session_drop_copies(train_set, split.selection_session_drop_copies, split.seed + 2))


def knob_grid(settings: TrainSettings) -> list[PlannerKnobs]:
    g = settings.planner
    return [
        PlannerKnobs(horizon=h, free_steps=f, risk=r, buffer_value_per_s=b, buffer_value_cap_s=g.buffer_value_cap_s,
                     scenario_quantiles=tuple(g.scenario_quantiles), smooth_weight=w, switch_margin=m,
                     volatility_tilt=v)
        for h, f, r, b, w, m, v in itertools.product(g.horizon, g.free_steps, g.risk, g.buffer_value_per_s,
                                                     g.smooth_weight, g.switch_margin, g.volatility_tilt)
    ]


def choose(results: list[tuple[PlannerKnobs, dict]], rebuffer_limit: float) -> tuple[PlannerKnobs, dict]:
    """Best selection QoE among knobs whose rebuffer ratio is no worse than RobustMPC's (if any).

    Selection QoE leaves out the outage traces (where even the oracle scores below 0): there
    every policy stalls for minutes, and a few seconds more or less of unavoidable stall (4.3 QoE
    each) would otherwise decide the choice for all the traces where decisions matter.
    """
    allowed = [kr for kr in results if kr[1]["rebuffer_ratio"] <= rebuffer_limit] or results
    return max(allowed, key=lambda kr: kr[1].get("selection_qoe", kr[1]["mean_qoe"]))


def train(settings: TrainSettings, command: str = "streamlab abr train") -> TrainReport:
    started = time.perf_counter()
    video_dir = project.resolve(settings.data.video_sizes)
    video = load_video(video_dir)
    traces = load_traces(project.resolve(settings.data.traces))
    train_set, val_set = split_traces(traces, settings.split.validation_fraction, settings.split.seed)
    mlflow = tracking.configure()
    tracking.experiment_id(FAMILY.experiment)  # created once, in the driver
    params = settings.model_dump(mode="json")
    params["split.train_traces"], params["split.validation_traces"] = len(train_set), len(val_set)
    version = promotion = None
    with tracking.start_run(FAMILY.experiment, run_name="learned-planner", params=params) as run:
        tracking.log_json({"train": [t.name for t in train_set], "validation": [t.name for t in val_set]}, "split.json")
        x_train, y_train = _rollout_data(train_set, video, settings.rollouts.episodes_per_trace, settings, settings.rollouts.seed,
                                         "rollouts (train)", settings.rollouts.drop_probability)
        x_val, y_val = _rollout_data(val_set, video, 1, settings, settings.rollouts.seed + 100_000, "rollouts (validation)")
        mlflow.log_metrics({"rollout_samples_train": len(y_train), "rollout_samples_validation": len(y_val)})
        fit = fit_ensemble(x_train, y_train, x_val, y_val, settings.predictor)
        for epoch, (a, b) in enumerate(zip(fit.train_loss, fit.validation_loss, strict=True)):
            mlflow.log_metrics({"pinball_train": a, "pinball_validation": b}, step=epoch)

        baselines = map_tasks(evaluate_policy, [PolicyJob(n, val_set, video, settings.compat) for n in settings.validation_policies],
                              "validation baselines")
        validation = dict(zip(settings.validation_policies, baselines, strict=True))
        grid = knob_grid(settings)
        stress_set = stress_copies(train_set, settings.split.selection_stress_copies, settings.split.seed + 3)
        selection_set = selection_traces(train_set, settings) + stress_set
        knob_results = map_tasks(evaluate_knobs, [KnobJob(fit.net, k, selection_set, video, settings.compat) for k in grid],
                                 "planner knobs")
        selection_mpc, selection_oracle = map_tasks(
            evaluate_policy, [PolicyJob(n, selection_set, video, settings.compat) for n in ("robustmpc", "oracle")],
            "selection references")
        outage_copies = _outage_traces({"oracle": selection_oracle})
        stress_names = {t.name for t in stress_set}
        for result in knob_results:
            kept = {t: q for t, q in result["per_trace_qoe"].items() if t not in outage_copies}
            result["selection_qoe"] = float(np.mean(list(kept.values())))
            stress = [q for t, q in kept.items() if t in stress_names]
            result["stress_qoe"] = float(np.mean(stress)) if stress else None
        for i, res in enumerate(knob_results):
            metrics = {"knob_selection_qoe": res["selection_qoe"], "knob_selection_rebuffer": res["rebuffer_ratio"]}
            if res["stress_qoe"] is not None:
                metrics["knob_stress_qoe"] = res["stress_qoe"]
            mlflow.log_metrics(metrics, step=i)
        knobs, _ = choose(list(zip(grid, knob_results, strict=True)), selection_mpc["rebuffer_ratio"])
        validation["learned"] = evaluate_knobs(KnobJob(fit.net, knobs, val_set, video, settings.compat))
        for name, res in validation.items():
            mlflow.log_metrics({f"val_{key}_{name}": res[key] for key in SUMMARY_KEYS})
        if "oracle" in validation:
            mlflow.log_metric("val_gap_to_oracle", validation["oracle"]["mean_qoe"] - validation["learned"]["mean_qoe"])
        seconds = time.perf_counter() - started
        table = {name: {key: res[key] for key in SUMMARY_KEYS} for name, res in validation.items()}
        outages = _outage_traces(validation)
        metadata = {
            "command": command,
            "config": params,
            "validation": table,
            "validation_outage_traces": sorted(outages),
            "validation_qoe_excluding_outages": {
                name: float(np.mean([q for t, q in res["per_trace_qoe"].items() if t not in outages]))
                for name, res in validation.items()
            },
            "knob_search_on_train_rotations_and_drops": [
                {**asdict(k), **{key: r[key] for key in (*SUMMARY_KEYS, "selection_qoe", "stress_qoe")}}
                for k, r in zip(grid, knob_results, strict=True)
            ],
            "train_seconds": round(seconds, 1),
            "mlflow_run_id": run.info.run_id,
        }
        output = project.resolve(settings.output)
        save_checkpoint(fit.net, knobs, output, metadata)
        _log_figures(fit, validation)
        logged = registry.log_model(FAMILY, checkpoint_artifacts(output, video_dir),
                                    metric=validation["learned"]["mean_qoe"], register=settings.tracking.register_model)
        if settings.tracking.register_model:
            version = logged.version
            promotion = registry.promote(FAMILY, version, settings.tracking.alias)
        mlflow.log_metric("train_seconds", seconds)
    return TrainReport(output, knobs, table, seconds, run.info.run_id, version, promotion)


def _outage_traces(validation: dict[str, dict]) -> set[str]:
    """Validation traces where even the offline optimum scores below 0: every policy stalls there,
    so they add the same large negative number to every policy's mean and hide the differences."""
    if "oracle" not in validation:
        return set()
    return {name for name, qoe in validation["oracle"]["per_trace_qoe"].items() if qoe < 0}


def _log_figures(fit, validation: dict[str, dict]) -> None:
    from streamlab.models.abr.plots import _pyplot, qoe_cdf_figure

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(fit.train_loss, label="train")
    ax.plot(fit.validation_loss, label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("pinball loss")
    ax.legend()
    tracking.log_figure(fig, "learning_curve.png")
    tracking.log_figure(qoe_cdf_figure(validation), "validation_qoe_cdf.png")


def settings_json(settings: TrainSettings) -> str:
    return json.dumps(settings.model_dump(mode="json"), indent=2)
