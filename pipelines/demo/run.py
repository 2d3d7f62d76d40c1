"""``streamlab demo``: the whole loop on embedded defaults, in the order a streaming service runs it.

1. data: fetch and verify the datasets (``streamlab data fetch``);
2. features: build the Feast store (duckdb offline, SQLite online) from MovieLens;
3. train: the four models on small budgets with Ray, each registered in MLflow and promoted to
   ``@champion`` only when it beats the champion there (:mod:`streamlab.pipelines.demo.train`);
4. serve: BentoML (``recommend``, ``ladder``, ``abr/decide``, ``qoe/ingest``, following the
   ``champion`` aliases), the licence server and the edge → shield → origin tiers;
5. ingest: a real clip, its ladder asked from the ``ladder`` service, encrypted (CENC ClearKey);
6. watch: simulated viewers (headless players on real traces, real HTTP through the edge, ABR from
   ``abr/decide``, QoE beacons to ``qoe/ingest``, one edge with a labelled incident) and one real
   headless chromium playing the protected title with the player's model-driven ABR rule;
7. detect: the registered QoE detector over the viewers' telemetry (batch), beside the alerts the
   service raised live;
8. report: ``.state/demo/report.html`` (plots, tables, the MLflow experiment names and model
   versions to review), also logged to MLflow.

Every stage is timed and shown; a failing stage stops the demo with its error and nothing started
is left running.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Literal

import typer
from pydantic import BaseModel, Field

from streamlab.core.config import load_config
from streamlab.core import project
from streamlab.pipelines.demo.train import TrainBudgets, TrainedModel, registered_champions, train_all
from streamlab.pipelines.demo.viewers import ViewerSettings


class DemoSettings(BaseModel):
    clip: str
    title_id: str
    name: str
    episode_s: float = Field(24.0, gt=0, description="the real clip is looped to this length before ingest")
    ladder: str = "service"
    drm: str = "clearkey"
    protocols: list[Literal["hls", "dash"]] = ["hls"]
    serving: list[str] = []
    """Overrides for configs/serving.yaml (e.g. ``port=3000``)."""
    headless: list[str] = []
    """Overrides for configs/headless.yaml for the simulated viewers."""
    train: TrainBudgets = TrainBudgets()
    viewers: ViewerSettings = ViewerSettings()
    browser_viewer: str = "demo-browser"
    catalog_viewer: str = Field("196", description="an ml-100k viewer id, signed in on the catalog page")
    report_dir: Path = Path(".state/demo")
    skip: list[Literal["features", "train"]] = []
    """Stages to skip on a re-run: ``train`` reuses the versions registered at ``@champion``."""


def say(text: str) -> None:
    typer.echo(text)


class Stages:
    """Numbered, timed stages: ``with stages("serve"):`` prints the header and records the time."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str, what: str) -> Iterator[None]:
        typer.secho(f"{self.names.index(name) + 1}/{len(self.names)} {name}: {what}", bold=True)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 1)
            typer.echo(f"   ({self.seconds[name]:.0f} s)")


STAGES = ["data", "features", "train", "serve", "ingest", "watch", "detect", "report"]


def loop_clip(clip: Path, seconds: float, out: Path) -> Path:
    """The real clip repeated to ``seconds``, as a near-lossless constant-frame-rate mezzanine.

    A stream copy would be free but leaves timestamp jumps at every loop point, which probing reads
    as a variable frame rate (per-title ladders refuse it); CRF 12 keeps the mezzanine far above
    every rung's quality.
    """
    from streamlab.streaming.ffmpeg import run_ffmpeg

    if out.is_file() and out.stat().st_size > 0:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part.mp4")
    run_ffmpeg(["-y", "-stream_loop", "-1", "-i", str(clip), "-t", f"{seconds:.3f}", "-fps_mode", "cfr",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "12", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(tmp)],
               what=f"looping {clip.name} to {seconds:.0f} s")
    tmp.replace(out)
    return out


