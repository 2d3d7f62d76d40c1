"""The ``streamlab`` command: one sub-command group per area.

Groups import only typer at module level and load heavy libraries (torch, ray, mlflow, feast)
inside the command that needs them, so ``streamlab --help`` stays fast. A
:class:`~pipelines.errors.StreamlabError` becomes one clear line on stderr and exit code 2.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys

import typer

from pipelines.errors import StreamlabError

# (group name, module with a Typer ``app``). A module that does not exist yet is skipped,
# so areas land independently.
GROUPS: list[tuple[str, str]] = [
    ("data", "data.cli"),
    ("stream", "streaming.cli"),
    ("drm", "streaming.drm.cli"),
    ("abr", "training.abr_cli"),
    ("ladder", "pipelines.ladder_cli"),
    ("features", "features.cli"),
    ("recsys", "training.recsys_cli"),
    ("qoe", "training.qoe_cli"),
    ("serve", "serving.cli"),
    ("catalog", "streaming.catalog_page.cli"),
]

_typer_app = typer.Typer(
    name="streamlab",
    help="streamlab: recommenders, per-title encoding, learned ABR, QoE anomalies, and a VOD stack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

for _name, _module in GROUPS:
    try:
        _group = importlib.import_module(_module)
    except ModuleNotFoundError as _exc:
        if _exc.name != _module:
            raise
        continue
    _typer_app.add_typer(_group.app, name=_name)


@_typer_app.command("demo")
def _demo(
    serve: bool = typer.Option(False, "--serve", help="keep the services running after the report, until Ctrl-C"),
    overrides: list[str] | None = typer.Argument(None, help="configs/demo.yaml overrides, e.g. viewers.sessions=24 'skip=[train]'"),
) -> None:
    """The whole loop: train and register the four models, serve them, ingest, watch, detect, report."""
    from pipelines.demo import run_demo

    run_demo(serve=serve, overrides=overrides)


_exit_code = 0


def _skip_finalisation_after_duckdb() -> None:
    """Registered first, so it runs after every other exit handler (MLflow, Ray have flushed by then).

    Feast's duckdb offline store keeps duckdb objects alive to the end, and duckdb's nanobind
    bindings then print pages of 'leaked instance' warnings at interpreter finalisation.
    """
    if "duckdb" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_code)


atexit.register(_skip_finalisation_after_duckdb)


def app() -> None:
    """Console-script entry point."""
    global _exit_code
    try:
        _typer_app()
    except StreamlabError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        _exit_code = exc.exit_code
        sys.exit(exc.exit_code)
    except SystemExit as exc:
        _exit_code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        raise


if __name__ == "__main__":
    app()
