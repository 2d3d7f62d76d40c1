"""Simulated training days as dense per-group grids, with the incident windows masked out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamlab.models.qoe.features import Grid, Group
from streamlab.models.qoe.labels import Incident
from streamlab.models.qoe.settings import QoeSettings
from streamlab.models.qoe.windows import units_from_frames, window_counts
from streamlab.training.qoe.library import Library
from streamlab.training.qoe.population import Population
from streamlab.training.qoe.simulate import Simulation, simulate

AFTER_INCIDENT_S = 600.0
"""Windows this long after an incident still count as disturbed (sessions started inside it linger)."""


@dataclass
class Day:
    seed: int
    sim: Simulation
    grid: Grid
    normal: np.ndarray     # [windows]: no incident anywhere


def all_groups(settings: QoeSettings) -> list[Group]:
    pop = Population.from_settings(settings.population)
    return [(d, v) for d in ("region", "edge", "title", "device") for v in pop.values(d)]


def simulate_day(settings: QoeSettings, seed: int, days: float, library: Library, spec: str | None = None) -> Day:
    sim = simulate(settings, seed, days, spec, library)
    units = units_from_frames(sim.heartbeats, sim.summaries, settings.detection.window_s, settings.score)
    w0 = int(np.floor(settings.population.start_epoch_s / settings.detection.window_s))
    w1 = int(np.floor((settings.population.start_epoch_s + days * 86400.0) / settings.detection.window_s))
    grid = Grid.from_counts(window_counts(units), all_groups(settings), w0, w1)
    return Day(seed, sim, grid, normal_mask(sim.incidents, w0, w1, settings.detection.window_s))


def normal_mask(incidents: list[Incident], w0: int, w1: int, window_s: float) -> np.ndarray:
    starts = (np.arange(w0, w1 + 1)) * window_s
    normal = np.ones(len(starts), dtype=bool)
    for inc in incidents:
        normal &= ~((starts + window_s > inc.start_s) & (starts < inc.end_s + AFTER_INCIDENT_S))
    return normal
