"""The four model families by key: the one index the CLI, serving, the demo and the tests iterate.

Each family declares itself once in ``streamlab.models.<family>.family`` (its
:class:`~streamlab.core.registry.ModelFamily`); this module only lists them.
"""

from __future__ import annotations

from types import ModuleType

from streamlab.core.errors import UsageError
from streamlab.core.registry import ModelFamily
from streamlab.models.abr import family as abr
from streamlab.models.ladder import family as ladder
from streamlab.models.qoe import family as qoe
from streamlab.models.recsys import family as recsys

MODULES: dict[str, ModuleType] = {"abr": abr, "ladder": ladder, "recsys": recsys, "qoe": qoe}
"""Family key (the CLI group) -> its ``family`` module (``FAMILY`` and, where a model is committed,
``committed_artifacts()`` and ``committed_metric()``)."""

FAMILIES: dict[str, ModelFamily] = {key: module.FAMILY for key, module in MODULES.items()}


class UnknownFamilyError(UsageError):
    """A family key that is not one of the four."""


def family(key: str) -> ModelFamily:
    if key not in FAMILIES:
        raise UnknownFamilyError(f"unknown model family {key!r}; valid: {', '.join(FAMILIES)}")
    return FAMILIES[key]


def has_committed_model(key: str) -> bool:
    return hasattr(MODULES[key], "committed_artifacts")
