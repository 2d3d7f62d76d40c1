"""Held-out evaluation: simulate scenarios by seed, run every detector, pool the incident metrics.

:data:`HELDOUT` is the fixed set of unseen scenarios we report (seeds never used in training, and
incident mixes that stress what the random mix rarely draws: several incidents at once, incidents
in the night trough where groups have a tenth of the peak traffic, the smallest region and device,
a quiet day for false alerts at nominal load). ``streamlab qoe evaluate --scenarios heldout`` runs
them for every committed detector and logs the table to MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamlab.core.progress import progress_bar
from streamlab.models.qoe.detect import detect_frames
from streamlab.models.qoe.evaluate import Metrics, combine, evaluate
from streamlab.models.qoe.family import FAMILY
from streamlab.models.qoe.model import QoeModel
from streamlab.models.qoe.settings import QoeSettings
from streamlab.training.qoe.library import load_library
from streamlab.training.qoe.population import Population
from streamlab.training.qoe.simulate import simulate


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    spec: str | None
    days: float = 1.0


HELDOUT: tuple[Scenario, ...] = (
    Scenario("random", 9001, "random"),
    Scenario("busy-random", 9002, "random:8"),
    Scenario("night-small", 9003, "edge_collapse(ap-south-1)@03:00+20m;region_collapse(eu-north)@05:00+30m;"
                                   "broken_encode@07:30+20m;app_bug(console)@10:00+30m;abr_regression(ios)@12:00+20m"),
    Scenario("simultaneous-peak", 9004, "edge_collapse(eu-west-2)@19:00+30m;app_bug(android)@19:10+30m;"
                                        "broken_encode(t002)@19:05+20m;origin_slowness(ap-south)@21:00+25m;"
                                        "abr_regression(console)@22:00+30m"),
    Scenario("simultaneous-night", 9005, "origin_slowness(eu-north)@02:00+30m;region_collapse(ap-south)@04:00+20m;"
                                         "edge_collapse(us-east-3)@04:10+20m;abr_regression(web)@13:00+15m;"
                                         "edge_collapse(eu-north-2)@16:00+15m"),
    Scenario("random-b", 9006, "random:5"),
    Scenario("quiet", 9007, "none"),
)


def evaluate_scenarios(models: dict[str, QoeModel], settings: QoeSettings, scenarios: list[Scenario]
                       ) -> tuple[dict[str, Metrics], dict[str, dict[str, Metrics]]]:
    """(pooled metrics per detector, metrics per scenario per detector)."""
    library = load_library(settings.abr)
    edge_region = Population.from_settings(settings.population).edge_region
    per: dict[str, dict[str, Metrics]] = {}
    with progress_bar("held-out scenarios", total=len(scenarios)) as advance:
        for sc in scenarios:
            sim = simulate(settings, sc.seed, sc.days, sc.spec, library)
            per[sc.name] = {}
            for name, model in models.items():
                alerts, _, _ = detect_frames(model, sim.heartbeats, sim.summaries)
                per[sc.name][name] = evaluate(alerts, sim.incidents, sc.days, edge_region)
            advance()
    pooled = {name: combine([per[sc.name][name] for sc in scenarios]) for name in models}
    return pooled, per


def evaluate_seeds(models: dict[str, QoeModel], settings: QoeSettings, seeds: list[int], days: float = 1.0,
                   spec: str | None = None) -> dict[str, Metrics]:
    pooled, _ = evaluate_scenarios(models, settings, [Scenario(f"seed{s}", s, spec, days) for s in seeds])
    return pooled


def table(pooled: dict[str, Metrics]) -> str:
    """A markdown table of the pooled metrics, one row per detector."""
    cols = ["incidents", "found", "alerts", "false_alerts", "f1", "delay_mean_s", "delay_median_s", "delay_max_s",
            "false_alerts_per_day", "cause_accuracy"]
    lines = ["| detector | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for name, m in pooled.items():
        s = m.summary()
        lines.append(f"| {name} | " + " | ".join(str(s[c]) for c in cols) + " |")
    return "\n".join(lines)


def log_to_mlflow(pooled: dict[str, Metrics], per: dict[str, dict[str, Metrics]], settings: QoeSettings) -> str:
    """One MLflow run with pooled metrics per detector, the per-scenario table and the markdown table."""
    import json

    from streamlab.core import tracking

    with tracking.start_run(FAMILY.experiment, run_name="heldout-scenarios", params={"scenarios": ",".join(per)}) as run:
        mlflow = tracking.configure()
        for name, m in pooled.items():
            for key, value in m.summary().items():
                if isinstance(value, (int, float)):
                    mlflow.log_metric(f"{name}_{key}", float(value))
        mlflow.log_text(table(pooled), "heldout_table.md")
        mlflow.log_text(json.dumps({sc: {n: m.summary() for n, m in row.items()} for sc, row in per.items()}, indent=1),
                        "heldout_per_scenario.json")
        return run.info.run_id
