"""The dynamic optimizer: each shot of a rung at its own operating point, chosen by one Lagrangian slope.

A whole-title rung spends the same CRF on a talking head and on an explosion; the explosion ends
up looking worse than the rung's average and the talking head gets bits it does not need. Here
every shot has its own RD curve (measured by per-shot trial encodes at one resolution, densified
to ``crf_step`` by interpolating between measured CRFs: VMAF linear, log-rate linear, as the ladder
rules do), and a rung picks one point per shot:

- **Lagrangian trade-off**: for a slope λ each shot takes the point maximising
  ``frames x VMAF - λ x bits``. One common λ equalises the marginal quality per bit across shots,
  which is what minimises total bits for a pooled (frame-weighted mean) quality, or maximises
  pooled quality for a bit budget (Everett's theorem; only points on each shot's upper convex hull
  in linear (bits, VMAF) can win, so the choice is read from that hull).
- **Bisection on λ** (in log space, a fixed number of steps) meets the rung's target: the least
  bits whose pooled VMAF reaches a quality target, or the best pooled VMAF within an average
  bitrate target.
- **Worst-shot floor**: before choosing, every shot's points under ``target - JND`` are removed
  (a shot that cannot reach the floor keeps only its best point), so no shot of a rung looks a
  just-noticeable difference worse than the rung promises. Pooled means hide bad shots; viewers
  do not.

Resolution is per rung, not per shot: a CMAF track has one sample description, and a rendition
whose size changed mid-stream would need a new init segment at every change. The ladder tries
every resolution for each target and keeps the one needing the fewest bits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from streamlab.models.ladder.grid import encoder_for
from streamlab.models.ladder.schema import Codec, LadderRung, ShotSetting
from streamlab.models.ladder.settings import RuleSettings

LAMBDA_RANGE = (1e-9, 1e9)
BISECTION_STEPS = 80


@dataclass(frozen=True)
class ShotOption:
    """One operating point of one shot: a CRF and what it gives (average bitrate over the shot, VMAF)."""

    crf: float
    kbps: float
    vmaf: float


@dataclass(frozen=True)
class Shot:
    """A shot's RD curve at one resolution (measured points, any order)."""

    start_s: float
    duration_s: float
    frames: int
    options: tuple[ShotOption, ...]


@dataclass(frozen=True)
class Allocation:
    """The points one rung chose, shot by shot, and what they add up to."""

    width: int
    height: int
    shots: tuple[Shot, ...]
    choices: tuple[ShotOption, ...]
    lam: float

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.shots)

    @property
    def kbps(self) -> float:
        """Average bitrate over the title."""
        return sum(c.kbps * s.duration_s for s, c in zip(self.shots, self.choices, strict=True)) / self.duration_s

    @property
    def vmaf(self) -> float:
        """Frame-weighted mean VMAF (the pooling a whole-title measurement does)."""
        frames = sum(s.frames for s in self.shots)
        return sum(c.vmaf * s.frames for s, c in zip(self.shots, self.choices, strict=True)) / frames

    @property
    def worst_vmaf(self) -> float:
        return min(c.vmaf for c in self.choices)

    @property
    def peak_kbps(self) -> float:
        return max(c.kbps for c in self.choices)


def densify(options: Sequence[ShotOption], crf_step: float) -> list[ShotOption]:
    """The measured points plus CRFs every ``crf_step`` between neighbours (VMAF linear, rate log-linear)."""
    ordered = sorted(options, key=lambda o: o.crf)
    dense: list[ShotOption] = []
    for a, b in zip(ordered, ordered[1:], strict=False):
        dense.append(a)
        steps = int(math.floor((b.crf - a.crf) / crf_step - 1e-9))
        for k in range(1, steps + 1):
            f = k * crf_step / (b.crf - a.crf)
            dense.append(ShotOption(
                crf=round(a.crf + k * crf_step, 3),
                kbps=math.exp(math.log(a.kbps) + f * math.log(b.kbps / a.kbps)),
                vmaf=a.vmaf + f * (b.vmaf - a.vmaf),
            ))  # fmt: skip
    if ordered:
        dense.append(ordered[-1])
    return dense


