"""``streamlab serve …``: run the BentoML model services and look at them."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

app = typer.Typer(
    help="Model serving (BentoML): abr/decide, recommend; models from the MLflow registry.", no_args_is_help=True
)

Overrides = Annotated[
    list[str] | None, typer.Argument(help="config overrides, e.g. port=3100 models.recommend.enabled=false")
]


@app.command()
def start(overrides: Overrides = None) -> None:
    """Serve in the foreground (``bentoml serve``) on the configured host/port until Ctrl-C."""
    from serving.server import serve_command, serving_env
    from serving.settings import load_serving_settings

    settings = load_serving_settings(overrides)
    typer.echo(
        f"streamlab serving on http://{settings.host}:{settings.port}  "
        f"(abr/decide, recommend, models/status, healthz, readyz, metrics)"
    )
    command = serve_command(settings)
    os.execve(command[0], command, serving_env(overrides))


@app.command()
def status(overrides: Overrides = None) -> None:
    """Ask a running server which model versions it serves and what failed to load."""
    import httpx

    from pipelines.errors import StreamlabError
    from serving.settings import load_serving_settings

    settings = load_serving_settings(overrides)
    url = f"http://{settings.host}:{settings.port}/models/status"
    try:
        response = httpx.post(url, json={}, timeout=5, trust_env=False)
    except httpx.HTTPError as exc:
        raise StreamlabError(
            f"no model server answers at {url} ({exc}); start one with `streamlab serve start`"
        ) from None
    typer.echo(json.dumps(response.json(), indent=2))
