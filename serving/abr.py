"""``abr/decide`` on the server: the family's decision, BOLA when no model is loaded or it fails.

The request/response types and both decisions live in the family (:mod:`streamlab.models.abr.decide`);
this adapter only chooses between them and stamps the version that answered, so the endpoint is
the answer plus its metrics. A model failure must never fail the player: BOLA answers instead and
the reason says why. A ladder longer than the configured ``abr.max_ladder_rungs`` is the caller's
error, refused (HTTP 400, BentoML's ``InvalidArgument``) before any decision work.

A live request (``mode: live``) gets a rung and a ``playback_rate`` from the learned live policy
(:func:`streamlab.models.abr.live.decide.decide_live`), or from the live fallback (hls.js's rung
rule, LoL+'s rate rule) when that model is missing or fails, under the same caps.
"""

from __future__ import annotations

from functools import lru_cache

from bentoml.exceptions import InvalidArgument

from streamlab.models.abr.decide import AbrDecideRequest, AbrDecision, decide, decide_bola
from streamlab.models.abr.errors import PolicyModelError
from streamlab.models.abr.live.decide import decide_live, decide_live_fallback
from streamlab.models.abr.live.learned import LearnedLivePolicy, load_live_learned
from streamlab.models.abr.policies.learned import LearnedPolicy
from streamlab.serving.registry import LoadedModel
from streamlab.serving.settings import AbrServingSettings


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


def answer(
    request: AbrDecideRequest, loaded: LoadedModel[LearnedPolicy] | None, settings: AbrServingSettings
) -> tuple[AbrDecision, str | None]:
    """The decision, and why BOLA answered (``"no_model"``, ``"model_error"``) or ``None`` when the model did."""
    if len(request.ladder) > settings.max_ladder_rungs:
        raise InvalidArgument(
            f"the ladder has {len(request.ladder)} rungs; this server takes at most "
            f"max_ladder_rungs={settings.max_ladder_rungs}"
        )
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
