"""Fit, calibrate, save, track and register the QoE detectors.

Data: simulated days (``streamlab.training.seeds``; the last ``calibration_seeds`` are held back to calibrate), with every
window during an incident (and 10 minutes after) excluded from "normal". Baselines are per-group
symptom rates on the normal windows; each detector is fitted on normal windows of the fit days and
its threshold (and the slow lane's CUSUM decision interval, :mod:`streamlab.models.qoe.cusum`) calibrated on the
calibration days to ``target_false_alerts_per_day`` each.
The primary detector (``streamlab.training.detector``) is registered as ``qoe-detector`` (alias
``streamlab.training.alias``) as an MLflow pyfunc over the artifact directory; all are saved under
``<state>/qoe/detectors/<name>``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamlab.models.qoe.cusum import calibrate_decision, cusum_path
from streamlab.models.qoe.detectors import DETECTORS, make_detector
from streamlab.models.qoe.detectors.base import calibrate_threshold
from streamlab.models.qoe.features import FEATURES, Baselines, features, units_in
from streamlab.models.qoe.model import QoeModel, sequences
from streamlab.models.qoe.settings import QoeSettings
from streamlab.core import project
from streamlab.core.progress import progress_bar
from streamlab.pipelines.qoe.library import load_library
from streamlab.training.qoe.data import Day, all_groups, simulate_day

MAX_FIT_ROWS = 150_000


@dataclass
class TrainResult:
    models: dict[str, QoeModel]
    paths: dict[str, Path]
    seconds: float
    model_uri: str | None = None
    version: str | None = None


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


def train(settings: QoeSettings, names: list[str] | None = None, out_dir: Path | None = None,
          track: bool = True) -> TrainResult:
    names = names or list(DETECTORS)
    started = time.perf_counter()
    seeds = settings.training.seeds
    all_days = simulate_days(settings, seeds, settings.training.days)
    held = min(settings.training.calibration_seeds, len(all_days) - 1)
    fit_days, calib_days = (all_days[:-held], all_days[-held:]) if held > 0 else (all_days, all_days)
    models = fit_models(settings, names, fit_days, calib_days)
    out_dir = out_dir or project.state_dir() / "qoe" / "detectors"
    paths = {name: model.save(out_dir / name) for name, model in models.items()}
    result = TrainResult(models, paths, time.perf_counter() - started)
    if track:
        _track(settings, result, names)
    return result


def _track(settings: QoeSettings, result: TrainResult, names: list[str]) -> None:
    from streamlab.core import tracking
    from streamlab.training.qoe.plots import threshold_figure

    primary = settings.training.detector if settings.training.detector in result.models else names[0]
    with tracking.start_run("qoe", run_name=f"train-{primary}", params=settings.model_dump(mode="json")):
        mlflow = tracking.configure()
        mlflow.log_metric("train_seconds", result.seconds)
        for name, model in result.models.items():
            mlflow.log_metric(f"threshold_{name}", model.detector.threshold)
            tracking.log_artifact(result.paths[name], f"detectors/{name}")
        tracking.log_figure(threshold_figure(result.models), "baselines.png")
        from streamlab.training.qoe.registry import log_and_register

        result.model_uri, result.version = log_and_register(result.paths[primary], settings.training.registered_model,
                                                            settings.training.alias)
    state = project.state_dir() / "qoe" / "last_train.json"
    state.write_text(json.dumps({"model_uri": result.model_uri, "version": result.version,
                                 "paths": {k: str(v) for k, v in result.paths.items()}}, indent=2))
