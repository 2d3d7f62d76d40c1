"""``streamlab serve …``: run the BentoML model services and look at them."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

app = typer.Typer(
    help="Model serving (BentoML): abr/decide, recommend, ladder, qoe/ingest; models from the MLflow registry.",
    no_args_is_help=True,
)

Overrides = Annotated[
    list[str] | None, typer.Argument(help="config overrides, e.g. port=3100 models.recommend.enabled=false")
]


@app.command()
def start(overrides: Overrides = None) -> None:
    """Serve in the foreground (``bentoml serve``) on the configured host/port until Ctrl-C."""
    from streamlab.serving.server import serve_command, serving_env
    from streamlab.serving.settings import load_serving_settings

    settings = load_serving_settings(overrides)
    typer.echo(
        f"streamlab serving on http://{settings.host}:{settings.port}  "
        f"(abr/decide, recommend, ladder, qoe/ingest, qoe/alerts, models/status, healthz, readyz, metrics)"
    )
    command = serve_command(settings)
    os.execve(command[0], command, serving_env(overrides))


@app.command()
def status(overrides: Overrides = None) -> None:
    """Ask a running server which model versions it serves and what failed to load."""
    import httpx

    from streamlab.core.errors import StreamlabError
    from streamlab.serving.settings import load_serving_settings

    settings = load_serving_settings(overrides)
    url = f"http://{settings.host}:{settings.port}/models/status"
    try:
        response = httpx.post(url, json={}, timeout=5, trust_env=False)
    except httpx.HTTPError as exc:
        raise StreamlabError(
            f"no model server answers at {url} ({exc}); start one with `streamlab serve start`"
        ) from None
    typer.echo(json.dumps(response.json(), indent=2))


@app.command("register-defaults")
def register_defaults(
    models: Annotated[str, typer.Option(help="comma list of abr, ladder, qoe, recsys")] = "abr,ladder,qoe",
    alias: Annotated[str, typer.Option(help="alias to point at the new versions")] = "champion",
) -> None:
    """Register the committed ABR policy, ladder predictor and QoE detector (and, asked for, a small
    recommender fitted in seconds) where ``alias`` is unset.

    A fresh machine can then ``streamlab serve start`` at once; a model already at the alias is
    left alone. The committed models carry their cards' metrics, so later training is gated against them.
    """
    from streamlab.models.families import family
    from streamlab.serving.registration import register_defaults as register

    chosen = [m.strip() for m in models.split(",") if m.strip()]
    for key in chosen:
        family(key)  # an unknown key is a usage error, before anything is registered
    if not chosen:
        from streamlab.core.errors import UsageError

        raise UsageError("--models names no family; choose from abr, ladder, qoe, recsys")
    for entry in register(chosen, alias):
        if entry.registered:
            typer.echo(f"{entry.name}@{alias}: registered the committed default as version {entry.version}")
        else:
            typer.echo(f"{entry.name}@{alias}: already version {entry.version}, left alone")
        note = entry.note(alias)
        if note:
            typer.echo(note, err=True)


@app.command()
def compare(
    title_id: Annotated[str, typer.Option("--title-id", help="published title to play")],
    policies: Annotated[
        str, typer.Option(help="comma list of bola, learned-local, learned-remote")
    ] = "bola,learned-local",
    edge: Annotated[str | None, typer.Option(help="edge URL; default: start origin/shield/edge on loopback")] = None,
    server: Annotated[
        str | None, typer.Option(help="model server URL for learned-remote (default from serving.yaml)")
    ] = None,
    traces: Annotated[int, typer.Option(help="how many training traces to cycle over")] = 16,
    overrides: Annotated[
        list[str] | None, typer.Argument(help="headless overrides, e.g. time_scale=10 sessions_per_policy=32")
    ] = None,
) -> None:
    """Headless players over real HTTP, one shaped link each: mean QoE, stalls, startup per policy."""
    from contextlib import nullcontext

    from streamlab.models.abr.traces import load_traces
    from streamlab.core import project
    from streamlab.core.errors import StreamlabError
    from streamlab.serving.settings import load_serving_settings
    from streamlab.streaming.headless.policies import BolaPolicy, LocalLearnedPolicy, RemotePolicy
    from streamlab.streaming.headless.runner import compare as run_compare
    from streamlab.streaming.headless.settings import load_headless_settings

    settings = load_headless_settings(overrides)
    serving = load_serving_settings()
    server_url = server or f"http://{serving.host}:{serving.port}"
    factories = {
        "bola": BolaPolicy,
        "learned-local": LocalLearnedPolicy,
        "learned-remote": lambda: RemotePolicy(server_url, settings.decide_timeout_ms),
    }
    chosen = [p.strip() for p in policies.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in factories]
    if unknown or not chosen:
        raise StreamlabError(f"unknown policies {unknown}; choose from {sorted(factories)}")
    trace_set = load_traces(project.raw_data_dir() / "abr" / "train_traces")[:traces]
    if edge is None:
        from streamlab.streaming.delivery.stack import running_stack

        context = running_stack()
    else:
        context = nullcontext(None)
    with context as stack:
        base = edge or stack.edge_url
        reports = run_compare(base, title_id, trace_set, {p: factories[p] for p in chosen}, settings)
    typer.echo(json.dumps(reports, indent=2))
