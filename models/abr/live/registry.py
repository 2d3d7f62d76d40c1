"""Live policies by name, so ``--mode live --policy lolp`` and ``--policy learned`` run through the same code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlab.models.abr.errors import UnknownPolicyError
from streamlab.models.abr.live.base import LivePolicy


def _hlsjs(model: str | Path | None) -> LivePolicy:
    from streamlab.models.abr.live.hlsjs import HlsJsLowLatency

    return HlsJsLowLatency()


def _l2a(model: str | Path | None) -> LivePolicy:
    from streamlab.models.abr.live.l2a import L2ALowLatency

    return L2ALowLatency()


def _lolp(model: str | Path | None) -> LivePolicy:
    from streamlab.models.abr.live.lolp import LoLPlus

    return LoLPlus()


def _learned(model: str | Path | None) -> LivePolicy:
    from streamlab.models.abr.live.learned import load_live_learned

    return load_live_learned(Path(model) if model else None)


LIVE_POLICIES: dict[str, Callable[[str | Path | None], LivePolicy]] = {
    "hlsjs": _hlsjs,
    "l2a": _l2a,
    "lolp": _lolp,
    "learned": _learned,
}
"""Name -> factory(model). ``model`` only matters for ``learned`` (a live checkpoint ``.npz``)."""
BASELINES = ("hlsjs", "l2a", "lolp")


def parse_live_policy_list(text: str) -> list[str]:
    """``all``, one name, or a comma list; unknown names are refused with the valid ones."""
    valid = ", ".join(LIVE_POLICIES)
    names = list(LIVE_POLICIES) if text.strip() == "all" else [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UnknownPolicyError(f"no live policy given in {text!r}; valid: {valid}, or all")
    for name in names:
        if name not in LIVE_POLICIES:
            raise UnknownPolicyError(f"unknown live policy {name!r}; valid: {valid}, or all")
    return names


def make_live_policy(name: str, model: str | Path | None = None) -> LivePolicy:
    if name not in LIVE_POLICIES:
        raise UnknownPolicyError(f"unknown live policy {name!r}; valid: {', '.join(LIVE_POLICIES)}")
    return LIVE_POLICIES[name](model)
