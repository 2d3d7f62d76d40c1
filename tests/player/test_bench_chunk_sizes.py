"""The headless bench reports learned-vs-BOLA under both chunk pricings and what exact sizes changed."""

from __future__ import annotations

from benchmarks.bench_headless import CHUNK_SIZE_MODES, chunk_size_comparison
from streamlab.models.abr.qoe import TraceScore
from streamlab.streaming.headless.player import SessionResult


def _sessions(policy: str, qoes: list[float]) -> list[SessionResult]:
    return [SessionResult(policy, f"trace-{i}", startup_s=1.0, score=TraceScore(q, 1000.0, 0.0, 40.0, 0))
            for i, q in enumerate(qoes)]


def test_both_chunk_pricings_are_reported_and_paired_session_by_session() -> None:
    assert CHUNK_SIZE_MODES == ("manifest", "nominal")
    by_mode = {
        "manifest": {"bola": _sessions("bola", [1.0, 1.0, 1.0]), "learned-local": _sessions("learned-local", [1.5, 1.2, 1.3])},
        "nominal": {"bola": _sessions("bola", [0.8, 1.0, 0.9]), "learned-local": _sessions("learned-local", [1.0, 1.1, 1.2])},
    }
    out = chunk_size_comparison(by_mode)
    assert out["manifest"]["learned-local_minus_bola"]["mean_qoe_diff"] == 0.3333
    assert out["nominal"]["learned-local_minus_bola"]["mean_qoe_diff"] == 0.2
    assert out["manifest"]["policies"]["bola"]["sessions"] == 3
    changed = out["manifest_minus_nominal"]
    assert changed["bola"]["mean_qoe_diff"] == 0.1 and changed["bola"]["wins"] == 2 and changed["bola"]["ties"] == 1
    assert changed["learned-local"]["mean_qoe_diff"] == 0.2333
    assert out["learned-local_minus_bola_shift"] == 0.1333
