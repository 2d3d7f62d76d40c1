"""Recommender benchmark: training time per model, one-viewer recommend latency, and the scale path.

Training times are on the protocol's training part of MovieLens-100k (80k rows). Latency is the
serving path of :class:`streamlab.serving.recommend.OnlineRecommender`: a Feast online-store read of
the viewer's aggregates (SQLite) plus ranking the merged candidates with the deep model and the
real-time ranker, measured over many single-viewer requests.

The scale path (issue 18, :func:`scale_path`): a synthetic set of the given shape, the pipeline
``train`` picks for it (:class:`~streamlab.models.recsys.scale.ScalePipeline` above
``scale.min_*``), train wall time and peak memory, recall@100 of the ANN index against exact
inner products (:func:`ann_recall`), and the acceptance figure: ``recommend`` through the model
server, open loop at 200 req/s (:func:`served_open_loop`: the model registered in a throwaway
MLflow store, ``streamlab serve``'s own server, :mod:`benchmarks.bench_serving`'s client: p50/p99,
the server's CPU per request, the load average before), plus Ray batch scoring of every viewer.
``make bench`` runs :data:`SCALE_DEFAULT` (the 20k-title catalogue, ~2-4 min); the issue's size is
``python -m benchmarks.bench_recsys scale --full`` (run it in a fresh process: peak memory is the
process's VmHWM).

Recall at full size without the full train: ``python -m benchmarks.bench_recsys recall --full``
fits only what the served index is built from (:func:`recall_only`), which is the same figure.
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
SCALE_DEFAULT = (20_000, 20_000, 400_000)
"""``make bench``'s scale run: the 20k catalogue (latency and recall depend on it), 1/12 of the rows."""
SCALE_FULL = (200_000, 20_000, 5_000_000)
"""Issue 18's scale path: goals train ≤ 30 min and ≤ 12 GiB, p99 < 30 ms at 200 req/s, recall@100 ≥ 0.95."""


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
        "scale_path": scale_path(*SCALE_DEFAULT),
    }


def peak_rss_gib() -> float:
    """This process's peak resident memory so far (VmHWM), GiB."""
    from pathlib import Path

    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024**2, 2)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)


def _progress(stage: str, **numbers: object) -> None:
    """One line per finished stage on stderr: a run stopped part-way still leaves its numbers."""
    import json
    import sys

    print(json.dumps({"stage": stage, **numbers}), file=sys.stderr, flush=True)


def ann_recall(index, user_factors: np.ndarray, viewers: int = 2000, seed: int = 0) -> dict:  # noqa: ANN001 - an ANNIndex
    """Recall@100 of ``index`` against exact inner products for a seeded sample of viewers' vectors,
    the same at every ``efSearch`` of a sweep (a search-time parameter: the same graph, more of it walked)."""
    from streamlab.models.recsys.retrieval import exact_search, recall

    rng = np.random.default_rng(seed)
    sample = rng.choice(len(user_factors), size=min(viewers, len(user_factors)), replace=False)
    queries = user_factors[sample]
    started = time.perf_counter()
    approx, _ = index.search(queries, 100)
    ann_ms = (time.perf_counter() - started) * 1e3 / len(sample)
    started = time.perf_counter()
    exact, _ = exact_search(index.vectors, queries, 100)
    exact_ms = (time.perf_counter() - started) * 1e3 / len(sample)
    sweep = {str(ef): round(recall(index.search(queries, 100, ef_search=ef)[0], exact), 4) for ef in (128, 256, 512, 1024)}
    return {"ann_recall_at_100": round(recall(approx, exact), 4), "ann_recall_at_100_by_ef_search": sweep,
            "ef_search": index.settings.ef_search, "recall_viewers": len(sample),
            "ann_query_ms_per_viewer_batched": round(ann_ms, 3), "exact_query_ms_per_viewer_batched": round(exact_ms, 3)}


