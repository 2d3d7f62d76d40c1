"""The learned live policy: the VOD policy's goodput forecaster and risk weighting, planning with the live player.

Trained the way the VOD one is (:mod:`streamlab.training.abr.live`): a goodput quantile net
(:class:`~streamlab.models.abr.policies.quantile_net.QuantileNet`, the same features,
:func:`~streamlab.models.abr.policies.features.feature_vector`) fitted on live rollouts over the
training traces, each sample a whole segment's goodput (bytes over its parts' transfer times),
and planner knobs chosen on the training traces. Its scenarios and their risk weights come from
:class:`~streamlab.models.abr.policies.learned.LearnedPolicy` itself (composed, not copied); the
plans are priced by :func:`~streamlab.models.abr.live.planner.live_plan_scores`; the playback rate
is the rate rule the planner assumes (LoL+'s hybrid rule, :func:`~streamlab.models.abr.live.catchup.hybrid_rate`).

A decision is :func:`streamlab.models.abr.live.decide.decide_live` on the request the player would
send (stateless), so the simulator, ``/abr/decide`` and the benchmark run the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamlab.models.abr.errors import PolicyModelError
from streamlab.models.abr.live.catchup import hybrid_rate
from streamlab.models.abr.live.base import LiveAction, LiveObservation, LivePolicy, PartSample
from streamlab.models.abr.live.settings import LiveSettings
from streamlab.models.abr.policies.learned import WEIGHTS_DIR, LearnedPolicy, PlannerKnobs, read_checkpoint, save_checkpoint
from streamlab.models.abr.policies.quantile_net import QuantileNet

DEFAULT_LIVE_CHECKPOINT = WEIGHTS_DIR / "learned_live.npz"


@dataclass(frozen=True)
class LiveKnobs:
    horizon: int = 3
    """Segments looked ahead (every rung sequence: ``levels ** horizon`` plans)."""
    risk: float = 2.0
    smooth_weight: float = 1.0
    latency_weight: float = 1.0
    """Multiplies the latency penalty inside the planner only."""
    scenario_quantiles: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9)


class LearnedLivePolicy(LivePolicy):
    name = "learned"

    def __init__(self, net: QuantileNet, knobs: LiveKnobs, settings: LiveSettings) -> None:
        self.net = net
        self.knobs = knobs
        self.settings = settings
        self.forecaster = LearnedPolicy(net, PlannerKnobs(horizon=knobs.horizon, risk=knobs.risk,
                                                          scenario_quantiles=knobs.scenario_quantiles))

    def act(self, obs: LiveObservation) -> LiveAction:
        """At a segment boundary the full decision; between, only the rate rule the decision also uses."""
        from streamlab.models.abr.live.decide import decide_live, observation_request

        if not obs.segment_start:
            s = obs.settings
            return LiveAction(obs.last_level, float(hybrid_rate(obs.latency_s, obs.buffer_s, s.target_latency_s,
                                                                s.min_rate, s.max_rate)))
        decision = decide_live(self, observation_request(obs))
        return LiveAction(decision.rung, float(decision.playback_rate or 1.0))


def segment_samples(samples: tuple[PartSample, ...] | list[PartSample], parts_per_segment: int,
                    parts_done: int) -> list[tuple[float, float]]:
    """(bytes, transfer ms) per whole segment among ``samples`` (the last ``parts_done`` parts fetched), oldest first."""
    usable = len(samples) - (parts_done % parts_per_segment)
    complete = usable // parts_per_segment
    start = usable - complete * parts_per_segment
    return [
        (sum(p.bytes for p in chunk), sum(p.transfer_ms for p in chunk))
        for chunk in (samples[start + i * parts_per_segment : start + (i + 1) * parts_per_segment] for i in range(complete))
    ]


def save_live_checkpoint(net: QuantileNet, knobs: LiveKnobs, settings: LiveSettings, path: Path, metadata: dict) -> None:
    save_checkpoint(net, knobs, path, {"live_settings": settings.model_dump(mode="json"), **metadata})  # type: ignore[arg-type]


def load_live_learned(path: Path | None = None) -> LearnedLivePolicy:
    """The live policy of ``path`` (default: the committed ``models/abr/weights/learned_live.npz``)."""
    path = Path(path or DEFAULT_LIVE_CHECKPOINT)
    net, meta = read_checkpoint(path)
    try:
        planner = dict(meta["planner"])
        planner["scenario_quantiles"] = tuple(planner["scenario_quantiles"])
        knobs = LiveKnobs(**planner)
        settings = LiveSettings.model_validate(meta["live_settings"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyModelError(f"{path}: not a live checkpoint ({exc})") from None
    return LearnedLivePolicy(net, knobs, settings)



def live_checkpoint_identity(path: Path | None = None) -> dict[str, object]:
    """Which live checkpoint a server answers from: file, content hash, and its validation mean QoE_live.

    The live policy ships as a committed checkpoint rather than a registered version (no promotion
    gate or pyfunc contract exists for live decisions yet), so the content hash is what tells two
    servers' live policies apart; the hash covers the ``.npz`` and its ``.json``. An unreadable
    file reads as ``sha256: None`` (the server answers from its live fallback then).
    """
    import hashlib
    import json

    path = Path(path or DEFAULT_LIVE_CHECKPOINT)
    digest = hashlib.sha256()
    qoe: float | None = None
    try:
        for part in (path, path.with_suffix(".json")):
            digest.update(part.read_bytes())
        validation = json.loads(path.with_suffix(".json").read_text()).get("validation_live", {})
        value = validation.get("learned", {}).get("mean_qoe") if isinstance(validation, dict) else None
        qoe = float(value) if isinstance(value, int | float) else None
        sha: str | None = digest.hexdigest()
    except (OSError, ValueError, AttributeError):
        sha = None
    return {"checkpoint": path.name, "sha256": sha, "val_mean_qoe_live": qoe}
