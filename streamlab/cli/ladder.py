"""``streamlab ladder …``: per-title encoding ladders (optimize, evaluate, corpus, train)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Per-title encoding ladders: VMAF convex hull, predicted ladders, BD-rate.", no_args_is_help=True
)

Overrides = Annotated[list[str] | None, typer.Argument(help="configs/ladder.yaml overrides, e.g. rules.top_vmaf=93")]


@app.command()
def optimize(
    video: Annotated[Path, typer.Argument(help="source video")],
    method: Annotated[str, typer.Option(help="fixed | hull | predicted | shots")] = "hull",
    codec: Annotated[str, typer.Option(help="h264 | av1")] = "h264",
    out: Annotated[Path, typer.Option(help="where to write the ladder JSON")] = Path("ladder.json"),
    overrides: Overrides = None,
) -> None:
    """Choose a ladder for VIDEO and write it as JSON (rungs: size, codec, bitrates, encoder settings, VMAF)."""
    from streamlab.core.errors import UsageError
    from streamlab.streaming.transcode.per_title.optimize import optimize_ladder

    if method not in {"fixed", "hull", "predicted", "shots"}:
        raise UsageError(f"--method {method!r} is not one of: fixed, hull, predicted, shots")
    if codec not in {"h264", "av1"}:
        raise UsageError(f"--codec {codec!r} is not one of: h264, av1")
    ladder = optimize_ladder(video, method, codec, overrides)  # type: ignore[arg-type]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(ladder.model_dump_json(indent=1))
    typer.echo(f"{ladder.method} {ladder.codec} ladder for {video.name}: {len(ladder.rungs)} rungs "
               f"({ladder.decision_cpu_s:.0f} CPU s to decide) -> {out}")  # fmt: skip
    for note in ladder.notes:
        typer.echo(f"  note: {note}")
    for rung in ladder.rungs:
        vmaf = f"VMAF {rung.expected_vmaf:.1f}" if rung.expected_vmaf is not None else ""
        if rung.measured_vmaf is not None:
            vmaf += " (measured)"
        crf = f"crf {rung.encoder.crf:g}" if rung.encoder.crf is not None else rung.encoder.rate_control
        typer.echo(f"  {rung.id:>18}  {rung.width}x{rung.height}  {rung.encoder.encoder} {rung.encoder.preset} {crf}  "
                   f"{vmaf}  [{', '.join(rung.profiles)}]")  # fmt: skip
        if rung.shots:
            typer.echo("      per shot: " + "  ".join(
                f"{s.start_s:g}s crf {s.crf:g} ({s.expected_vmaf:.1f})" for s in rung.shots))  # fmt: skip


@app.command()
def evaluate(
    video: Annotated[Path, typer.Argument(help="source video the ladder was made for")],
    ladder: Annotated[Path, typer.Option("--ladder", help="ladder JSON from `streamlab ladder optimize`")],
    extend: Annotated[
        bool, typer.Option(help="also score the per-title curve extended over the fixed ladder's range")
    ] = True,
    mlflow: Annotated[bool, typer.Option(help="log metrics, JSON and the RD plot to MLflow")] = True,
    overrides: Overrides = None,
) -> None:
    """Encode every rung and the fixed ladder, score VMAF vs the source, BD-rate vs fixed, RD plot."""
    from streamlab.models.ladder.settings import load_ladder_settings
    from streamlab.training.ladder.report import evaluate_ladder_file

    results, json_path, png_path = evaluate_ladder_file(
        video, ladder, load_ladder_settings(overrides), extend=extend, log_mlflow=mlflow
    )
    first = next(iter(results.values()))
    typer.echo("fixed ladder (stack):")
    for m in first.fixed:
        typer.echo(_measured(m))
    for name, ev in results.items():
        bd = f"{ev.bd_rate_pct:+.1f}%" if ev.bd_rate_pct is not None else f"n/a ({ev.note})"
        typer.echo(f"{name}: BD-rate vs fixed {bd}")
        for m in ev.ladder:
            expected = m.rung.expected_vmaf if m.rung.expected_vmaf is not None else "-"
            typer.echo(f"{_measured(m)}  expected {expected}")
    typer.echo(f"wrote {json_path} and {png_path}")


def _cost_line(name: str, cost: dict) -> str:
    low, high = cost["usd_per_million_hours"]
    return f"  {name:>16}  {cost['gb_per_hour']:7.3f} GB/h  ${low:>12,.0f} - ${high:>12,.0f} per million hours"


def _measured(m) -> str:  # noqa: ANN001 - a MeasuredRung
    return f"  {m.id:>18}  {m.bitrate_kbps:8.0f} kbit/s  VMAF {m.vmaf:6.2f} (p5 {m.vmaf_p5:6.2f})"


@app.command()
def corpus(
    rebuild: Annotated[bool, typer.Option(help="re-encode grids already built")] = False,
    overrides: Overrides = None,
) -> None:
    """Build the predictor's corpus (real clips, segments, synthetic lavfi sources) with Ray."""
    from streamlab.models.ladder.settings import load_ladder_settings
    from streamlab.training.ladder.corpus import build_corpus, corpus_dir

    entries = build_corpus(load_ladder_settings(overrides), rebuild=rebuild)
    points = sum(len(e.points) for e in entries)
    typer.echo(f"corpus: {len(entries)} grids, {points} trial points -> {corpus_dir() / 'corpus.json'}")


