"""``streamlab catalog …``: signed viewer links for the catalog page and the player."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Viewer pages: signed viewer links for /browse and the player.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Viewer pages: signed viewer links for /browse and the player."""


@app.command("link")
def link(
    viewer: Annotated[str, typer.Argument(help="viewer id (an ml-100k user id such as 196, or any token)")],
    edge_url: Annotated[str, typer.Option(help="the edge the viewer uses")] = "http://127.0.0.1:8000",
) -> None:
    """Print the signed catalog link for VIEWER (the origin verifies it; editing the id breaks it)."""
    from streamlab.streaming.catalog_page.settings import load_catalog_settings
    from streamlab.streaming.catalog_page.viewer_identity import ViewerSigner, load_or_create_secret

    settings = load_catalog_settings()
    signer = ViewerSigner(load_or_create_secret(settings.viewer.secret_file), settings.viewer.token_ttl_s)
    typer.echo(f"{edge_url.rstrip('/')}/browse?viewer_token={signer.issue(viewer)}")
