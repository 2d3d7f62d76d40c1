"""The report: every model under the protocol, as a markdown table, with recall@k curves in MLflow.

Also the robustness check the acceptance asks for: the pipeline against EASE on other splits
(other cut-offs, other subsets of viewers), each split built from the given file only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from streamlab.core import project
from streamlab.core.progress import track
from streamlab.models.recsys.base import Context, Recommender
from streamlab.models.recsys.blend import build_component
from streamlab.models.recsys.dataset import RecsysData, load_training_data
from streamlab.models.recsys.family import FAMILY
from streamlab.models.recsys.metrics import evaluate, recall_at_k
from streamlab.models.recsys.pipeline import HybridPipeline
from streamlab.models.recsys.scale import pipeline_for
from streamlab.models.recsys.ranker import finite_rows
from streamlab.models.recsys.settings import RecsysSettings
from streamlab.models.recsys.split import SPLITS, temporal_split
from streamlab.models.recsys.tuned import TunedEASE

REPORT_MODELS = ("popularity", "time_popularity", "content", "bpr", "als", "item_knn", "ease", "ease_tuned", "transitions", "hybrid")
CURVE_K = (1, 2, 5, 10, 20, 30, 50)
RANK_BLOCK = 512
"""Viewers ranked at once: the pipeline holds a dense viewers × titles block per component."""


@dataclass
class ModelResult:
    name: str
    metrics: dict[str, float]
    fit_s: float
    recall_curve: dict[int, float]


PROTOCOLS = ("per-viewer", "global-time")
"""Both are reported; global-time (one cut in time, nothing in train is later than the test) is the
leakage-free one that model selection and tuning use."""


def _make(name: str, settings: RecsysSettings, data: RecsysData) -> Recommender:
    if name == "hybrid":  # the pipeline train would fit on data of this size (the scale path above scale.min_*)
        return pipeline_for(data, settings)
    if name == "ease_reference":
        from streamlab.models.recsys.baselines import EASE

        return EASE(l2=500.0)
    if name == "ease_tuned":
        return TunedEASE(settings.components.ease.l2_grid, settings.protocol, settings.blend.validation_fraction, settings.k,
                         settings.components.ease.max_items, settings.components.ease.memory_gib)
    return build_component(name, settings.components, settings.seed)


def evaluate_split(full: RecsysData, train: pd.DataFrame, test: pd.DataFrame, models: Sequence[str], settings: RecsysSettings,
                   max_k: int = 50, protocol: str = "per-viewer") -> list[ModelResult]:
    """Fit each model on ``train`` and score its top lists against ``test`` under ``protocol``.

    The protocol also says when the test requests happen: per-viewer, right after each viewer's
    own training rows (the models' default); global-time, at the cut (the end of ``train``), for
    every model alike. The pipeline is fitted for the same protocol (its inner split mirrors it).
    """
    settings = settings.model_copy(update={"protocol": protocol})
    data = full.with_interactions(train)
    truth = {u: set(g) for u, g in test.groupby("user_id")["item_id"]}
    users = np.array([data.user_index(u) for u in truth if data.user_index(u) is not None], dtype=np.int64)
    # The request moment comes from the data (no wall clock: the file may count ms or only order).
    contexts = None if protocol == "per-viewer" else [Context(float(train["timestamp"].max()), wall_clock=False)] * len(users)
    genres = {item: frozenset(g) for item, g in zip(data.item_ids, data.items["genres"], strict=False)}
    popularity = train.groupby("item_id")["user_id"].nunique().to_dict()
    watched = set(zip(train["user_id"], train["item_id"], strict=True))
    results = []
    for name in track(models, f"evaluating models ({protocol})"):
        model = _make(name, settings, data)
        started = time.perf_counter()
        model.fit(data)
        fit_s = time.perf_counter() - started
        if isinstance(model, HybridPipeline):  # in blocks: each is viewers × titles per component
            blocks = [model.rank_users(users[i : i + RANK_BLOCK], max_k, contexts[i : i + RANK_BLOCK] if contexts else None)
                      for i in range(0, len(users), RANK_BLOCK)]
            top = np.vstack([b[0] for b in blocks]) if blocks else np.zeros((0, max_k), dtype=np.int64)
            scores = np.vstack([b[1] for b in blocks]) if blocks else np.zeros((0, max_k))
        else:
            top, scores = model.top_k(users, max_k, contexts=contexts)
        recs = {data.user_ids[u]: [data.item_ids[i] for i, _ in row] for u, row in zip(users, finite_rows(top, scores), strict=True)}
        report = evaluate(recs, truth, settings.k, data.n_items, genres, popularity, train["user_id"].nunique())
        curve = {k: float(np.mean([recall_at_k(recs.get(u, []), rel, k) for u, rel in truth.items()])) for k in CURVE_K if k <= max_k}
        seen = float(sum((u, i) in watched for u, items in recs.items() for i in items[: settings.k]))
        results.append(ModelResult(name, report.as_dict() | {"seen_recommended": seen}, fit_s, curve))
    return results


def side_by_side(by_protocol: dict[str, list[ModelResult]], k: int = 10) -> str:
    """One row per model, NDCG@k under each protocol (and titles recommended that the viewer had watched)."""
    names = list(dict.fromkeys(r.name for results in by_protocol.values() for r in results))
    found = {(p, r.name): r for p, results in by_protocol.items() for r in results}
    head = "| model | " + " | ".join(f"{p} NDCG@{k}" for p in by_protocol) + " | seen titles recommended |"
    rows = [head, "|---|" + "---|" * len(by_protocol) + "---|"]
    for name in names:
        cells = [f"{found[(p, name)].metrics['ndcg']:.4f}" if (p, name) in found else "" for p in by_protocol]
        seen = sum(int(found[(p, name)].metrics["seen_recommended"]) for p in by_protocol if (p, name) in found)
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {seen} |")
    return "\n".join(rows)


def markdown_table(results: Sequence[ModelResult], k: int = 10) -> str:
    head = f"| model | NDCG@{k} | Recall@{k} | MAP@{k} | coverage | diversity | novelty | seen | fit s |"
    rows = [head, "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: r.metrics["ndcg"]):
        m = r.metrics
        rows.append(f"| {r.name} | {m['ndcg']:.4f} | {m['recall']:.4f} | {m['map']:.4f} | {m['coverage']:.3f} | {m['diversity']:.3f} | {m['novelty']:.2f} | {int(m['seen_recommended'])} | {r.fit_s:.1f} |")
    return "\n".join(rows)


def recall_figure(results: Sequence[ModelResult], protocol: str = "per-viewer"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for r in results:
        ks = sorted(r.recall_curve)
        axis.plot(ks, [r.recall_curve[k] for k in ks], marker="o", label=r.name)
    axis.set_xlabel("k (list length)")
    axis.set_ylabel("Recall@k (hits / min(|test|, k))")
    axis.set_title(f"Recall@k, {protocol} split")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return figure


@dataclass(frozen=True)
class SplitSpec:
    """A protocol split variant: train fraction and an optional seeded subset of viewers."""

    name: str
    train_fraction: float = 0.8
    viewer_share: float = 1.0
    seed: int = 0

    def apply(self, interactions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        frame = interactions
        if self.viewer_share < 1.0:
            viewers = np.sort(frame["user_id"].unique())
            rng = np.random.default_rng(self.seed)
            keep = rng.choice(viewers, size=max(1, int(len(viewers) * self.viewer_share)), replace=False)
            frame = frame[frame["user_id"].isin(set(keep))]
        return temporal_split(frame[["user_id", "item_id", "rating", "timestamp"]], self.train_fraction)


DEFAULT_SPLITS = (
    SplitSpec("standard 0.8"),
    SplitSpec("cut-off 0.7", 0.7),
    SplitSpec("cut-off 0.9", 0.9),
    SplitSpec("half the viewers (seed 1)", 0.8, 0.5, 1),
    SplitSpec("half the viewers, cut-off 0.75 (seed 2)", 0.75, 0.5, 2),
)


def robustness(full: RecsysData, settings: RecsysSettings, splits: Sequence[SplitSpec] = DEFAULT_SPLITS) -> pd.DataFrame:
    """NDCG@k of the pipeline vs EASE (tuned λ and the reference λ=500) on each split."""
    rows = []
    for spec in splits:
        train, test = spec.apply(full.interactions)
        results = {r.name: r for r in evaluate_split(full, train, test, ["ease_reference", "ease", "hybrid"], settings, max_k=settings.k)}
        rows.append({
            "split": spec.name,
            "viewers": test["user_id"].nunique(),
            "ease_l2_500": results["ease_reference"].metrics["ndcg"],
            "ease_tuned": results["ease"].metrics["ndcg"],
            "hybrid": results["hybrid"].metrics["ndcg"],
        })
    frame = pd.DataFrame(rows)
    frame["lead_over_best_ease"] = frame["hybrid"] - frame[["ease_l2_500", "ease_tuned"]].max(axis=1)
    return frame


@dataclass
class Report:
    """What ``streamlab recsys evaluate`` prints and logs: per protocol, every model's metrics."""

    results: dict[str, list[ModelResult]]
    table: str
    robustness: pd.DataFrame | None


def evaluate_report(interactions: Path | None, items: Path | None, users: Path | None, models: Sequence[str],
           settings: RecsysSettings, splits: bool = False, log: bool = True, protocols: Sequence[str] = PROTOCOLS) -> Report:
    """Each protocol's split of ``interactions`` (default: MovieLens-100k), every model in ``models``
    fitted on its train part; with ``log`` the tables, metrics and recall@k plots go to ``FAMILY.experiment``."""
    path = Path(interactions) if interactions else project.raw_data_dir() / "ml-100k" / "ml-100k.inter"
    full = load_training_data(path, items, users)
    by_protocol = {}
    for protocol in protocols:
        train, test = SPLITS[protocol](full.interactions[["user_id", "item_id", "rating", "timestamp"]])
        by_protocol[protocol] = evaluate_split(full, train, test, models, settings, protocol=protocol)
    tables = [f"### {p} ({'leakage-free: used for selection and tuning' if p == 'global-time' else 'per viewer'})\n\n"
              + markdown_table(results, settings.k) for p, results in by_protocol.items()]
    table = "\n\n".join([side_by_side(by_protocol, settings.k), *tables])
    robust = robustness(full, settings) if splits else None
    if log:
        from streamlab.core import tracking

        params = {"interactions": str(path), "models": list(models), "protocols": list(protocols)}
        with tracking.start_run(FAMILY.experiment, run_name="evaluate", params=params, tags={"stage": "evaluate"}):
            mlflow = tracking.configure()
            for protocol, results in by_protocol.items():
                for r in results:
                    mlflow.log_metrics({f"{protocol}.{r.name}.{key}": value for key, value in r.metrics.items() if isinstance(value, float)}
                                       | {f"{protocol}.{r.name}.fit_s": r.fit_s})
                tracking.log_figure(recall_figure(results, protocol), f"recall_at_k_{protocol}.png")
            mlflow.log_text(table, "report.md")
            if robust is not None:
                mlflow.log_text(robust.to_csv(index=False), "robustness.csv")
    return Report(by_protocol, table, robust)
