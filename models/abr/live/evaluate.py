"""``streamlab abr evaluate --mode live``: live sessions per policy, a summary, and paired comparisons.

Outputs in ``out``: ``live_log_<policy>_<trace>`` per session (one line per segment, see
:meth:`~streamlab.models.abr.live.session.LiveLog.lines`) and ``live_summary.json``: per policy the
mean live QoE, bitrate, latency, rebuffer ratio, switches, startup and per-trace QoE, and for every
pair (policy, baseline) the paired difference of per-trace QoE with a 95% t interval (the traces
are the pairing unit: each policy plays the same traces with the same live stream).

Outage traces (:func:`outage_traces`: the link's mean payload rate is below the lowest rung) are
reported apart as well: no rule can play them in real time, every session there stalls for
minutes and its latency grows without bound (rate catch-up cannot win back minutes), so a few of
them set the mean of everything; means and paired differences are given with and without them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamlab.models.abr.live.qoe import summarize_live
from streamlab.models.abr.live.registry import BASELINES, make_live_policy
from streamlab.models.abr.live.session import LiveLog, play_all_live
from streamlab.models.abr.live.settings import LiveSettings
from streamlab.models.abr.live.simulator import LiveTitle
from streamlab.models.abr.simulator import PACKET_PAYLOAD_PORTION
from streamlab.models.abr.traces import Trace
from streamlab.models.abr.video import Video


@dataclass(frozen=True)
class PairedDifference:
    mean: float
    low: float
    high: float
    wins: int
    losses: int
    traces: int


def paired_difference(a: Sequence[float], b: Sequence[float]) -> PairedDifference:
    """Mean of ``a - b`` over paired traces with a 95% Student-t interval (a zero-width one for one trace)."""
    from scipy import stats

    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    mean = float(np.mean(diff))
    if len(diff) < 2:
        return PairedDifference(mean, mean, mean, int(np.sum(diff > 0)), int(np.sum(diff < 0)), len(diff))
    half = float(stats.t.ppf(0.975, len(diff) - 1) * np.std(diff, ddof=1) / math.sqrt(len(diff)))
    return PairedDifference(mean, mean - half, mean + half, int(np.sum(diff > 0)), int(np.sum(diff < 0)), len(diff))


def outage_traces(traces: Sequence[Trace], lowest_kbps: float) -> set[str]:
    """Traces whose time-weighted mean payload rate is below ``lowest_kbps``: unplayable live at any rung."""
    out = set()
    for trace in traces:
        gaps = np.diff(trace.time_s)
        mean_kbps = float(np.sum(gaps * trace.bandwidth_mbps[1:]) / np.sum(gaps)) * 1000.0 * PACKET_PAYLOAD_PORTION
        if mean_kbps < lowest_kbps:
            out.add(trace.name)
    return out


def live_policy_summary(logs: list[LiveLog]) -> dict:
    summary: dict = summarize_live([log.score for log in logs])
    summary["per_trace_qoe"] = {log.trace.name: log.score.qoe for log in logs}
    return summary


def evaluate_live(policies: list[str], traces: list[Trace], video: Video, settings: LiveSettings,
                  out_dir: Path | None = None, model: str | Path | None = None) -> dict[str, dict]:
    """Play every trace live with each policy; the summary (and logs, with ``out_dir``)."""
    title = LiveTitle(video, settings)
    summary: dict[str, dict] = {}
    for name in policies:
        logs = play_all_live(make_live_policy(name, model), traces, title)
        summary[name] = live_policy_summary(logs)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            for log in logs:
                (out_dir / f"live_log_{name}_{log.trace.name}").write_text("\n".join(log.lines()) + "\n")
    add_comparisons(summary, traces, video.bitrates_kbps[0])
    if out_dir is not None:
        (out_dir / "live_summary.json").write_text(json.dumps(
            {"settings": settings.model_dump(mode="json"), "policies": summary}, indent=2, sort_keys=True))
    return summary


def add_comparisons(summary: dict[str, dict], traces: Sequence[Trace], lowest_kbps: float) -> None:
    """Add outage-free means and paired differences vs each baseline (all traces and outage-free) in place."""
    outages = outage_traces(traces, lowest_kbps)
    names = [t.name for t in traces]
    kept = [n for n in names if n not in outages] or names
    for name, entry in summary.items():
        entry["outage_traces"] = sorted(outages)
        entry["mean_qoe_excluding_outages"] = float(np.mean([entry["per_trace_qoe"][t] for t in kept]))
        for key, subset in (("paired_vs", names), ("paired_vs_excluding_outages", kept)):
            entry[key] = {
                baseline: paired_difference([entry["per_trace_qoe"][t] for t in subset],
                                            [summary[baseline]["per_trace_qoe"][t] for t in subset]).__dict__
                for baseline in BASELINES if baseline != name and baseline in summary
            }
