"""``streamlab experiment``: online A/B tests of ABR models and heuristics.

``start`` pins a definition (arms, split, each arm's target) under ``<state>/experiments/NAME``;
``assign`` is the edge's answer for one viewer; ``simulate`` plays simulator viewers into it;
``run-headless`` plays real headless players through the real stack (a pre-period each, then their arm);
``report`` reads the beacons, prints per-arm CIs, the CUPED effect, the SRM check and the verdict,
and logs it to MLflow against the model versions the arms serve.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Online A/B tests: assign viewers to arms, attribute QoE beacons, report effects and a verdict.",
                  no_args_is_help=True)

OVERRIDES = typer.Argument(None, help="config overrides for configs/experiment.yaml, e.g. targets.challenger.policy=bola")


@app.command()
def start(
    name: str = typer.Argument(..., help="experiment name (lowercase token); also the assignment salt"),
    arms: str = typer.Option(..., "--arms", help="comma-separated arm names, control first; each a target in configs/experiment.yaml"),
    split: str | None = typer.Option(None, "--split", help="percent per arm, e.g. 50/50 or 34/33/33 (default: even)"),
    metric: str = typer.Option("qoe", "--metric", help="primary metric of the verdict: qoe, rebuffer_ratio, startup_s, bitrate_kbps"),
    replace: bool = typer.Option(False, "--replace", help="overwrite an existing experiment of this name (its records are cleared)"),
    overrides: list[str] | None = OVERRIDES,
) -> None:
    """Define and persist an experiment; model aliases are pinned to versions now."""
    from streamlab.core.registry import resolve
    from streamlab.streaming.experiment.definition import define, save
    from streamlab.streaming.experiment.settings import load_experiment_settings

    experiment = define(name, arms, split, metric, load_experiment_settings(overrides), resolve_version=resolve)
    path = save(experiment, replace=replace)
    for arm in experiment.arms:
        typer.echo(f"{arm.name}: {arm.percent:g}% -> {arm.label}")
    typer.echo(f"started {name} (metric {metric}) -> {path}")


@app.command()
def assign(
    name: str = typer.Argument(..., help="experiment name"),
    viewer_id: str = typer.Argument(..., help="the viewer id the edge hashes"),
) -> None:
    """Print the viewer's arm and what it serves (sticky: the same answer every time)."""
    from streamlab.streaming.experiment.definition import load

    arm = load(name).assign(viewer_id)
    typer.echo(f"{arm.name}\t{arm.label}")


@app.command()
def simulate(
    name: str = typer.Argument(..., help="a started experiment"),
    viewers: int | None = typer.Option(None, "--viewers", min=2, help="viewers to simulate (default simulation.viewers)"),
    overrides: list[str] | None = OVERRIDES,
) -> None:
    """Play simulator viewers on the held-out traces, each in their arm, with a pre-period; beacons to the experiment."""
    from streamlab.pipelines.experiment.simulate import held_out
    from streamlab.pipelines.experiment.simulate import simulate as run
    from streamlab.streaming.experiment.definition import load
    from streamlab.streaming.experiment.settings import load_experiment_settings

    settings = load_experiment_settings(overrides)
    if viewers is not None:
        settings = settings.model_copy(update={"simulation": settings.simulation.model_copy(update={"viewers": viewers})})
    traces, video, compat = held_out()
    outcome = run(load(name), settings, traces, video, compat)
    split = ", ".join(f"{arm} {n}" for arm, n in outcome.viewers_by_arm.items())
    typer.echo(f"{outcome.viewers} viewers ({split}), {outcome.sessions} sessions -> {outcome.beacons}")


@app.command()
def report(
    name: str = typer.Argument(..., help="a started experiment"),
    beacons: list[Path] | None = typer.Option(None, "--beacons", help="beacon JSONL file(s) (default: the experiment's own)"),
    track: bool = typer.Option(True, "--track/--no-track", help="log the report to MLflow and tag the arms' model versions"),
    as_json: bool = typer.Option(False, "--json", help="print the whole report as JSON"),
    overrides: list[str] | None = OVERRIDES,
) -> None:
    """Per-arm metrics with CIs, the CUPED effect, the sample-ratio check and a stop/continue verdict."""
    from streamlab.pipelines.experiment.report import build_report, format_report, log_report
    from streamlab.streaming.experiment.definition import load
    from streamlab.streaming.experiment.settings import load_experiment_settings

    experiment = load(name)
    settings = load_experiment_settings(overrides)
    result = build_report(experiment, settings, beacons or None)
    typer.echo(json.dumps(result, indent=2) if as_json else format_report(result))
    if track:
        typer.echo(f"logged to MLflow run {log_report(result, experiment, settings)}")


