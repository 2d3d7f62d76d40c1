"""The deep context model: watch probability of a (viewer, title, context) candidate (Lightning).

It re-ranks the merged candidates, as in the design: inputs are the candidate generators'
standardised scores, title features (genres, year, popularity), viewer features (genre affinity,
activity) and the request context: hour of day and day of week when the request carries its own
wall-clock timestamp (a moment taken from the data has none: the log may count milliseconds or
only order, so the features take their defaults, see ``Context.wall_clock``), and the device type. **Device is synthetic**: MovieLens has none, so each request's device is drawn from
a seeded distribution (``deep.devices`` in ``configs/recsys.yaml``); it carries no signal on this
data and is there so the serving path and business rules have the input they will have in
production.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamlab.core.quiet import quiet_lightning
from streamlab.models.recsys.base import Context
from streamlab.models.recsys.settings import DeepSettings


def synthetic_devices(n: int, devices: dict[str, float], seed: int) -> list[str]:
    """``n`` device draws from the configured distribution (seeded: the same run draws the same)."""
    names = sorted(devices)
    p = np.array([devices[d] for d in names], dtype=float)
    rng = np.random.default_rng(seed)
    return [names[k] for k in rng.choice(len(names), size=n, p=p / p.sum())]


def context_features(contexts: Sequence[Context], device_names: Sequence[str]) -> np.ndarray:
    """Per request: sin/cos of hour and weekday, one-hot device (7 + len(devices) columns)."""
    rows = []
    for ctx in contexts:
        hour = ctx.hour if ctx.hour is not None else 12
        day = ctx.weekday if ctx.weekday is not None else 0
        device = [1.0 if ctx.device == d else 0.0 for d in device_names]
        rows.append([np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24), np.sin(2 * np.pi * day / 7), np.cos(2 * np.pi * day / 7), float(6 <= hour < 12), float(hour >= 18), float(day >= 5), *device])
    return np.asarray(rows, dtype=np.float32)


class WatchProbabilityModel:
    """Fit/predict wrapper around a small Lightning MLP trained with binary cross-entropy."""

    def __init__(self, settings: DeepSettings):
        self.settings = settings
        self.net = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, features: np.ndarray, labels: np.ndarray) -> WatchProbabilityModel:
        import pytorch_lightning  # noqa: F401 - configures its loggers on import; quieted just below
        import torch

        quiet_lightning()
        # The MLP is tiny: torch's default of one thread per core only thrashes a shared machine
        # (an epoch of 180k rows: 25 s on 2 threads, 7.8 s on 1, two contended cores). Restored after.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._fit(features, labels)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, features: np.ndarray, labels: np.ndarray) -> WatchProbabilityModel:
        import pytorch_lightning as pl
        import torch
        from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

        s = self.settings
        pl.seed_everything(s.seed, workers=False, verbose=False)
        self.mean = features.mean(axis=0)
        self.std = features.std(axis=0) + 1e-6
        x = torch.from_numpy(((features - self.mean) / self.std).astype(np.float32))
        y = torch.from_numpy(labels.astype(np.float32))
        positive_share = float(labels.mean()) if len(labels) else 0.5
        self.net = _ContextNet(features.shape[1], s.hidden, s.learning_rate, pos_weight=(1 - positive_share) / max(positive_share, 1e-6))
        # Whole batches by index (TensorDataset indexes with the list): the per-row default path
        # (1024 __getitem__ calls and a collate per step) was most of the training time.
        sampler = BatchSampler(RandomSampler(range(len(y)), generator=torch.Generator().manual_seed(s.seed)), s.batch_size, drop_last=False)
        loader = DataLoader(TensorDataset(x, y), sampler=sampler, batch_size=None)
        trainer = pl.Trainer(
            max_epochs=s.epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, deterministic=True,
        )
        trainer.fit(self.net, loader)
        self.net.eval()
        return self

    def __getstate__(self) -> dict:
        """Pickle the weights as arrays, not the Lightning class (it is built at runtime)."""
        state = dict(self.__dict__)
        if self.net is not None:
            state["net"] = {k: v.detach().cpu().numpy() for k, v in self.net.state_dict().items()}
            state["_n_inputs"] = int(self.mean.shape[0])
        return state

    def __setstate__(self, state: dict) -> None:
        weights = state.pop("net")
        n_inputs = state.pop("_n_inputs", None)
        self.__dict__.update(state)
        self.net = None
        if weights is not None:
            import torch

            self.net = _ContextNet(n_inputs, self.settings.hidden, self.settings.learning_rate, pos_weight=1.0)
            self.net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=False)
            self.net.eval()

    def predict_logit(self, features: np.ndarray) -> np.ndarray:
        import torch

        if self.net is None:
            raise RuntimeError("WatchProbabilityModel.predict before fit")
        with torch.no_grad():
            x = torch.from_numpy(((features - self.mean) / self.std).astype(np.float32))
            return self.net(x).numpy()

    def predict(self, features: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.predict_logit(features)))


def _ContextNet(n_inputs: int, hidden: int, learning_rate: float, pos_weight: float):
    """Build the LightningModule lazily so importing this module does not import torch."""
    import pytorch_lightning as pl
    import torch
    from torch import nn

    class ContextNet(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(n_inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
            self.loss = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight))

        def forward(self, x):
            return self.body(x).squeeze(-1)

        def training_step(self, batch, _):
            x, y = batch
            return self.loss(self(x), y)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=learning_rate)

    return ContextNet()
