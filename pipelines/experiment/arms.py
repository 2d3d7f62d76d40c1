"""What an arm's viewer plays with: its target as a simulator policy or as a headless-player policy.

One resolution for both harnesses: a heuristic target is the ABR family's policy of that name; a
model target is the *pinned* version's native object from the registry (never the alias, which may
have moved since the experiment started). Loaded once per target, shared by that arm's viewers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamlab.core.registry import load_native
from streamlab.models.abr.policies.base import Policy
from streamlab.models.abr.registry import make_policy
from streamlab.streaming.experiment.definition import ArmDefinition, Experiment
from streamlab.streaming.experiment.errors import ExperimentError
from streamlab.streaming.headless.policies import AbrPolicy, BolaPolicy, LocalLearnedPolicy


def simulator_policies(experiment: Experiment, compat: bool) -> dict[str, Policy]:
    """``{arm: policy}`` for the ABR simulator; arms with the same target share one instance."""
    by_label: dict[str, Policy] = {}
    for arm in experiment.arms:
        if arm.label not in by_label:
            target = arm.target
            policy = make_policy(target.policy, compat=compat) if target.policy else _pinned_model(arm)
            policy.start_session()
            by_label[arm.label] = policy
    return {arm.name: by_label[arm.label] for arm in experiment.arms}


def headless_factories(experiment: Experiment) -> dict[str, Callable[[], AbrPolicy]]:
    """``{arm: factory}`` for the headless player: BOLA locally, or the pinned learned version in-process."""
    factories: dict[str, Callable[[], AbrPolicy]] = {}
    for arm in experiment.arms:
        factories[arm.name] = _headless_factory(arm)
    return factories


def _headless_factory(arm: ArmDefinition) -> Callable[[], AbrPolicy]:
    target = arm.target
    if target.policy == "bola":
        return BolaPolicy
    if target.policy is not None:
        raise ExperimentError(f"arm {arm.name!r}: the headless player plays heuristic policy 'bola' only, not {target.policy!r}")
    learned = _pinned_model(arm)
    return lambda: LocalLearnedPolicy(learned)


def _pinned_model(arm: ArmDefinition) -> Any:
    """The native object of the version the arm was pinned to at start (a LearnedPolicy for abr-policy)."""
    if arm.target.model is None or arm.version is None:
        raise ExperimentError(f"arm {arm.name!r} serves no pinned model version ({arm.label})")
    return load_native(arm.target.model, arm.version)[1]
