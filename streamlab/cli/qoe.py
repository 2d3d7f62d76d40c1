"""``streamlab qoe``: simulate telemetry with incidents, train and run the anomaly detector, evaluate.

Heavy imports (pandas, torch, sklearn, mlflow, ray) happen inside each command so ``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="QoE telemetry: simulate sessions with incidents, detect anomalies and their cause, evaluate.",
                  no_args_is_help=True)

OVERRIDES = typer.Argument(None, help="config overrides for configs/qoe.yaml, e.g. population.sessions_per_day=20000")


@app.command()
def simulate(
    out: Path = typer.Option(..., "--out", help="events file: .jsonl (one event per line) or .parquet"),
    seed: int = typer.Option(0, "--seed", help="draws arrivals, sessions and the random incident mix"),
    incidents: str | None = typer.Option(None, "--incidents", help="SPEC: random (default), random:N, none, a .json/.yaml list, or KIND[(VALUE)][@START][+DURATION];... (see training/qoe/incidents.py)"),
    days: float = typer.Option(1.0, "--days", min=0.001, help="simulated days from population.start_epoch_s"),
    labels: Path | None = typer.Option(None, "--labels", help="ground-truth JSON; default: <out stem>.labels.json beside --out"),
    overrides: list[str] | None = OVERRIDES,
) -> None:
    """Play sessions through the ABR simulator on real traces, with labelled incidents."""
    from streamlab.models.qoe.settings import load_settings
    from streamlab.training.qoe.simulate import simulate as run
    from streamlab.training.qoe.simulate import summary_line, write_simulation

    sim = run(load_settings(overrides), seed, days, incidents)
    written = write_simulation(sim, out, labels)
    typer.echo(f"{summary_line(sim)} -> {out}; ground truth: {written}")


@app.command()
def train(
    detector: str = typer.Option("all", "--detector", help="rule, zscore, iforest, sequence, a comma list, or all"),
    out: Path | None = typer.Option(None, "--out", help="where the artifact directories go (default <state>/qoe/detectors)"),
    track: bool = typer.Option(True, "--track/--no-track", help="log to MLflow, register training.detector, promote it if it beats the champion"),
    overrides: list[str] | None = OVERRIDES,
) -> None:
    """Simulate training days, fit, calibrate and validate the detectors, register the primary one."""
    from streamlab.models.qoe.detectors import DETECTORS
    from streamlab.models.qoe.errors import DetectorError
    from streamlab.models.qoe.settings import load_settings
    from streamlab.training.qoe.train import train as run

    names = list(DETECTORS) if detector == "all" else [d.strip() for d in detector.split(",") if d.strip()]
    unknown = [n for n in names if n not in DETECTORS]
    if unknown or not names:
        raise DetectorError(f"unknown detector(s) {unknown or detector!r}; valid: {', '.join(DETECTORS)}, or all")
    result = run(load_settings(overrides), names, out, track)
    for name, model in result.models.items():
        typer.echo(f"{name}: threshold {model.detector.threshold:.4g}, validation F1 {result.validation[name].f1:.3f}"
                   f" -> {result.paths[name]}")
    typer.echo(f"trained in {result.seconds:.0f} s" + (f"; registered {result.model_uri}" if result.model_uri else ""))
    if result.promotion is not None:
        typer.echo(result.promotion.reason)


@app.command()
def detect(
    events: Path = typer.Option(..., "--events", help="telemetry: .jsonl or .parquet"),
    out: Path = typer.Option(Path("alerts.jsonl"), "--out", help="alerts, one JSON object per line"),
    model: str | None = typer.Option(None, "--model", help="artifact dir, a registry URI (models:/<name>@champion), a committed detector name, or eb; default: eb for schema-v2 JSONL, else the committed sequence detector"),
    engine: str = typer.Option("local", "--engine", help="local (this process) or ray (Ray Data over time shards)"),
    mode: str = typer.Option("batch", "--mode", help="batch, or stream (event by event, as the ingest endpoint does)"),
) -> None:
    """Score an events file and write alerts (start, end, dimension, value, severity, evidence)."""
    import json

    from streamlab.models.qoe.alerts import write_alerts
    from streamlab.models.qoe.detect import detect_file, detect_stream
    from streamlab.models.qoe.errors import DetectorError
    from streamlab.models.qoe.ingest import write_rejects
    from streamlab.training.qoe.registry import load_model

    if mode not in ("batch", "stream"):
        raise DetectorError(f"unknown --mode {mode!r}; valid: batch, stream")
    if model is None and _schema_version(events) == 2:
        typer.echo("schema v2 events: the eb detector reads every v2 dimension (--model chooses another)")
        model = "eb"
    if model == "eb":
        _detect_eb(events, out)
        return
    try:
        qoe_model = load_model(model)
    except DetectorError as exc:  # the registry knows the trained detectors; eb is the CLI's, so it names it here
        raise DetectorError(f"{exc}, or eb (schema v2)") from None
    if mode == "stream":
        streamed = detect_stream(qoe_model, events)
        alerts = streamed.alerts
        typer.echo(f"stream: {streamed.accepted} accepted, {streamed.rejected} rejected")
    else:
        detected, ingest = detect_file(qoe_model, events, engine)
        alerts = detected.alerts
        if ingest.rejects:
            rejects = out.with_name(out.name.split(".")[0] + ".rejects.jsonl")
            summary = write_rejects(ingest, rejects)
            typer.echo(f"rejected {summary['rejected']} event(s) ({json.dumps(summary['rejected_by_reason'])}) -> {rejects}")
        typer.echo(f"{ingest.accepted} events, {detected.windows} windows scored")
    write_alerts(alerts, out)
    typer.echo(f"{len(alerts)} alert(s) by {qoe_model.detector.name} -> {out}")
    for a in alerts[:20]:
        typer.echo(f"  {a.severity:8s} {a.dimension}={a.value}  start {a.start:.0f}  detected {a.detected_at:.0f}  end {a.end:.0f}")


def _schema_version(events: Path) -> int | None:
    """The ``schema_version`` of a JSONL file's first event (None: not JSONL, unreadable, or version 1)."""
    import json

    if events.suffix.lower() not in (".jsonl", ".json", ".ndjson") or not events.is_file():
        return None
    try:
        with events.open("rb") as handle:
            first = next((line for line in handle if line.strip()), b"")
        version = json.loads(first).get("schema_version") if first else None
    except (OSError, ValueError, AttributeError):
        return None
    return version if isinstance(version, int) else None


