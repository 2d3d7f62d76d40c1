"""Evaluate a ladder file against the fixed ladder, write the results beside it and log them to MLflow."""

from __future__ import annotations

import json
from pathlib import Path

from streamlab.core.errors import UsageError
from streamlab.models.ladder.schema import Ladder
from streamlab.models.ladder.settings import LadderOptimizerSettings
from streamlab.streaming.transcode.per_title.source import source_facts
from streamlab.training.ladder.evaluate import LadderEvaluation, evaluate_ladders, extended_for_comparison, rd_figure

EXPERIMENT = "ladder-evaluation"


class LadderFileInvalid(UsageError):
    """The ``--ladder`` file is missing or is not a ladder (a bad argument: exit 2)."""


def load_ladder(path: Path) -> Ladder:
    from pydantic import ValidationError

    try:
        return Ladder.model_validate_json(Path(path).read_text())
    except FileNotFoundError:
        raise LadderFileInvalid(
            f"ladder file {path} does not exist; write one with `streamlab ladder optimize`"
        ) from None
    except ValidationError as exc:
        raise LadderFileInvalid(f"ladder file {path} is not a valid ladder: {exc.errors()[0]['msg']}") from None


def evaluate_ladder_file(
    source: Path, ladder_path: Path, settings: LadderOptimizerSettings, *, extend: bool = True, log_mlflow: bool = True
) -> tuple[dict[str, LadderEvaluation], Path, Path]:
    """Evaluate; write ``<ladder>.eval.json`` and ``<ladder>.rd.png``; return them with the results."""
    ladder = load_ladder(ladder_path)
    facts = source_facts(source, settings)
    ladders = {ladder.method: ladder}
    if extend and ladder.method != "fixed":
        ladders[f"{ladder.method}+extension"] = extended_for_comparison(ladder)
    results = evaluate_ladders(facts, ladders)
    stem = ladder_path.with_suffix("")
    json_path, png_path = Path(f"{stem}.eval.json"), Path(f"{stem}.rd.png")
    json_path.write_text(json.dumps({k: v.model_dump(mode="json") for k, v in results.items()}, indent=1))
    figure = rd_figure(results, f"{Path(source).name}: {ladder.codec} {ladder.method} vs fixed")
    figure.savefig(png_path, dpi=110)
    if log_mlflow:
        from streamlab.core import tracking

        params = {"source": str(source), "method": ladder.method, "codec": ladder.codec, "rungs": len(ladder.rungs)}
        with tracking.start_run(
            EXPERIMENT, run_name=f"{Path(source).stem}-{ladder.codec}-{ladder.method}", params=params
        ):
            mlflow = tracking.configure()
            for name, ev in results.items():
                key = name.replace("+", "_")
                if ev.bd_rate_pct is not None:
                    mlflow.log_metric(f"bd_rate_pct.{key}", ev.bd_rate_pct)
                mlflow.log_metric(f"encode_cpu_s.{key}", ev.ladder_encode_cpu_s)
            mlflow.log_metric("decision_cpu_s", ladder.decision_cpu_s)
            tracking.log_artifact(json_path)
            tracking.log_figure(figure, "rd_curve.png")
    else:
        import matplotlib.pyplot as plt

        plt.close(figure)
    return results, json_path, png_path
