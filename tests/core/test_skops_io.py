"""``skops.io`` without torch (streamlab/core/skops_io.py): a model server loading a scikit-learn model stays torch-free."""

from __future__ import annotations

import subprocess
import sys

import pytest

ROUND_TRIP = """
import sys
import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from streamlab.core.skops_io import skops_io
{before}
sio = skops_io()
model = HistGradientBoostingRegressor(max_iter=5).fit(np.arange(60.0).reshape(20, 3), np.arange(20.0))
blob = sio.dumps(model)
again = sio.loads(blob, trusted=sio.get_untrusted_types(data=blob))
assert again.predict(np.ones((1, 3)))[0] == model.predict(np.ones((1, 3)))[0]
print("torch" in sys.modules)
import torch  # the blocker is gone: torch imports as ever afterwards
print(torch.ones(1).item())
"""


@pytest.mark.parametrize(("before", "torch_loaded"), [("", "False"), ("import torch", "True")])
def test_skops_io_loads_a_model_without_importing_torch(before: str, torch_loaded: str) -> None:
    run = subprocess.run([sys.executable, "-c", ROUND_TRIP.format(before=before)], capture_output=True, text=True,
                         timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == [torch_loaded, "1.0"]