READ_BUFFER = 1 << 20


def _detect_eb(events: Path, out: Path) -> None:
    """``--model eb``: the empirical-Bayes detector over schema v1/v2 JSONL (models/qoe/SCHEMA.md), event by event."""
    import json

    from streamlab.models.qoe.alerts import write_alerts
    from streamlab.models.qoe.eb import detect_lines
    from streamlab.models.qoe.errors import TelemetryError
    from streamlab.models.qoe.settings import load_settings

    if not events.is_file():
        raise TelemetryError(f"{events}: events file not found")
    if events.suffix.lower() not in (".jsonl", ".json", ".ndjson"):
        raise TelemetryError(f"{events}: --model eb reads JSONL (one event per line), not {events.suffix!r}")
    with events.open("rb", buffering=READ_BUFFER) as handle:  # 1 MiB: halves the line reads' cost on a 2M-event day
        alerts, counts = detect_lines(handle, load_settings().eb)
    write_alerts(alerts, out)
    typer.echo(f"eb: {json.dumps(counts)}")
    typer.echo(f"{len(alerts)} alert(s) by eb -> {out}")
    for a in alerts[:20]:
        typer.echo(f"  {a.severity:8s} {a.dimension}={a.value}  {a.evidence.get('metric')}  start {a.start:.0f}  "
                   f"detected {a.detected_at:.0f}  end {a.end:.0f}")


