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
    policy: Annotated[str, typer.Option(help="VOD: bba, rate, bola, robustmpc, oracle, learned; live: hlsjs, l2a, lolp, learned; a comma list or 'all'")],
    traces: Annotated[Path, typer.Option(help="directory of throughput traces (time s, Mbit/s per line)")],
    out: Annotated[Path, typer.Option(help="output directory for logs, summary.json and plots")],
    video_sizes: Annotated[Path | None, typer.Option(help="directory with video_size_0..5 (default <raw data dir>/abr/video_sizes)")] = None,
    model: Annotated[str | None, typer.Option(help="learned policy weights: a .npz path or models:/<name>@<alias> (default: the shipped checkpoint)")] = None,
    compat: Annotated[bool, typer.Option("--compat/--no-compat", help="benchmark-compatibility quirks (on: numbers compare with the literature)")] = True,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="write the per-trace timelines and the QoE CDF")] = True,
    mode: Annotated[str, typer.Option(help="vod (Pensieve's title) or live (low-latency: configs/abr.yaml live)")] = "vod",
    split: Annotated[str, typer.Option(help="all traces in TRACES, or the configured split's train / validation part")] = "all",
) -> None:
    """Play every trace in TRACES with each policy; write per-trace logs, summary.json and plots."""
    if mode not in ("vod", "live"):
        raise typer.BadParameter(f"mode must be vod or live, not {mode!r}", param_hint="--mode")
    if split not in ("all", "train", "validation"):
        raise typer.BadParameter(f"split must be all, train or validation, not {split!r}", param_hint="--split")
    if mode == "live":
        _evaluate_live(policy, traces, out, video_sizes, model, split)
        return
    if split != "all":
        raise typer.BadParameter("--split applies to --mode live (VOD's held-out report is `streamlab abr train`)",
                                 param_hint="--split")
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


def _evaluate_live(policy: str, traces: Path, out: Path, video_sizes: Path | None, model: str | None, split: str) -> None:
    """Live sessions per policy: mean live QoE, latency, rebuffer, switches, and paired 95% intervals vs each baseline."""
    from streamlab.core.config import load_config
    from streamlab.models.abr.live.evaluate import evaluate_live
    from streamlab.models.abr.live.registry import parse_live_policy_list
    from streamlab.models.abr.traces import load_traces
    from streamlab.models.abr.video import default_video_dir, load_video
    from streamlab.training.abr.settings import TrainSettings
    from streamlab.training.abr.splits import split_traces

    names = parse_live_policy_list(policy)
    settings = load_config("abr", TrainSettings)
    trace_list = load_traces(traces)
    if split != "all":
        train_part, validation_part = split_traces(trace_list, settings.split.validation_fraction, settings.split.seed)
        trace_list = validation_part if split == "validation" else train_part
    video = load_video(video_sizes or default_video_dir())
    summary = evaluate_live(names, trace_list, video, settings.live, out, model)
    for name in names:
        entry = summary[name]
        typer.echo(
            f"{name:>8}  QoE_live {entry['mean_qoe']:.4f}  latency {entry['mean_latency_s']:.2f} s  "
            f"rebuffer {100 * entry['rebuffer_ratio']:.2f}%  switches {entry['mean_switches']:.1f}  "
            f"bitrate {entry['mean_bitrate_kbps']:.0f} kbit/s  ({entry['traces']} traces)"
        )
    outages = summary[names[0]]["outage_traces"]
    typer.echo(f"excluding {len(outages)} outage traces (mean link rate below the lowest rung): "
               + "  ".join(f"{n} {summary[n]['mean_qoe_excluding_outages']:.4f}" for n in names))
    for name in names:
        for key, label in (("paired_vs", "all"), ("paired_vs_excluding_outages", "no outages")):
            for baseline, diff in summary[name][key].items():
                typer.echo(f"{name:>8} - {baseline:<6} ({label:>10}) {diff['mean']:+.4f}  95% CI "
                           f"[{diff['low']:+.4f}, {diff['high']:+.4f}]  better on {diff['wins']}/{diff['traces']}")
    typer.echo(f"wrote {out}")


@app.command()
def train(
    overrides: Annotated[list[str] | None, typer.Argument(help="config overrides, e.g. predictor.epochs=5 planner.horizon=[4]")] = None,
    traces: Annotated[Path | None, typer.Option(help="training traces (default data/raw/abr/train_traces)")] = None,
    output: Annotated[Path | None, typer.Option(help="checkpoint path (default models/abr/weights/learned.npz, live: learned_live.npz)")] = None,
    mode: Annotated[str, typer.Option(help="vod or live (the learned live policy, configs/abr.yaml live)")] = "vod",
) -> None:
    """Train the learned policy: Ray rollouts, goodput quantile model, planner knobs chosen on training traces."""
    import sys

    from streamlab.core.config import load_config
    from streamlab.training.abr.settings import TrainSettings
    from streamlab.training.abr.train import train as run_training

    if mode not in ("vod", "live"):
        raise typer.BadParameter(f"mode must be vod or live, not {mode!r}", param_hint="--mode")
    extra = list(overrides or [])
    if traces is not None:
        extra.append(f"data.traces={traces}")
    if output is not None:
        extra.append(f"{'live.output' if mode == 'live' else 'output'}={output}")
    settings = load_config("abr", TrainSettings, extra)
    if mode == "live":
        from streamlab.training.abr.live import train_live

        live_report = train_live(settings, command=" ".join(["streamlab abr train", *sys.argv[3:]]))
        typer.echo(f"trained in {live_report.seconds:.0f} s; live planner {live_report.knobs}")
        for name, entry in sorted(live_report.validation.items(), key=lambda kv: kv[1]["mean_qoe"]):
            typer.echo(f"{name:>8}  validation QoE_live {entry['mean_qoe']:.4f}  latency {entry['mean_latency_s']:.2f} s  "
                       f"rebuffer {100 * entry['rebuffer_ratio']:.2f}%  switches {entry['mean_switches']:.1f}")
        typer.echo(f"wrote {live_report.checkpoint} (+ .json)")
        return
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
