"""``streamlab demo``: the whole loop on embedded defaults (what ``make demo`` runs)."""

from __future__ import annotations

import typer


def demo(
    serve: bool = typer.Option(False, "--serve", help="keep the services running after the report, until Ctrl-C"),
    overrides: list[str] | None = typer.Argument(None, help="configs/demo.yaml overrides, e.g. viewers.sessions=24 'skip=[train]'"),
) -> None:
    """The whole loop: train and register the four models, serve them, ingest, watch, detect, report."""
    from streamlab.pipelines.demo import run_demo

    run_demo(serve=serve, overrides=overrides)
