"""Real MovieLens-100k, loaded once per session, and its protocol split."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlab.models.recsys.dataset import RecsysData
from streamlab.models.recsys.pipeline import HybridPipeline
from streamlab.models.recsys.settings import RecsysSettings
from streamlab.data.watch_history import load_interactions, load_items, load_users
from streamlab.models.recsys.split import temporal_split


@pytest.fixture(scope="session")
def ml100k_dir() -> Path:
    from streamlab.core import project

    path = project.raw_data_dir() / "ml-100k"
    if not (path / "ml-100k.inter").is_file():
        pytest.fail(f"MovieLens-100k missing under {path}: run `streamlab data fetch`")
    return path


@pytest.fixture(scope="session")
def ml100k(ml100k_dir: Path) -> RecsysData:
    return RecsysData.build(
        load_interactions(ml100k_dir / "ml-100k.inter"),
        load_items(ml100k_dir / "ml-100k.item"),
        load_users(ml100k_dir / "ml-100k.user"),
    )


@pytest.fixture(scope="session")
def ml100k_split(ml100k: RecsysData):
    train, test = temporal_split(ml100k.interactions[["user_id", "item_id", "rating", "timestamp"]])
    return ml100k.with_interactions(train), test


def small_pipeline(ml100k_split) -> HybridPipeline:
    """A pipeline fitted in ~1 s: 150 viewers and 196 (the viewer of ``FAMILY.example``), EASE + popularity, no context model."""
    data, _ = ml100k_split
    keep = set(data.user_ids[:150]) | {"196"}
    settings = RecsysSettings()
    settings.blend.components = ["ease", "time_popularity"]
    settings.blend.rounds = 1
    settings.deep.enabled = False
    settings.ranker.learn_watch_weight = False
    return HybridPipeline(settings).fit(data.with_interactions(data.interactions[data.interactions.user_id.isin(keep)]))
