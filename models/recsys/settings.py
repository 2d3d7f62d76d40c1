"""Typed settings of ``configs/recsys.yaml``: every tunable of the recommender pipeline."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class EASESettings(BaseModel):
    l2: float = 250.0
    half_life: float | None = None
    """Recency half-life of a viewer's history, as a fraction of the training interactions (None: off)."""
    l2_grid: list[float] = [50.0, 100.0, 200.0, 250.0, 300.0, 500.0, 750.0, 1000.0]
    """λ values the tuned EASE baseline (``ease_tuned``) chooses from on an inner split."""
    max_items: int | None = None
    """A fixed cap on EASE's titles (most watched first); None: only :attr:`memory_gib` bounds them."""
    memory_gib: float | None = 3.0
    """Budget of EASE's one dense float32 titles² matrix: the titles it is fitted on are capped at
    sqrt(budget / 4 bytes) (3 GiB: 28,377 titles, so issue 18's 22,353 get the whole catalogue and a
    bigger one the most watched 28k). None: no budget."""


class KNNSettings(BaseModel):
    neighbours: int = 100
    shrink: float = 10.0
    half_life: float | None = None
    """As :attr:`EASESettings.half_life`."""


class ALSSettings(BaseModel):
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 2.0
    iterations: int = 15


class BPRSettings(BaseModel):
    factors: int = 64
    learning_rate: float = 0.01
    regularization: float = 0.01
    iterations: int = 100


class TransitionSettings(BaseModel):
    window: int = 20
    gap_decay: float = 0.95
    history: int = 30
    position_decay: float = 0.9


class PopularitySettings(BaseModel):
    window: float = 0.15
    """Standard deviation of the time kernel as a fraction of the training interactions (the data's
    clock, :meth:`RecsysData.clock_of`): invariant to seconds, milliseconds or order-only time."""


class ContentSettings(BaseModel):
    year_weight: float = 0.3


class ComponentSettings(BaseModel):
    ease: EASESettings = EASESettings()
    item_knn: KNNSettings = KNNSettings()
    als: ALSSettings = ALSSettings()
    bpr: BPRSettings = BPRSettings()
    transitions: TransitionSettings = TransitionSettings()
    time_popularity: PopularitySettings = PopularitySettings()
    content: ContentSettings = ContentSettings()


class BlendSettings(BaseModel):
    """Which components feed the candidate blend, and how its weights are learned."""

    components: list[str] = ["ease", "item_knn", "als", "transitions", "time_popularity", "content"]
    candidates_per_component: int = 100
    validation_fraction: float = Field(0.8, gt=0, lt=1, description="inner split: share of the training rows kept as inner train")
    weight_grid: list[float] = [0.0, 0.25, 0.5, 1.0, 2.0, 4.0]
    rounds: int = 3
    max_validation_viewers: int | None = 3000
    """Inner-validation viewers the blend and context model learn from (a seeded sample above it):
    their score blocks are viewers × titles, dense, so this bounds training memory on big catalogues."""


class DeepSettings(BaseModel):
    """Lightning context model that re-ranks merged candidates (watch probability)."""

    enabled: bool = True
    hidden: int = 64
    epochs: int = 4
    batch_size: int = 1024
    learning_rate: float = 3e-3
    negatives_per_viewer: int = 60
    devices: dict[str, float] = {"tv": 0.45, "mobile": 0.35, "web": 0.2}
    feature_source: Literal["feast", "in_process"] = "feast"
    seed: int = 0


class RankerWeights(BaseModel):
    relevance: float = 1.0
    watch_probability: float = 0.3
    freshness: float = 0.0
    trending: float = 0.0


class BusinessRules(BaseModel):
    originals_boost: float = 0.05
    kids_morning_boost: float = 0.02
    morning_hours: tuple[int, int] = (6, 11)
    kids_genres: list[str] = ["Children's", "Animation"]
    mobile_short_boost: float = 0.03
    short_max_min: float = 100.0


class RankerSettings(BaseModel):
    weights: RankerWeights = RankerWeights()
    learn_watch_weight: bool = True
    watch_weight_grid: list[float] = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0]
    mmr_lambda: float = Field(0.95, ge=0, le=1, description="1 = pure relevance, 0 = pure genre diversity")
    mmr_pool: int = 30
    freshness_half_life_years: float = 5.0
    rules: BusinessRules = BusinessRules()


class TuneSettings(BaseModel):
    """Ray Tune grids: name → {dotted config key: values}; trials = the cartesian product."""

    grids: dict[str, dict[str, list]] = {
        "small": {"components.ease.l2": [250.0, 500.0], "components.transitions.history": [20, 30]},
    }
    cpus_per_trial: float = 1.0
    num_cpus: int | None = 2


class ANNSettings(BaseModel):
    """faiss HNSW over the factor model's title vectors, inner-product metric (see :mod:`.retrieval`)."""

    exact: bool = False
    """True: brute-force inner products instead of the graph (the reference recall is measured against)."""
    m: int = 64
    ef_construction: int = 400
    """Graph degree and build breadth: at 20k ALS title factors, 32/200 plateaued at recall@100 ≈ 0.93
    whatever ef_search; 64/400 reached 0.97 at ef_search 256 (build ~3x longer)."""
    ef_search: int = 512
    """Search breadth: recall@100 at 200k viewers × 20k titles was 0.946 at 256, 0.957 at 512, 0.962 at
    1024 (``python -m benchmarks.bench_recsys recall --full``); each doubling costs ~1.6x the search."""
    max_seen: int = 1000
    """Viewers with more watched titles than this are scored exactly (the graph would have to return them all)."""
    threads: int = 2


class ScaleSettings(BaseModel):
    """The scale path (issue 18): above these sizes ``train`` fits :class:`ScalePipeline` instead of the hybrid.

    Why: the hybrid scores every component densely over viewers × titles and holds a dense
    titles² EASE; at 200k viewers × 5M rows its blocks and per-request cost outgrow the box. The
    scale path keeps nothing titles²: ALS factors (sparse in, dense viewers × factors out), ANN
    retrieval, the same ranker.
    """

    min_interactions: int = 1_000_000
    min_viewers: int = 100_000
    min_titles: int = 50_000
    ann: ANNSettings = ANNSettings()
    batch_viewers: int = 20_000
    """Viewers per Ray task in batch scoring (each task deserialises the pipeline once)."""


class RecsysSettings(BaseModel):
    k: int = 10
    seed: int = 0
    protocol: Literal["global-time", "per-viewer"] = Field(
        "global-time",
        description="the protocol the pipeline is fitted for: how its inner split is cut and when a request without "
                    "a timestamp happens (global-time: after the training data; per-viewer: at the viewer's last interaction)")
    components: ComponentSettings = ComponentSettings()
    blend: BlendSettings = BlendSettings()
    deep: DeepSettings = DeepSettings()
    ranker: RankerSettings = RankerSettings()
    tune: TuneSettings = TuneSettings()
    scale: ScaleSettings = ScaleSettings()


def load_settings(overrides: list[str] | None = None) -> RecsysSettings:
    """``configs/recsys.yaml`` with ``key=value`` overrides (the CLI's trailing arguments)."""
    from streamlab.core.config import load_config

    return load_config("recsys", RecsysSettings, overrides)
