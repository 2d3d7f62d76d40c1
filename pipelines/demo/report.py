"""The demo's report: one self-contained HTML page (plots inlined) plus ``summary.json``, logged to MLflow.

What a reviewer wants after the loop ran: which model versions served, where to find their
experiments, the ladder the service chose, how the viewers fared (per session, and one session's
ABR timeline), whether the detector found the incident the demo injected, what fell back, and how
long each stage took. Plots are matplotlib PNGs, inlined as base64 so the page opens anywhere.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from streamlab.pipelines.demo.train import TrainedModel
from streamlab.pipelines.demo.viewers import ViewersOutcome

EXPERIMENT = "demo"


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def ladder_figure(record: dict[str, Any]) -> Any:
    """Each codec's rungs on one row at their measured bitrate, labelled with their resolution."""
    import matplotlib.pyplot as plt

    by_codec: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in record.get("renditions", []):
        by_codec[r["codec"]].append(r)
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.7 * max(len(by_codec), 1)))
    for row, rungs in enumerate(by_codec[c] for c in sorted(by_codec)):
        rates = [r["average_bandwidth_bps"] / 1000 for r in rungs]
        ax.plot(rates, [row] * len(rates), "o", markersize=8)
        for rate, r in zip(rates, rungs, strict=True):
            ax.annotate(f"{r['height']}p\n{rate:.0f}", (rate, row), textcoords="offset points", xytext=(0, 8),
                        ha="center", fontsize=8)
    ax.set_yticks(range(len(by_codec)), sorted(by_codec))
    ax.set_ylim(-0.5, len(by_codec) - 0.2)
    ax.set_xscale("log")
    ax.set_xlabel("average bitrate (kbit/s, measured on the published segments)")
    ax.set_title(f"published ladder ({record.get('ladder', '?')})")
    ax.grid(alpha=0.3, axis="x")
    return fig


def sessions_figure(outcome: ViewersOutcome) -> Any:
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    normal = [r.score.qoe for r, p in zip(outcome.results, outcome.plans, strict=True) if r.score and not p.in_incident]
    hit = [r.score.qoe for r, p in zip(outcome.results, outcome.plans, strict=True) if r.score and p.in_incident]
    bins = np.linspace(min(normal + hit + [-1.0]), max(normal + hit + [1.0]), 25)
    left.hist(normal, bins=bins, alpha=0.7, label=f"normal ({len(normal)})")
    left.hist(hit, bins=bins, alpha=0.7, label=f"on the incident edge ({len(hit)})")
    left.set_xlabel("session mean QoE per chunk")
    left.set_ylabel("sessions")
    left.set_title("simulated viewers (real HTTP, learned ABR)")
    left.legend()
    # The ABR timeline of the longest session: bitrate chosen and buffer per chunk.
    longest = max(outcome.results, key=lambda r: len(r.chunks))
    chunks = longest.chunks
    x = [c.index for c in chunks]
    right.step(x, [c.bitrate_kbps for c in chunks], where="post", label="bitrate (kbit/s)")
    right.set_xlabel("chunk")
    right.set_ylabel("kbit/s")
    twin = right.twinx()
    twin.plot(x, [c.buffer_s for c in chunks], color="tab:orange", label="buffer (s)")
    twin.set_ylabel("buffer (s)")
    stalls = [c.index for c in chunks if c.rebuffer_s > 0]
    if stalls:
        right.scatter(stalls, [0] * len(stalls), color="red", marker="x", label="rebuffer")
    right.set_title(f"ABR timeline: {longest.trace} ({longest.policy})")
    right.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def telemetry_figure(events_path: Path, truth: dict | None, alerts: list[dict[str, Any]]) -> Any:
    """Mean reported throughput per edge per 30 s of session time, incident shaded, alerts marked."""
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in events_path.read_text().splitlines() if line.strip()]
    beats = [r for r in rows if r.get("kind") == "heartbeat"]
    fig, ax = plt.subplots(figsize=(11, 3.6))
    if not beats:
        ax.text(0.5, 0.5, "no heartbeats", ha="center")
        return fig
    t0 = min(r["timestamp"] for r in beats)
    series: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in beats:
        series[r["edge"]][int((r["timestamp"] - t0) // 30)].append(r["throughput_kbps"])
    for edge, windows in sorted(series.items()):
        ws = sorted(windows)
        ax.plot([w * 30 for w in ws], [np.median(windows[w]) / 1000 for w in ws], "o-", label=edge, markersize=3)
    if truth:
        ax.axvspan(truth["start"] - t0, truth["end"] - t0, color="red", alpha=0.1, label=f"incident: {truth['value']}")
    for a in alerts:
        start = a.get("start")
        if isinstance(start, (int, float)):
            ax.axvline(start - t0, color="black", linestyle="--", linewidth=1)
            ax.text(start - t0, ax.get_ylim()[1] * 0.9, f" alert {a.get('dimension')}={a.get('value')}", fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("session time (s)")
    ax.set_ylabel("median throughput (Mbit/s)")
    ax.set_title("viewers' heartbeats per edge")
    ax.legend(fontsize=8, ncol=3)
    return fig


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p><em>none</em></p>"
    keys = list(dict.fromkeys(k for row in rows for k in row))  # every column any row has, in first-seen order
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(k)))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)[:200]
    return "" if value is None else str(value)