def ensure_master_key() -> None:
    """A DRM master key for this machine (0600, outside the media tree), created once."""
    from streamlab.streaming.drm.settings import MASTER_KEY_ENV, create_master_key_file, load_drm_settings

    settings = load_drm_settings()
    if os.environ.get(MASTER_KEY_ENV) or settings.master_key_file is None:
        return
    path = project.resolve(settings.master_key_file)
    if not path.exists():
        create_master_key_file(path)
        say(f"   created the DRM master key {path} (mode 0600)")


def run_demo(serve: bool = False, overrides: list[str] | None = None) -> dict[str, Any]:
    settings = load_config("demo", DemoSettings, overrides)
    started = time.perf_counter()
    stages = Stages(STAGES)
    out_dir = project.resolve(settings.report_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*out_dir.glob("*.png"), out_dir / "report.html", out_dir / "summary.json", out_dir / "alerts.jsonl", out_dir / "experiment.txt"]:
        stale.unlink(missing_ok=True)  # a report never shows a picture from an earlier run
    facts: dict[str, Any] = {"title": settings.title_id}

    with stages("data", "fetching and verifying datasets"):
        from streamlab.data.fetch import fetch_all

        fetch_all()

    with stages("features", "MovieLens aggregates → Feast (duckdb offline, SQLite online)"):
        facts["features"] = {"skipped": True} if "features" in settings.skip else _build_features()

    with stages("train", "four models on small budgets (Ray), registered in MLflow, promoted to @champion if better"):
        trained = registered_champions() if "train" in settings.skip else train_all(settings.train, say)

    with ExitStack() as running:  # everything started below stops when the demo ends, however it ends
        with stages("serve", "BentoML, licence server, edge → shield → origin"):
            services = _start_services(settings, running, out_dir / "sources")
        with stages("ingest", f"{settings.clip} → {settings.title_id!r}, ladder from the service, DRM {settings.drm}"):
            record = _ingest(settings, services, out_dir)
            facts["ingest"] = record
        with stages("watch", "simulated viewers through the edge, and one headless chromium"):
            outcome = _watch(settings, services, out_dir)
            facts["browser"] = _browser(settings, services, out_dir)
            facts["catalog"] = _catalog(settings, services, out_dir)
            facts["serving_metrics"] = _counters(services["serving_url"], services["stack"].origin_url)
            facts["edge"] = _edge_stats(services["edge_url"])
        with stages("detect", "the registered QoE detector over the viewers' telemetry"):
            facts["detect"] = _detect(outcome.events_path, out_dir)
        with stages("report", "HTML report with plots; logged to MLflow"):
            from streamlab.pipelines.demo.report import write_report

            facts["stage_seconds"] = stages.seconds
            facts["total_s"] = round(time.perf_counter() - started, 1)
            report = write_report(out_dir, settings, trained, outcome, facts)
            if (out_dir / "experiment.txt").is_file():  # `streamlab experiment report` over the viewers' arms
                say("   " + (out_dir / "experiment.txt").read_text().strip().replace("\n", "\n   "))
        if serve:
            _serve_forever(services)
    total = round(time.perf_counter() - started, 1)
    typer.secho(f"\ndemo OK in {total:.0f} s ({total / 60:.1f} min). Report: {report}", fg="green", bold=True)
    _print_review_hints(trained, services)
    return {"report": str(report), "total_s": total, "stages": stages.seconds}


def _build_features() -> dict[str, Any]:
    from streamlab.features.store import build_from_file

    report = build_from_file()
    say(f"   {report.snapshots} snapshots: {report.viewer_rows} viewer rows, {report.title_rows} title rows")
    return {"snapshots": report.snapshots, "viewer_rows": report.viewer_rows, "title_rows": report.title_rows}


