"""Fit, calibrate, validate, save, track and register the QoE detectors.

Data: simulated days (``training.seeds``; the last ``calibration_seeds`` are held back), with every
window during an incident (and 10 minutes after) excluded from "normal". Baselines are per-group
symptom rates on the normal windows; each detector is fitted on normal windows of the fit days and
its threshold (and the slow lane's CUSUM decision interval, :mod:`streamlab.models.qoe.cusum`) calibrated on the
held-back days to ``target_false_alerts_per_day`` each.

Validation (the promotion metric, ``FAMILY.metric``): each detector scores the held-back days and
its alerts are judged against their incidents (:func:`streamlab.models.qoe.evaluate.evaluate`). Calibration
read only those days' *normal* windows, so their incidents are unseen; the pooled incident F1 is
recorded in each ``model.json`` and logged on the run.

The primary detector (``training.detector``) is registered as the family's model
(:data:`streamlab.models.qoe.family.FAMILY`) and promoted to ``training.alias`` only if its
validation F1 beats the version there now (:func:`streamlab.core.registry.promote`); all are saved
under ``<state>/qoe/detectors/<name>``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from streamlab.core import project, registry
from streamlab.core.progress import progress_bar
from streamlab.models.qoe.cusum import calibrate_decision, cusum_path
from streamlab.models.qoe.detect import detect_frames
from streamlab.models.qoe.detectors import DETECTORS, make_detector
from streamlab.models.qoe.detectors.base import calibrate_threshold
from streamlab.models.qoe.evaluate import Metrics, combine, evaluate
from streamlab.models.qoe.family import FAMILY
from streamlab.models.qoe.features import FEATURES, Baselines, features, units_in
from streamlab.models.qoe.model import QoeModel, sequences
from streamlab.models.qoe.settings import QoeSettings
from streamlab.training.qoe.data import Day, all_groups, simulate_day
from streamlab.training.qoe.library import load_library
from streamlab.training.qoe.population import Population

MAX_FIT_ROWS = 150_000


@dataclass
class TrainResult:
    models: dict[str, QoeModel]
    paths: dict[str, Path]
    seconds: float
    primary: str
    """The detector registered (``training.detector`` when trained, else the first trained)."""
    validation: dict[str, Metrics] = field(default_factory=dict)
    """Pooled incident metrics of each detector on the held-back days."""
    model_uri: str | None = None
    version: str | None = None
    promotion: registry.Promotion | None = None
    """Whether the registered version became ``training.alias``, with both F1s (``None`` without tracking)."""

    @property
    def metrics(self) -> dict[str, float]:
        """The registered detector's validation numbers (``FAMILY.metric`` among them), for reports."""
        if self.primary not in self.validation:
            return {}
        summary = self.validation[self.primary].summary()
        return {f"validation_{k}": float(v) for k, v in summary.items() if isinstance(v, (int, float))}


def detector_kwargs(name: str, settings: QoeSettings) -> dict:
    if name == "sequence":
        return {**settings.training.sequence.model_dump(), "gap": settings.detection.context_windows - 1}
    if name == "iforest":
        return settings.training.iforest.model_dump()
    return {}


