"""``streamlab stream …``: ingest titles into the media tree and serve them through the cache tiers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="VOD stack: ingest (probe, transcode, package, publish) and serve.", no_args_is_help=True)

Overrides = Annotated[list[str] | None, typer.Argument(help="config overrides, e.g. transcode.preset=fast")]


@app.command()
def ingest(
    source: Annotated[Path, typer.Argument(help="source video file (inside an allowed media root)")],
    title_id: Annotated[str, typer.Option("--title-id", help="id of the published title, e.g. bbb")],
    name: Annotated[str | None, typer.Option(help="display name (default: the title id)")] = None,
    ladder: Annotated[str, typer.Option(help="ladder: fixed (the design's profiles), per-title (H.264 + AV1 by ladder.yaml per_title_method, shot-based by default), per-title-predicted, per-title-hull, per-title-shots")] = "fixed",
    drm: Annotated[str, typer.Option(help="content protection: none, clearkey (CENC), aes128 (HLS), all")] = "none",
    subtitles: Annotated[list[str] | None, typer.Option(
        "--subtitles", help="sidecar WebVTT/SRT as PATH:LANG[:NAME], e.g. fr.srt:fr:Français (repeatable)")] = None,
    overrides: Overrides = None,
) -> None:
    """Probe, transcode the ladder (Ray), package CMAF as HLS + DASH, and publish atomically.

    A source with several audio streams (each tagged with its language) publishes one track per language.
    """
    from streamlab.core import project
    from streamlab.core.errors import UsageError
    from streamlab.streaming.ingest.pipeline import ingest_title
    from streamlab.streaming.packaging.subtitles import subtitle

    sidecars = []
    for spec in subtitles or []:
        path, _, rest = spec.partition(":")
        language, _, label = rest.partition(":")
        if not path or not language:
            raise UsageError(f"--subtitles {spec!r}: expected PATH:LANG[:NAME], e.g. fr.srt:fr:Français")
        sidecars.append(subtitle(Path(path), language, label))
    record = ingest_title(source, title_id, name=name, ladder=ladder, drm=drm, overrides=overrides,
                          subtitles=sidecars or None)
    root = project.media_root() / record.title_id
    typer.echo(f"published {record.title_id!r} ({record.duration_s:.1f} s) at {root}")
    for rendition in record.renditions:
        typer.echo(
            f"  {rendition.id:>16}  {rendition.width}x{rendition.height}  {rendition.codec}  "
            f"{rendition.average_bandwidth_bps / 1000:.0f} kbit/s avg  {rendition.segment_count} segments"
        )
    typer.echo(f"  HLS {root / record.hls}\n  DASH {root / record.dash}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default from configs/delivery.yaml)")] = None,
    port: Annotated[int | None, typer.Option(help="edge port, the one viewers use")] = None,
    edge: Annotated[str, typer.Option(help="edge engine: python (instrumented reference) or varnish (generated VCL)")] = "python",
    overrides: Overrides = None,
) -> None:
    """Serve the media tree: origin, regional shield and edge cache tiers, plus the player page."""
    from streamlab.streaming.delivery.stack import serve_forever

    serve_forever(host=host, port=port, overrides=overrides, edge=edge)


@app.command()
def download(
    title_id: Annotated[str, typer.Argument(help="title to download")],
    rendition: Annotated[str, typer.Option(help="rendition id, e.g. 720p_3000k")],
    token: Annotated[str, typer.Option(help="playback token (streamlab drm token …)")],
    out: Annotated[Path, typer.Option(help="download folder")] = Path(".state/downloads"),
    edge: Annotated[str, typer.Option(help="edge URL")] = "http://127.0.0.1:8000",
    overrides: Overrides = None,
) -> None:
    """Download one rendition and a persistent licence bound to this viewer and device."""
    from streamlab.core import project
    from streamlab.streaming.drm.download import download_title
    from streamlab.streaming.drm.offline import DeviceIdentity
    from streamlab.streaming.drm.settings import load_drm_settings

    settings = load_drm_settings(overrides)
    device = DeviceIdentity.load_or_create(project.resolve(settings.offline.device_key))
    target = download_title(title_id, rendition, token, edge, settings.license_public_url, project.resolve(out), device)
    typer.echo(f"downloaded {title_id}/{rendition} to {target} (device {device.device_id})")


@app.command("play-offline")
def play_offline_command(
    folder: Annotated[Path, typer.Argument(help="a download folder (.state/downloads/<title>)")],
    overrides: Overrides = None,
) -> None:
    """Play a download offline with the Python player: decrypt locally and decode every frame."""
    from streamlab.core import project
    from streamlab.streaming.drm.download import play_offline
    from streamlab.streaming.drm.offline import DeviceIdentity
    from streamlab.streaming.drm.settings import load_drm_settings

    settings = load_drm_settings(overrides)
    device = DeviceIdentity.load_or_create(project.resolve(settings.offline.device_key))
    result = play_offline(folder, device)
    typer.echo(f"played {folder.name} offline: {result.frames_decoded} frames, {result.duration_s:.1f} s ({', '.join(result.tracks)})")
