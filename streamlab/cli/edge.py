"""``streamlab edge``: logic at the edge: device classes, content steering, predictive cache warming.

``classify`` shows what the viewer-request hook decides for a User-Agent; ``steer`` runs the
content-steering server for the configured pathways; ``warm`` warms each region's edge with the
first segments of the titles its viewers' recommendations forecast; ``simulate-warming`` measures
the first-minute hit ratio of a simulated premiere, warm vs cold vs oracle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Edge intelligence: device-aware playback, multi-CDN content steering, predictive cache warming.",
                  no_args_is_help=True)

Overrides = Annotated[list[str] | None, typer.Argument(help="configs/edge.yaml overrides, e.g. steering.ttl_s=5")]


@app.command()
def classify(
    user_agent: Annotated[str, typer.Argument(help="the User-Agent header")],
    hint: Annotated[list[str] | None, typer.Option("--hint", help="a client hint, e.g. Sec-CH-UA-Mobile=?1 (repeatable)")] = None,
    country: Annotated[str | None, typer.Option(help="the viewer's country (ISO 3166-1 alpha-2)")] = None,
    overrides: Overrides = None,
) -> None:
    """Print the device class and region the edge hook gives this request."""
    from streamlab.core.errors import UsageError
    from streamlab.streaming.edge.hook import ViewerHook
    from streamlab.streaming.edge.settings import load_edge_settings

    settings = load_edge_settings(overrides)
    headers = {"user-agent": user_agent}
    for item in hint or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--hint {item!r} is not NAME=VALUE (e.g. Sec-CH-UA-Platform=\"Android\")")
        headers[name.strip().lower()] = value
    if country:
        headers[settings.hook.region.headers[0].lower()] = country
    hook = ViewerHook(settings.hook, experiments=[])
    typer.echo(f"{hook.devices.classify(headers)}\t{hook.regions.region(headers)}")


@app.command()
def steer(
    host: Annotated[str | None, typer.Option(help="bind address (default steering.host)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default steering.port)")] = None,
    overrides: Overrides = None,
) -> None:
    """Run the content-steering server for steering.pathways until Ctrl-C (probing each pathway per region)."""
    import threading

    from streamlab.core.errors import UsageError
    from streamlab.streaming.delivery.settings import load_delivery_settings
    from streamlab.streaming.delivery.stack import ServerThread, bind_socket, socket_url
    from streamlab.streaming.edge.settings import load_edge_settings
    from streamlab.streaming.steering.server import SteeringServer, create_steering_app

    settings = load_edge_settings(overrides)
    if len(settings.steering.pathways) < 2:
        raise UsageError("steering.pathways names fewer than two pathways; e.g. "
                         "'steering.pathways=[{id: cdn-a, url: \"http://127.0.0.1:8000\"}, {id: cdn-b, url: \"http://127.0.0.1:8100\"}]'")
    sock = bind_socket(host or settings.steering.host, settings.steering.port if port is None else port)
    delivery = load_delivery_settings()
    servers = ServerThread([(create_steering_app(SteeringServer(settings)), sock)], delivery.event_loop, delivery.connections)
    servers.start(delivery.startup_timeout_s)
    url = socket_url(sock)
    typer.echo(f"steering server {url}: HLS {url}/v1/steer/hls?region=R  DASH {url}/v1/steer/dash?region=R  "
               f"beacons POST {url}/v1/qoe  state {url}/v1/state")
    typer.echo(f"pathways: {', '.join(f'{p.id}={p.url}' for p in settings.steering.pathways)}; Ctrl-C to stop", )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        servers.stop()


@app.command()
def warm(
    recs: Annotated[Path, typer.Option("--recs", help=f"CSV of per-viewer recommendations: viewer_id,region,title_id,rank,propensity")],
    edge: Annotated[list[str], typer.Option("--edge", help="REGION=EDGE_URL, one per region to warm (repeatable)")],
    media_root: Annotated[Path | None, typer.Option(help="the published titles (default: the project's media root)")] = None,
    budget_bytes: Annotated[int | None, typer.Option(min=1, help="per region (default warming.budget_bytes)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan, fetch nothing")] = False,
    overrides: Overrides = None,
) -> None:
    """Forecast each region's premiere demand from recommendations and warm its edge within the byte budget."""
    from streamlab.core import project
    from streamlab.core.errors import StreamlabError, UsageError
    from streamlab.pipelines.warming.forecast import read_rows, regional_demand
    from streamlab.pipelines.warming.plan import plan
    from streamlab.pipelines.warming.warm import title_warm_objects, warm_edge
    from streamlab.streaming.edge.settings import load_edge_settings

    settings = load_edge_settings(overrides)
    edges = {}
    for item in edge:
        region, sep, url = item.partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise UsageError(f"--edge {item!r} is not REGION=http://host:port")
        edges[region.strip()] = url
    known = set(settings.hook.region.countries) | {settings.hook.region.default}
    unknown = sorted(set(edges) - known)
    if unknown:
        raise UsageError(f"unknown region(s) {unknown}; configs/edge.yaml hook.region knows {sorted(known)}")
    root = (media_root or project.media_root()).resolve()
    demand = regional_demand(read_rows(recs), settings.warming.rank_decay)
    titles = sorted({t for d in demand.values() for t in d})
    objects = {t: title_warm_objects(root, t, settings.warming.first_segments) for t in titles}
    missing = [t for t in titles if not objects[t]]
    if len(missing) == len(titles):
        raise StreamlabError(f"none of the {len(titles)} recommended titles is published under {root}")
    budget = budget_bytes or settings.warming.budget_bytes
    for region, url in edges.items():
        chosen = plan(demand.get(region, {}), objects, budget)
        typer.echo(f"{region}: warm {len(chosen.titles)} title(s) {', '.join(chosen.titles) or '-'} "
                   f"({len(chosen.objects)} objects, {chosen.bytes} of {budget} bytes) at {url}")
        if dry_run:
            continue
        codes = settings.hook.region.countries.get(region, [])
        result = warm_edge(region, url, codes[0] if codes else None, settings.hook.region.headers[0], chosen.objects)
        typer.echo(f"  fetched {result.fetched} objects, {result.bytes} bytes" +
                   (f"; {len(result.failed)} failed, e.g. {result.failed[0]}" if result.failed else ""))
    if missing:
        typer.echo(f"not published (skipped): {', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}")


