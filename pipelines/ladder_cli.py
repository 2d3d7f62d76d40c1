"""``streamlab ladder …``: per-title encoding ladders (optimize, evaluate, corpus, train)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Per-title encoding ladders: VMAF convex hull, predicted ladders, BD-rate.", no_args_is_help=True)

Overrides = Annotated[list[str] | None, typer.Argument(help="configs/ladder.yaml overrides, e.g. rules.top_vmaf=93")]


@app.command()
def optimize(
    video: Annotated[Path, typer.Argument(help="source video")],
    method: Annotated[str, typer.Option(help="fixed | hull | predicted")] = "hull",
    codec: Annotated[str, typer.Option(help="h264 | av1")] = "h264",
    out: Annotated[Path, typer.Option(help="where to write the ladder JSON")] = Path("ladder.json"),
    overrides: Overrides = None,
) -> None:
    """Choose a ladder for VIDEO and write it as JSON (rungs: size, codec, bitrates, encoder settings, VMAF)."""
    from pipelines.errors import StreamlabError
    from pipelines.ladder.optimize import optimize_ladder

    if method not in {"fixed", "hull", "predicted"}:
        raise StreamlabError(f"--method {method!r} is not one of: fixed, hull, predicted")
    if codec not in {"h264", "av1"}:
        raise StreamlabError(f"--codec {codec!r} is not one of: h264, av1")
    ladder = optimize_ladder(video, method, codec, overrides)  # type: ignore[arg-type]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(ladder.model_dump_json(indent=1))
    typer.echo(f"{ladder.method} {ladder.codec} ladder for {video.name}: {len(ladder.rungs)} rungs "
               f"({ladder.decision_cpu_s:.0f} CPU s to decide) -> {out}")  # fmt: skip
    for rung in ladder.rungs:
        vmaf = f"VMAF {rung.expected_vmaf:.1f}" if rung.expected_vmaf is not None else ""
        crf = f"crf {rung.encoder.crf:g}" if rung.encoder.crf is not None else rung.encoder.rate_control
        typer.echo(f"  {rung.id:>18}  {rung.width}x{rung.height}  {rung.encoder.encoder} {rung.encoder.preset} {crf}  "
                   f"{vmaf}  [{', '.join(rung.profiles)}]")  # fmt: skip


@app.command()
def evaluate(
    video: Annotated[Path, typer.Argument(help="source video the ladder was made for")],
    ladder: Annotated[Path, typer.Option("--ladder", help="ladder JSON from `streamlab ladder optimize`")],
    extend: Annotated[bool, typer.Option(help="also score the per-title curve extended over the fixed ladder's range")] = True,
    mlflow: Annotated[bool, typer.Option(help="log metrics, JSON and the RD plot to MLflow")] = True,
    overrides: Overrides = None,
) -> None:
    """Encode every rung and the fixed ladder, score VMAF vs the source, BD-rate vs fixed, RD plot."""
    from pipelines.ladder.report import evaluate_ladder_file
    from pipelines.ladder.settings import load_ladder_settings

    results, json_path, png_path = evaluate_ladder_file(video, ladder, load_ladder_settings(overrides), extend=extend, log_mlflow=mlflow)
    first = next(iter(results.values()))
    typer.echo("fixed ladder (stack):")
    for m in first.fixed:
        typer.echo(f"  {m.rung.id:>18}  {m.bitrate_kbps:8.0f} kbit/s  VMAF {m.vmaf:6.2f} (p5 {m.vmaf_p5:6.2f})")
    for name, ev in results.items():
        bd = f"{ev.bd_rate_pct:+.1f}%" if ev.bd_rate_pct is not None else f"n/a ({ev.note})"
        typer.echo(f"{name}: BD-rate vs fixed {bd}")
        for m in ev.ladder:
            typer.echo(f"  {m.rung.id:>18}  {m.bitrate_kbps:8.0f} kbit/s  VMAF {m.vmaf:6.2f} (p5 {m.vmaf_p5:6.2f})"
                       f"  expected {m.rung.expected_vmaf if m.rung.expected_vmaf is not None else '-'}")  # fmt: skip
    typer.echo(f"wrote {json_path} and {png_path}")
