"""The demo's training stage: the four models on small budgets (Ray), registered and promoted to ``champion``.

Each trainer is the same function its CLI command runs (``streamlab abr train``, ``recsys train``,
``ladder corpus`` + ``ladder train``, ``qoe train``), called with the budget overrides from
``configs/demo.yaml``. After each one the newest registered version becomes ``@champion``, the
alias the services follow, so the services start on exactly what this run trained.

Nothing here writes into the repository: the ABR checkpoint goes under the state dir, not over
the committed ``models/abr/weights/learned.npz``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

from streamlab.core import project


class TrainBudgets(BaseModel):
    """Config overrides per trainer (the same ``key=value`` strings their CLI commands take)."""

    abr: list[str] = []
    recsys: list[str] = []
    ladder_corpus: list[str] = []
    ladder: list[str] = []
    qoe: list[str] = []
    qoe_detector: str = "sequence"


@dataclass
class TrainedModel:
    family: str
    registered_model: str
    version: str
    experiment: str
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)


def promote(name: str, alias: str = "champion") -> str:
    """Point ``alias`` at the newest version of ``name``; returns that version."""
    from streamlab.core import tracking

    client = tracking.configure().MlflowClient()
    versions = client.search_model_versions(f"name='{name}'")
    if not versions:
        raise RuntimeError(f"training registered no version of {name}")
    newest = max(versions, key=lambda v: int(v.version))
    client.set_registered_model_alias(name, alias, newest.version)
    return str(newest.version)


def train_abr(overrides: list[str]) -> TrainedModel:
    from streamlab.core.config import load_config
    from streamlab.training.abr.settings import TrainSettings
    from streamlab.training.abr.train import train

    output = project.state_dir() / "demo" / "abr" / "learned.npz"
    settings = load_config("abr", TrainSettings, [*overrides, f"output={output}"])
    started = time.perf_counter()
    report = train(settings, command="streamlab demo (abr)")
    learned = report.validation.get("learned", {})
    metrics = {"validation_mean_qoe": float(learned["mean_qoe"])} if "mean_qoe" in learned else {}
    return TrainedModel("abr", settings.tracking.model_name, promote(settings.tracking.model_name),
                        settings.tracking.experiment, time.perf_counter() - started, metrics)


def train_recsys(overrides: list[str]) -> TrainedModel:
    from streamlab.training.recsys.train import load_settings, train

    settings = load_settings(overrides)
    interactions = project.raw_data_dir() / "ml-100k" / "ml-100k.inter"
    started = time.perf_counter()
    result = train(interactions, settings=settings, track=True)
    report = result.pipeline.report
    metrics = {"inner_ndcg10_ranked": float(report.inner_ndcg_ranked), "inner_ndcg10_blend": float(report.inner_ndcg_blend)}
    return TrainedModel("recsys", settings.registered_model, promote(settings.registered_model), settings.experiment,
                        time.perf_counter() - started, metrics)


def train_ladder(corpus_overrides: list[str], overrides: list[str]) -> TrainedModel:
    from streamlab.pipelines.ladder.corpus import build_corpus
    from streamlab.pipelines.ladder.settings import load_ladder_settings
    from streamlab.training.ladder.train import train_ladder_model

    started = time.perf_counter()
    entries = build_corpus(load_ladder_settings(corpus_overrides))
    _, metrics = train_ladder_model(entries, load_ladder_settings(overrides), register=True, write_default=False)
    return TrainedModel("ladder", "ladder-model", promote("ladder-model"), "ladder",
                        time.perf_counter() - started, {k: float(v) for k, v in metrics.items()})


def train_qoe(overrides: list[str], detector: str) -> TrainedModel:
    from streamlab.models.qoe.settings import load_settings
    from streamlab.training.qoe.train import train

    settings = load_settings(overrides)
    started = time.perf_counter()
    train(settings, [detector], None, True)
    name = settings.training.registered_model
    return TrainedModel("qoe", name, promote(name), "qoe", time.perf_counter() - started)


FAMILIES: dict[str, tuple[str, str]] = {
    "abr": ("abr-policy", "abr"),
    "recsys": ("recsys", "recsys"),
    "ladder": ("ladder-model", "ladder"),
    "qoe": ("qoe-detector", "qoe"),
}
"""family -> (registered model, MLflow experiment), for runs that reuse what is registered."""


def registered_champions() -> list[TrainedModel]:
    """The versions ``@champion`` points at now (``skip=[train]``: re-run the loop on them)."""
    from streamlab.core import tracking

    client = tracking.configure().MlflowClient()
    models = []
    for family, (name, experiment) in FAMILIES.items():
        try:
            version = client.get_model_version_by_alias(name, "champion").version
        except Exception:  # noqa: BLE001 - mlflow raises several types for a missing model/alias
            raise RuntimeError(f"{name}@champion is not registered; run the demo once without skip=[train]") from None
        models.append(TrainedModel(family, name, str(version), experiment, 0.0))
    return models


def train_all(budgets: TrainBudgets, say: Callable[[str], None]) -> list[TrainedModel]:
    """Train, register and promote the four models; ``say`` reports each as it finishes."""
    steps: list[tuple[str, Callable[[], TrainedModel]]] = [
        ("abr", lambda: train_abr(budgets.abr)),
        ("recsys", lambda: train_recsys(budgets.recsys)),
        ("ladder", lambda: train_ladder(budgets.ladder_corpus, budgets.ladder)),
        ("qoe", lambda: train_qoe(budgets.qoe, budgets.qoe_detector)),
    ]
    trained = []
    for family, step in steps:
        model = step()
        trained.append(model)
        shown = ", ".join(f"{k} {v:.3f}" for k, v in list(model.metrics.items())[:3])
        say(f"   {family:>6}: {model.registered_model} v{model.version} @champion in {model.seconds:.0f} s"
            + (f" ({shown})" if shown else ""))
    return trained
