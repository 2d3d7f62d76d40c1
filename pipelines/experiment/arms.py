"""What an arm's viewer plays with: its target as a simulator policy or as a headless-player policy.

One resolution for both harnesses: a heuristic target is the ABR family's policy of that name; a
model target is the *pinned* version's native object from the registry (never the alias, which may
have moved since the experiment started). Loaded once per target, shared by that arm's viewers.

Or served: :func:`served_factories` gives each arm's viewers a client of the model server's
``abr/decide`` that names the experiment and arm in every request, so the server answers with the
arm's target (:class:`streamlab.serving.abr.ArmRouter`), as it does for any player in the experiment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from streamlab.core.registry import load_native
from streamlab.models.abr.policies.base import Policy
from streamlab.models.abr.decide import AbrDecideRequest
from streamlab.models.abr.registry import make_policy
from streamlab.streaming.experiment.definition import ArmDefinition, Experiment
from streamlab.streaming.experiment.errors import ExperimentError
from streamlab.streaming.headless.policies import AbrPolicy, BolaPolicy, Choice, LocalLearnedPolicy, RemotePolicy


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


def headless_factories(experiment: Experiment, models: bool = True) -> dict[str, Callable[[], AbrPolicy]]:
    """``{arm: factory}`` for the headless player: BOLA locally, or the pinned learned version in-process
    (``models=False``: heuristic arms only)."""
    factories: dict[str, Callable[[], AbrPolicy]] = {}
    for arm in experiment.arms:
        if models or arm.target.policy is not None:
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


class ArmRemotePolicy(RemotePolicy):
    """The model server's decision for one arm: every request names the experiment and the arm."""

    def __init__(self, url: str, experiment: str, arm: str, timeout_ms: float) -> None:
        from streamlab.serving.abr import ArmDecideRequest  # here: BentoML's import is seconds the CLI need not pay

        super().__init__(url, timeout_ms)
        self.request_type = ArmDecideRequest
        self.name = f"served:{arm}"
        self.experiment, self.arm = experiment, arm

    def choose(self, request: AbrDecideRequest) -> Choice:
        fields = {name: getattr(request, name) for name in AbrDecideRequest.model_fields}
        return super().choose(self.request_type.model_construct(**fields, experiment=self.experiment, arm=self.arm))


def served_factories(experiment: Experiment, server_url: str, timeout_ms: float) -> dict[str, Callable[[], AbrPolicy]]:
    """``{arm: factory}``: model arms are clients of ``server_url``'s ``abr/decide`` naming their arm; a
    heuristic arm decides in the player, as a player running that heuristic does (no round trip: the
    model's round trip is part of what the experiment measures). One request per arm first checks that
    the server knows the arm (an unknown one is an error here, before any session plays) and has
    loaded its pinned version (the first request of a version is seconds, past any player's budget)."""
    probe = {"buffer_s": 0.0, "last_rung": 0, "chunks_remaining": 1, "ladder": [{"bitrate_kbps": 400.0}]}
    url = server_url.rstrip("/") + "/abr/decide"
    with httpx.Client(trust_env=False, timeout=120.0) as client:
        for arm in experiment.arms:
            try:
                response = client.post(url, json={**probe, "experiment": experiment.name, "arm": arm.name})
            except httpx.HTTPError as exc:
                raise ExperimentError(f"the model server at {server_url} did not answer: {exc}") from None
            if response.status_code != 200:
                raise ExperimentError(f"the model server refused arm {arm.name!r} of {experiment.name!r}: "
                                      f"HTTP {response.status_code} {response.text[:200]}")
    local = headless_factories(experiment, models=False)
    return {arm.name: local.get(arm.name) or _served(server_url, experiment.name, arm.name, timeout_ms) for arm in experiment.arms}


def _served(url: str, experiment: str, arm: str, timeout_ms: float) -> Callable[[], AbrPolicy]:
    return lambda: ArmRemotePolicy(url, experiment, arm, timeout_ms)