def scale_path(n_viewers: int, n_titles: int, n_interactions: int, rate_per_s: float = 200.0,
               recall_viewers: int = 2000, batch: bool = True, feast: bool = False) -> dict:
    """Train the scale path on a synthetic set of this shape and measure what issue 18 asks of it."""
    import tempfile
    from pathlib import Path

    from streamlab.models.recsys.artifacts import save_pipeline
    from streamlab.models.recsys.dataset import RecsysData
    from streamlab.models.recsys.scale import ScalePipeline, is_large
    from streamlab.models.recsys.settings import load_settings
    from streamlab.models.recsys.synthetic import synthetic_interactions
    from streamlab.training.recsys.train import fit

    started = time.perf_counter()
    data = RecsysData.build(synthetic_interactions(n_viewers, n_titles, n_interactions, seed=0))
    generate_s = time.perf_counter() - started
    settings = load_settings()
    chosen = "configured" if is_large(data, settings) else "forced (below scale.min_*)"
    if not is_large(data, settings):
        settings = load_settings(["scale.min_interactions=0"])
    started = time.perf_counter()
    pipeline = fit(data, settings)
    train_s = time.perf_counter() - started
    assert isinstance(pipeline, ScalePipeline)
    train_peak = peak_rss_gib()
    recall_figures = ann_recall(pipeline.index, pipeline.models["als"].user_factors, recall_viewers)
    _progress("trained", train_s=round(train_s, 1), peak_rss_gib=train_peak,
              fit_s={k: round(v, 1) for k, v in pipeline.report.fit_seconds.items()}, **recall_figures)
    out = {
        "shape": {"viewers": data.n_users, "titles": data.n_items, "rows": len(data.interactions)},
        "pipeline": f"{type(pipeline).__name__} ({chosen})",
        "generate_s": round(generate_s, 1),
        "train_s": round(train_s, 1),
        "train_fit_s": {k: round(v, 1) for k, v in pipeline.report.fit_seconds.items()},
        "inner_ndcg": round(pipeline.report.validation_ndcg, 4),
        "peak_rss_gib_after_train": train_peak,
        **recall_figures,
    }
    rng = np.random.default_rng(0)
    viewers = [str(v) for v in data.user_ids[rng.choice(data.n_users, size=500)]]
    with tempfile.TemporaryDirectory(prefix="bench-recsys-serve-") as tmp:
        path = save_pipeline(pipeline, Path(tmp) / "pipeline.pkl")
        out["recommend_served"] = served_open_loop(path, viewers, rate_per_s, Path(tmp))
    _progress("served", **out["recommend_served"])
    if batch:  # through Ray always (local, at least 4 tasks), so make bench measures that path
        from streamlab.models.recsys.batch import recommend_ray

        users = np.unique(pipeline.data.interactions["u"].to_numpy())
        chunk = min(settings.scale.batch_viewers, -(-len(users) // 4))
        started = time.perf_counter()
        frame = recommend_ray(pipeline, users, 10, chunk)
        out["batch_all_viewers_ray"] = {"viewers": int(frame["user_id"].nunique()), "rows": len(frame), "tasks": -(-len(users) // chunk),
                                        "wall_s": round(time.perf_counter() - started, 1)}
    if feast:
        out["feast"] = feast_for(data, np.array(viewers[:200], dtype=object))
    out["peak_rss_gib"] = peak_rss_gib()
    return out


SERVED_TARGET_P99_MS = 30.0
"""Issue 18's acceptance: ``recommend`` p99 < 30 ms at 200 req/s with the 20k-title catalogue."""


def served_open_loop(pipeline_path, viewers: list[str], rate_per_s: float, workdir) -> dict:  # noqa: ANN001 - paths
    """``/recommend`` of the pipeline at ``pipeline_path`` through the model server, open loop at ``rate_per_s``.

    Exactly what a caller sees: the pipeline is registered as a ``recsys`` version in a throwaway
    MLflow store (the project's is untouched), ``streamlab serve``'s server loads it (with its
    warm-up) and answers over loopback HTTP; the client, the warm-up seconds before the clock, the
    measured seconds and the numbers (p50/p99, server CPU per request, the machine's load average
    before) are :mod:`benchmarks.bench_serving`'s, so both benchmarks measure the same way. Known
    viewers send a device; one request in ten is a stranger's (the popular list).
    """
    import os
    from pathlib import Path

    from benchmarks.bench_serving import NO_LADDER_QOE, free_port, measure_open_loop
    from streamlab.serving.registration import register
    from streamlab.serving.server import running_server

    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(workdir) / 'mlflow.db'}"
    try:
        version = register("recsys", {"pipeline": Path(pipeline_path)}, "champion", 0.0)
        overrides = [f"port={free_port()}", "workers=1", "models.abr.enabled=false", *NO_LADDER_QOE]
        started = time.perf_counter()
        with running_server(overrides) as server:
            ready_s = time.perf_counter() - started
            bodies = [{"viewer": v, "k": 10, "context": {"device": "tv"}} for v in viewers]
            bodies[::10] = [{"viewer": f"new-{n}", "k": 10} for n in range(len(bodies[::10]))]
            numbers = measure_open_loop(server.url, server.process.pid, "/recommend", bodies, rate_per_s)
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
    return {"version": version, "server_ready_s": round(ready_s, 1), "rate_rps": rate_per_s, **numbers,
            "target_p99_ms": SERVED_TARGET_P99_MS, "meets_target": bool(numbers["p99_ms"] < SERVED_TARGET_P99_MS),
            "through": "HTTP /recommend of the model server (feature_store as configured), one worker"}


def recall_only(n_viewers: int, n_titles: int, n_interactions: int, recall_viewers: int = 2000) -> dict:
    """Recall@100 of the served index at this shape, fitting only what that index is built from.

    The figure :func:`scale_path` reports is the final index's: :meth:`ScalePipeline.fit` ends by
    refitting ALS on all of ``data`` and building the HNSW index over its title factors
    (``_fit_on(data)``); the inner fit before it only yields the promotion metric. Those two steps,
    with the same settings, seed and data, are all this runs, so the recall is the same number
    (same factors, same graph, same seeded viewer sample) at a fraction of the train (no inner
    split, no inner ALS and index, no NDCG, no ranker attributes).
    """
    from streamlab.models.recsys.blend import build_component
    from streamlab.models.recsys.dataset import RecsysData
    from streamlab.models.recsys.retrieval import ANNIndex
    from streamlab.models.recsys.settings import load_settings
    from streamlab.models.recsys.synthetic import synthetic_interactions

    settings = load_settings()
    started = time.perf_counter()
    data = RecsysData.build(synthetic_interactions(n_viewers, n_titles, n_interactions, seed=0))
    generate_s = time.perf_counter() - started
    _progress("generated", generate_s=round(generate_s, 1), rows=len(data.interactions))
    started = time.perf_counter()
    als = build_component("als", settings.components, settings.seed).fit(data)
    als_s = time.perf_counter() - started
    _progress("als", als_s=round(als_s, 1))
    started = time.perf_counter()
    index = ANNIndex(als.item_factors, settings.scale.ann)
    index_s = time.perf_counter() - started
    return {"shape": {"viewers": data.n_users, "titles": data.n_items, "rows": len(data.interactions)},
            "generate_s": round(generate_s, 1), "als_s": round(als_s, 1), "ann_index_s": round(index_s, 1),
            "ann": settings.scale.ann.model_dump(), **ann_recall(index, als.user_factors, recall_viewers),
            "peak_rss_gib": peak_rss_gib()}


def feast_for(data, viewers: np.ndarray) -> dict:
    """Feast features for the same viewers: batch job → parquet → apply → materialise (SQLite online
    store, in a temporary ``STREAMLAB_HOME`` so the project's store is untouched), then online reads."""
    import os
    import tempfile

    from streamlab.core import project
    from streamlab.features.settings import load_feature_settings
    from streamlab.features.store import build, open_store, viewer_feature_refs, viewer_features

    before = os.environ.get("STREAMLAB_HOME")
    with tempfile.TemporaryDirectory(prefix="bench-recsys-feast-") as home:
        os.environ["STREAMLAB_HOME"] = home
        project.settings.cache_clear()
        try:
            settings = load_feature_settings()
            report = build(data.interactions[["user_id", "item_id", "rating", "timestamp"]], data.items[["item_id", "genres", "year"]], settings)
            store = open_store(settings)
            refs = viewer_feature_refs(store)
            reads = []
            for viewer in viewers:
                started = time.perf_counter()
                viewer_features(store, str(viewer), refs)
                reads.append((time.perf_counter() - started) * 1e3)
        finally:
            if before is None:
                os.environ.pop("STREAMLAB_HOME", None)
            else:
                os.environ["STREAMLAB_HOME"] = before
            project.settings.cache_clear()
    return {"batch_s": round(report.batch_s, 1), "apply_s": round(report.apply_s, 1), "materialize_s": round(report.materialize_s, 1),
            "online_read_ms": {"p50": round(float(np.percentile(reads, 50)), 2), "p99": round(float(np.percentile(reads, 99)), 2)}}


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


def stand_in(seed: int, out_dir: str | None = None, models: list[str] | None = None, overrides: list[str] | None = None) -> dict:
    """Issue 18's second data set's stand-in (:func:`~streamlab.models.recsys.synthetic.order_only_interactions`
    at :data:`~streamlab.models.recsys.synthetic.ORDER_ONLY_SHAPE`), split per viewer 80/20 as theirs.

    Writes ``train.csv``/``test.csv`` to ``out_dir`` (for ``streamlab recsys train`` and :func:`score_recs`)
    and scores ``models`` fitted in this process (NDCG@10 per viewer, fit seconds, this process's VmHWM:
    run one model per fresh process for its memory). Seeds: ``STAND_IN_DEV_SEEDS`` for development,
    ``STAND_IN_HELD_OUT_SEED`` only for the final figure.
    """
    from pathlib import Path

    from streamlab.models.recsys.dataset import RecsysData
    from streamlab.models.recsys.settings import load_settings
    from streamlab.models.recsys.synthetic import ORDER_ONLY_SHAPE, order_only_interactions
    from streamlab.training.recsys.evaluate import evaluate_split

    started = time.perf_counter()
    frame = order_only_interactions(*ORDER_ONLY_SHAPE, seed=seed)
    train, test = temporal_split(frame)
    out: dict = {"seed": seed, "generate_s": round(time.perf_counter() - started, 1),
                 "shape": {"viewers": frame["user_id"].nunique(), "titles": frame["item_id"].nunique(), "rows": len(frame),
                           "train_rows": len(train), "train_titles": train["item_id"].nunique()}}
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        train.to_csv(Path(out_dir) / "train.csv", index=False)
        test.to_csv(Path(out_dir) / "test.csv", index=False)
    settings = load_settings(["deep.feature_source=in_process", *(overrides or [])])
    full = RecsysData.build(frame)
    for name in models or []:
        result = evaluate_split(full, train, test, [name], settings, max_k=settings.k, protocol="per-viewer")[0]
        out[name] = {"ndcg": round(result.metrics["ndcg"], 4), "fit_s": round(result.fit_s, 1), "seen": result.metrics["seen_recommended"]}
        _progress(name, **out[name])
    out["peak_rss_gib"] = peak_rss_gib()
    return out


def score_recs(recs: str, test: str, train: str, k: int = 10) -> dict:
    """NDCG@k of a ``recommend`` CSV against held-out rows, as the issue's team scores it: binary
    relevance, ideal DCG over min(|test|, k), every test viewer (a viewer without a list scores 0)."""
    import pandas as pd

    from streamlab.models.recsys.metrics import ndcg_at_k

    lists = pd.read_csv(recs, dtype={"user_id": str, "item_id": str})
    order = [c for c in ("user_id", "rank") if c in lists.columns]
    lists = lists.sort_values(order, kind="stable") if order else lists
    ranked = lists.groupby("user_id", sort=False)["item_id"].agg(list).to_dict()
    truth = pd.read_csv(test, dtype={"user_id": str, "item_id": str}).groupby("user_id")["item_id"].agg(set).to_dict()
    watched = set(map(tuple, pd.read_csv(train, dtype={"user_id": str, "item_id": str})[["user_id", "item_id"]].to_numpy()))
    ndcg = [ndcg_at_k(ranked.get(u, []), rel, k) for u, rel in truth.items()]
    seen = sum((u, i) in watched for u, items in ranked.items() for i in items[:k])
    return {"ndcg": round(float(np.mean(ndcg)), 4), "viewers": len(truth), "listed": len(set(ranked) & set(truth)), "seen_recommended": seen}


if __name__ == "__main__":
    import json
    import sys

    args = sys.argv[1:]
    if args and args[0] == "standin":  # standin SEED [--out DIR] [MODEL ...] [key=value ...]
        out_dir = args[args.index("--out") + 1] if "--out" in args else None
        rest = [a for a in args[2:] if a not in ("--out", out_dir)]
        print(json.dumps(stand_in(int(args[1]), out_dir, [a for a in rest if "=" not in a], [a for a in rest if "=" in a]), indent=2))
    elif args and args[0] == "score":  # score RECS TEST TRAIN
        print(json.dumps(score_recs(args[1], args[2], args[3]), indent=2))
    elif args and args[0] in ("scale", "recall"):  # python -m benchmarks.bench_recsys scale|recall [--full | VIEWERS TITLES ROWS] [--feast]
        sizes = [int(a) for a in args[1:] if a.isdigit()]
        shape = SCALE_FULL if "--full" in args else tuple(sizes[:3]) if len(sizes) >= 3 else SCALE_DEFAULT
        result = recall_only(*shape) if args[0] == "recall" else scale_path(*shape, feast="--feast" in args)
        print(json.dumps(result, indent=2))
    else:
        print(json.dumps(scale_run(int(args[0]), int(args[1]), int(args[2]), args[3:]), indent=2))
