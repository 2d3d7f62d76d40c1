"""Training sets from the feature store: point-in-time joins as a plain function for the pipeline.

The recommender pipeline takes a ``historical`` callable so it does not depend on Feast; this
module adapts a built store to it.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from streamlab.features.settings import FeatureSettings
from streamlab.features.store import build, open_store, training_set


def feast_lookup(store) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """``examples → joined`` (same rows, same order) via ``get_historical_features``."""

    def lookup(examples: pd.DataFrame) -> pd.DataFrame:
        return training_set(store, examples)

    return lookup


def build_and_lookup(interactions: pd.DataFrame, items: pd.DataFrame, settings: FeatureSettings) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Build the store from ``interactions`` (the training data) and return its lookup."""
    build(interactions, items, settings)
    return feast_lookup(open_store(settings))
