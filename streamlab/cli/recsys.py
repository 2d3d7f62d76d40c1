"""``streamlab recsys``: train, recommend, evaluate and tune the hybrid recommender.

Heavy imports (torch, implicit, mlflow, ray) happen inside each command so ``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Recommenders on MovieLens-style watch histories: train, recommend, evaluate, tune.", no_args_is_help=True)

OVERRIDES = typer.Argument(None, help="config overrides for configs/recsys.yaml, e.g. components.ease.l2=500 deep.enabled=false")
REPORT_MODELS = "popularity,time_popularity,content,bpr,als,item_knn,ease,ease_tuned,transitions,hybrid"


@app.command()
def train(
    interactions: Path = typer.Option(..., "--interactions", help="RecBole atomic .inter file or CSV user_id,item_id,rating,timestamp"),
    items: Path | None = typer.Option(None, "--items", help="titles (atomic .item or CSV item_id,movie_title,release_year,class); default: a .item file beside --interactions"),
    users: Path | None = typer.Option(None, "--users", help="viewers (atomic .user or CSV); default: a .user file beside --interactions"),
    track: bool = typer.Option(True, "--track/--no-track", help="log the run to MLflow, register the pipeline and promote it if it beats @champion"),
    overrides: list[str] | None = OVERRIDES,
) -> None:
    """Train the full pipeline on every row of FILE, register it, promote it to @champion if it is better."""
    from streamlab.models.recsys.settings import load_settings
    from streamlab.training.recsys.train import train as run_train

    result = run_train(interactions, items, users, load_settings(overrides), track=track)
    report = result.pipeline.report
    typer.echo(f"trained in {result.fit_seconds:.1f} s on {result.pipeline.data.n_users} viewers, {len(result.pipeline.data.interactions)} interactions")
    typer.echo(f"blend weights: {report.blend_weights}; watch weight: {report.watch_weight}")
    typer.echo(f"inner validation NDCG@10: blend {report.inner_ndcg_blend:.4f}, ranked {report.inner_ndcg_ranked:.4f}")
    typer.echo(f"pipeline: {result.pipeline_path}" + (f"; registered {result.model_uri} (version {result.version})" if result.version else ""))
    from streamlab.models.recsys.artifacts import describe, read_state

    typer.echo(f"recommend now uses {describe(read_state())}")
    if result.promotion is not None:
        typer.echo(result.promotion.reason)


@app.command()
def recommend(
    k: int = typer.Option(10, "--k", min=1, max=50, help="list length"),
    out: Path = typer.Option(Path("recs.csv"), "--out", help="CSV written as user_id,item_id,rank,score"),
    viewer: str | None = typer.Option(None, "--viewer", help="only this viewer (an unknown one gets the context-aware popular list)"),
    at: float | None = typer.Option(None, "--at", help="request time, epoch seconds (default: the viewer's last activity)"),
    device: str | None = typer.Option(None, "--device", help="request device (tv, mobile, web)"),
    model: str | None = typer.Option(None, "--model", help="models:/recsys@alias or a pipeline file; default: the last train (.state/recsys/last_train.json)"),
    interactions: Path | None = typer.Option(None, "--interactions", help="the training file you mean; refused unless the model was trained on exactly these bytes"),
    allow_other_data: bool = typer.Option(False, "--allow-other-data", help="use the last trained model even if a later train on other data failed, or --interactions differs"),
) -> None:
    """Write top-k recommendations for every viewer of the training data (or one viewer).

    Says which trained model it uses; refuses a model trained on other data than --interactions,
    or than a later train that failed, unless --allow-other-data.
    """
    from streamlab.models.recsys.artifacts import check_fresh, describe, load_trained, read_state
    from streamlab.models.recsys.batch import recommend_all, recommend_one, write_csv
    from streamlab.models.recsys.contract import RecommendRequest

    request = RecommendRequest.of(viewer, k, at, device) if viewer else None
    if model is None:
        record = read_state()
        check_fresh(record, interactions, allow_other_data)
        typer.echo(f"using {describe(record)}")
    else:
        typer.echo(f"using {model} (as asked; no training-file check)")
    pipeline = load_trained(model)
    frame = recommend_one(pipeline, request) if request else recommend_all(pipeline, k)
    write_csv(frame, out)
    typer.echo(f"wrote {len(frame)} rows for {frame['user_id'].nunique()} viewer(s) to {out}")


@app.command()
def evaluate(
    interactions: Path = typer.Option(None, "--interactions", help="default: MovieLens-100k from data/raw"),
    items: Path | None = typer.Option(None, "--items"),
    users: Path | None = typer.Option(None, "--users"),
    models: str = typer.Option(REPORT_MODELS, "--models", help="comma-separated"),
    splits: bool = typer.Option(False, "--splits/--no-splits", help="also compare the pipeline with EASE on other (per-viewer) splits"),
    protocol: list[str] | None = typer.Option(None, "--protocol", help="per-viewer | global-time (repeatable; default: both). global-time is leakage-free"),
    track: bool = typer.Option(True, "--track/--no-track"),
    overrides: list[str] | None = OVERRIDES,
) -> None:
    """Each protocol's split of FILE, every model fitted on its train part: print and log the report tables."""
    from streamlab.core.errors import UsageError
    from streamlab.models.recsys.settings import load_settings
    from streamlab.training.recsys.evaluate import PROTOCOLS, evaluate_report

    protocols = list(dict.fromkeys(protocol or PROTOCOLS))
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise UsageError(f"--protocol {unknown[0]!r} is not a protocol; valid: {', '.join(PROTOCOLS)}")
    names = [m.strip() for m in models.split(",") if m.strip()]
    report = evaluate_report(interactions, items, users, names, load_settings(overrides), splits, track, protocols)
    typer.echo(report.table)
    if report.robustness is not None:
        typer.echo("\n" + report.robustness.to_markdown(index=False, floatfmt=".4f") if hasattr(report.robustness, "to_markdown") else report.robustness.to_string())


@app.command()
def tune(
    interactions: Path = typer.Option(None, "--interactions", help="default: MovieLens-100k from data/raw"),
    items: Path | None = typer.Option(None, "--items"),
    users: Path | None = typer.Option(None, "--users"),
    grid: str = typer.Option("small", "--grid", help="small | medium (configs/recsys.yaml: tune.grids)"),
    overrides: list[str] | None = OVERRIDES,
) -> None:
    """Ray Tune search over pipeline hyperparameters; every trial in MLflow; the best trained, registered and promoted if better."""
    from streamlab.models.recsys.settings import load_settings
    from streamlab.training.recsys.tune import tune as run_tune

    best = run_tune(interactions, items, users, load_settings(overrides), grid)
    typer.echo(f"best trial: {best.config} NDCG@10 {best.ndcg:.4f}; registered {best.model_uri}")
    if best.promotion is not None:
        typer.echo(best.promotion.reason)

