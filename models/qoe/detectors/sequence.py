"""A sequence forecaster in Lightning: the newest window of a group predicted from the ones before it.

Why a forecaster and not an autoencoder: we tried a reconstruction autoencoder first; a small MLP
autoencoder generalises to large inputs almost linearly, so a region collapse reconstructed well
and was missed for minutes. A forecaster trained on normal windows learns what the next window
usually looks like *given* the last ``length - 1`` (normal traffic is autocorrelated: windows share
units through the context, bursts on small groups decay), so an incident onset is a large positive
residual in the very first window, and a sustained incident stays well above the forecast because
normal data never taught the model that surprise persists. The score is the sum of squared
*positive* residuals over the symptom surprises (a quieter-than-forecast window is not an incident).
Inputs are ``log1p(surprise)`` and the traffic level. Saved as a ``state_dict`` (``sequence.pt``,
loaded with ``weights_only=True``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from streamlab.core.quiet import quiet_lightning
from streamlab.models.qoe.detectors.base import Detector
from streamlab.models.qoe.features import SURPRISE, Group
from streamlab.models.qoe.windows import SYMPTOMS

N_IN = len(SYMPTOMS) + 1  # surprise per symptom + traffic level


HISTORY_QUANTILE = 0.995
"""History surprises are clipped at this quantile of normal training windows (per symptom)."""


def _inputs(X: np.ndarray, history_cap: np.ndarray | None = None) -> np.ndarray:
    """Flattened ``[L * N_IN]`` rows; history windows (all but the newest) clipped at ``history_cap``.

    Why clip: a forecaster fed its own anomalous past forecasts the anomaly, so a sustained incident
    (an edge collapse lasting 40 minutes) would fade below threshold after a few windows. Clipping the
    history at the normal range (a winsorised state, as robust Holt-Winters filters do) keeps the
    forecast at "what normal looks like after a bad-but-plausible minute", so the residual of a
    sustained incident stays large, while normal data (almost never above the cap) is unchanged.
    """
    s = np.log1p(X[..., SURPRISE])
    if history_cap is not None and s.shape[1] > 1:
        s = s.copy()
        s[:, :-1] = np.minimum(s[:, :-1], history_cap)
    x = np.concatenate([s, X[..., -2:-1] / 10.0], axis=-1)
    return x.reshape(len(X), -1).astype(np.float32)


def _network(length: int, hidden: int, gap: int):  # type: ignore[no-untyped-def]
    import torch.nn as nn

    return nn.Sequential(nn.Linear((length - 1 - gap) * N_IN + 1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, N_IN - 1))


def _split(x, gap: int):  # type: ignore[no-untyped-def]
    """Flattened ``[L * N_IN]`` rows → (history before the gap + current traffic level, current surprises).

    The ``gap`` windows just before the current one share units with it through the context, so they
    are left out: the forecast must come from windows that are independent of the one being judged.
    """
    history = x[:, : -N_IN * (1 + gap)]
    current = x[:, -N_IN:]
    import torch

    return torch.cat([history, current[:, -1:]], dim=1), current[:, :-1]


class SequenceDetector(Detector):
    name = "sequence"

    def __init__(self, length: int = 6, hidden: int = 32, epochs: int = 8, batch_size: int = 512, lr: float = 3e-3,
                 seed: int = 0, gap: int = 1) -> None:
        self.length, self.hidden, self.epochs, self.batch_size, self.lr, self.seed = length, hidden, epochs, batch_size, lr, seed
        self.gap = gap
        self.history_cap: list[float] | None = None
        self.net: Any = None

    def _cap(self) -> np.ndarray | None:
        return None if self.history_cap is None else np.asarray(self.history_cap, dtype=np.float32)

    def fit(self, X: np.ndarray, keys: list[Group]) -> None:
        import pytorch_lightning as pl
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        quiet_lightning()
        pl.seed_everything(self.seed, verbose=False)
        self.history_cap = np.quantile(np.log1p(X[:, -1, SURPRISE]), HISTORY_QUANTILE, axis=0).round(4).tolist()
        self.net = _network(self.length, self.hidden, self.gap)
        net, lr, gap = self.net, self.lr, self.gap

        class Module(pl.LightningModule):
            def __init__(self) -> None:
                super().__init__()
                self.net = net

            def training_step(self, batch, _):  # type: ignore[no-untyped-def]
                (x,) = batch
                inputs, target = _split(x, gap)
                loss = ((self.net(inputs) - target) ** 2).mean()
                self.log("train_loss", loss, prog_bar=False)
                return loss

            def configure_optimizers(self):  # type: ignore[no-untyped-def]
                return torch.optim.Adam(self.parameters(), lr=lr)

        data = DataLoader(TensorDataset(torch.from_numpy(_inputs(X, self._cap()))), batch_size=self.batch_size, shuffle=True)
        trainer = pl.Trainer(max_epochs=self.epochs, accelerator="cpu", devices=1, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                             deterministic=True)
        trainer.fit(Module(), data)
        self.net.eval()

    def score(self, X: np.ndarray, keys: list[Group]) -> np.ndarray:
        import torch

        if len(X) == 0:
            return np.zeros(0)
        inputs, target = _split(torch.from_numpy(_inputs(X, self._cap())), self.gap)
        with torch.no_grad():
            residual = torch.clamp(target - self.net(inputs), min=0.0)
        return (residual ** 2).sum(dim=1).numpy().astype(float)

    def state(self) -> dict[str, Any]:
        return {"length": self.length, "hidden": self.hidden, "epochs": self.epochs, "batch_size": self.batch_size,
                "lr": self.lr, "seed": self.seed, "gap": self.gap, "history_cap": self.history_cap}

    def load_state(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)

    def save_weights(self, directory: Path) -> list[str]:
        import torch

        torch.save(self.net.state_dict(), Path(directory) / "sequence.pt")
        return ["sequence.pt"]

    def load_weights(self, directory: Path) -> None:
        import torch

        self.net = _network(self.length, self.hidden, self.gap)
        self.net.load_state_dict(torch.load(Path(directory) / "sequence.pt", weights_only=True))
        self.net.eval()
