"""The demo's training stage: the four models on small budgets (Ray), registered, promoted only if better.

Each trainer is the same function its CLI command runs (``streamlab abr train``, ``recsys train``,
``ladder corpus`` + ``ladder train``, ``qoe train``), called with the budget overrides from
``configs/demo.yaml``. Before training, the committed models are registered where a family has no
``@champion`` yet (with their cards' metrics), so every demo model is a *challenger*: training's
own gate (:func:`streamlab.core.registry.promote`) promotes it only when it beats the champion on
the family's metric. A smaller demo budget usually loses to the committed model; the version is
registered all the same, and the report shows both numbers. The services follow ``@champion``.

Nothing here writes into the repository: the ABR checkpoint goes under the state dir, not over
the committed ``models/abr/weights/learned.npz``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

from streamlab.core import project, registry
from streamlab.models.families import FAMILIES


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
    """The version this run registered (or, re-using, the one at ``@champion``)."""
    experiment: str
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    promotion: registry.Promotion | None = None
    """What the gate decided; ``None`` when the run re-used the registered champions."""

    @property
    def champion_version(self) -> str:
        """The version ``@champion`` points at after this run (the services serve it)."""
        if self.promotion is None or self.promotion.promoted:
            return self.version
        return self.promotion.champion_version or self.version

    @property
    def outcome(self) -> str:
        if self.promotion is None:
            return "re-used @champion"
        return self.promotion.reason


def _trained(key: str, version: str | None, seconds: float, metrics: dict[str, float],
             promotion: registry.Promotion | None) -> TrainedModel:
    spec = FAMILIES[key]
    if version is None:
        raise RuntimeError(f"training registered no version of {spec.name}")
    return TrainedModel(key, spec.name, str(version), spec.experiment, seconds, metrics, promotion)


def train_abr(overrides: list[str]) -> TrainedModel:
    from streamlab.core.config import load_config
    from streamlab.training.abr.settings import TrainSettings
    from streamlab.training.abr.train import train

    output = project.state_dir() / "demo" / "abr" / "learned.npz"
    settings = load_config("abr", TrainSettings, [*overrides, f"output={output}"])
    started = time.perf_counter()
    report = train(settings, command="streamlab demo (abr)")
    learned = report.validation.get("learned", {})
    metrics = {FAMILIES["abr"].metric: float(learned["mean_qoe"])} if "mean_qoe" in learned else {}
    return _trained("abr", report.version, time.perf_counter() - started, metrics, report.promotion)


def train_recsys(overrides: list[str]) -> TrainedModel:
    from streamlab.training.recsys.train import load_settings, train

    settings = load_settings(overrides)
    interactions = project.raw_data_dir() / "ml-100k" / "ml-100k.inter"
    started = time.perf_counter()
    result = train(interactions, settings=settings, track=True)
    report = result.pipeline.report
    metrics = {FAMILIES["recsys"].metric: float(report.validation_ndcg),
               "inner_ndcg10_ranked": float(report.inner_ndcg_ranked), "inner_ndcg10_blend": float(report.inner_ndcg_blend)}
    return _trained("recsys", result.version, time.perf_counter() - started, metrics, result.promotion)


def train_ladder(corpus_overrides: list[str], overrides: list[str]) -> TrainedModel:
    from streamlab.models.ladder.settings import load_ladder_settings
    from streamlab.training.ladder.corpus import build_corpus
    from streamlab.training.ladder.train import train_ladder_model

    started = time.perf_counter()
    entries = build_corpus(load_ladder_settings(corpus_overrides))
    trained = train_ladder_model(entries, load_ladder_settings(overrides), register=True, write_default=False)
    version = trained.version.version if trained.version else None
    return _trained("ladder", version, time.perf_counter() - started,
                    {k: float(v) for k, v in trained.metrics.items()}, trained.promotion)


def train_qoe(overrides: list[str], detector: str) -> TrainedModel:
    from streamlab.models.qoe.settings import load_settings
    from streamlab.training.qoe.train import train

    settings = load_settings(overrides)
    started = time.perf_counter()
    result = train(settings, [detector], None, True)
    metrics = {}
    if result.promotion is not None and result.promotion.challenger_metric is not None:
        metrics[FAMILIES["qoe"].metric] = float(result.promotion.challenger_metric)
    return _trained("qoe", result.version, time.perf_counter() - started, metrics, result.promotion)


def registered_champions() -> list[TrainedModel]:
    """The versions ``@champion`` points at now (``skip=[train]``: re-run the loop on them)."""
    models = []
    for key, spec in FAMILIES.items():
        try:
            version = registry.resolve(spec.name, registry.CHAMPION)
        except registry.RegistryError:
            raise RuntimeError(f"{spec.name}@champion is not registered; run the demo once without skip=[train]") from None
        models.append(TrainedModel(key, spec.name, version, spec.experiment, 0.0))
    return models


def train_all(budgets: TrainBudgets, say: Callable[[str], None]) -> list[TrainedModel]:
    """Register the committed champions where missing, then train each challenger; ``say`` reports each."""
    from streamlab.serving.registration import COMMITTED, register_defaults

    for entry in register_defaults(list(COMMITTED)):
        if entry.registered:
            say(f"   {entry.name}: the committed model is v{entry.version} @champion (the demo's models challenge it)")
        note = entry.note(registry.CHAMPION)
        if note:
            say(f"   {note}")
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
        say(f"   {family:>6}: {model.registered_model} v{model.version} in {model.seconds:.0f} s; {model.outcome}")
    return trained