@app.command()
def train(
    register: Annotated[
        bool, typer.Option(help="register the model; it becomes the configured alias only if it beats the holder")
    ] = True,
    write_default: Annotated[bool, typer.Option(help="also refresh the committed default artifact")] = False,
    overrides: Overrides = None,
) -> None:
    """Train the ladder predictor on the corpus (grouped CV with Ray), log to MLflow, register and promote (gated)."""
    from streamlab.models.ladder.settings import load_ladder_settings
    from streamlab.training.ladder.corpus import load_corpus
    from streamlab.training.ladder.train import train_ladder_model

    trained = train_ladder_model(
        load_corpus(), load_ladder_settings(overrides), register=register, write_default=write_default
    )
    for key, value in sorted(trained.metrics.items()):
        typer.echo(f"  {key}: {value:.2f}")
    if trained.promotion is not None:
        typer.echo(trained.promotion.reason)


@app.command()
def report(
    clips: Annotated[list[Path] | None, typer.Option("--clip", help="clips (default: the fetched real clips)")] = None,
    out_dir: Annotated[Path, typer.Option(help="where summary.json and RD plots go")] = Path(".state/ladder/report"),
    shots: Annotated[bool, typer.Option(help="also the shot-based ladder (per-shot grid: about the hull's CPU again)")] = False,
    overrides: Overrides = None,
) -> None:
    """Fixed vs per-title (hull, held-out predicted, shot-based; H.264, AV1) on real clips: BD-rates, CPU,
    RD plots, and the delivery cost (bytes per hour watched, CDN $ per million hours at configs/ladder.yaml cost)."""
    from streamlab.core import project
    from streamlab.models.ladder.settings import load_ladder_settings
    from streamlab.training.ladder.corpus import load_corpus
    from streamlab.training.ladder.real_clips import report_real_clips

    settings = load_ladder_settings(overrides)
    chosen = clips or [project.raw_data_dir() / "videos" / f"{name}.mp4" for name in settings.corpus.real]
    summary = report_real_clips(chosen, load_corpus(), settings, out_dir, shots=shots)
    low, high = settings.cost.usd_per_gb
    for clip, row in summary.items():
        typer.echo(f"{clip} delivery cost (GB per hour watched; CDN $ per million hours at ${low:g}-${high:g}/GB):")
        typer.echo(_cost_line("fixed", row["fixed_cost"]))
        for codec in ("h264", "av1"):
            for name, cost in row.get(codec, {}).get("cost", {}).items():
                typer.echo(_cost_line(name, cost))
        for codec in ("h264", "av1"):
            if codec in row:
                bd = ", ".join(
                    f"{k}: {v:+.1f}%" if v is not None else f"{k}: n/a" for k, v in row[codec]["bd_rate_pct"].items()
                )
                typer.echo(
                    f"{clip} {codec}: {bd}; predicted/hull CPU {row[codec]['cpu_ratio_predicted_vs_hull_encodes']:.3f}"
                )
    typer.echo(f"wrote {out_dir}")


@app.command()
def acceptance(
    clips: Annotated[list[Path] | None, typer.Option("--clip", help="clips (default: the fetched real clips)")] = None,
    out_dir: Annotated[Path, typer.Option(help="where acceptance.json/.md and the plots go")] = Path(
        ".state/ladder/acceptance"
    ),
    codec: Annotated[list[str] | None, typer.Option("--codec", help="h264 and/or av1 (default: both)")] = None,
    method: Annotated[
        list[str] | None,
        typer.Option("--method", help="default (the ladder ingest publishes, per_title_method) and/or shots "
                     "(the shot-based comparison); default: both"),
    ] = None,
    ingest_model: Annotated[
        bool, typer.Option(help="the default method's predictions from the model ingest loads, not the held-out one")
    ] = False,
    mlflow: Annotated[bool, typer.Option(help="log metrics, the table and the plots to MLflow")] = True,
    overrides: Overrides = None,
) -> None:
    """Per-title ladders (H.264, AV1) vs the fixed ladder on real clips (issue 21's acceptance): the ladder
    ingest publishes with the committed per_title_method, and the shot-based one: BD-rate, top-rung VMAF,
    worst shot per rung, shot-search CPU vs the hull's, the predicted shot ladder on a held-out clip
    (shots.held_out_clip), and the delivery cost. Encodes every rung: minutes per clip."""
    from streamlab.core import project
    from streamlab.core.errors import UsageError
    from streamlab.models.ladder.settings import load_ladder_settings
    from streamlab.training.ladder.shot_report import METHODS, acceptance_table, run_acceptance

    codecs = codec or ["h264", "av1"]
    if not set(codecs) <= {"h264", "av1"}:
        raise UsageError(f"--codec {sorted(set(codecs) - {'h264', 'av1'})} is not one of: h264, av1")
    methods = method or list(METHODS)
    if not set(methods) <= set(METHODS):
        raise UsageError(f"--method {sorted(set(methods) - set(METHODS))} is not one of: {', '.join(METHODS)}")
    settings = load_ladder_settings(overrides)
    chosen = clips or [project.raw_data_dir() / "videos" / f"{name}.mp4" for name in settings.corpus.real]
    summary = run_acceptance(chosen, settings, out_dir, codecs=codecs, methods=methods,  # type: ignore[arg-type]
                             ingest_model=ingest_model, log_mlflow=mlflow)  # fmt: skip
    typer.echo(acceptance_table(summary, settings.shots.held_out_clip))
    typer.echo(f"wrote {out_dir}")
