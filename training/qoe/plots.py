"""Figures logged with training runs (matplotlib, Agg)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from streamlab.models.qoe.windows import SYMPTOMS  # noqa: E402


def threshold_figure(models: dict) -> plt.Figure:
    """Baseline symptom rates per dimension (what "normal" is) and each detector's threshold."""
    model = next(iter(models.values()))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    dims = list(model.baselines.pooled)
    for i, dim in enumerate(dims):
        axes[0].bar(np.arange(len(SYMPTOMS)) + i * 0.2, model.baselines.pooled[dim], width=0.2, label=dim)
    axes[0].set_xticks(np.arange(len(SYMPTOMS)) + 0.3, SYMPTOMS, rotation=45, ha="right")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("normal rate")
    axes[0].legend()
    names = list(models)
    axes[1].bar(names, [models[n].detector.threshold for n in names])
    axes[1].set_ylabel("calibrated threshold (detector units)")
    fig.tight_layout()
    return fig
