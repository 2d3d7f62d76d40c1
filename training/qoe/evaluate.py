"""Held-out evaluation: simulate scenarios by seed, run every detector, pool the incident metrics."""

from __future__ import annotations

from models.qoe.evaluate import Metrics, combine, evaluate
from models.qoe.model import QoeModel
from models.qoe.settings import QoeSettings
from pipelines.qoe.detect import detect_frames
from pipelines.qoe.library import load_library
from pipelines.qoe.population import Population
from pipelines.qoe.simulate import simulate


def evaluate_seeds(models: dict[str, QoeModel], settings: QoeSettings, seeds: list[int], days: float = 1.0,
                   spec: str | None = None) -> dict[str, Metrics]:
    library = load_library(settings.abr)
    edge_region = Population.from_settings(settings.population).edge_region
    runs: dict[str, list[Metrics]] = {name: [] for name in models}
    for seed in seeds:
        sim = simulate(settings, seed, days, spec, library)
        for name, model in models.items():
            alerts, _, _ = detect_frames(model, sim.heartbeats, sim.summaries)
            runs[name].append(evaluate(alerts, sim.incidents, days, edge_region))
    return {name: combine(r) for name, r in runs.items()}