@app.command("run-headless")
def run_headless(
    name: str = typer.Argument(..., help="a started experiment"),
    title_id: str = typer.Option(..., "--title-id", help="published title the players play"),
    viewers: int | None = typer.Option(None, "--viewers", min=2, help="viewers (default headless.viewers)"),
    pre_sessions: int | None = typer.Option(None, "--pre-sessions", min=0, max=10,
                                            help="pre-period BOLA sessions per viewer, CUPED's covariate (default headless.pre_sessions)"),
    pre_offsets: str | None = typer.Option(None, "--pre-offsets", help="same | rotated: where on the viewer's link pre-period sessions start"),
    seed: int | None = typer.Option(None, "--seed", help="viewer ids, links and start points"),
    exposures: bool | None = typer.Option(None, "--exposures/--no-exposures",
                                          help="log exposures, or credit sessions only by the arms their beacons carry"),
    edge: str | None = typer.Option(None, "--edge", help="edge URL (default: start origin/shield/edge on loopback over the media root)"),
    server: str | None = typer.Option(None, "--server", help="model server URL for abr/decide (default: start one for the run)"),
    local: bool = typer.Option(False, "--local", help="decide in the player (pinned versions loaded in-process), no model server"),
    overrides: list[str] | None = OVERRIDES,
) -> None:
    """Headless players through the real stack: a pre-period per viewer, then one session each in their arm."""
    from contextlib import ExitStack

    from streamlab.core.errors import UsageError
    from streamlab.pipelines.experiment.harness import play_experiment
    from streamlab.pipelines.experiment.report import build_report, format_report
    from streamlab.pipelines.experiment.simulate import held_out
    from streamlab.streaming.experiment.definition import load
    from streamlab.streaming.experiment.settings import load_experiment_settings
    from streamlab.streaming.headless.settings import load_headless_settings

    if pre_offsets is not None and pre_offsets not in ("same", "rotated"):
        raise UsageError(f"--pre-offsets {pre_offsets!r}: choose same or rotated")
    experiment = load(name)
    settings = load_experiment_settings(overrides)
    chosen = {"viewers": viewers, "pre_sessions": pre_sessions, "pre_offsets": pre_offsets, "seed": seed, "log_exposures": exposures}
    run = settings.headless.model_copy(update={k: v for k, v in chosen.items() if v is not None})
    player = load_headless_settings(run.player)
    traces = held_out()[0]
    with ExitStack() as running:
        if edge is None:
            from streamlab.streaming.delivery.stack import running_stack

            edge = running.enter_context(running_stack()).edge_url
        if server is None and not local:
            from streamlab.serving.server import running_server
            from streamlab.serving.settings import load_serving_settings

            port = _free_port()
            typer.echo(f"starting a model server on port {port} (abr/decide only)...")
            off = [f"models.{m}.enabled=false" for m in type(load_serving_settings().models).model_fields if m != "abr"]
            server = running.enter_context(running_server([f"port={port}", *off])).url
        outcome = play_experiment(experiment, edge, title_id, traces, run.viewers, player, seed=run.seed,
                                  server_url=None if local else server, pre_sessions=run.pre_sessions,
                                  pre_period_s=settings.pre_period_s, log_exposures=run.log_exposures, pre_offsets=run.pre_offsets)
    sessions = outcome.results + outcome.pre_results
    failed = sum(1 for r in sessions if r.error)
    decisions = {s: sum(r.decisions(s) for r in outcome.results) for s in ("model", "fallback", "local")}
    split = ", ".join(f"{arm} {n}" for arm, n in outcome.viewers_by_arm.items())
    typer.echo(f"{run.viewers} viewers ({split}), {len(outcome.results)} experiment + {len(outcome.pre_results)} pre-period "
               f"sessions ({failed} failed) in {outcome.wall_s:.0f} s; decisions {decisions}; beacons -> {outcome.beacons}")
    typer.echo(format_report(build_report(experiment, settings)))
    typer.echo(f"(streamlab experiment report {name} logs this report to MLflow)")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
