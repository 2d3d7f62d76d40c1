"""Policies by name, so ``--policy bola`` and ``--policy learned`` run through the same code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlab.models.abr.errors import UnknownPolicyError
from streamlab.models.abr.policies.base import Policy


def _bba(compat: bool, model: str | Path | None) -> Policy:
    from streamlab.models.abr.policies.bba import BufferBased

    return BufferBased()


def _rate(compat: bool, model: str | Path | None) -> Policy:
    from streamlab.models.abr.policies.rate import RateBased

    return RateBased(compat=compat)


def _bola(compat: bool, model: str | Path | None) -> Policy:
    from streamlab.models.abr.policies.bola import Bola

    return Bola()


def _robustmpc(compat: bool, model: str | Path | None) -> Policy:
    from streamlab.models.abr.policies.mpc import RobustMPC

    return RobustMPC(compat=compat)


def _oracle(compat: bool, model: str | Path | None) -> Policy:
    from streamlab.models.abr.policies.oracle import Oracle

    return Oracle()


def _learned(compat: bool, model: str | Path | None) -> Policy:
    from streamlab.models.abr.policies.learned import load_learned

    return load_learned(model)


POLICIES: dict[str, Callable[[bool, str | Path | None], Policy]] = {
    "bba": _bba,
    "rate": _rate,
    "bola": _bola,
    "robustmpc": _robustmpc,
    "oracle": _oracle,
    "learned": _learned,
}
"""Name -> factory(compat, model). ``model`` only matters for ``learned`` (a path or ``models:/...`` URI)."""


def policy_names() -> list[str]:
    return list(POLICIES)


def parse_policy_list(text: str) -> list[str]:
    """``all``, one name, or a comma list; unknown names are refused with the valid ones."""
    names = policy_names() if text.strip() == "all" else [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UnknownPolicyError(f"no policy given in {text!r}; valid: {', '.join(policy_names())}, or all")
    for name in names:
        if name not in POLICIES:
            raise UnknownPolicyError(f"unknown policy {name!r}; valid: {', '.join(policy_names())}, or all")
    return names


def make_policy(name: str, compat: bool = True, model: str | Path | None = None) -> Policy:
    if name not in POLICIES:
        raise UnknownPolicyError(f"unknown policy {name!r}; valid: {', '.join(policy_names())}")
    return POLICIES[name](compat, model)
