"""The quantile net's ensemble: one net whose forecast is exactly its members' mean, saved like any net."""

from __future__ import annotations

import numpy as np
import pytest

from streamlab.models.abr.policies.quantile_net import QuantileNet

QUANTILES = np.array([0.1, 0.5, 0.9])


def _net(seed: int, features: int = 5, hidden: tuple[int, ...] = (7, 4), steps: int = 2) -> QuantileNet:
    rng = np.random.default_rng(seed)
    dims = [features, *hidden, steps * len(QUANTILES)]
    return QuantileNet(
        weights=tuple(rng.normal(size=(a, b)) for a, b in zip(dims[:-1], dims[1:], strict=True)),
        biases=tuple(rng.normal(size=b) for b in dims[1:]),
        mean=rng.normal(size=features),  # members scaled their inputs differently (bootstrap, other data)
        std=rng.uniform(0.5, 2.0, size=features),
        quantiles=QUANTILES,
    )


@pytest.mark.parametrize("hidden", [(7,), (7, 4), (6, 5, 3)])
def test_ensemble_outputs_the_members_mean_before_the_sort(hidden):
    members = [_net(seed, hidden=hidden) for seed in range(4)]
    merged = QuantileNet.ensemble(members)
    x = np.random.default_rng(9).normal(size=(50, 5))
    expected = np.mean([m.raw(x) for m in members], axis=0)
    np.testing.assert_allclose(merged.raw(x), expected, rtol=1e-10, atol=1e-10)
    assert merged(x).shape == (50, 2, 3)
    assert np.all(np.diff(merged(x), axis=-1) >= 0)


def test_ensemble_of_one_is_that_net_and_an_ensemble_round_trips_through_its_arrays(tmp_path):
    single = _net(0)
    assert QuantileNet.ensemble([single]) is single
    merged = QuantileNet.ensemble([_net(1), _net(2), _net(3)])
    merged.save(tmp_path / "net.npz")
    with np.load(tmp_path / "net.npz") as data:
        loaded = QuantileNet.from_arrays({k: data[k] for k in data.files}, "net.npz")
    x = np.random.default_rng(4).normal(size=(8, 5))
    np.testing.assert_allclose(loaded(x), merged(x), rtol=1e-4, atol=1e-4)  # float32 on disk


def test_ensemble_refuses_members_that_do_not_fit_together():
    with pytest.raises(ValueError, match="at least one"):
        QuantileNet.ensemble([])
    with pytest.raises(ValueError, match="share"):
        QuantileNet.ensemble([_net(0), _net(1, steps=3)])
