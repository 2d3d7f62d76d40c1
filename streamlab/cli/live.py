"""``streamlab live …``: start, inspect and stop live channels (SRT/RTMP contribution → LL-HLS, LL-DASH)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

app = typer.Typer(help="Live channels: SRT or RTMP contribution, one-process ladder, LL-HLS and LL-DASH with DVR.", no_args_is_help=True)

Overrides = Annotated[list[str] | None, typer.Argument(help="configs/live.yaml overrides, e.g. packaging.dvr_window_s=300")]


def _print_status(state: dict[str, Any]) -> None:
    latency = state.get("packager_latency_s")
    typer.echo(f"channel {state['channel']}: {state['state']}  (pid {state.get('pid')}, failovers {state.get('failovers', 0)})")
    typer.echo(f"  latency at the packager: {latency if latency is not None else '-'} s (capture clock to last part)")
    for feed in state.get("inputs", []):
        active = " (active)" if feed["name"] == state.get("active_input") else ""
        protocol = f" over {state.get('ingest_protocol', 'srt')}" if feed["name"] != "slate" else ""
        typer.echo(f"  input {feed['name']:>8}: {'receiving' if feed['alive'] else 'silent'}{active}, {feed['bytes']} bytes{protocol}")
    for rung in state.get("rungs", []):
        last = rung.get("last_part")
        position = f"msn {last[0]} part {last[1]}" if last else "no parts yet"
        typer.echo(f"  rung {rung['name']:>6}: {rung['width']}x{rung['height']} {rung['bitrate_kbps']} kbit/s {rung.get('codecs', '')}  {position}")
    ladder = state.get("ladder")
    if ladder:
        if ladder["source"] == "model":
            typer.echo(f"  ladder: chosen by the ladder model ({ladder['origin']}) in {ladder['decided_in_s']} s: {', '.join(ladder['rungs'])}")
        elif ladder.get("fallback"):
            typer.echo(f"  ladder: FIXED (fallback, the model could not decide: {ladder['fallback']}: {ladder['detail']})")
        else:
            typer.echo("  ladder: fixed (transcode.ladder_from=fixed)")
    protection = state.get("drm")
    if protection:
        typer.echo(f"  drm: ClearKey CENC, title {protection['title_id']} (key id {protection['kid']}), licences {protection['license_url']}")
    audio = state.get("audio")
    if audio:
        last = audio.get("last_part")
        position = f"msn {last[0]} part {last[1]}" if last else "no parts yet"
        typer.echo(f"  audio      : AAC {audio['bitrate_kbps']} kbit/s {audio.get('codecs', '')}  {position}")
    report = state.get("health") or {}
    measures = ", ".join(f"{k} {v}" for k, v in (report.get("measures") or {}).items() if v is not None)
    opened = report.get("open") or []
    typer.echo(f"  health: {'ok' if not opened else f'{len(opened)} open alert(s)'}" + (f"  ({measures})" if measures else ""))
    for alert in opened:
        typer.echo(f"  alert {alert['dimension']} {alert['value']} {alert['severity']} (score {alert['score']}): {alert['evidence']}")
    if state.get("edge_hls_url"):
        reach = "" if "edge_reachable" not in state else (
            "  (edge answering)" if state["edge_reachable"] else "  (no edge answering: start one with `streamlab stream serve`)")
        typer.echo(f"  HLS (edge)        {state['edge_hls_url']}{reach}")
        if state.get("edge_dash_url"):
            typer.echo(f"  DASH (edge)       {state['edge_dash_url']}")
    typer.echo(f"  HLS (live origin) {state.get('hls_url')}")
    if state.get("dash_url"):
        typer.echo(f"  DASH (live origin) {state['dash_url']}")
    typer.echo(f"  files {state.get('media_dir')}")


@app.command()
def start(
    channel: Annotated[str, typer.Argument(help="channel name, e.g. news")],
    source: Annotated[str | None, typer.Option(help="video file (looped) or lavfi spec, e.g. testsrc2=size=640x360:rate=30")] = None,
    ingest: Annotated[str | None, typer.Option(help="contribution protocol: srt or rtmp (default: ingest.protocol of configs/live.yaml)")] = None,
    drm: Annotated[str | None, typer.Option(help="none or clearkey: CENC parts, keys and licences as for VOD titles")] = None,
    overrides: Overrides = None,
) -> None:
    """Start the channel and its contribution encoder(s) in the background; returns once it is live."""
    from streamlab.streaming.live.lifecycle import start_channel

    _print_status(start_channel(channel, source=source, ingest=ingest, overrides=overrides, drm=drm))


@app.command()
def status(channel: Annotated[str, typer.Argument(help="channel name")]) -> None:
    """State, inputs, rungs, latency and playback URLs of a channel."""
    from streamlab.streaming.live.lifecycle import channel_status

    _print_status(channel_status(channel))


@app.command()
def stop(channel: Annotated[str, typer.Argument(help="channel name")]) -> None:
    """Stop the channel and its encoders; no process is left behind."""
    from streamlab.streaming.live.lifecycle import stop_channel

    ended = stop_channel(channel)
    typer.echo(f"stopped channel {channel} ({len(ended)} processes ended)")


@app.command()
def watch(
    channel: Annotated[str, typer.Argument(help="a running channel")],
    seconds: Annotated[float, typer.Option(min=5, max=3600, help="latency samples to take, one per second")] = 120.0,
    dash: Annotated[bool, typer.Option("--dash", help="play the LL-DASH MPD in Shaka Player instead of LL-HLS in hls.js")] = False,
    seek_back: Annotated[float | None, typer.Option(help="seconds behind live to seek to once playing (DVR)")] = None,
) -> None:
    """Play the channel in headless chromium through the edge and report glass-to-glass latency and stalls."""
    from streamlab.streaming.live.watch import watch_channel

    watched, edge = watch_channel(channel, seconds, dash=dash, seek_back_s=seek_back)
    summary = watched.summary()
    player = "Shaka Player, LL-DASH" if dash else "hls.js, LL-HLS"
    typer.echo(f"channel {channel} through {edge} in chromium ({player}), {summary['samples']} samples after the join:")
    typer.echo(f"  glass-to-glass latency: median {summary['median_s']:.3f} s, p95 {summary['p95_s']:.3f} s "
               f"(min {summary['min_s']:.3f}, max {summary['max_s']:.3f})")
    typer.echo(f"  stalls {summary['stalls']} ({summary['stall_s']:.2f} s), frames decoded {summary['frames']}, "
               f"player errors {len(watched.state.get('errors') or [])}, console errors {len(watched.console_errors)}")
    rungs = ", ".join(f"{name} {seconds_played:.0f} s" for name, seconds_played in summary["rung_seconds"].items())
    if rungs:
        typer.echo(f"  rungs played: {rungs}")


@app.command()
def publish(
    channel: Annotated[str, typer.Argument(help="a stopped channel")],
    title: Annotated[str | None, typer.Option(help="title id (default: <channel>-<UTC time>)")] = None,
    name: Annotated[str | None, typer.Option(help="display name in the catalog")] = None,
) -> None:
    """Publish a stopped channel's DVR archive as a VOD title (catch-up)."""
    from streamlab.streaming.live.catchup import publish_catchup

    record = publish_catchup(channel, title_id=title, name=name)
    typer.echo(f"published {record.title_id}: {record.duration_s:.1f} s, {len(record.renditions)} renditions "
               f"({', '.join(r.id for r in record.renditions)}); HLS /media/{record.title_id}/{record.hls}")