def linear_hull(options: Sequence[ShotOption]) -> list[ShotOption]:
    """Upper convex hull in linear (bitrate, VMAF), by bitrate: the only points a Lagrangian slope picks."""
    hull: list[ShotOption] = []
    for o in sorted(options, key=lambda o: (o.kbps, -o.vmaf)):
        if hull and o.vmaf <= hull[-1].vmaf:
            continue
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (b.kbps - a.kbps) * (o.vmaf - a.vmaf) - (b.vmaf - a.vmaf) * (o.kbps - a.kbps) >= 0:
                hull.pop()
            else:
                break
        hull.append(o)
    return hull


def allocate(
    shots: Sequence[Shot],
    *,
    width: int,
    height: int,
    target_vmaf: float | None = None,
    target_kbps: float | None = None,
    floor_vmaf: float | None = None,
    crf_step: float = 1.0,
) -> Allocation:
    """Each shot's point for one rung: least bits reaching ``target_vmaf``, or best VMAF within ``target_kbps``.

    Exactly one target. An unreachable quality target gives the best the shots can do; an
    unreachable bitrate target gives the cheapest. ``floor_vmaf`` removes points under it first.
    """
    if (target_vmaf is None) == (target_kbps is None):
        raise ValueError("allocate needs exactly one of target_vmaf, target_kbps")
    hulls = [linear_hull(_above(densify(s.options, crf_step), floor_vmaf)) for s in shots]

    def pick(shot: Shot, hull: list[ShotOption], lam: float) -> ShotOption:
        """The point maximising frames x VMAF - λ x bits (ties: the cheaper)."""
        return max(hull, key=lambda o: (shot.frames * o.vmaf - lam * o.kbps * shot.duration_s, -o.kbps))

    def at(lam: float) -> Allocation:
        choices = tuple(pick(s, hull, lam) for s, hull in zip(shots, hulls, strict=True))
        return Allocation(width, height, tuple(shots), choices, lam)

    def meets(a: Allocation) -> bool:
        if target_vmaf is not None:
            return a.vmaf >= target_vmaf - 1e-9
        return a.kbps <= target_kbps + 1e-9  # type: ignore[operator]

    lo, hi = math.log(LAMBDA_RANGE[0]), math.log(LAMBDA_RANGE[1])
    # quality target: the largest λ (fewest bits) still meeting it; rate target: the smallest λ meeting it
    if target_vmaf is not None:
        best = at(math.exp(lo))
        if not meets(best):
            return best
        for _ in range(BISECTION_STEPS):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if meets(at(math.exp(mid))) else (lo, mid)
        return at(math.exp(lo))
    cheapest = at(math.exp(hi))
    if not meets(cheapest):
        return cheapest
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if meets(at(math.exp(mid))) else (mid, hi)
    return at(math.exp(hi))


def _above(options: list[ShotOption], floor_vmaf: float | None) -> list[ShotOption]:
    if floor_vmaf is None:
        return options
    kept = [o for o in options if o.vmaf >= floor_vmaf]
    return kept or [max(options, key=lambda o: o.vmaf)]


