"""``streamlab features``: build the Feast store (batch job, apply, materialise) and read it."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Feast feature store: viewer and title aggregates for training and serving.", no_args_is_help=True)


@app.command()
def build(
    interactions: Path | None = typer.Option(None, "--interactions", help="default: MovieLens-100k from data/raw"),
    items: Path | None = typer.Option(None, "--items", help="default: a .item file beside --interactions"),
    overrides: list[str] | None = typer.Argument(None, help="overrides for configs/features.yaml, e.g. snapshot_every_days=1"),
) -> None:
    """Compute the aggregates to parquet, apply the definitions and materialise the online store."""
    from streamlab.features.settings import load_feature_settings
    from streamlab.features.store import build_from_file

    report = build_from_file(interactions, items, load_feature_settings(overrides))
    typer.echo(
        f"{report.snapshots} snapshots: {report.viewer_rows} viewer rows, {report.title_rows} title rows in {report.data_dir} "
        f"(batch {report.batch_s:.1f} s, apply {report.apply_s:.1f} s, materialise {report.materialize_s:.1f} s)"
    )


@app.command()
def show(
    viewer: str = typer.Option(..., "--viewer", help="user_id to read from the online store"),
    titles: str = typer.Option("", "--titles", help="comma-separated item_ids"),
) -> None:
    """Print a viewer's (and titles') online features."""
    from streamlab.features.settings import load_feature_settings
    from streamlab.features.store import online_features, open_store

    store = open_store(load_feature_settings())
    values, frame = online_features(store, viewer, [t for t in titles.split(",") if t])
    for key, value in sorted(values.items()):
        typer.echo(f"{key}: {value}")
    if len(frame):
        typer.echo(frame.to_string(index=False))
