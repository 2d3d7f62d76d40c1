"""A sequence autoencoder in Lightning over the last ``length`` windows of a group's surprise features.

Why an autoencoder over a short sequence: normal traffic has structure across symptoms and time
(a stall burst on a small edge is usually alone and brief; collapse shows as stall + low buffer
growing over consecutive windows). Trained on normal windows only, the model reconstructs normal
sequences well and incidents badly; the score is the reconstruction error weighted to the newest
window (so it reacts within one window). Inputs are ``log1p(surprise)`` so one huge value does not
dominate training. Saved as a ``state_dict`` (``sequence.pt``, loaded with ``weights_only=True``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.qoe.detectors.base import Detector
from models.qoe.features import SURPRISE, Group
from models.qoe.windows import SYMPTOMS

N_IN = len(SYMPTOMS) + 1  # surprise per symptom + traffic level


def _inputs(X: np.ndarray) -> np.ndarray:
    x = np.concatenate([np.log1p(X[..., SURPRISE]), X[..., -2:-1] / 10.0], axis=-1)
    return x.reshape(len(X), -1).astype(np.float32)


def _network(length: int, hidden: int):  # type: ignore[no-untyped-def]
    import torch.nn as nn

    return nn.Sequential(nn.Linear(length * N_IN, hidden), nn.ReLU(), nn.Linear(hidden, hidden // 4), nn.ReLU(),
                         nn.Linear(hidden // 4, hidden), nn.ReLU(), nn.Linear(hidden, length * N_IN))


def _weights(length: int) -> np.ndarray:
    w = np.full((length, N_IN), 0.25, dtype=np.float32)
    w[-1] = 1.0
    return w.ravel()


class SequenceDetector(Detector):
    name = "sequence"

    def __init__(self, length: int = 6, hidden: int = 32, epochs: int = 8, batch_size: int = 512, lr: float = 3e-3,
                 seed: int = 0) -> None:
        self.length, self.hidden, self.epochs, self.batch_size, self.lr, self.seed = length, hidden, epochs, batch_size, lr, seed
        self.net: Any = None

    def fit(self, X: np.ndarray, keys: list[Group]) -> None:
        import logging

        import pytorch_lightning as pl
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
        logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
        pl.seed_everything(self.seed, verbose=False)
        self.net = _network(self.length, self.hidden)
        weights = torch.from_numpy(_weights(self.length))
        net, lr = self.net, self.lr

        class Module(pl.LightningModule):
            def __init__(self) -> None:
                super().__init__()
                self.net = net

            def training_step(self, batch, _):  # type: ignore[no-untyped-def]
                (x,) = batch
                loss = (((self.net(x) - x) ** 2) * weights).mean()
                self.log("train_loss", loss, prog_bar=False)
                return loss

            def configure_optimizers(self):  # type: ignore[no-untyped-def]
                return torch.optim.Adam(self.parameters(), lr=lr)

        data = DataLoader(TensorDataset(torch.from_numpy(_inputs(X))), batch_size=self.batch_size, shuffle=True)
        trainer = pl.Trainer(max_epochs=self.epochs, accelerator="cpu", devices=1, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                             deterministic=True)
        trainer.fit(Module(), data)
        self.net.eval()

    def score(self, X: np.ndarray, keys: list[Group]) -> np.ndarray:
        import torch

        if len(X) == 0:
            return np.zeros(0)
        x = torch.from_numpy(_inputs(X))
        with torch.no_grad():
            err = ((self.net(x) - x) ** 2) * torch.from_numpy(_weights(self.length))
        return err.sum(dim=1).numpy().astype(float)

    def state(self) -> dict[str, Any]:
        return {"length": self.length, "hidden": self.hidden, "epochs": self.epochs, "batch_size": self.batch_size,
                "lr": self.lr, "seed": self.seed}

    def load_state(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)

    def save_weights(self, directory: Path) -> list[str]:
        import torch

        torch.save(self.net.state_dict(), Path(directory) / "sequence.pt")
        return ["sequence.pt"]

    def load_weights(self, directory: Path) -> None:
        import torch

        self.net = _network(self.length, self.hidden)
        self.net.load_state_dict(torch.load(Path(directory) / "sequence.pt", weights_only=True))
        self.net.eval()