def shot_ladder(
    per_size: dict[tuple[int, int], list[Shot]],
    rules: RuleSettings,
    codec: Codec,
    *,
    preset: str,
    tune: str | None,
    jnd_vmaf: float,
    crf_step: float,
    top_margin_vmaf: float = 0.0,
    params: dict[str, str] | None = None,
) -> list[LadderRung]:
    """A shot-based ladder, highest bitrate first.

    Top rung at ``rules.top_vmaf`` + ``top_margin_vmaf`` (or the best the title reaches): the margin
    covers what the per-shot trials cannot see (they score every ``vmaf_subsample``-th frame of each
    shot; the published rung is scored whole, every frame), rungs ``vmaf_step`` apart down
    to ``min_vmaf``, each at the resolution needing the fewest bits; a bottom rung within
    ``lowest_throughput_kbps`` when the ladder does not reach that low yet; rungs closer than
    ``min_bitrate_ratio`` merged, gaps wider than ``max_bitrate_ratio`` filled. The rungs carry
    ``preset``, ``tune`` and ``params``: what they are published with, not necessarily what the trials ran.
    """
    if not per_size:
        raise ValueError("shot_ladder needs at least one resolution")

    def for_quality(q: float) -> Allocation:
        options = [_floored(shots, w, h, jnd_vmaf, crf_step, target_vmaf=q) for (w, h), shots in per_size.items()]
        reaching = [a for a in options if a.vmaf >= q - 1e-6]
        # a resolution where some shot cannot come within a JND of the rung (detail lost to scaling) loses
        # to one where every shot can, whatever it saves
        floored = [a for a in reaching if a.worst_vmaf >= a.vmaf - jnd_vmaf - 1e-6]
        if floored or reaching:
            return min(floored or reaching, key=lambda a: a.kbps)
        return max(options, key=lambda a: (a.vmaf, -a.kbps))

    def for_rate(kbps: float) -> Allocation:
        options = []
        for (w, h), shots in per_size.items():
            first = allocate(shots, width=w, height=h, target_kbps=kbps, crf_step=crf_step)
            floored = _floored(shots, w, h, jnd_vmaf, crf_step, target_kbps=kbps)
            options.append(floored if floored.kbps <= kbps * 1.05 else first)
        within = [a for a in options if a.kbps <= kbps * 1.05]
        return max(within, key=lambda a: a.vmaf) if within else min(options, key=lambda a: a.kbps)

    top = for_quality(rules.top_vmaf + top_margin_vmaf)
    chosen = [top]
    target = min(top.vmaf, rules.top_vmaf) - rules.vmaf_step
    while len(chosen) < rules.max_rungs and target >= rules.min_vmaf:
        rung = for_quality(target)
        if rung.kbps < chosen[-1].kbps / rules.min_bitrate_ratio and rung.vmaf >= target - 1e-6:
            chosen.append(rung)
        target -= rules.vmaf_step
    if chosen[-1].kbps > rules.lowest_throughput_kbps:
        bottom = for_rate(max(rules.lowest_throughput_kbps, rules.min_bitrate_kbps))
        if bottom.kbps < chosen[-1].kbps:
            chosen.append(bottom)
    # the rules' bitrate window holds here too (a rung under min_bitrate_kbps is not worth a rendition), and
    # before gaps are filled: a rung about to be dropped must not take the slot a gap needs (bigbuckbunny AV1
    # kept 1.9 Mbit/s -> 0.5 Mbit/s, 3.7x, because a 76 kbit/s rung held the sixth slot, then went)
    chosen = _in_window(chosen, rules)
    chosen = _fill_gaps(chosen, for_rate, rules)
    chosen = _merge_close(chosen, rules)
    chosen = _in_window(chosen, rules)
    while len(chosen) > rules.max_rungs:  # keep the top and the bottom: both are promises of the ladder
        # drop the inner rung the ladder misses least: the one whose neighbours are closest in rate
        _, i = min((chosen[i - 1].kbps / chosen[i + 1].kbps, i) for i in range(1, len(chosen) - 1))
        del chosen[i]
    return [_rung(a, rules, codec, preset, tune, params) for a in chosen]


def _in_window(chosen: list[Allocation], rules: RuleSettings) -> list[Allocation]:
    kept = [a for a in chosen if a.kbps <= rules.max_bitrate_kbps] or chosen[-1:]
    return [a for a in kept if a.kbps >= rules.min_bitrate_kbps] or kept[:1]


FLOOR_ROUNDS = 4


