"""``abr/decide`` on the server: the family's decision, BOLA when no model is loaded or it fails.

The request/response types and both decisions live in the family (:mod:`streamlab.models.abr.decide`);
this adapter only chooses between them and stamps the version that answered, so the endpoint is
the answer plus its metrics. A model failure must never fail the player: BOLA answers instead and
the reason says why. A ladder longer than the configured ``abr.max_ladder_rungs`` is the caller's
error, refused (HTTP 400, BentoML's ``InvalidArgument``) before any decision work.

A live request (``mode: live``) gets a rung and a ``playback_rate`` from the learned live policy
(:func:`streamlab.models.abr.live.decide.decide_live`), or from the live fallback (hls.js's rung
rule, LoL+'s rate rule) when that model is missing or fails, under the same caps.

A request in an online A/B test names its experiment and arm in the body (``"experiment": "abr-test",
"arm": "challenger"``: the ``abr`` block the playback service returns, copied into every decide
request; a body is what a browser can send without a CORS preflight for a custom header) and gets
that arm's target (:class:`ArmRouter`): the model version pinned when the experiment started (loaded
once per version, at most ``abr.max_pinned_versions`` kept) or a heuristic (``bola``). The answer
names the experiment, arm, and the version or policy that decided. An unknown experiment or arm, or
a target this endpoint cannot decide, is refused (400 with the reason): nothing is ever answered by
another arm's target. A pinned version that fails to load is the one fallback: the champion (or BOLA)
answers, the reason says so, and the fallback is counted per arm.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache

import bentoml
from bentoml.exceptions import InvalidArgument
from pydantic import Field, model_validator

from streamlab.models.abr.decide import AbrDecideRequest, AbrDecision, decide, decide_bola
from streamlab.models.abr.errors import PolicyModelError
from streamlab.models.abr.live.decide import decide_live, decide_live_fallback
from streamlab.models.abr.live.learned import LearnedLivePolicy, load_live_learned
from streamlab.models.abr.policies.learned import LearnedPolicy
from streamlab.serving.registry import LoadedModel, ModelLoadError, PinnedModels
from streamlab.serving.settings import AbrServingSettings
from streamlab.streaming.experiment.definition import ArmDefinition, Experiment, folder, load
from streamlab.streaming.experiment.errors import ExperimentError


@lru_cache(maxsize=1)
def live_policy() -> LearnedLivePolicy | None:
    """The committed learned live policy, loaded once; ``None`` when it is missing or unreadable (the
    live fallback answers then). Live is not yet a registered family: see models/abr/live/learned.py."""
    try:
        return load_live_learned()
    except PolicyModelError:
        return None


def answer_live(request: AbrDecideRequest, policy: LearnedLivePolicy | None) -> tuple[AbrDecision, str | None]:
    """A live request's rung and playback rate; hls.js's rung rule with LoL+'s rate when the model is absent or fails."""
    if policy is None:
        return decide_live_fallback(request), "no_model"
    try:
        return decide_live(policy, request), None
    except Exception as exc:  # noqa: BLE001 - a model failure must not fail the player
        fallback = decide_live_fallback(request, policy.settings)
        return fallback.model_copy(update={"reason": f"{fallback.reason} (model failed: {exc})"}), "model_error"


def check_ladder(request: AbrDecideRequest, settings: AbrServingSettings) -> None:
    """Refuse a ladder longer than the server takes before any decision work (the planner's cost grows steeply)."""
    if len(request.ladder) > settings.max_ladder_rungs:
        raise InvalidArgument(
            f"the ladder has {len(request.ladder)} rungs; this server takes at most "
            f"max_ladder_rungs={settings.max_ladder_rungs}"
        )


def answer(
    request: AbrDecideRequest, loaded: LoadedModel[LearnedPolicy] | None, settings: AbrServingSettings
) -> tuple[AbrDecision, str | None]:
    """The decision, and why BOLA answered (``"no_model"``, ``"model_error"``) or ``None`` when the model did."""
    check_ladder(request, settings)
    if request.mode == "live":
        return answer_live(request, live_policy())
    if loaded is None:
        return decide_bola(request), "no_model"
    try:
        decision = decide(loaded.model, request, max_samples=settings.max_samples, max_horizon=settings.horizon_chunks)
    except Exception as exc:  # noqa: BLE001 - a model failure must not fail the player
        fallback = decide_bola(request)
        return fallback.model_copy(update={"reason": f"{fallback.reason} (model failed: {exc})"}), "model_error"
    return decision.model_copy(update={"model_version": loaded.version}), None


ARM_DECISIONS = bentoml.metrics.Counter(
    name="streamlab_abr_arm_decisions",
    documentation="abr/decide answers per experiment arm and outcome (ok, or the fallback's reason).",
    labelnames=["experiment", "arm", "outcome"],
)
"""Labels are only ever arms of a started experiment (unknown ones are refused first), so they stay few."""

HEURISTICS: dict[str, Callable[[AbrDecideRequest], AbrDecision]] = {"bola": decide_bola}
"""Heuristic arm targets this endpoint decides (a request -> decision function per policy name).
BBA and RobustMPC exist only as simulator policies (whole sessions), not as request-level decisions."""


