"""The scaling curve: latency to live and p99 part delivery against viewers, one line per engine."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure


def scaling_figure(results: list[dict]) -> Figure:
    """Two panels over the measured runs; the engines side by side (the knee is where p99 bends up)."""
    figure = Figure(figsize=(10, 4))
    latency, delivery = figure.subplots(1, 2)
    for engine in sorted({r["engine"] for r in results}):
        runs = sorted((r for r in results if r["engine"] == engine), key=lambda r: r["viewers"])
        viewers = [r["viewers"] for r in runs]
        latency.plot(viewers, [r["latency_to_live_median_s"] for r in runs], marker="o", label=engine)
        delivery.plot(viewers, [r["part_delivery_p99_ms"] for r in runs], marker="o", label=engine)
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
