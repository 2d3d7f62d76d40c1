"""Matplotlib figures for ABR runs: per-trace timelines and the QoE CDF across policies."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from streamlab.models.abr.env import TraceLog


def _pyplot():
    """pyplot, headless (Agg) unless someone (a notebook's inline backend) already chose a backend."""
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def timeline_figure(log: TraceLog) -> Figure:
    """Link throughput (trace), chosen bitrate and buffer over session time."""
    plt = _pyplot()
    fig, (ax_rate, ax_buf) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    end_s = max(c.time_s for c in log.chunks)
    t, bw = log.trace.time_s, log.trace.bandwidth_mbps
    reps = int(np.ceil(end_s / max(t[-1], 1e-9))) + 1
    tt = np.concatenate([t + i * t[-1] for i in range(reps)])
    ax_rate.step(tt, np.tile(bw * 1000.0, reps), where="pre", color="0.6", label="trace throughput")
    times = [0.0] + [c.time_s for c in log.chunks]
    ax_rate.step(times, [log.chunks[0].bitrate_kbps] + [c.bitrate_kbps for c in log.chunks], where="pre",
                 color="tab:blue", label="bitrate")
    ax_rate.set_xlim(0, end_s)
    ax_rate.set_ylabel("kbit/s")
    ax_rate.legend(loc="upper right", fontsize=8)
    ax_buf.plot([c.time_s for c in log.chunks], [c.buffer_s for c in log.chunks], color="tab:green")
    ax_buf.set_ylabel("buffer (s)")
    ax_buf.set_xlabel("time (s)")
    fig.suptitle(f"{log.policy} on {log.trace.name}: QoE {log.score.qoe:.3f}")
    fig.tight_layout()
    return fig


def save_timelines(logs: list[TraceLog], out_dir: Path) -> None:
    plt = _pyplot()
    for log in logs:
        fig = timeline_figure(log)
        fig.savefig(out_dir / f"timeline_{log.policy}_{log.trace.name}.png", dpi=80)
        plt.close(fig)


def qoe_cdf_figure(summary: dict[str, dict]) -> Figure:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, entry in sorted(summary.items(), key=lambda kv: kv[1]["mean_qoe"]):
        values = np.sort(np.asarray(list(entry["per_trace_qoe"].values())))
        ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post",
                label=f"{name} ({entry['mean_qoe']:.3f})")
    every = np.concatenate([list(e["per_trace_qoe"].values()) for e in summary.values()])
    low = float(np.percentile(every, 3))
    if low > float(np.min(every)):  # a few outage traces (all policies stall) would squash the rest
        ax.set_xlim(low - 0.25, float(np.max(every)) + 0.1)
        ax.set_title(f"traces below {low - 0.25:.2f} off the axis", fontsize=8)
    ax.set_xlabel("mean QoE per trace")
    ax.set_ylabel("CDF")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save_qoe_cdf(summary: dict[str, dict], path: Path) -> None:
    plt = _pyplot()
    fig = qoe_cdf_figure(summary)
    fig.savefig(path, dpi=90)
    plt.close(fig)
