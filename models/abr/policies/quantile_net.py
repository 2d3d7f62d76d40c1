"""A small MLP that outputs quantiles of the next goodput's log-ratio, evaluated in numpy.

Serialization is a deliberate ``.npz`` of named float32 arrays (no pickle, so loading a checkpoint
cannot run code; ~10 kB; no torch needed to decide). Training (torch) lives in ``streamlab.training.abr``.
Quantiles are made monotone at inference by a cumulative sort. An ensemble of nets
(:meth:`QuantileNet.ensemble`) is itself one ``QuantileNet`` (block-diagonal layers whose output is
the members' mean), so a checkpoint, the loader and a decision are the same whatever the member count.
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
        h = self.raw(x)
        return np.sort(h.reshape(*h.shape[:-1], self.steps, len(self.quantiles)), axis=-1)

    @classmethod
    def ensemble(cls, members: list[QuantileNet]) -> QuantileNet:
        """One net whose output is the mean of ``members``' outputs (before the sort), exactly.

        Why: nets fitted from different seeds disagree most where the training data is thin (deep
        drops, the far quantiles the planner's pessimistic scenarios read); averaging them lowers the
        forecast's variance without a wider model's appetite for data. Each member's input scaling is
        folded into its first layer, the hidden layers are stacked block-diagonally and the output layer
        averages, so deciding stays one matrix chain (5 members of 64-64: ~0.1 MB of float32 zeros and
        tens of microseconds).
        """
        if not members:
            raise ValueError("an ensemble needs at least one member")
        if len(members) == 1:
            return members[0]
        first = members[0]
        layers = len(first.weights)
        if any(len(m.weights) != layers or m.weights[-1].shape != first.weights[-1].shape
               or not np.array_equal(m.quantiles, first.quantiles) or len(m.mean) != len(first.mean) for m in members):
            raise ValueError("ensemble members must share layer count, output shape, quantiles and features")
        mean, std = first.mean, first.std
        weights: list[np.ndarray] = []
        biases: list[np.ndarray] = []
        for i in range(layers):
            if i == 0:  # (x - mean_m) / std_m = ((x - mean) / std) * (std / std_m) + (mean - mean_m) / std_m
                weights.append(np.concatenate([(std / m.std)[:, None] * m.weights[0] for m in members], axis=1))
                biases.append(np.concatenate([m.biases[0] + ((mean - m.mean) / m.std) @ m.weights[0] for m in members]))
            elif i < layers - 1:
                rows = [m.weights[i].shape[0] for m in members]
                cols = [m.weights[i].shape[1] for m in members]
                block = np.zeros((sum(rows), sum(cols)))
                for k, m in enumerate(members):
                    block[sum(rows[:k]) : sum(rows[: k + 1]), sum(cols[:k]) : sum(cols[: k + 1])] = m.weights[i]
                weights.append(block)
                biases.append(np.concatenate([m.biases[i] for m in members]))
            else:
                weights.append(np.concatenate([m.weights[i] for m in members], axis=0) / len(members))
                biases.append(np.mean([m.biases[i] for m in members], axis=0))
        return cls(tuple(weights), tuple(biases), mean, std, first.quantiles)

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The output layer before the reshape and sort (``[..., steps * quantiles]``)."""
        h = (x - self.mean) / self.std
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return h

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
