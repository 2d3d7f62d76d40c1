"""Train the ladder predictor on the corpus, validate it by held-out title group, log and register it.

Validation is leave-one-group-out: a clip and its segments are held out together (a segment of
bikes must not help predict bikes), one Ray task per fold. Reported: mean absolute error of VMAF
(points) and of bitrate (percent, from log bits/pixel), per codec; RD plots of every real clip's
measured grid against its held-out prediction go to MLflow. The final model is fitted on
everything and registered the one way every family is (:func:`streamlab.core.registry.log_model`
with the family's promotion metric, ``cv_rate_mape.h264``); it becomes ``@<predictor.model_alias>``
only if it beats the version there (:func:`streamlab.core.registry.promote`).
``write_default`` also refreshes the committed default.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamlab.core import registry
from streamlab.core.ray_runtime import map_tasks
from streamlab.models.ladder.family import FAMILY
from streamlab.models.ladder.features import TITLE_FEATURES
from streamlab.models.ladder.predictor import DEFAULT_DIR, POINT_FEATURES, LadderPredictor, fit_predictor
from streamlab.models.ladder.settings import LadderOptimizerSettings
from streamlab.training.ladder.corpus import CorpusEntry

FEATURES = TITLE_FEATURES + POINT_FEATURES


@dataclass
class LadderTraining:
    """What one training run produced: the model, its CV metrics, and what the registry did with it."""

    predictor: LadderPredictor
    metrics: dict[str, float]
    version: registry.RegisteredVersion | None = None
    promotion: registry.Promotion | None = None
    """None when the run did not register (``register=False``)."""


def entry_rows(entry: CorpusEntry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = entry.features
    vector = f.vector()
    source_pixels = f.width * f.height
    x, y_rate, y_vmaf = [], [], []
    for p in entry.points:
        x.append(LadderPredictor.point_row(vector, source_pixels, p.width, p.height, float(p.encoder.crf or 0)))
        y_rate.append(math.log(p.bitrate_kbps * 1000 / (p.width * p.height * f.fps)))
        y_vmaf.append(p.vmaf)
    return np.array(x), np.array(y_rate), np.array(y_vmaf)


def rows_by_codec(
    entries: list[CorpusEntry], exclude_group: str | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for entry in entries:
        if entry.source.group != exclude_group and entry.points:
            out.setdefault(entry.codec, []).append(entry_rows(entry))
    return {c: tuple(np.concatenate(parts) for parts in zip(*rows, strict=False)) for c, rows in out.items()}  # type: ignore[misc]


def _fold(args: tuple[list[CorpusEntry], str]) -> dict:
    """One held-out group: fit on the others, predict the group's grid points."""
    entries, group = args
    predictor = fit_predictor(rows_by_codec(entries, exclude_group=group), FEATURES, card={})
    result: dict = {"group": group, "errors": {}, "curves": []}
    for entry in (e for e in entries if e.source.group == group and e.points):
        x, y_rate, y_vmaf = entry_rows(entry)
        log_bpp, vmaf = predictor.predict(entry.codec, x)
        err = result["errors"].setdefault(entry.codec, {"vmaf_abs": [], "rate_abs_pct": []})
        err["vmaf_abs"] += list(np.abs(vmaf - y_vmaf))
        err["rate_abs_pct"] += list(np.abs(np.exp(log_bpp - y_rate) - 1) * 100)
        result["curves"].append({"source": entry.source.name, "codec": entry.codec, "measured": [(p.width, p.height, p.encoder.crf, p.bitrate_kbps, p.vmaf) for p in entry.points],
                                 "predicted_vmaf": list(map(float, vmaf)), "predicted_rate_kbps": [float(p.bitrate_kbps * math.exp(lb - yr)) for p, lb, yr in zip(entry.points, log_bpp, y_rate, strict=False)]})  # fmt: skip
    return result


