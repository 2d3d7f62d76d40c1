"""``streamlab drm …``: the master key, entitlements, playback tokens, the licence server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Content protection: master key, entitlements, tokens, licence server.", no_args_is_help=True)
Overrides = Annotated[list[str] | None, typer.Argument(help="config overrides, e.g. tokens.ttl_s=60")]


@app.command("init-master-key")
def init_master_key(path: Annotated[Path, typer.Option(help="where to write it (never under the media tree)")] = Path(".state/secrets/drm-master.key")) -> None:
    """Create a random 32-byte master key file (mode 0600). Point drm master_key_file at it."""
    from streamlab.streaming.drm.settings import create_master_key_file

    written = create_master_key_file(path)
    typer.echo(f"master key written to {written}; use it with: master_key_file={written}")


@app.command()
def grant(
    viewer: Annotated[str, typer.Option(help="viewer id")],
    title: Annotated[str, typer.Option(help="title id")],
    device: Annotated[list[str], typer.Option(help="allowed device classes (repeat); * for any")] = ["*"],  # noqa: B006 - typer copies it
    overrides: Overrides = None,
) -> None:
    """Entitle a viewer to a title on some device classes."""
    from streamlab.streaming.drm.entitlements import EntitlementStore
    from streamlab.streaming.drm.settings import load_drm_settings

    settings = load_drm_settings(overrides)
    EntitlementStore(settings.entitlements_path()).grant(viewer, title, tuple(device))
    typer.echo(f"{viewer} may watch {title} on {', '.join(device)}")


@app.command()
def token(
    viewer: Annotated[str, typer.Option(help="viewer id")],
    title: Annotated[str, typer.Option(help="title id")],
    device: Annotated[str, typer.Option(help="device class, e.g. web, mobile, tv")] = "web",
    ttl_s: Annotated[int | None, typer.Option(help="lifetime in seconds (default: tokens.ttl_s)")] = None,
    overrides: Overrides = None,
) -> None:
    """Print a signed playback token (what the app backend hands a signed-in viewer)."""
    from streamlab.streaming.drm.settings import load_drm_settings, load_master_key
    from streamlab.streaming.drm.tokens import TokenSigner

    settings = load_drm_settings(overrides)
    signer = TokenSigner(load_master_key(settings), settings.tokens.clock_skew_s)
    typer.echo(signer.issue(viewer, title, device, ttl_s or settings.tokens.ttl_s))


@app.command()
def serve(overrides: Overrides = None) -> None:
    """Run the licence server (ClearKey licences, HLS keys, offline licences) until Ctrl-C."""
    from streamlab.streaming.drm.server import serve_license_forever

    serve_license_forever(overrides)
