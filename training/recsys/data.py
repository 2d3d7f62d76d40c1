"""Load a training set from files into :class:`RecsysData` (the one loader the CLI and jobs use)."""

from __future__ import annotations

from pathlib import Path

from streamlab.models.recsys.dataset import RecsysData
from streamlab.models.recsys.loaders import load_interactions, load_items, load_users


def sibling(path: Path, suffix: str) -> Path | None:
    """``ml-100k.inter`` → ``ml-100k.item`` beside it, if present (RecBole's atomic layout)."""
    candidate = path.with_suffix(suffix)
    return candidate if candidate.is_file() and candidate != path else None


def load_training_data(interactions: Path, items: Path | None = None, users: Path | None = None) -> RecsysData:
    """Interactions plus optional catalogue and viewer files.

    Without ``items``/``users``, RecBole siblings (same stem, ``.item``/``.user``) are used when
    present; otherwise titles have no genres or year and content signals are flat.
    """
    interactions = Path(interactions)
    items = items or sibling(interactions, ".item")
    users = users or sibling(interactions, ".user")
    return RecsysData.build(
        load_interactions(interactions),
        load_items(items) if items else None,
        load_users(users) if users else None,
    )