DETECTION_GRACE_S = 60.0
"""How long after the incident ends an alert on its dimension and value still counts as finding it.

A window must close (30 s, ``configs/qoe.yaml: detection.window_s``) and be confirmed before an alert
opens, so an incident that ends just after it began is named one or two windows later. Without the
grace the verdict said "NOT found" while the alert table listed the right edge at +180 s for an
incident that ended at +176 s.
"""


def names_incident(truth: dict | None, alert: dict[str, Any]) -> bool:
    """Whether ``alert`` names the injected incident: its dimension and value, from its start until
    :data:`DETECTION_GRACE_S` after its end. One rule for the verdict and the alert table."""
    if not truth:
        return False
    start, end = alert.get("start", 0), alert.get("end", alert.get("start", 0))
    return (alert.get("dimension") == truth["dimension"] and alert.get("value") == truth["value"]
            and start <= truth["end"] + DETECTION_GRACE_S and end >= truth["start"])


def found_incident(truth: dict | None, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether an alert names the injected incident (:func:`names_incident`), and how late."""
    if not truth:
        return {"injected": False}
    matching = [a for a in alerts if names_incident(truth, a)]
    first = min((a["start"] for a in matching), default=None)
    return {
        "injected": True,
        "found": bool(matching),
        "delay_s": None if first is None else round(max(first - truth["start"], 0.0), 1),
        "other_alerts": len(alerts) - len(matching),
    }


def experiment_report(outcome: ViewersOutcome, track: bool = True) -> dict[str, Any] | None:
    """``streamlab experiment report`` over the viewers' telemetry and their pre-period, logged to MLflow
    against the arms' model versions; ``None`` when the viewers were in no experiment."""
    from streamlab.pipelines.experiment.report import build_report, format_report, log_report
    from streamlab.streaming.experiment.definition import beacons_path
    from streamlab.streaming.experiment.settings import load_experiment_settings

    experiment = outcome.experiment
    if experiment is None:
        return None
    settings = load_experiment_settings()
    files = [outcome.events_path] + [p for p in (beacons_path(experiment.name),) if p.is_file()]
    report = build_report(experiment, settings, files)
    run_id = log_report(report, experiment, settings) if track else None
    paired = {arm: effect.as_dict() for arm, effect in (outcome.paired or {}).items()}
    return {"report": report, "text": format_report(report), "mlflow_run": run_id, "paired": paired}


def _experiment_html(ab: dict[str, Any] | None) -> str:
    if ab is None:
        return "<p>The viewers were in no experiment (<code>viewers.experiment: null</code>).</p>"
    report = ab["report"]

    def ci(e: dict[str, Any]) -> str:
        return f"{e['value']:.4g} [{e['low']:.4g}, {e['high']:.4g}]"

    rows = [{"arm": arm, "serves": body["target"], "viewers": body["viewers"], "failed": body["failed_sessions"],
             **{m: ci(e) for m, e in body["metrics"].items()}} for arm, body in report["arms"].items()]
    effects = [{"effect": f"{arm} - {body['vs']}", **{m: ci(e) for m, e in body["difference"].items()},
                f"CUPED {report['metric']}": ci(body["cuped"]), "variance reduction": body["cuped"]["variance_reduction"]}
               for arm, body in report["effects"].items()]
    srm, verdict = report["srm"], report["verdict"]
    return (f"{_table(rows)}{_table(effects)}<p>Sample ratio: {html.escape(json.dumps(srm['viewers']))} vs "
            f"{html.escape(json.dumps(srm['expected_percent']))}% (p {srm['p_value']:.3g}{', MISMATCH' if srm['mismatch'] else ''}); "
            f"pre-period coverage {report['pre_period_coverage']:.0%}. <b>Verdict: {html.escape(verdict['decision'])}</b>: "
            f"{html.escape(verdict['reason'])}</p>{_paired_html(ab.get('paired') or {})}<pre>{html.escape(ab['text'])}</pre>")


def _paired_html(paired: dict[str, Any]) -> str:
    """The paired replay beside the A/B: the same viewers' links under both arms (the A/B alone compares different
    viewers, and 48 of them, one fixed draw, differ by more than the ABR effect)."""
    lines = [f"{html.escape(arm)} - {html.escape(p['vs'])}: qoe {p['difference']['value']:+.3f} "
             f"[{p['difference']['low']:+.3f}, {p['difference']['high']:+.3f}], better for {p['wins']} of {p['pairs']} viewers"
             for arm, p in paired.items()]
    if not lines:
        return ""
    return ("<p>Paired replay (each viewer's session played again under the other arm, same link, same start; "
            "a lab measurement beside the A/B, not part of it): " + "; ".join(lines) + "</p>")


def write_report(out_dir: Path, settings: Any, trained: list[TrainedModel], outcome: ViewersOutcome,
                 facts: dict[str, Any]) -> Path:
    from streamlab.streaming.headless.runner import report as session_report
    from streamlab.core import tracking

    alerts = facts.get("detect", {}).get("alerts", [])
    verdict = found_incident(outcome.incident, alerts)
    viewers = session_report(outcome.results)
    figures = {
        "ladder": ladder_figure(facts.get("ingest", {})),
        "sessions": sessions_figure(outcome),
        "telemetry": telemetry_figure(outcome.events_path, outcome.incident, alerts),
    }
    images = {name: _png(fig) for name, fig in figures.items()}
    for name, data in images.items():
        (out_dir / f"{name}.png").write_bytes(base64.b64decode(data))
    ab = experiment_report(outcome)
    if ab is not None:
        (out_dir / "experiment.txt").write_text(ab["text"] + "\n")
    summary = {
        "ab_test": None if ab is None else {**ab["report"], "mlflow_run": ab["mlflow_run"]},
        "models": [m.__dict__ for m in trained],
        "viewers": viewers,
        "beacons": outcome.beacon_counts,
        "live_alerts": len(outcome.live_alerts),
        "incident": outcome.incident,
        "detection": verdict,
        "browser": facts.get("browser"),
        "catalog": facts.get("catalog"),
        "serving_metrics": facts.get("serving_metrics"),
        "edge": {k: facts.get("edge", {}).get(k) for k in ("requests", "hits", "misses", "coalesced", "hit_ratio")},
        "stage_seconds": facts.get("stage_seconds"),
        "total_s": facts.get("total_s"),
        "experiments": sorted({m.experiment for m in trained} | {EXPERIMENT}),
        "models": [{"family": m.family, "registered_model": m.registered_model, "version": m.version,
                    "champion_version": m.champion_version, "promoted": None if m.promotion is None else m.promotion.promoted,
                    "promotion": m.outcome, "metrics": m.metrics} for m in trained],
        "tracking_uri": tracking.tracking_uri(),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    page = out_dir / "report.html"
    page.write_text(_html(summary, trained, images, alerts, facts, out_dir, ab))
    with tracking.start_run(EXPERIMENT, run_name="whole-loop", params={"title": settings.title_id,
                                                                         "viewers": settings.viewers.sessions}) as _:
        mlflow = tracking.configure()
        numeric = {k: float(v) for k, v in viewers.items() if isinstance(v, (int, float))}
        mlflow.log_metrics({**numeric, "total_s": float(facts.get("total_s") or 0.0),
                            "incident_found": float(bool(verdict.get("found")))})
        for path in [page, out_dir / "summary.json", outcome.events_path, out_dir / "alerts.jsonl", out_dir / "experiment.txt",
                     *[out_dir / f"{n}.png" for n in images]]:
            if path.is_file():
                mlflow.log_artifact(str(path))
    return page


def _alert_row(alert: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """An alert with its times as seconds after the incident began (or UTC when none was injected)."""
    import datetime as dt

    origin = (summary.get("incident") or {}).get("start")

    def when(t: Any) -> Any:
        if not isinstance(t, (int, float)):
            return t
        if origin is not None:
            return f"{t - origin:+.0f} s"
        return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%H:%M:%S UTC")

    row = {"dimension": alert.get("dimension"), "value": alert.get("value"), "start (vs incident)": when(alert.get("start")),
           "end": when(alert.get("end")), "severity": alert.get("severity")}
    if origin is not None:
        row["names the incident"] = "yes" if names_incident(summary["incident"], alert) else "no"
    return row


def _html(summary: dict[str, Any], trained: list[TrainedModel], images: dict[str, str], alerts: list[dict[str, Any]],
          facts: dict[str, Any], out_dir: Path, ab: dict[str, Any] | None = None) -> str:
    models = [{"family": m.family, "registered model": m.registered_model, "this run": f"v{m.version}",
               "serving": f"{m.registered_model}@champion = v{m.champion_version}", "MLflow experiment": m.experiment,
               "train s": round(m.seconds), **m.metrics} for m in trained]
    gate = [{"family": m.family, "promotion (the family's metric decides)": m.outcome} for m in trained]
    v = summary["viewers"]
    viewers = [{"sessions": v.get("sessions"), "failed": v.get("failed_sessions"), "mean QoE": v.get("mean_qoe"),
                "mean startup s": v.get("mean_startup_s"), "rebuffer s": v.get("total_rebuffer_s"),
                "decisions model": v.get("decisions_model"), "decisions fallback": v.get("decisions_fallback")}]
    shot = ""
    for png in sorted(out_dir.glob("browser_*.png")) + sorted(out_dir.glob("catalog.png")):
        shot += f"<img src='data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}' width='480'>"
    css = ("body{font:14px system-ui;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:.5em 0}"
           "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}h2{margin-top:1.6em}")
    d = summary["detection"]
    verdict = ("no incident injected" if not d.get("injected") else
               f"incident on edge {summary['incident']['value']}: " + (f"found after {d['delay_s']} s" if d.get("found") else "NOT found")
               + f"; {d.get('other_alerts', 0)} other alert(s)")
    stages = [{"stage": k, "seconds": s} for k, s in (summary.get("stage_seconds") or {}).items()]
    metrics = [{"counter": k, "value": val} for k, val in (summary.get("serving_metrics") or {}).items()]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>streamlab demo report</title>
<style>{css}</style></head><body>
<h1>streamlab: the whole loop</h1>
<p>Total {summary.get('total_s')} s. Review the runs in MLflow (<code>.venv/bin/mlflow ui --backend-store-uri
{html.escape(str(summary['tracking_uri']))}</code>), experiments: <b>{html.escape(', '.join(summary['experiments']))}</b>.</p>
<h2>Models trained and served</h2>{_table(models)}{_table(gate)}
<h2>Ladder chosen by the <code>ladder</code> service</h2><img src="data:image/png;base64,{images['ladder']}">
<p>Ladder source: {html.escape(str(facts.get('ingest', {}).get('ladder', '')))}; DRM: {html.escape(str(facts.get('ingest', {}).get('drm', '')))}</p>
<h2>Viewers</h2>{_table(viewers)}<img src="data:image/png;base64,{images['sessions']}">
<h2>A/B test: the viewers' arms (<code>streamlab experiment report</code>)</h2>{_experiment_html(ab)}
<h2>QoE detection</h2><p><b>{html.escape(verdict)}</b></p>
<img src="data:image/png;base64,{images['telemetry']}">
{_table([_alert_row(a, summary) for a in alerts])}
<h2>Browser: the protected title, and the catalog page</h2>
<p>{html.escape(json.dumps(summary.get('browser')))}</p>
<p>Catalog for viewer {html.escape(str((facts.get('catalog') or {}).get('viewer')))}
(source <b>{html.escape(str((facts.get('catalog') or {}).get('source')))}</b>):
{html.escape(', '.join((facts.get('catalog') or {}).get('titles', [])))}</p>{shot}
<h2>Serving and fallbacks</h2>{_table(metrics)}
<p>Edge cache: {html.escape(json.dumps(summary['edge']))}; beacons: {html.escape(json.dumps(summary['beacons']))}</p>
<h2>Stages</h2>{_table(stages)}
</body></html>"""
