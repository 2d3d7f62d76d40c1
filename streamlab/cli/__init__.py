"""The ``streamlab`` command: the one place that lists the command groups.

One group per family or area, with the same verbs where they apply (``train``, ``evaluate``,
``promote``, ...); each group is a module beside this one, imported here by name, so a missing
group is an import error rather than a silently shorter ``--help``. Groups import only typer at
module level and load heavy libraries (torch, ray, mlflow, feast) inside the command that needs
them, so ``streamlab --help`` stays fast.

Exit codes: 0 success, 2 a usage error (unknown option, bad override, invalid argument), 1 a
runtime failure (missing data or model, a failed job, an unexpected exception). Every failure is
one ``error:`` line on stderr; the traceback of an unexpected exception goes to
``.state/logs/cli-errors.log`` and, with ``--debug``, to the terminal.
"""

from __future__ import annotations

import atexit
import os
import sys
import traceback
from pathlib import Path

import typer
from typer._click import exceptions as click_errors  # typer vendors its own Click: its exception types

from streamlab.cli import abr, catalog, data, demo, drm, edge, experiment, features, ladder, live, peak, qoe, recsys, serve, stream
from streamlab.cli.lifecycle import add_lifecycle_commands
from streamlab.core.errors import StreamlabError

GROUPS: dict[str, typer.Typer] = {
    "data": data.app,
    "features": features.app,
    "abr": abr.app,
    "ladder": ladder.app,
    "recsys": recsys.app,
    "qoe": qoe.app,
    "stream": stream.app,
    "drm": drm.app,
    "catalog": catalog.app,
    "serve": serve.app,
    "live": live.app,
    "experiment": experiment.app,
    "peak": peak.app,
    "edge": edge.app,
}
"""Command group name -> its Typer app, in ``--help`` order."""

USAGE_EXIT = 2
RUNTIME_EXIT = 1

app = typer.Typer(
    name="streamlab",
    help="streamlab: recommenders, per-title encoding, learned ABR, QoE anomalies, and a streaming stack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
MODEL_GROUPS = ("abr", "ladder", "recsys", "qoe")
"""The groups that are model families: each also gets the shared registry verbs (promote, versions)."""

for _name, _group in GROUPS.items():
    if _name in MODEL_GROUPS:
        add_lifecycle_commands(_group, _name)
    app.add_typer(_group, name=_name)
app.command("demo")(demo.demo)

_debug = False
_exit_code = 0


def _version(value: bool) -> None:
    if value:
        from streamlab import __version__

        typer.echo(f"streamlab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="print the traceback of an unexpected error"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version and exit"),
) -> None:
    global _debug
    _debug = debug or os.environ.get("STREAMLAB_DEBUG") == "1"


def _skip_finalisation_after_duckdb() -> None:
    """Registered first, so it runs after every other exit handler (MLflow, Ray have flushed by then).

    Feast's duckdb offline store keeps duckdb objects alive to the end, and duckdb's nanobind
    bindings then print pages of 'leaked instance' warnings at interpreter finalisation. The exit
    code is the one :func:`main` decided, whatever path it took.
    """
    if "duckdb" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_code)


atexit.register(_skip_finalisation_after_duckdb)


def _error(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)


def _log_traceback() -> Path | None:
    """Append the current traceback to the state folder's CLI error log; ``None`` if that fails too."""
    try:
        from streamlab.core import project

        path = project.state_dir() / "logs" / "cli-errors.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            handle.write(f"--- streamlab {' '.join(sys.argv[1:])}\n{traceback.format_exc()}\n")
        return path
    except Exception:  # noqa: BLE001 - the error line must still be printed
        return None


def run(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` and return the exit code (never raises, never exits)."""
    try:
        result = app(args=argv, prog_name="streamlab", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except StreamlabError as exc:
        _error(str(exc))
        return exc.exit_code
    except click_errors.NoArgsIsHelpError:  # the help was printed already; asking for nothing is a usage error
        return USAGE_EXIT
    except click_errors.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        _error(f"{exc.format_message()}{hint}")
        return USAGE_EXIT
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        _error("aborted")
        return 130
    except click_errors.ClickException as exc:
        _error(exc.format_message())
        return exc.exit_code or RUNTIME_EXIT
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else RUNTIME_EXIT)
    except Exception as exc:  # noqa: BLE001 - any other failure is a bug, but still one line and exit 1
        where = _log_traceback()
        if _debug:
            traceback.print_exc()
        detail = str(exc).strip().splitlines()
        logged = f"; traceback in {where}" if where else ""
        _error(f"unexpected {type(exc).__name__}: {detail[0] if detail else ''} (a bug: run with --debug{logged})")
        return RUNTIME_EXIT


def main() -> None:
    """Console-script entry point."""
    global _exit_code
    _exit_code = run()
    sys.exit(_exit_code)