def cross_validate(entries: list[CorpusEntry]) -> tuple[dict[str, float], list[dict]]:
    groups = sorted({e.source.group for e in entries})
    folds = map_tasks(_fold, [(entries, g) for g in groups], f"leave-one-group-out over {len(groups)} groups")
    metrics: dict[str, float] = {}
    pooled: dict[str, dict[str, list[float]]] = {}
    for fold in folds:
        for codec, err in fold["errors"].items():
            for key, values in err.items():
                pooled.setdefault(codec, {}).setdefault(key, []).extend(values)
    for codec, err in pooled.items():
        metrics[f"cv_vmaf_mae.{codec}"] = float(np.mean(err["vmaf_abs"]))
        metrics[f"cv_rate_mape.{codec}"] = float(np.mean(err["rate_abs_pct"]))
    return metrics, folds


def fit_excluding(entries: list[CorpusEntry], group: str | None) -> LadderPredictor:
    """A predictor that never saw ``group``: what held-out evaluations of a real clip use."""
    return fit_predictor(rows_by_codec(entries, exclude_group=group), FEATURES, card={"excluded_group": group})


def _curve_figure(curve: dict):  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from streamlab.training.ladder.evaluate import finish_rd_axes

    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = sorted({(w, h) for w, h, *_ in curve["measured"]}, reverse=True)
    for i, size in enumerate(sizes):
        idx = [k for k, m in enumerate(curve["measured"]) if (m[0], m[1]) == size]
        color = f"C{i}"
        ax.plot(
            [curve["measured"][k][3] for k in idx],
            [curve["measured"][k][4] for k in idx],
            "o-",
            color=color,
            label=f"{size[0]}x{size[1]} measured",
        )
        ax.plot(
            [curve["predicted_rate_kbps"][k] for k in idx],
            [curve["predicted_vmaf"][k] for k in idx],
            "x--",
            color=color,
            label=f"{size[0]}x{size[1]} predicted (held out)",
        )
    return finish_rd_axes(fig, ax, "bitrate (kbit/s)", "VMAF",
                          f"{curve['source']} {curve['codec']}: trial grid vs held-out prediction")  # fmt: skip


def train_ladder_model(
    entries: list[CorpusEntry], settings: LadderOptimizerSettings, *, register: bool = True, write_default: bool = False,
    real_groups: list[str] | None = None,
) -> LadderTraining:  # fmt: skip
    """Cross-validate, fit on everything, log to ``FAMILY.experiment``; register and promote (gated) if asked."""
    from streamlab.core import tracking

    metrics, folds = cross_validate(entries)
    card = {
        "corpus_sources": sorted({e.source.name for e in entries}),
        "corpus_points": sum(len(e.points) for e in entries),
        "cv": metrics,
        "grid": settings.grid.model_dump(),
        "predictor": settings.predictor.model_dump(),
    }
    predictor = fit_predictor(rows_by_codec(entries), FEATURES, card=card)
    real = set(real_groups if real_groups is not None else settings.corpus.real)
    params = {
        "corpus_sources": len(card["corpus_sources"]),
        "corpus_points": card["corpus_points"],
        "model": "HistGradientBoosting x2 per codec, monotone in crf/scale",
    }
    result = LadderTraining(predictor, metrics)
    with tracking.start_run(FAMILY.experiment, run_name="ladder-predictor", params=params):
        tracking.configure().log_metrics(metrics)
        for fold in folds:
            for curve in fold["curves"]:
                if curve["source"] in real:
                    tracking.log_figure(_curve_figure(curve), f"rd/{curve['source']}.{curve['codec']}.png")
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = predictor.save(Path(tmp) / "model")
            tracking.log_json(card, "card.json")
            metric = metrics.get(FAMILY.metric)
            result.version = registry.log_model(FAMILY, {"model": model_dir}, metric, register=register)
        if register:
            result.promotion = registry.promote(FAMILY, result.version.version, settings.predictor.model_alias)
    if write_default:
        shutil.rmtree(DEFAULT_DIR, ignore_errors=True)
        predictor.save(DEFAULT_DIR)
    return result
