"""A small MLP that outputs quantiles of the next goodput's log-ratio, evaluated in numpy.

Serialization is a deliberate ``.npz`` of named float32 arrays (no pickle, so loading a checkpoint
cannot run code; ~10 kB; no torch needed to decide). Training (torch) lives in ``streamlab.training.abr``.
Quantiles are made monotone at inference by a cumulative sort.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamlab.models.abr.errors import PolicyModelError


@dataclass(frozen=True)
class QuantileNet:
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    mean: np.ndarray
    std: np.ndarray
    quantiles: np.ndarray

    @property
    def steps(self) -> int:
        """Look-ahead steps predicted (outputs = steps x quantiles)."""
        return self.weights[-1].shape[1] // len(self.quantiles)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``x[..., features]`` -> quantiles ``[..., steps, len(quantiles)]``, sorted per step.

        Step ``j`` (0-based) is the log-ratio of the goodput over the next ``j + 1`` chunks together
        (their bytes over their transfer time) to the harmonic-mean anchor.
        """
        h = (x - self.mean) / self.std
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return np.sort(h.reshape(*h.shape[:-1], self.steps, len(self.quantiles)), axis=-1)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"mean": self.mean, "std": self.std, "quantiles": self.quantiles}
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            out[f"w{i}"], out[f"b{i}"] = w, b
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], where: str) -> QuantileNet:
        try:
            layers = sum(1 for k in arrays if k.startswith("w"))
            weights = tuple(np.asarray(arrays[f"w{i}"], dtype=np.float64) for i in range(layers))
            biases = tuple(np.asarray(arrays[f"b{i}"], dtype=np.float64) for i in range(layers))
            net = cls(weights, biases, np.asarray(arrays["mean"], dtype=np.float64),
                      np.asarray(arrays["std"], dtype=np.float64), np.asarray(arrays["quantiles"], dtype=np.float64))
        except KeyError as exc:
            raise PolicyModelError(f"{where}: checkpoint lacks array {exc}; expected w*, b*, mean, std, quantiles") from None
        if layers == 0 or weights[-1].shape[1] % len(net.quantiles) or weights[0].shape[0] != len(net.mean):
            raise PolicyModelError(f"{where}: layer shapes do not match the feature/quantile sizes")
        return net

    def save(self, path: Path) -> None:
        np.savez(path, **{k: v.astype(np.float32) for k, v in self.arrays().items()})
