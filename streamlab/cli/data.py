"""``streamlab data …``"""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Datasets: fetch and verify.", no_args_is_help=True)


@app.command()
def fetch(overrides: Annotated[list[str] | None, typer.Argument(help="config overrides key=value")] = None) -> None:
    """Fetch MovieLens-100k, the real clips and the ABR traces into data/raw/ (idempotent, checksummed)."""
    from streamlab.data.fetch import fetch_all
    from streamlab.core import project

    report = fetch_all(overrides=overrides)
    typer.echo(
        f"data/raw ready at {project.raw_data_dir()}: {len(report.written)} files written, "
        f"{len(report.verified)} already present and verified"
    )
