"""``streamlab qoe``: simulate telemetry with incidents, train and run the anomaly detector, evaluate.

Heavy imports (pandas, torch, sklearn, mlflow, ray) happen inside each command so ``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="QoE telemetry: simulate sessions with incidents, detect anomalies and their cause, evaluate.",
                  no_args_is_help=True)

OVERRIDES = typer.Argument(None, help="config overrides for configs/qoe.yaml, e.g. population.sessions_per_day=20000")


@app.command()
def simulate(
    out: Path = typer.Option(..., "--out", help="events file: .jsonl (one event per line) or .parquet"),
    seed: int = typer.Option(0, "--seed", help="draws arrivals, sessions and the random incident mix"),
    incidents: Optional[str] = typer.Option(None, "--incidents", help="SPEC: random (default), random:N, none, a .json/.yaml list, or KIND[(VALUE)][@START][+DURATION];... (see pipelines/qoe/incidents.py)"),
    days: float = typer.Option(1.0, "--days", min=0.001, help="simulated days from population.start_epoch_s"),
    labels: Optional[Path] = typer.Option(None, "--labels", help="ground-truth JSON; default: <out stem>.labels.json beside --out"),
    overrides: Optional[list[str]] = OVERRIDES,
) -> None:
    """Play sessions through the ABR simulator on real traces, with labelled incidents."""
    from models.qoe.settings import load_settings
    from pipelines.qoe.simulate import simulate as run, summary_line, write_simulation

    sim = run(load_settings(overrides), seed, days, incidents)
    written = write_simulation(sim, out, labels)
    typer.echo(f"{summary_line(sim)} -> {out}; ground truth: {written}")