def _start_services(settings: DemoSettings, running: ExitStack, sources: Path) -> dict[str, Any]:
    """BentoML, the licence server and the delivery tiers; the ingest client and the catalog page find the
    model server through the same overrides the server reads (``STREAMLAB_SERVING_OVERRIDES``,
    ``STREAMLAB_CATALOG_OVERRIDES``), so a port override reaches every caller."""
    from streamlab.serving.server import start_server
    from streamlab.serving.settings import OVERRIDES_ENV
    from streamlab.streaming.catalog_page.settings import OVERRIDES_ENV as CATALOG_OVERRIDES_ENV
    from streamlab.streaming.delivery.stack import running_stack
    from streamlab.streaming.drm.server import running_license_server
    from streamlab.streaming.drm.settings import load_drm_settings

    ensure_master_key()
    overrides = [f"ladder.allowed_roots=[{project.raw_data_dir()},{sources}]", *settings.serving]
    os.environ[OVERRIDES_ENV] = json.dumps(overrides)
    server = start_server(overrides)
    running.callback(server.stop)
    os.environ[CATALOG_OVERRIDES_ENV] = json.dumps([f"serving_url={server.url}"])
    say(f"   BentoML   {server.url}  (/readyz, /metrics, /models/status; log {server.log_path})")
    drm = load_drm_settings()
    port = int(drm.license_public_url.rsplit(":", 1)[1].split("/")[0])
    licence = running.enter_context(running_license_server(drm, port=port))
    say(f"   licence   {licence.url}")
    stack = running.enter_context(running_stack())
    say(f"   edge      {stack.edge_url}  shield {stack.shield_url}  origin {stack.origin_url}")
    return {"serving": server, "serving_url": server.url, "licence": licence, "stack": stack, "edge_url": stack.edge_url}


