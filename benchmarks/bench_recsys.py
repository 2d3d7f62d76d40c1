"""Recommender benchmark: training time per model, and one-viewer recommend latency with online features.

Training times are on the protocol's training part of MovieLens-100k (80k rows). Latency is the
serving path of :class:`streamlab.serving.recommend.OnlineRecommender`: a Feast online-store read of
the viewer's aggregates (SQLite) plus ranking the merged candidates with the deep model and the
real-time ranker, measured over many single-viewer requests.
"""

from __future__ import annotations

import time

import numpy as np

from streamlab.models.recsys.blend import COMPONENT_NAMES, build_component
from streamlab.models.recsys.pipeline import HybridPipeline
from streamlab.models.recsys.settings import RecsysSettings
from streamlab.models.recsys.split import temporal_split
from streamlab.core import project

REQUESTS = 200


def run() -> dict:
    from streamlab.features.settings import load_feature_settings
    from streamlab.features.store import build, open_store
    from streamlab.models.recsys.contract import RecommendRequest
    from streamlab.models.recsys.dataset import load_training_data
    from streamlab.serving.recommend import OnlineRecommender

    full = load_training_data(project.raw_data_dir() / "ml-100k" / "ml-100k.inter")
    train, _ = temporal_split(full.interactions[["user_id", "item_id", "rating", "timestamp"]])
    data = full.with_interactions(train)
    settings = RecsysSettings()
    train_s = {}
    for name in COMPONENT_NAMES:
        started = time.perf_counter()
        build_component(name, settings.components).fit(data)
        train_s[name] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    pipeline = HybridPipeline(settings).fit(data)
    train_s["hybrid_pipeline"] = round(time.perf_counter() - started, 3)

    feature_settings = load_feature_settings()
    report = build(train, data.items[["item_id", "genres", "year"]], feature_settings)
    online = OnlineRecommender(pipeline, open_store(feature_settings))
    rng = np.random.default_rng(0)
    viewers = rng.choice(data.user_ids, size=REQUESTS)
    online.decide(RecommendRequest(viewer=str(viewers[0])))  # warm caches
    total, feature_ms = [], []
    for viewer in viewers:
        started = time.perf_counter()
        online.viewer_features(str(viewer))
        feature_ms.append((time.perf_counter() - started) * 1e3)
        started = time.perf_counter()
        online.decide(RecommendRequest(viewer=str(viewer), k=10))
        total.append((time.perf_counter() - started) * 1e3)
    cold = []
    for _ in range(50):
        started = time.perf_counter()
        online.decide(RecommendRequest(viewer="viewer-never-seen", k=10))
        cold.append((time.perf_counter() - started) * 1e3)
    return {
        "train_s": train_s,
        "feature_build_s": round(report.batch_s + report.apply_s + report.materialize_s, 2),
        "recommend_one_viewer_ms": {"p50": float(np.percentile(total, 50)), "p99": float(np.percentile(total, 99)), "requests": REQUESTS},
        "online_feature_read_ms": {"p50": float(np.percentile(feature_ms, 50)), "p99": float(np.percentile(feature_ms, 99))},
        "cold_start_ms": {"p50": float(np.percentile(cold, 50)), "p99": float(np.percentile(cold, 99))},
    }


def scale_run(n_viewers: int, n_titles: int, n_interactions: int, overrides: list[str] | None = None) -> dict:
    """Train the pipeline on a synthetic set of the given shape (per-viewer 80/20) and score it vs EASE.

    Why: issue 18's second dataset (31k viewers × 22k titles, 219k training rows) killed the
    train at 12.5 GB; this reproduces its shape without the data. Peak memory is the process's
    max RSS, so run it in a fresh process: ``python -m benchmarks.bench_recsys 31013 22353 273000``.
    """
    import resource

    from streamlab.models.recsys.dataset import RecsysData
    from streamlab.models.recsys.settings import load_settings
    from streamlab.models.recsys.synthetic import synthetic_interactions
    from streamlab.training.recsys.evaluate import evaluate_split

    started = time.perf_counter()
    frame = synthetic_interactions(n_viewers, n_titles, n_interactions, seed=0)
    full = RecsysData.build(frame)
    train, test = temporal_split(frame)
    generated_s = time.perf_counter() - started
    settings = load_settings(["deep.feature_source=in_process", *(overrides or [])])
    results = {}
    for name in ("ease", "hybrid"):
        result = evaluate_split(full, train, test, [name], settings, max_k=settings.k, protocol="per-viewer")[0]
        results[name] = {"ndcg": round(result.metrics["ndcg"], 4), "fit_s": round(result.fit_s, 1), "seen": result.metrics["seen_recommended"]}
        print(name, results[name], flush=True)
    return {
        "shape": {"viewers": full.n_users, "titles": full.n_items, "rows": len(frame), "train_rows": len(train)},
        "generate_s": round(generated_s, 1),
        "results": results,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
        "wall_s": round(time.perf_counter() - started, 1),
    }


if __name__ == "__main__":
    import json
    import sys

    args = sys.argv[1:]
    print(json.dumps(scale_run(int(args[0]), int(args[1]), int(args[2]), args[3:]), indent=2))