def _floored(
    shots: list[Shot], width: int, height: int, jnd_vmaf: float, crf_step: float, **target: float
) -> Allocation:
    """An allocation whose worst shot is within one JND of the rung's own pooled VMAF.

    The floor starts at the target minus a JND (a quality target) and follows the pooled VMAF the
    allocation reaches, which lies at or above the target; a few rounds settle it (bounded).
    """
    floor = target["target_vmaf"] - jnd_vmaf if "target_vmaf" in target else None
    result = allocate(shots, width=width, height=height, floor_vmaf=floor, crf_step=crf_step, **target)
    for _ in range(FLOOR_ROUNDS):
        if result.worst_vmaf >= result.vmaf - jnd_vmaf - 1e-9:
            break
        floor = result.vmaf - jnd_vmaf + 0.05
        result = allocate(shots, width=width, height=height, floor_vmaf=floor, crf_step=crf_step, **target)
    return result


def _fill_gaps(chosen: list[Allocation], for_rate, rules: RuleSettings) -> list[Allocation]:  # noqa: ANN001
    """A rung in every gap wider than ``max_bitrate_ratio``, even past ``max_rungs`` (the caller then drops the
    inner rungs the ladder misses least): a full chain of JND steps down to ``min_vmaf`` must not keep a hole at
    the top, where VMAF saturates and one step is the widest in rate (bigbuckbunny AV1: 1.86 -> 0.47 Mbit/s)."""
    for _ in range(rules.max_rungs):
        if len(chosen) < 2:  # one rung has no gap (a tiny source's whole ladder)
            break
        ratio, i = max((a.kbps / b.kbps, i) for i, (a, b) in enumerate(zip(chosen, chosen[1:], strict=False)))
        if ratio <= rules.max_bitrate_ratio:
            break
        middle = for_rate(math.sqrt(chosen[i].kbps * chosen[i + 1].kbps))
        if not chosen[i + 1].kbps < middle.kbps < chosen[i].kbps:
            break
        chosen.insert(i + 1, middle)
    return chosen


def _merge_close(chosen: list[Allocation], rules: RuleSettings) -> list[Allocation]:
    from streamlab.models.ladder.rules import merge_close

    kept = merge_close(chosen, rules, lambda a: a.kbps)
    # a rung that costs more than the one below it for less than a third of a JND more quality is waste
    return [a for i, a in enumerate(kept)
            if i == 0 or i == len(kept) - 1 or a.vmaf - kept[i + 1].vmaf >= rules.vmaf_step / 3]  # fmt: skip


def _rung(
    a: Allocation, rules: RuleSettings, codec: Codec, preset: str, tune: str | None, params: dict[str, str] | None
) -> LadderRung:
    from streamlab.models.ladder.rules import device_profiles

    frames = sum(s.frames for s in a.shots)
    mean_crf = sum(c.crf * s.frames for s, c in zip(a.shots, a.choices, strict=True)) / frames
    crf = round(mean_crf, 1) if codec == "h264" else float(round(mean_crf))
    kbps = a.kbps
    return LadderRung(
        width=a.width,
        height=a.height,
        codec=codec,
        bitrate_kbps=round(kbps, 1),
        # each shot is capped at ratio x its own expected rate; the rung's cap is the largest of them
        max_bitrate_kbps=round(a.peak_kbps * rules.maxrate_ratio),
        bufsize_kbps=round(a.peak_kbps * rules.bufsize_ratio),
        encoder=encoder_for(codec, preset, tune, crf, rate_control="capped_crf", params=params),
        expected_vmaf=round(a.vmaf, 2),
        profiles=device_profiles(a.width, a.height, kbps, rules),
        shots=[
            ShotSetting(start_s=round(s.start_s, 6), duration_s=round(s.duration_s, 6), crf=_crf(c.crf, codec),
                        max_bitrate_kbps=round(c.kbps * rules.maxrate_ratio),
                        bufsize_kbps=round(c.kbps * rules.bufsize_ratio), expected_kbps=round(c.kbps, 1), expected_vmaf=round(c.vmaf, 2))
            for s, c in zip(a.shots, a.choices, strict=True)
        ],  # fmt: skip
    )


def _crf(crf: float, codec: Codec) -> float:
    """SVT-AV1 takes whole CRFs (the densified grid steps by whole CRFs for AV1 already)."""
    return round(crf, 2) if codec == "h264" else float(round(crf))