def _ingest(settings: DemoSettings, services: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    from streamlab.streaming.ingest.pipeline import ingest_title

    clip = loop_clip(project.raw_data_dir() / settings.clip, settings.episode_s,
                     out_dir / "sources" / f"{settings.title_id}_{settings.episode_s:.0f}s.mp4")
    overrides = ["publish.replace=true", f"ingest.allowed_roots=[{project.raw_data_dir()},{clip.parent}]"]
    record = ingest_title(clip, settings.title_id, name=settings.name, ladder=settings.ladder, drm=settings.drm,
                          overrides=overrides)
    for r in record.renditions:
        say(f"   {r.id:>16} {r.width}x{r.height} {r.codec} {r.average_bandwidth_bps / 1000:.0f} kbit/s")
    licence = services["licence"]
    licence.service.entitlements.grant(settings.browser_viewer, settings.title_id)
    return json.loads(record.model_dump_json())


def _watch(settings: DemoSettings, services: dict[str, Any], out_dir: Path):
    from streamlab.models.abr.traces import load_traces
    from streamlab.pipelines.demo.viewers import run_viewers
    from streamlab.streaming.headless.settings import load_headless_settings

    traces = load_traces(project.raw_data_dir() / "abr" / "train_traces")
    headless = load_headless_settings(settings.headless)
    events = out_dir / "telemetry.jsonl"
    events.unlink(missing_ok=True)
    experiment = None
    if settings.viewers.experiment is not None:
        from streamlab.pipelines.demo.viewers import start_experiment

        experiment = start_experiment(settings.viewers.experiment)
        say(f"   experiment {experiment.name}: " + ", ".join(f"{a.name} {a.percent:g}% -> {a.label}" for a in experiment.arms))
    outcome = run_viewers(services["edge_url"], services["serving_url"], settings.title_id, traces,
                          settings.viewers, headless, events, experiment)
    failed = sum(1 for r in outcome.results if r.error)
    decisions = {s: sum(r.decisions(s) for r in outcome.results) for s in ("model", "fallback", "local")}
    say(f"   {len(outcome.results)} sessions ({failed} failed), decisions {decisions}, beacons {outcome.beacon_counts}")
    if outcome.pre_results is not None:
        say(f"   pre-period: {len(outcome.pre_results)} BOLA sessions ({sum(1 for r in outcome.pre_results if r.error)} failed)")
    for effect in (outcome.paired or {}).values():
        d = effect.difference
        say(f"   paired replay (each viewer's session again under the other arm, same link): "
            f"{effect.arm} - {effect.vs} qoe {d.value:+.3f} [{d.low:+.3f}, {d.high:+.3f}], "
            f"{effect.arm} better for {effect.wins} of {d.n} viewers")
    return outcome


def _browser(settings: DemoSettings, services: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    from streamlab.streaming.player.browser import check_playback

    licence = services["licence"]
    token = licence.service.signer.issue(settings.browser_viewer, settings.title_id, "web", 600)
    played = {}
    for protocol in settings.protocols:
        result = check_playback(services["edge_url"] + "/", settings.title_id, protocol, token=token,
                                screenshot=out_dir / f"browser_{protocol}.png")
        played[protocol] = {"advanced_s": round(result.advanced_s, 1), "decoded_frames": result.decoded_frames,
                            "abr_decisions": result.abr_decisions, "abr_fallbacks": result.abr_fallbacks,
                            "beacons_sent": result.beacons_sent, "beacons_failed": result.beacons_failed}
        say(f"   chromium {protocol.upper()}: played {result.advanced_s:.1f} s, {result.decoded_frames} frames, "
            f"keys from {licence.url}, ABR decisions {result.abr_decisions}, {result.beacons_sent} beacons")
    return played


def _catalog(settings: DemoSettings, services: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """The catalog page for a signed-in viewer, through the edge, in chromium: model list or popular fallback."""
    from streamlab.streaming.catalog_page.settings import load_catalog_settings
    from streamlab.streaming.catalog_page.viewer_identity import ViewerSigner, load_or_create_secret
    from streamlab.streaming.player.browser import chromium

    page_settings = load_catalog_settings()
    signer = ViewerSigner(load_or_create_secret(page_settings.viewer.secret_file), page_settings.viewer.token_ttl_s)
    url = f"{services['edge_url']}/browse?viewer_token={signer.issue(settings.catalog_viewer)}"
    with chromium() as context:
        page = context.new_page()
        page.goto(url, wait_until="load")
        source = page.get_attribute("#catalog-page", "data-source")
        titles = page.locator("#recs .title-name").all_inner_texts()
        page.screenshot(path=str(out_dir / "catalog.png"))
    say(f"   catalog page for viewer {settings.catalog_viewer}: {len(titles)} titles, source {source}")
    return {"viewer": settings.catalog_viewer, "source": source, "titles": titles[:10]}


COUNTER_PREFIXES = ("streamlab_serving_requests_total", "streamlab_serving_fallbacks_total", "streamlab_qoe_",
                    "streamlab_player_abr_", "streamlab_catalog_")


def _counters(*urls: str) -> dict[str, float]:
    """Request and fallback counters from each service's Prometheus text (model server, origin)."""
    import httpx

    counters: dict[str, float] = {}
    for url in urls:
        text = httpx.get(url + "/metrics", timeout=5, trust_env=False).text
        for line in text.splitlines():
            if line.startswith(COUNTER_PREFIXES) and "_created" not in line:  # not the creation timestamps
                name, _, value = line.rpartition(" ")
                counters[name] = float(value)
    return counters


def _edge_stats(url: str) -> dict[str, Any]:
    import httpx

    return httpx.get(url + "/_stats", timeout=5, trust_env=False).json()


def _detect(events: Path, out_dir: Path) -> dict[str, Any]:
    from streamlab.models.families import FAMILIES
    from streamlab.models.qoe.detect import detect_file
    from streamlab.training.qoe.registry import load_model

    model = load_model(FAMILIES["qoe"].uri())
    result, ingest = detect_file(model, events)
    alerts = [a.model_dump(mode="json") if hasattr(a, "model_dump") else dict(a) for a in result.alerts]
    (out_dir / "alerts.jsonl").write_text("".join(json.dumps(a) + "\n" for a in alerts))
    say(f"   {len(alerts)} alert(s) over {result.windows} windows; ingest {ingest.summary()}")
    for a in alerts[:5]:
        say(f"     {a.get('dimension')}={a.get('value')} severity {a.get('severity')}")
    return {"alerts": alerts, "windows": result.windows, "ingest": ingest.summary()}


def _serve_forever(services: dict[str, Any]) -> None:
    say(f"serving: open {services['edge_url']}/ (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def _print_review_hints(trained: list[TrainedModel], services: dict[str, Any]) -> None:
    from streamlab.core import tracking

    say("review in MLflow:  .venv/bin/mlflow ui --backend-store-uri " + tracking.tracking_uri())
    say("   experiments: " + ", ".join(sorted({m.experiment for m in trained} | {"demo"})))
    say("   models: " + ", ".join(f"{m.registered_model}@champion (v{m.champion_version})" for m in trained))
    say("run the services yourself: `.venv/bin/streamlab serve start` and `.venv/bin/streamlab stream serve`")

