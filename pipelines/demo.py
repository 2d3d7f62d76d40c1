"""``streamlab demo``: the main job, end to end on embedded defaults.

Ingests a real clip (fixed ladder, Ray-parallel encodes), serves it through the edge → shield →
origin tiers, proves playback in headless Chromium for HLS (hls.js) and DASH (Shaka), and prints
where to open the page. Everything runs locally; nothing needs a server set up beforehand.
"""

from __future__ import annotations

import json
import time
from typing import Literal

import typer
from pydantic import BaseModel

from configs import load_config
from pipelines import project
from pipelines.errors import StreamlabError


class DemoSettings(BaseModel):
    clip: str
    title_id: str
    name: str
    protocols: list[Literal["hls", "dash"]]


def run_demo(serve: bool = False, overrides: list[str] | None = None) -> dict:
    settings = load_config("demo", DemoSettings, overrides)
    from data.fetch import fetch_all
    from streaming.catalog import read_title
    from streaming.delivery.stack import running_stack
    from streaming.ingest.pipeline import ingest_title
    from streaming.player.browser import check_playback

    started = time.perf_counter()
    typer.secho("1/4 data: fetching and verifying datasets", bold=True)
    fetch_all()
    clip = project.raw_data_dir() / settings.clip
    media_root = project.media_root()

    typer.secho(f"2/4 ingest: {clip.name} → title {settings.title_id!r}", bold=True)
    try:
        record = read_title(media_root, settings.title_id)
        typer.echo(f"   already published ({len(record.renditions)} renditions); re-publishing atomically")
    except StreamlabError:
        pass
    t0 = time.perf_counter()
    record = ingest_title(clip, settings.title_id, name=settings.name, overrides=["publish.replace=true"])
    ingest_s = time.perf_counter() - t0
    for r in record.renditions:
        typer.echo(f"   {r.id:>14} {r.width}x{r.height} {r.codec} {r.average_bandwidth_bps / 1000:.0f} kbit/s")

    typer.secho("3/4 serve: origin → shield → edge on loopback", bold=True)
    results = {}
    with running_stack(media_root=media_root) as stack:
        typer.echo(f"   edge {stack.edge_url}  shield {stack.shield_url}  origin {stack.origin_url}")
        typer.secho("4/4 play: headless chromium through the edge tier", bold=True)
        shots = project.state_dir() / "demo"
        shots.mkdir(parents=True, exist_ok=True)
        for protocol in settings.protocols:
            result = check_playback(stack.edge_url + "/", settings.title_id, protocol,
                                    screenshot=shots / f"playback_{protocol}.png")
            results[protocol] = result
            typer.echo(f"   {protocol.upper():4} played {result.advanced_s:.1f} s, "
                       f"{result.decoded_frames} frames decoded, no player error")
        import httpx

        stats = httpx.get(stack.edge_url + "/_stats", timeout=5).json()
        typer.echo(f"   edge cache: {json.dumps(_short_stats(stats))}")
        summary = {
            "title": settings.title_id,
            "renditions": len(record.renditions),
            "ingest_s": round(ingest_s, 1),
            "playback": {p: round(r.advanced_s, 1) for p, r in results.items()},
            "total_s": round(time.perf_counter() - started, 1),
            "screenshots": str(shots),
        }
        (shots / "summary.json").write_text(json.dumps(summary, indent=2))
        typer.secho(f"\ndemo OK in {summary['total_s']} s: screenshots and summary in {shots}", fg="green", bold=True)
        if serve:
            typer.echo(f"serving: open {stack.edge_url}/ (Ctrl-C to stop)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        else:
            typer.echo("to watch it yourself: `.venv/bin/streamlab stream serve`, then open http://127.0.0.1:8000/")
    return summary


def _short_stats(stats: dict) -> dict:
    keys = ("requests", "hits", "misses", "coalesced", "hit_ratio")
    if all(k in stats for k in keys[:1]):
        return {k: stats[k] for k in keys if k in stats}
    return stats

