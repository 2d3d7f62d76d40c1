"""Predictive cache warming: the forecast, the budgeted plan, the simulated premiere, and warming real edges."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from streamlab.cli import run
from streamlab.pipelines.warming.forecast import RecRow, regional_demand
from streamlab.pipelines.warming.plan import WarmObject, plan
from streamlab.pipelines.warming.simulate import simulate_premiere
from streamlab.streaming.edge.sample_ladder import write_ladder_title
from streamlab.streaming.edge.settings import load_edge_settings
from streamlab.streaming.edge.topology import running_edges


def test_demand_is_propensity_spread_over_a_viewers_list_by_position_bias() -> None:
    rows = [RecRow("v1", "eu", "a", 1, 0.5), RecRow("v1", "eu", "b", 2, 0.5), RecRow("v2", "na", "b", 1, 1.0)]
    demand = regional_demand(rows, rank_decay=0.5)
    assert demand["eu"] == pytest.approx({"a": 0.5 * 2 / 3, "b": 0.5 * 1 / 3}) and demand["na"] == {"b": 1.0}


def test_the_plan_takes_the_most_demanded_titles_that_fit_the_budget() -> None:
    objects = {t: [WarmObject(f"/media/{t}/s", size)] for t, size in (("a", 60), ("b", 50), ("c", 40))}
    chosen = plan({"a": 10.0, "b": 8.0, "c": 1.0, "unpublished": 99.0}, objects, budget_bytes=100)
    assert chosen.titles == ["a", "c"] and chosen.bytes == 100  # by views per byte: a, then b does not fit beside it; unpublished titles are skipped


def test_a_premiere_warmed_by_forecast_gets_90_percent_of_the_oracles_hit_ratio() -> None:
    w = load_edge_settings().warming
    kwargs = dict(budget_bytes=w.budget_bytes, first_segments=w.first_segments, first_window_s=w.first_window_s,
                  rank_decay=w.rank_decay, seed=0)
    outcome = simulate_premiere(600, ("na", "eu", "apac"), **kwargs)
    assert outcome.viewers >= 500 and len(outcome.by_region) == 3
    assert outcome.hit_ratio["warm"] > outcome.hit_ratio["cold"]
    assert outcome.warm_vs_oracle >= 0.9 and outcome.gain_captured >= 0.8, outcome.hit_ratio
    blind = simulate_premiere(600, ("na", "eu", "apac"), shuffle_forecast=True, **kwargs)
    assert blind.gain_captured < outcome.gain_captured - 0.2  # the forecast, not warming as such, earns the gain


def test_warm_fetches_the_forecast_titles_through_each_regions_edge(tmp_path: Path, capsys) -> None:
    media = tmp_path / "media"
    for title in ("hot", "cold"):
        write_ladder_title(media, title)
    recs = tmp_path / "recs.csv"
    recs.write_text("viewer_id,region,title_id,rank,propensity\n"
                    "v1,eu,hot,1,0.9\nv1,eu,cold,2,0.9\nv2,eu,hot,1,0.5\nv3,na,cold,1,0.8\n")
    with running_edges(media, ["cdn-a", "cdn-b"], experiments=[]) as edges:
        eu, na = edges.edges["cdn-a"].url, edges.edges["cdn-b"].url
        code = run(["edge", "warm", "--recs", str(recs), "--edge", f"eu={eu}", "--edge", f"na={na}",
                    "--media-root", str(media), "--budget-bytes", "150000"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert "eu: warm 1 title(s) hot" in out and "na: warm 1 title(s) cold" in out
        viewer = {"X-Country": "DE"}
        first = httpx.get(eu + "/media/hot/720p_h264/seg_00001.m4s", headers=viewer, trust_env=False)
        other = httpx.get(eu + "/media/cold/720p_h264/seg_00001.m4s", headers=viewer, trust_env=False)
        assert first.headers["x-cache"] == "HIT" and other.headers["x-cache"] == "MISS"


@pytest.mark.parametrize(("args", "message"), [
    (["--recs", "{recs}", "--edge", "mars=http://127.0.0.1:9"], "unknown region(s) ['mars']"),
    (["--recs", "{recs}", "--edge", "eu"], "is not REGION=http://host:port"),
    (["--recs", "{bad}", "--edge", "eu=http://127.0.0.1:9"], "rank must be an integer"),
])
def test_bad_warm_input_is_one_error_line(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    (tmp_path / "recs.csv").write_text("viewer_id,region,title_id,rank,propensity\nv1,eu,hot,1,0.9\n")
    (tmp_path / "bad.csv").write_text("viewer_id,region,title_id,rank,propensity\nv1,eu,hot,first,0.9\n")
    args = [a.format(recs=tmp_path / "recs.csv", bad=tmp_path / "bad.csv") for a in args]
    code = run(["edge", "warm", *args, "--media-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