def fit_models(settings: QoeSettings, names: list[str], fit_days: list[Day], calib_days: list[Day]) -> dict[str, QoeModel]:
    groups = all_groups(settings)
    counts = np.concatenate([d.grid.counts for d in fit_days], axis=1)
    normal = np.concatenate([np.broadcast_to(d.normal, d.grid.counts.shape[:2]) for d in fit_days], axis=1)
    baselines = Baselines.fit(counts, groups, normal)
    rates = baselines.rates_for(groups)
    det = settings.detection

    def day_arrays(day: Day, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        context = day.grid.context(det.context_windows)
        feats = features(context, rates, det.heartbeat_clustering)
        mask = units_in(context, det.min_units) & day.normal[None, :]
        return sequences(feats, length), mask, units_in(context, det.min_units)

    rng = np.random.default_rng(0)
    models = {}
    for name in names:
        detector = make_detector(name, **detector_kwargs(name, settings))
        length = detector.length
        xs, keys = [], []
        for day in fit_days:
            seqs, mask, _ = day_arrays(day, length)
            g_idx, w_idx = np.nonzero(mask)
            xs.append(seqs[g_idx, w_idx])
            keys += [groups[g] for g in g_idx]
        X = np.concatenate(xs)
        if len(X) > MAX_FIT_ROWS:
            pick = np.sort(rng.choice(len(X), MAX_FIT_ROWS, replace=False))
            X, keys = X[pick], [keys[i] for i in pick]
        detector.fit(X, keys)
        scores, valid, days = [], [], 0.0
        for day in calib_days:
            seqs, mask, _ = day_arrays(day, length)
            g, w = seqs.shape[:2]
            s = detector.score(seqs.reshape(g * w, length, len(FEATURES)), [groups[i] for i in range(g) for _ in range(w)])
            scores.append(s.reshape(g, w))
            valid.append(mask)
            days += day.sim.meta["days"]
        detector.threshold = calibrate_threshold(np.concatenate(scores, axis=1), np.concatenate(valid, axis=1),
                                                 settings.training.target_false_alerts_per_day, days,
                                                 det.confirm_windows, det.instant_ratio)
        # The slow lane pages on its own, so it gets its own budget on the same held-out days.
        paths = [cusum_path(s, v, detector.threshold, det.cusum_reference) for s, v in zip(scores, valid, strict=False)]
        h = calibrate_decision(paths, settings.training.target_false_alerts_per_day, days)
        models[name] = QoeModel(detector, baselines, det, settings.score, h)
    return models


def simulate_days(settings: QoeSettings, seeds: list[int], days: float, spec: str | None = None) -> list[Day]:
    library = load_library(settings.abr)
    out = []
    with progress_bar("simulating days", total=len(seeds)) as advance:
        for seed in seeds:
            out.append(simulate_day(settings, seed, days, library, spec))
            advance()
    return out


def validate(models: dict[str, QoeModel], settings: QoeSettings, days: list[Day]) -> dict[str, Metrics]:
    """Each detector's alerts on ``days`` against their incidents, pooled (the held-back days in training)."""
    edge_region = Population.from_settings(settings.population).edge_region
    per: dict[str, list[Metrics]] = {name: [] for name in models}
    with progress_bar("validating", total=len(days) * len(models)) as advance:
        for day in days:
            for name, model in models.items():
                alerts, _, _ = detect_frames(model, day.sim.heartbeats, day.sim.summaries)
                per[name].append(evaluate(alerts, day.sim.incidents, day.sim.meta["days"], edge_region))
                advance()
    return {name: combine(runs) for name, runs in per.items()}


def train(settings: QoeSettings, names: list[str] | None = None, out_dir: Path | None = None,
          track: bool = True) -> TrainResult:
    names = names or list(DETECTORS)
    started = time.perf_counter()
    seeds = settings.training.seeds
    all_days = simulate_days(settings, seeds, settings.training.days)
    held = min(settings.training.calibration_seeds, len(all_days) - 1)
    fit_days, calib_days = (all_days[:-held], all_days[-held:]) if held > 0 else (all_days, all_days)
    models = fit_models(settings, names, fit_days, calib_days)
    validation = validate(models, settings, calib_days)
    for name, model in models.items():
        model.validation = validation[name].summary()
    out_dir = out_dir or project.state_dir() / "qoe" / "detectors"
    paths = {name: model.save(out_dir / name) for name, model in models.items()}
    primary = settings.training.detector if settings.training.detector in models else names[0]
    result = TrainResult(models, paths, time.perf_counter() - started, primary, validation)
    if track:
        _track(settings, result)
    return result


def _track(settings: QoeSettings, result: TrainResult) -> None:
    """Log every detector on one run, register the primary one and promote it if it beats the champion."""
    from streamlab.core import tracking
    from streamlab.training.qoe.plots import threshold_figure

    with tracking.start_run(FAMILY.experiment, run_name=f"train-{result.primary}",
                            params=settings.model_dump(mode="json")):
        mlflow = tracking.configure()
        mlflow.log_metric("train_seconds", result.seconds)
        for name, model in result.models.items():
            mlflow.log_metric(f"threshold_{name}", model.detector.threshold)
            for key, value in result.validation[name].summary().items():
                if isinstance(value, (int, float)):
                    mlflow.log_metric(f"validation_{key}_{name}", float(value))
            tracking.log_artifact(result.paths[name], f"detectors/{name}")
        tracking.log_figure(threshold_figure(result.models), "baselines.png")
        metric = result.metrics[FAMILY.metric]
        version = registry.log_model(FAMILY, {"detector": result.paths[result.primary]}, metric=metric)
        result.version = version.version
        result.model_uri = f"models:/{FAMILY.name}/{version.version}"
        result.promotion = registry.promote(FAMILY, version.version, settings.training.alias)
    state = project.state_dir() / "qoe" / "last_train.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"model_uri": result.model_uri, "version": result.version,
                                 "promotion": result.promotion.reason if result.promotion else None,
                                 "paths": {k: str(v) for k, v in result.paths.items()}}, indent=2))