class ArmDecideRequest(AbrDecideRequest):
    """``abr/decide``'s body: the player state, plus the experiment and arm when the viewer is in one."""

    experiment: str | None = Field(None, max_length=64, description="the A/B experiment the viewer is in")
    arm: str | None = Field(None, max_length=32, description="the viewer's arm of that experiment")

    @model_validator(mode="after")
    def _both_or_neither(self) -> ArmDecideRequest:
        if (self.experiment is None) != (self.arm is None):
            raise ValueError("experiment and arm go together: send both (the playback service's abr block) or neither")
        return self


class ArmDecision(AbrDecision):
    experiment: str | None = None
    arm: str | None = None
    """The arm that answered (``None``: the request named no experiment; the champion answered)."""
    policy: str | None = None
    """The heuristic that decided for a heuristic arm (``model_version`` is ``None`` then)."""


class Experiments:
    """Experiment definitions from the state dir, read once and re-read when the file changes (a ``--replace``).

    A request costs one ``stat``; at most ``capacity`` definitions are kept (the oldest read goes first).
    """

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._cache: dict[str, tuple[int, Experiment]] = {}
        self._lock = threading.Lock()

    def arm(self, experiment: str, arm: str) -> ArmDefinition:
        """The arm's pinned definition; :class:`InvalidArgument` (400) for an unknown experiment or arm."""
        try:
            path = folder(experiment) / "experiment.json"
            try:
                stamp = path.stat().st_mtime_ns
            except OSError:
                raise ExperimentError(f"unknown experiment {experiment!r} (no such experiment was started)") from None
            with self._lock:
                cached = self._cache.get(experiment)
            if cached is None or cached[0] != stamp:
                cached = (stamp, load(experiment))
                with self._lock:
                    self._cache.pop(experiment, None)
                    self._cache[experiment] = cached
                    while len(self._cache) > self.capacity:
                        self._cache.pop(next(iter(self._cache)))
            return cached[1].arm(arm)
        except ExperimentError as exc:
            raise InvalidArgument(str(exc)) from None


class ArmRouter:
    """Answers ``abr/decide`` with the target of the arm a request names, or the champion when it names none."""

    def __init__(self, settings: AbrServingSettings, experiments: Experiments | None = None) -> None:
        self.settings = settings
        self.experiments = experiments or Experiments()
        self.pinned: PinnedModels[LearnedPolicy] = PinnedModels(settings.max_pinned_versions)

    def route(self, request: ArmDecideRequest) -> ArmDefinition | None:
        """The arm the request names (``None``: none named); 400 when it is unknown or its target is not servable.
        Cheap (a ``stat``): call it on the event loop, before deciding where the decision runs."""
        check_ladder(request, self.settings)
        if request.experiment is None or request.arm is None:
            return None
        arm = self.experiments.arm(request.experiment, request.arm)
        policy = arm.target.policy
        if policy is not None and policy not in HEURISTICS:
            raise InvalidArgument(
                f"arm {arm.name!r} of {request.experiment!r} serves policy {policy!r}, which abr/decide does not decide "
                f"(heuristics served: {', '.join(HEURISTICS)})"
            )
        if policy is None and arm.version is None:
            raise InvalidArgument(f"arm {arm.name!r} of {request.experiment!r} has no pinned model version")
        return arm

    def loads(self, arm: ArmDefinition | None) -> bool:
        """Whether answering for ``arm`` may load a version first (seconds of CPU: not on the event loop)."""
        return arm is not None and arm.target.model is not None and not self.pinned.cached(arm.target.model, str(arm.version))

    def answer(
        self, request: ArmDecideRequest, arm: ArmDefinition | None, champion: LoadedModel[LearnedPolicy] | None
    ) -> tuple[ArmDecision, str | None]:
        """The arm's decision (stamped with experiment, arm and what decided), and the fallback reason if any."""
        if arm is None:
            decision, fallback = answer(request, champion, self.settings)
            return ArmDecision(**decision.model_dump()), fallback
        target, policy = arm.target, None
        if request.mode == "live":
            decision, fallback = answer_live(request, live_policy())
            note = f"{decision.reason} (live: experiment arms pick VOD policies; the live policy answered)"
            decision, policy = decision.model_copy(update={"reason": note}), "live"
        elif target.policy is not None:
            decision, fallback, policy = HEURISTICS[target.policy](request), None, target.policy
        else:
            try:
                loaded = self.pinned.get(str(target.model), str(arm.version))
            except ModelLoadError as exc:
                decision, _ = answer(request, champion, self.settings)
                answered_by = f"champion version {decision.model_version}" if decision.model_version else "BOLA"
                decision = decision.model_copy(update={"reason": f"{decision.reason} (arm {arm.name}: {exc}; "
                                                                  f"{answered_by} answered)"})
                fallback = "arm_model_error"
            else:
                decision, fallback = answer(request, loaded, self.settings)
        ARM_DECISIONS.labels(experiment=request.experiment, arm=arm.name, outcome=fallback or "ok").inc()
        return ArmDecision(**decision.model_dump(), experiment=request.experiment, arm=arm.name, policy=policy), fallback
