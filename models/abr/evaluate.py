"""``streamlab abr evaluate``: run policies over a trace directory and write logs, summary, plots.

Outputs in ``out``: ``log_<policy>_<trace file>`` per trace (the reference's whitespace-separated
columns: time s, bitrate kbit/s, buffer s, rebuffer s, chunk bytes, download ms, reward),
``summary.json`` (per policy: mean QoE, mean bitrate, rebuffer ratio, switches, and per-trace QoE),
``timeline_<policy>_<trace>.png`` and ``qoe_cdf.png`` over every policy summarised in ``out``
(earlier runs into the same directory included).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from streamlab.models.abr.env import TraceLog, play_all
from streamlab.models.abr.qoe import summarize
from streamlab.models.abr.registry import make_policy
from streamlab.models.abr.traces import Trace, load_traces
from streamlab.models.abr.video import Video, load_video


@dataclass(frozen=True)
class EvaluationResult:
    summary: dict[str, dict]
    out_dir: Path


def evaluate_policy(name: str, traces: list[Trace], video: Video, compat: bool = True,
                    model: str | Path | None = None) -> list[TraceLog]:
    policy = make_policy(name, compat=compat, model=model)
    return play_all(policy, traces, video, compat)


def policy_summary(logs: list[TraceLog]) -> dict:
    summary = summarize([log.score for log in logs])
    summary["per_trace_qoe"] = {log.trace.name: log.score.qoe for log in logs}
    return summary


def evaluate(
    policies: list[str],
    traces_dir: Path,
    video_dir: Path,
    out_dir: Path,
    compat: bool = True,
    model: str | Path | None = None,
    plots: bool = True,
) -> EvaluationResult:
    traces = load_traces(traces_dir)
    video = load_video(video_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary_path = out_dir / "summary.json"
    summary: dict[str, dict] = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    for name in policies:
        logs = evaluate_policy(name, traces, video, compat, model)
        for log in logs:
            (out_dir / f"log_{name}_{log.trace.name}").write_text("\n".join(log.lines()) + "\n")
        summary[name] = policy_summary(logs)
        if plots:
            from streamlab.models.abr.plots import save_timelines

            save_timelines(logs, out_dir)
    summary_path.write_text(json.dumps(summary, indent=2, sort_keys=True))
    if plots:
        from streamlab.models.abr.plots import save_qoe_cdf

        save_qoe_cdf(summary, out_dir / "qoe_cdf.png")
    return EvaluationResult(summary=summary, out_dir=out_dir)