@app.command("simulate-warming")
def simulate_warming(
    viewers: Annotated[int, typer.Option(min=10, max=200_000, help="viewers across the regions")] = 600,
    titles: Annotated[int, typer.Option(min=2, max=10_000, help="titles premiering at once")] = 30,
    seed: Annotated[int, typer.Option(help="the simulated world's seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the outcome as JSON")] = False,
    overrides: Overrides = None,
) -> None:
    """First-minute edge hit ratio of a simulated premiere in 3 regions: warmed by forecast vs cold vs oracle."""
    from dataclasses import asdict

    from streamlab.pipelines.warming.simulate import simulate_premiere
    from streamlab.streaming.edge.settings import load_edge_settings

    w = load_edge_settings(overrides).warming
    outcome = simulate_premiere(viewers, titles=titles, budget_bytes=w.budget_bytes, first_segments=w.first_segments,
                                first_window_s=w.first_window_s, rank_decay=w.rank_decay, seed=seed)
    if as_json:
        typer.echo(json.dumps(asdict(outcome) | {"warm_vs_oracle": outcome.warm_vs_oracle,
                                                 "gain_captured": outcome.gain_captured}, indent=2))
        return
    typer.echo(f"{outcome.viewers} viewers, {outcome.watching} watching, {outcome.requests} requests in the first "
               f"{w.first_window_s:g} s; budget {w.budget_bytes} bytes per region")
    for region, ratios in outcome.by_region.items():
        typer.echo(f"  {region:>6}: " + "  ".join(f"{k} {v:.3f}" for k, v in ratios.items()))
    typer.echo("   all: " + "  ".join(f"{k} {v:.3f}" for k, v in outcome.hit_ratio.items()))
    typer.echo(f"warm / oracle {outcome.warm_vs_oracle:.3f}; share of the oracle's gain over cold {outcome.gain_captured:.3f}")
