"""Fit the goodput quantile MLP (torch, pinball loss), export it as a numpy :class:`QuantileNet`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamlab.models.abr.policies.quantile_net import QuantileNet
from streamlab.training.abr.settings import PredictorSettings


@dataclass(frozen=True)
class FitResult:
    net: QuantileNet
    train_loss: list[float]
    validation_loss: list[float]


def pinball(pred, target, taus):
    """Mean pinball loss; ``pred[n, steps * q]``, ``target[n, steps]`` with NaN = no target."""
    import torch

    pred = pred.reshape(len(pred), target.shape[1], len(taus))
    mask = ~torch.isnan(target)
    diff = torch.nan_to_num(target)[:, :, None] - pred
    loss = diff * (taus - (diff < 0).float())
    return (loss * mask[:, :, None]).sum() / (mask.sum() * len(taus))


def fit_predictor(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                  settings: PredictorSettings) -> FitResult:
    import torch

    torch.manual_seed(settings.seed)
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0) + 1e-6
    taus = torch.tensor(settings.quantiles, dtype=torch.float32)
    dims = [x_train.shape[1], *settings.hidden, y_train.shape[1] * len(settings.quantiles)]
    layers: list[torch.nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings.epochs)
    xt = torch.tensor((x_train - mean) / std, dtype=torch.float32)
    yt = torch.tensor(y_train, dtype=torch.float32)
    xv = torch.tensor((x_val - mean) / std, dtype=torch.float32)
    yv = torch.tensor(y_val, dtype=torch.float32)
    generator = torch.Generator().manual_seed(settings.seed)
    train_curve, val_curve = [], []
    for _ in range(settings.epochs):
        model.train()
        order = torch.randperm(len(xt), generator=generator)
        total = 0.0
        for start in range(0, len(xt), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            loss = pinball(model(xt[batch]), yt[batch], taus)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        scheduler.step()
        model.eval()
        with torch.no_grad():
            val_curve.append(float(pinball(model(xv), yv, taus)))
        train_curve.append(total / len(xt))
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    net = QuantileNet(
        weights=tuple(m.weight.detach().numpy().T.astype(np.float64) for m in linears),
        biases=tuple(m.bias.detach().numpy().astype(np.float64) for m in linears),
        mean=mean.astype(np.float64),
        std=std.astype(np.float64),
        quantiles=np.asarray(settings.quantiles, dtype=np.float64),
    )
    return FitResult(net, train_curve, val_curve)


def fit_ensemble(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                 settings: PredictorSettings) -> FitResult:
    """``settings.members`` nets (seeds ``seed``, ``seed + 1``, ...) on the same data, merged into one
    :meth:`~streamlab.models.abr.policies.quantile_net.QuantileNet.ensemble`; the curves are the members' means.

    Why several seeds: in 3-fold cross-validation on the training traces (``configs/abr.yaml``
    ``predictor.members``) single seeds differed by ~0.007 QoE; averaging three gained little on plain
    rollouts (+0.002) but +0.006 on rollouts with deep drops, whose far quantiles (what the planner's
    cautious scenarios read) vary most between seeds.
    """
    fits = [fit_predictor(x_train, y_train, x_val, y_val, settings.model_copy(update={"seed": settings.seed + m}))
            for m in range(settings.members)]
    return FitResult(
        QuantileNet.ensemble([f.net for f in fits]),
        [float(v) for v in np.mean([f.train_loss for f in fits], axis=0)],
        [float(v) for v in np.mean([f.validation_loss for f in fits], axis=0)],
    )
