"""``streamlab abr``: evaluate ABR policies over traces and train the learned one.

Heavy imports (numpy-heavy simulator, torch, ray, mlflow, matplotlib) happen inside commands so
``streamlab --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Adaptive bitrate: a faithful Pensieve simulator, baselines, oracle, learned policy.",
                  no_args_is_help=True)


@app.command()
def evaluate(
    policy: Annotated[str, typer.Option(help="bba, rate, bola, robustmpc, oracle, learned; a comma list or 'all'")],
    traces: Annotated[Path, typer.Option(help="directory of throughput traces (time s, Mbit/s per line)")],
    out: Annotated[Path, typer.Option(help="output directory for logs, summary.json and plots")],
    video_sizes: Annotated[Path | None, typer.Option(help="directory with video_size_0..5 (default <raw data dir>/abr/video_sizes)")] = None,
    model: Annotated[str | None, typer.Option(help="learned policy weights: a .npz path or models:/<name>@<alias> (default: the shipped checkpoint)")] = None,
    compat: Annotated[bool, typer.Option("--compat/--no-compat", help="benchmark-compatibility quirks (on: numbers compare with the literature)")] = True,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="write the per-trace timelines and the QoE CDF")] = True,
) -> None:
    """Play every trace in TRACES with each policy; write per-trace logs, summary.json and plots."""
    from streamlab.models.abr.evaluate import evaluate as run_evaluation
    from streamlab.models.abr.registry import parse_policy_list
    from streamlab.models.abr.video import default_video_dir

    names = parse_policy_list(policy)
    result = run_evaluation(names, traces, video_sizes or default_video_dir(), out, compat=compat, model=model,
                            plots=plots)
    for name in names:
        entry = result.summary[name]
        typer.echo(
            f"{name:>10}  QoE {entry['mean_qoe']:.4f}  bitrate {entry['mean_bitrate_kbps']:.0f} kbit/s  "
            f"rebuffer {100 * entry['rebuffer_ratio']:.2f}%  switches {entry['mean_switches']:.1f}  "
            f"({entry['traces']} traces)"
        )
    typer.echo(f"wrote {out}")


@app.command()
def train(
    overrides: Annotated[list[str] | None, typer.Argument(help="config overrides, e.g. predictor.epochs=5 planner.horizon=[4]")] = None,
    traces: Annotated[Path | None, typer.Option(help="training traces (default data/raw/abr/train_traces)")] = None,
    output: Annotated[Path | None, typer.Option(help="checkpoint path (default models/abr/weights/learned.npz)")] = None,
) -> None:
    """Train the learned policy: Ray rollouts, goodput quantile model, planner knobs chosen on validation."""
    import sys

    from streamlab.core.config import load_config
    from streamlab.training.abr.settings import TrainSettings
    from streamlab.training.abr.train import train as run_training

    extra = list(overrides or [])
    if traces is not None:
        extra.append(f"data.traces={traces}")
    if output is not None:
        extra.append(f"output={output}")
    settings = load_config("abr", TrainSettings, extra)
    report = run_training(settings, command=" ".join(["streamlab abr train", *sys.argv[3:]]))
    typer.echo(f"trained in {report.seconds:.0f} s; planner {report.knobs}")
    for name, entry in sorted(report.validation.items(), key=lambda kv: kv[1]["mean_qoe"]):
        typer.echo(
            f"{name:>10}  validation QoE {entry['mean_qoe']:.4f}  bitrate {entry['mean_bitrate_kbps']:.0f}  "
            f"rebuffer {100 * entry['rebuffer_ratio']:.2f}%  switches {entry['mean_switches']:.1f}"
        )
    typer.echo(f"wrote {report.checkpoint} (+ .json); MLflow run {report.run_id}")
    if report.promotion is not None:
        typer.echo(report.promotion.reason)
