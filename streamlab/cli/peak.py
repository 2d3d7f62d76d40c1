"""``streamlab peak``: flash crowds of live viewers through the edge, and the scaling model beyond this box."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from streamlab.core.errors import UsageError

app = typer.Typer(help="Peak events: a live-viewer load generator through the edge and a scaling simulation.",
                  no_args_is_help=True)

Overrides = Annotated[list[str] | None, typer.Argument(help="configs/peak.yaml overrides, e.g. crowd.ramp_s=30")]


def _sizes(text: str | None) -> list[int | None]:
    if not text:
        return [None]
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--viewers {text!r}: expected a number or a comma-separated list, e.g. 100,200,400") from None
    if not sizes or min(sizes) < 1:
        raise UsageError(f"--viewers {text!r}: every size must be at least 1")
    return sizes  # type: ignore[return-value]


@app.command()
def run(
    edge: Annotated[str | None, typer.Option(help="edge engine: python or varnish (default: configs/peak.yaml)")] = None,
    viewers: Annotated[str | None, typer.Option(help="viewers, or a list for a scaling curve: 100,200,400")] = None,
    duration: Annotated[float | None, typer.Option(help="seconds each crowd watches")] = None,
    edges: Annotated[int | None, typer.Option(help="edges in front of the shields")] = None,
    shields: Annotated[int | None, typer.Option(help="shields (rendezvous hash of the channel)")] = None,
    workers: Annotated[int | None, typer.Option(help="load-generator processes")] = None,
    fault: Annotated[str | None, typer.Option(
        help="tiers restarted during the crowd, tier:seconds in order, e.g. shield:5,origin:5")] = None,
    track: Annotated[bool, typer.Option(help="log the runs to MLflow")] = True,
    overrides: Overrides = None,
) -> None:
    """A flash crowd of LL-HLS viewers through the edge against a live channel; JSON results and plots."""
    from streamlab.pipelines.peak.plots import save_scaling_plot
    from streamlab.pipelines.peak.run import run_peak, write_results
    from streamlab.pipelines.peak.settings import load_peak_settings
    from streamlab.streaming.delivery.engines.faults import parse_faults
    from streamlab.streaming.delivery.engines.varnish import check_engine

    extra = [f"{key}={value}" for key, value in (("edge", edge), ("edges", edges), ("shields", shields),
                                                  ("crowd.duration_s", duration), ("crowd.workers", workers))
             if value is not None]
    if fault:
        extra.append(f"faults.plan=[{fault}]")
    settings = load_peak_settings([*(overrides or []), *extra])
    check_engine(settings.edge)
    parse_faults(settings.faults.plan)  # a bad plan is refused before any crowd starts
    results = []
    for size in _sizes(viewers):
        result = run_peak(settings, size)
        results.append(result)
        typer.echo(
            f"{result['engine']:>7} {result['viewers']:>5} viewers: failed {result['failed_requests']}, "
            f"stalled viewers {result['viewers_with_stall']}, latency to live p50 {result['latency_to_live_median_s']} s "
            f"(started at {result['latency_to_live_at_start_median_s']} s), "
            f"part delivery p50 {result['part_delivery_p50_ms']} ms p99 {result['part_delivery_p99_ms']} ms, "
            f"origin per part/shield {result['origin_media_requests_per_part_per_shield']} (per object max "
            f"{result['origin_media_fetches_max_per_shield']}, outside faults {result['origin_media_fetches_max_outside_faults']}, "
            f"above 1 {result['origin_media_share_above_one']:.1%}; playlist versions max "
            f"{result['origin_playlist_version_fetches_max_per_shield']}, outside faults "
            f"{result['origin_playlist_version_fetches_max_outside_faults']}, above 1 {result['origin_playlist_version_share_above_one']:.1%}), "
            f"cpu {result['cpu_share']} loadgen {[w['cpu_share'] for w in result['loadgen_workers']]} "
            f"({result['loadgen_cpu_ms_per_request']} ms CPU/request), load average {result['load_average'][0]:.1f}"
        )
        for done in result.get("faults", []):
            typer.echo(f"        fault {done['fault']}: down {done.get('down_s')} s, back to pre-fault latency in "
                       f"{done.get('recovery_s')} s; retried {result['retried_requests']}, failed {result['failed_requests']}")
    from streamlab.pipelines.peak.knee import knees

    for engine, knee in knees(results).items():
        typer.echo(f"knee {engine}: " + (f"~{knee['viewers']} viewers, {knee['bottleneck']['process']} at "
                                          f"{knee['bottleneck']['cpu_share']} cores" if knee else "p99 stayed under 250 ms"))
    folder = write_results(settings, results, "run")
    typer.echo(f"results {folder / 'results.json'}")
    if len(results) > 1:
        typer.echo(f"plot    {save_scaling_plot(results, folder)}")
    if track:
        from streamlab.pipelines.peak.report import log_peak_runs

        log_peak_runs(settings, results, folder)


@app.command()
def simulate(
    measured: Annotated[Path | None, typer.Option("--from", help="results.json of `peak run` (or benchmarks/results/peak.json): costs and validation")] = None,
    track: Annotated[bool, typer.Option(help="log the simulation to MLflow")] = True,
    overrides: Overrides = None,
) -> None:
    """Predict origin/shield load and delivery latency for 10k-10M viewers; validate against measured runs."""
    from streamlab.pipelines.peak.run import write_results
    from streamlab.pipelines.peak.settings import load_peak_settings
    from streamlab.pipelines.peak.simulate import costs_for_predictions, predict_scaling, validate

    settings = load_peak_settings(overrides)
    runs: list[dict] = []
    if measured is not None:
        try:
            runs = json.loads(measured.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"--from {measured}: not a readable results.json of `streamlab peak run` ({exc})") from None
        if isinstance(runs, dict):  # benchmarks/results/peak.json: the runs are kept under results.runs
            runs = (runs.get("results") or {}).get("runs", runs)
        if not isinstance(runs, list) or not all(isinstance(r, dict) and "cost_ms_per_request" in r for r in runs):
            raise UsageError(f"--from {measured}: expected the list `streamlab peak run` writes")
    validation = validate(runs, settings.simulate)
    costs = costs_for_predictions(runs, settings.simulate)
    scaling = predict_scaling(settings.simulate, costs)
    for row in validation:
        typer.echo(f"validate {row['engine']:>7} {row['viewers']:>6} viewers: p50 {row['measured_p50_ms']} → "
                   f"{row['predicted_p50_ms']} ms ({row['p50_error']}), p99 {row['measured_p99_ms']} → "
                   f"{row['predicted_p99_ms']} ms ({row['p99_error']}), at live edge {row['measured_at_live_edge']} → "
                   f"{row['predicted_at_live_edge']}, req/viewer/part {row['measured_requests_per_viewer_per_part']} → "
                   f"{row['predicted_requests_per_viewer_per_part']}, waiting on objects in flight "
                   f"{row['measured_waiting_share']} → {row['predicted_waiting_share']}")
    for row in scaling:
        typer.echo(f"predict {row['viewers']:>9} viewers: {row['edges']} edges / {row['shields']} shields, origin "
                   f"{row['origin_requests_per_s']} req/s, shield {row['shield_requests_per_s']} req/s, part delivery "
                   f"p50 {row['part_delivery_p50_ms']} ms p99 {row['part_delivery_p99_ms']} ms"
                   + ("  OVERLOADED" if row["overloaded"] else ""))
    payload = {"costs": {"edge_ms": costs.edge_ms, "shield_ms": costs.shield_ms, "origin_ms": costs.origin_ms,
                         "path_ms_p50": float(sorted(costs.path_ms)[len(costs.path_ms) // 2]) if costs.path_ms else 0.0},
               "validation": validation, "predictions": scaling}
    folder = write_results(settings, [payload], "simulate")
    typer.echo(f"results {folder / 'results.json'}")
    if track:
        from streamlab.pipelines.peak.report import log_simulation

        log_simulation(settings, payload)
