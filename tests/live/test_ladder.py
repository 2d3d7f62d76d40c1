"""The channel's rungs from the ladder model, measured on the first seconds of its feed, never
above the source; the fixed ladder when the model cannot decide, visible in ``live status`` and
at ``/metrics``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.live.conftest import stop_and_check, test_overrides

pytestmark = pytest.mark.slow

STREAMLAB = str(Path(sys.executable).with_name("streamlab"))
SOURCE = "testsrc2=size=320x180:rate=30"
SMALL = ["contribution.width=320", "contribution.height=180", "transcode.ladder_from=model"]


def h264_model(folder: Path) -> Path:
    """The committed default ladder model, its H.264 half only (a live ladder is H.264): the same
    trees, half the loading on a loaded box."""
    from streamlab.models.ladder.predictor import DEFAULT_DIR

    folder.mkdir()
    for name in ("h264.rate.skops", "h264.vmaf.skops"):
        shutil.copy(DEFAULT_DIR / name, folder / name)
    card = json.loads((DEFAULT_DIR / "card.json").read_text())
    (folder / "card.json").write_text(json.dumps({**card, "codecs": ["h264"]}))
    return folder


def ladder_metrics(origin_url: str) -> dict[str, str]:
    text = httpx.get(f"{origin_url}/metrics", timeout=5).text
    return {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith("streamlab_live_ladder")}


def test_the_ladder_model_chooses_the_rungs_from_the_first_seconds(live_env: Path, tmp_path: Path) -> None:
    from streamlab.streaming.live.lifecycle import start_channel

    model = h264_model(tmp_path / "model")
    overrides = [*test_overrides(backup=False), *SMALL, f"transcode.ladder_model_dir={model}",
                 "transcode.ladder_timeout_s=150", "start_timeout_s=180"]
    state = start_channel("modeled", source=SOURCE, overrides=overrides)
    try:
        ladder = state["ladder"]
        assert ladder["source"] == "model" and ladder["fallback"] is None and ladder["origin"] == str(model), ladder
        assert ladder["features"]["si_mean"] > 0 and ladder["features"]["probe_bpp"] > 0  # measured on the feed
        rungs = state["rungs"]
        assert [rung["name"] for rung in rungs] == ladder["rungs"] and 1 <= len(rungs) <= 2  # the fixed ladder's budget
        assert all(rung["height"] <= 180 and rung["width"] <= 320 for rung in rungs)  # never above the source
        assert all(rung["last_part"] is not None for rung in rungs)  # the chosen rungs are the ones transcoded
        fixed = {(320, 180, 250)}  # what the fixed ladder would run for a 320x180 source
        assert {(r["width"], r["height"], r["bitrate_kbps"]) for r in rungs} != fixed, rungs
        metrics = ladder_metrics(state["origin_url"])
        assert metrics['streamlab_live_ladder_rungs{channel="modeled",source="model"}'] == str(len(rungs))
        assert all(v == "0" for k, v in metrics.items() if "fallbacks_total" in k), metrics
        status = subprocess.run([STREAMLAB, "live", "status", "modeled"], capture_output=True, text=True, timeout=30)
        assert "ladder: chosen by the ladder model" in status.stdout, status.stdout
        print(f"\nmodel ladder {[(r['name'], r['bitrate_kbps']) for r in rungs]} in {ladder['decided_in_s']} s")
    finally:
        stop_and_check("modeled")


def test_without_a_model_the_channel_runs_the_fixed_ladder_and_says_so(live_env: Path, tmp_path: Path) -> None:
    from streamlab.streaming.live.lifecycle import start_channel

    empty = tmp_path / "no-model"
    empty.mkdir()  # an artifact folder without its files: a deployment that lost its model
    overrides = [*test_overrides(backup=False), *SMALL, f"transcode.ladder_model_dir={empty}"]
    state = start_channel("unmodeled", source=SOURCE, overrides=overrides)
    try:
        ladder = state["ladder"]
        assert ladder["source"] == "fixed" and ladder["fallback"] == "unavailable" and "card.json" in ladder["detail"], ladder
        assert [(r["name"], r["bitrate_kbps"]) for r in state["rungs"]] == [("180p", 250)]  # the fixed ladder, below the source
        metrics = ladder_metrics(state["origin_url"])
        assert metrics['streamlab_live_ladder_fallbacks_total{channel="unmodeled",reason="unavailable"}'] == "1"
        assert metrics['streamlab_live_ladder_rungs{channel="unmodeled",source="fixed"}'] == "1"
        status = subprocess.run([STREAMLAB, "live", "status", "unmodeled"], capture_output=True, text=True, timeout=30)
        assert "ladder: FIXED (fallback, the model could not decide: unavailable" in status.stdout, status.stdout
    finally:
        stop_and_check("unmodeled")