@app.command()
def world(
    out: Path = typer.Option(..., "--out", help="events file (.jsonl), schema v2"),
    seed: int = typer.Option(0, "--seed", help="draws sessions and the incident mix"),
    sessions: int = typer.Option(20000, "--sessions", min=10, help="sessions in the day"),
    titles: int = typer.Option(300, "--titles", min=20, help="catalogue size (at least 20: the flash-crowd decoy is one of titles 5-19)"),
) -> None:
    """A schema-v2 day with the issue-19 incident types (training/qoe/world_v2.py); labels beside --out."""
    from streamlab.training.qoe.world_v2 import generate, write_world

    w = generate(seed, sessions=sessions, titles=titles)
    labels = write_world(w, out)
    typer.echo(f"{len(w.events)} events, {len(w.incidents)} incidents -> {out}; ground truth: {labels}")


@app.command()
def evaluate(
    events: Path | None = typer.Option(None, "--events", help="the events file the alerts were computed on"),
    labels: Path | None = typer.Option(None, "--labels", help="ground truth from simulate (default: beside --events)"),
    alerts: Path | None = typer.Option(None, "--alerts", help="alerts from detect"),
    seeds: str | None = typer.Option(None, "--seeds", help="instead of files: simulate these held-out seeds (comma list) and evaluate every committed detector"),
    days: float = typer.Option(1.0, "--days", help="with --seeds: simulated days per seed"),
    incidents: str | None = typer.Option(None, "--incidents", help="with --seeds: incident SPEC"),
    scenarios: str | None = typer.Option(None, "--scenarios", help="heldout: the fixed unseen scenarios (training/qoe/evaluate.py) for every committed detector, logged to MLflow"),
    overrides: list[str] | None = OVERRIDES,
) -> None:
    """Incident-level F1, detection delay, false alerts per day and cause accuracy."""
    import json

    from streamlab.models.qoe.errors import TelemetryError

    if scenarios:
        from streamlab.models.qoe.detectors import DETECTORS
        from streamlab.models.qoe.settings import load_settings
        from streamlab.training.qoe.evaluate import HELDOUT, evaluate_scenarios, log_to_mlflow, table
        from streamlab.training.qoe.registry import load_model

        if scenarios != "heldout":
            raise TelemetryError(f"--scenarios {scenarios!r}: the only named set is 'heldout'")
        settings = load_settings(overrides)
        pooled, per = evaluate_scenarios({name: load_model(name) for name in DETECTORS}, settings, list(HELDOUT))
        for sc, row in per.items():
            typer.echo(f"{sc}: " + "  ".join(f"{n} f1={m.f1:.2f} delay={m.summary()['delay_mean_s']} fa={m.false_alerts}"
                                             for n, m in row.items()))
        typer.echo(table(pooled))
        typer.echo(f"logged to MLflow run {log_to_mlflow(pooled, per, settings)}")
        return
    if seeds:
        from streamlab.models.qoe.detectors import DETECTORS
        from streamlab.models.qoe.settings import load_settings
        from streamlab.training.qoe.evaluate import evaluate_seeds
        from streamlab.training.qoe.registry import load_model

        settings = load_settings(overrides)
        models = {name: load_model(name) for name in DETECTORS}
        results = evaluate_seeds(models, settings, [int(s) for s in seeds.split(",")], days, incidents)
        for name, metrics in results.items():
            typer.echo(f"{name:9s} {json.dumps(metrics.summary())}")
        return
    if events is None or alerts is None:
        raise TelemetryError("give --events and --alerts (and --labels unless it sits beside the events), or --seeds")
    from streamlab.models.qoe.alerts import read_alerts
    from streamlab.models.qoe.evaluate import evaluate as run
    from streamlab.models.qoe.labels import default_labels_path, read_labels

    truth, meta = read_labels(labels or default_labels_path(events))
    edge_region = {e: r for r, es in meta["population"]["regions"].items() for e in es}
    metrics = run(read_alerts(alerts), truth, float(meta["days"]), edge_region)
    typer.echo(json.dumps(metrics.summary(), indent=2))
    for row in metrics.per_incident:
        typer.echo(f"  {row['id']} {row['kind']:16s} {row['scope']:22s} found={row['found']!s:5s} "
                   f"delay={row.get('delay_s', '-')}  first alert: {row.get('first_alert', '-')}")
