"""The scaling curve: latency to live, p99 part delivery and CPU against viewers, one line per engine."""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from streamlab.pipelines.peak.knee import KNEE_P99_MS, bottleneck, knees, serving_process_share


def scaling_figure(results: list[dict], threshold_ms: float = KNEE_P99_MS) -> Figure:
    """Three panels over the measured runs, the engines side by side; on the delivery panel the goal
    line and, per engine, the knee (where p99 crosses it) labelled with the process that saturates;
    on the CPU panel the serving process (varnishd, or the Python tiers) and the load generator's
    own CPU (all its workers), so a curve bent by the generator rather than the edge shows as such.
    An engine that never crosses the goal is labelled with its largest size and busiest process."""
    figure = Figure(figsize=(15, 4))
    latency, delivery, cpu = figure.subplots(1, 3)
    found = knees(results, threshold_ms)
    for engine in sorted({r["engine"] for r in results}):
        runs = sorted((r for r in results if r["engine"] == engine), key=lambda r: r["viewers"])
        viewers = [r["viewers"] for r in runs]
        latency.plot(viewers, [r["latency_to_live_median_s"] for r in runs], marker="o", label=engine)
        line, = delivery.plot(viewers, [r["part_delivery_p99_ms"] for r in runs], marker="o", label=engine)
        color = line.get_color()
        cpu.plot(viewers, [serving_process_share(r) for r in runs], marker="o", color=color,
                 label=f"{engine}: {'varnishd' if engine == 'varnish' else 'python tiers'}")
        cpu.plot(viewers, [sum(w["cpu_share"] for w in r["loadgen_workers"]) for r in runs], marker="x",
                 linestyle="--", color=color,
                 label=f"{engine}: load generator ({len(runs[-1]['loadgen_workers'])} procs)")
        knee = found.get(engine)
        if knee is None:
            neck = runs[-1].get("bottleneck") or bottleneck(runs[-1])
            _note(cpu, len(cpu.texts), color,
                  f"{engine} held {runs[-1]['viewers']} viewers (p99 < {threshold_ms:g} ms)\n"
                  f"busiest: {neck['process']} ({neck['cpu_share']:.2f} cores)")
        else:
            neck = knee["bottleneck"]
            delivery.axvline(knee["viewers"], color=color, linestyle=":", alpha=0.7)
            verb = "saturated" if neck.get("saturated") else "busiest, not saturated"
            _note(delivery, len(delivery.texts), color, f"{engine} knee ~{knee['viewers']} viewers\n"
                  f"{neck['process']} {verb} ({neck['cpu_share']:.2f} cores)")
    delivery.axhline(threshold_ms, color="grey", linestyle="--", linewidth=1, label=f"goal {threshold_ms:g} ms")
    latency.set(xlabel="concurrent viewers", ylabel="median latency to live (s)", title="Latency to live")
    delivery.set(xlabel="concurrent viewers", ylabel="p99 part delivery (ms)", title="Origin → last byte, p99")
    cpu.set(xlabel="concurrent viewers", ylabel="CPU (cores)", title="CPU: serving process vs load generator")
    for axes in (latency, delivery, cpu):
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    figure.tight_layout()
    return figure


def _note(axes: Axes, index: int, color: str, text: str) -> None:
    """A note in the axes' upper left (stacked per engine), left out of the layout so that a long
    process name never squeezes the panels."""
    axes.text(0.02, 0.97 - 0.14 * index, text, transform=axes.transAxes, va="top", fontsize=7, color=color,
              in_layout=False)


def save_scaling_plot(results: list[dict], folder: Path) -> Path:
    path = folder / "scaling.png"
    scaling_figure(results).savefig(path, dpi=100)
    return path
