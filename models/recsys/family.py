"""The hybrid recommender as a registered model family: declared once, used by training, serving and the demo.

Promotion metric: the inner validation NDCG@k (k = ``configs/recsys.yaml: k``, 10) that
:meth:`HybridPipeline.fit <streamlab.models.recsys.pipeline.HybridPipeline.fit>` computes on an
inner split of the training rows made under ``configs/recsys.yaml: protocol`` (default
``global-time``: the rows after a cut time, which cannot leak; ``per-viewer``: the last part of
each viewer's rows). Versions trained under different protocols are not comparable: keep one
protocol per registry. It is computed of the final ranked list when
the context model's weight is learned, else of the blend (:attr:`FitReport.validation_ndcg
<streamlab.models.recsys.pipeline.FitReport.validation_ndcg>`). Higher is better. It never sees
the protocol's test part, so promoting on it leaks nothing into ``recsys evaluate``.

No model is committed (a fit takes seconds to minutes on MovieLens-100k): ``serve register-defaults``
fits a small one with :func:`streamlab.training.recsys.train.train_small`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streamlab.core.registry import ModelFamily

if TYPE_CHECKING:
    import pandas as pd

NAME = "recsys"


def example() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two requests (a known viewer with no context, a stranger on mobile at a given time) and
    ranked rows, for the signature: ``timestamp_s`` and ``device`` are optional columns."""
    import pandas as pd

    requests = pd.DataFrame({
        "viewer": ["196", "nobody-42"],
        "k": [10, 3],
        "timestamp_s": [None, 891_000_000.0],
        "device": [None, "mobile"],
    })
    ranked = pd.DataFrame({
        "viewer": ["196", "196"],
        "rank": [1, 2],
        "title": ["50", "100"],
        "score": [1.25, 1.1],
        "reason": ["ranked for this viewer", "ranked for this viewer"],
        "source": ["model", "model"],
    })
    return requests, ranked


FAMILY = ModelFamily(
    name=NAME,
    experiment=NAME,  # `streamlab recsys train`, `evaluate` and `tune` log here
    artifact_path="pipeline",
    pyfunc_module="streamlab.models.recsys.pyfunc",
    artifacts={"pipeline": "the pickled HybridPipeline (models/recsys/artifacts.py: save_pipeline)"},
    metric="inner_val_ndcg",
    higher_is_better=True,
    example=example,
    requirements=("numpy", "scipy", "pandas", "torch", "pytorch-lightning", "implicit"),
    description="Hybrid recommender: candidate generators, learned blend, context model, real-time ranker "
    "(viewer, k, context -> ranked titles with scores).",
)
