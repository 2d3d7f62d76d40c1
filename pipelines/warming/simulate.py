"""A simulated premiere: the first minute's edge hit ratio, warmed by forecast vs cold vs an oracle.

The world (seeded): ``titles`` premiere at once in ``regions``; each title has a global appeal
(Zipf) and a regional affinity (log-normal), so regions want different titles. Each viewer gets a
recommendation list from a *noisy* view of their region's taste (the recommender is imperfect)
and a watch propensity. At the premiere a viewer watches with their propensity, picks from their
list with the position bias of :mod:`.forecast`, or, with ``off_list`` probability, picks a title
by regional taste that the recommender did not foresee; they start at a uniform time in the first
minute, on a rendition their device takes, and request one segment per segment duration.

Each region's edge starts with one warm set (nothing for *cold*; the forecast's plan for *warm*;
the plan made from the realised views for *oracle*: same planner, same budget) and fills on
misses. Hit ratio = requests answered from the edge / requests, in the first ``first_window_s``.
The edge holds everything it fills in that minute (a premiere's first minute is far below an
edge's capacity): the warming budget is the constraint being measured, not eviction.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from streamlab.pipelines.warming.forecast import RecRow, regional_demand
from streamlab.pipelines.warming.plan import WarmObject, plan

RENDITIONS = (("360p", 800, 0.3), ("720p", 3000, 0.4), ("1080p", 6000, 0.3))
"""(rendition, kbps, share of viewers' devices on it): a typical three-rung mobile/desktop/TV mix."""
SEGMENT_S = 2.0
INIT_BYTES = 1_000


@dataclass(frozen=True)
class WarmingOutcome:
    viewers: int
    watching: int
    requests: int
    hit_ratio: dict[str, float]
    """``cold``, ``warm``, ``oracle`` (over every region's requests)."""
    by_region: dict[str, dict[str, float]]
    warmed_titles: dict[str, dict[str, list[str]]]

    @property
    def warm_vs_oracle(self) -> float:
        return self.hit_ratio["warm"] / self.hit_ratio["oracle"] if self.hit_ratio["oracle"] else float("nan")

    @property
    def gain_captured(self) -> float:
        """(warm - cold) / (oracle - cold): the share of the oracle's improvement the forecast achieves.

        Stricter than :attr:`warm_vs_oracle`: misses that fill the edge make most first-minute
        hits whatever was warmed, so even a forecast that knows nothing reaches ~0.93 of the
        oracle's hit ratio; only this ratio tells a good forecast from a useless one.
        """
        gain = self.hit_ratio["oracle"] - self.hit_ratio["cold"]
        return (self.hit_ratio["warm"] - self.hit_ratio["cold"]) / gain if gain > 0 else float("nan")


def title_objects(title: str, first_segments: int) -> list[WarmObject]:
    """The warm set of one title: every rendition's init and first segments, with their sizes."""
    objects = []
    for name, kbps, _share in RENDITIONS:
        objects.append(WarmObject(f"/media/{title}/{name}/init.mp4", INIT_BYTES))
        size = int(kbps * 1000 / 8 * SEGMENT_S)
        objects += [WarmObject(f"/media/{title}/{name}/seg_{n:05d}.m4s", size) for n in range(1, first_segments + 1)]
    return objects


def simulate_premiere(
    viewers: int = 600, regions: tuple[str, ...] = ("na", "eu", "apac"), titles: int = 30, *,
    budget_bytes: int, first_segments: int, first_window_s: float, rank_decay: float,
    recs_per_viewer: int = 10, recommender_noise: float = 0.5, off_list: float = 0.1, seed: int = 0,
    shuffle_forecast: bool = False,
) -> WarmingOutcome:
    """Run the premiere once per strategy on the same viewers and choices. ``shuffle_forecast`` scrambles
    the forecast's titles (a control: a forecast that knows nothing must lose to the oracle)."""
    rng = np.random.default_rng(seed)
    names = [f"premiere-{i:02d}" for i in range(titles)]
    appeal = 1.0 / np.arange(1, titles + 1) ** 0.8
    taste = {r: np.log(appeal * rng.lognormal(0.0, 0.8, titles)) for r in regions}
    rows: list[RecRow] = []
    choices: list[tuple[str, str, str, float]] = []  # (region, title, rendition, start_s)
    for v in range(viewers):
        region = regions[v % len(regions)]
        personal = taste[region] + rng.gumbel(0.0, 0.5, titles)
        seen = personal + rng.normal(0.0, recommender_noise, titles)
        recs = [names[i] for i in np.argsort(-seen)[:recs_per_viewer]]
        propensity = float(rng.beta(2.0, 3.0))
        rows += [RecRow(f"v{v}", region, t, k, propensity) for k, t in enumerate(recs, start=1)]
        if rng.random() >= propensity:
            continue
        if rng.random() < off_list:
            weights = np.exp(taste[region] - taste[region].max())
            title = names[int(rng.choice(titles, p=weights / weights.sum()))]
        else:
            weights = rank_decay ** np.arange(len(recs))
            title = recs[int(rng.choice(len(recs), p=weights / weights.sum()))]
        rendition = RENDITIONS[int(rng.choice(len(RENDITIONS), p=[s for _, _, s in RENDITIONS]))][0]
        choices.append((region, title, rendition, float(rng.uniform(0.0, first_window_s))))

    forecast = regional_demand(rows, rank_decay)
    if shuffle_forecast:
        for region, demand in forecast.items():
            values = list(demand.values())
            rng.shuffle(values)
            forecast[region] = dict(zip(demand, values, strict=True))
    realised: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for region, title, _, _ in choices:
        realised[region][title] += 1.0
    objects = {t: title_objects(t, first_segments) for t in names}
    warm_sets: dict[str, dict[str, list[str]]] = {
        "cold": {r: [] for r in regions},
        "warm": {r: plan(forecast.get(r, {}), objects, budget_bytes).titles for r in regions},
        "oracle": {r: plan(realised.get(r, {}), objects, budget_bytes).titles for r in regions},
    }
    requests = sorted(
        (start + SEGMENT_S * k, region, f"/media/{title}/{rendition}/{'init.mp4' if k == 0 else f'seg_{k:05d}.m4s'}")
        for region, title, rendition, start in choices
        for k in range(0, int(math.floor((first_window_s - start) / SEGMENT_S)) + 1)
    )
    by_region: dict[str, dict[str, float]] = {r: {} for r in regions}
    totals: dict[str, float] = {}
    for strategy, warmed in warm_sets.items():
        cached = {r: {o.path for t in warmed[r] for o in objects[t]} for r in regions}
        hits: dict[str, int] = defaultdict(int)
        count: dict[str, int] = defaultdict(int)
        for _, region, path in requests:
            count[region] += 1
            if path in cached[region]:
                hits[region] += 1
            else:
                cached[region].add(path)  # the miss fills the edge
        for r in regions:
            by_region[r][strategy] = hits[r] / count[r] if count[r] else float("nan")
        totals[strategy] = sum(hits.values()) / len(requests) if requests else float("nan")
    return WarmingOutcome(viewers, len(choices), len(requests), totals, by_region,
                          {s: {r: list(t) for r, t in w.items()} for s, w in warm_sets.items()})
