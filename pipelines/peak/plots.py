"""The scaling curve: latency to live and p99 part delivery against viewers, one line per engine."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from streamlab.pipelines.peak.knee import KNEE_P99_MS, knees


def scaling_figure(results: list[dict], threshold_ms: float = KNEE_P99_MS) -> Figure:
    """Two panels over the measured runs, the engines side by side; on the delivery panel the goal
    line and, per engine, the knee (where p99 crosses it) labelled with the process that saturates."""
    figure = Figure(figsize=(10, 4))
    latency, delivery = figure.subplots(1, 2)
    found = knees(results, threshold_ms)
    for engine in sorted({r["engine"] for r in results}):
        runs = sorted((r for r in results if r["engine"] == engine), key=lambda r: r["viewers"])
        viewers = [r["viewers"] for r in runs]
        latency.plot(viewers, [r["latency_to_live_median_s"] for r in runs], marker="o", label=engine)
        line, = delivery.plot(viewers, [r["part_delivery_p99_ms"] for r in runs], marker="o", label=engine)
        knee = found.get(engine)
        if knee is not None:
            neck = knee["bottleneck"]
            delivery.axvline(knee["viewers"], color=line.get_color(), linestyle=":", alpha=0.7)
            verb = "saturated" if neck.get("saturated") else "busiest, not saturated"
            delivery.annotate(f"{engine} knee ~{knee['viewers']} viewers\n{neck['process']} {verb} "
                              f"({neck['cpu_share']:.2f} cores)",
                              (knee["viewers"], threshold_ms), textcoords="offset points", xytext=(6, 12),
                              fontsize=7, color=line.get_color())
    delivery.axhline(threshold_ms, color="grey", linestyle="--", linewidth=1, label=f"goal {threshold_ms:g} ms")
    latency.set(xlabel="concurrent viewers", ylabel="median latency to live (s)", title="Latency to live")
    delivery.set(xlabel="concurrent viewers", ylabel="p99 part delivery (ms)", title="Origin → last byte, p99")
    for axes in (latency, delivery):
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    return figure


def save_scaling_plot(results: list[dict], folder: Path) -> Path:
    path = folder / "scaling.png"
    scaling_figure(results).savefig(path, dpi=100)
    return path
