"""A long ingest says which stage it is in and how far (the shared rich bars); in a log, only work that runs long speaks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from streamlab.core import progress as core_progress
from streamlab.streaming.ingest import stages as ingest_stages
from streamlab.streaming.ingest.pipeline import ingest_title


@pytest.fixture()
def bars(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Every bar opened through the shared helper: its description, total and how far it got."""
    opened: list[dict] = []

    @contextmanager
    def recording_bar(description: str, total: int | None) -> Iterator:
        bar = {"description": description, "total": total, "done": 0}
        opened.append(bar)

        def advance(n: float = 1) -> None:
            bar["done"] += n

        yield advance

    monkeypatch.setattr(core_progress, "progress_bar", recording_bar)  # track() (serial encodes) looks it up here
    monkeypatch.setattr(ingest_stages, "progress_bar", recording_bar)
    return opened


def test_ingest_reports_each_stage_with_names_and_counts(clip_480p: Path, media_root: Path, fast, bars):
    ingest_title(clip_480p, "prog", media_root=media_root, overrides=fast)
    described = [bar["description"] for bar in bars]
    assert described[0] == "ingest prog (5 stages)"  # no DRM: no protect stage
    stage_bars = [d for d in described[1:] if d.startswith("prog: ") and "tracks" not in d]
    assert [d.split()[1] for d in stage_bars] == ["probe", "ladder", "encode", "package", "publish"]
    assert "prog: encode (4 rungs, 1 audio)" in stage_bars
    encodes = next(bar for bar in bars if bar["description"] == "prog: encode 5 tracks")
    assert encodes["total"] == encodes["done"] == 5  # "encode 5/5" as the tracks land
    assert all(bar["done"] == bar["total"] for bar in bars), bars  # every stage and the title's bar complete


def test_bars_render_on_a_terminal_and_a_short_ingest_stays_silent_in_logs(
    clip_360p_silent: Path, media_root: Path, fast, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    monkeypatch.delenv("STREAMLAB_PROGRESS", raising=False)
    ingest_title(clip_360p_silent, "quiet", media_root=media_root, overrides=fast)
    quiet = capsys.readouterr()
    assert quiet.out + quiet.err == ""  # not a TTY and shorter than the 30 s log interval: nothing

    monkeypatch.setattr(core_progress, "_mode", lambda: "bar")  # as on a terminal (rich renders the final state)
    monkeypatch.setenv("COLUMNS", "160")
    ingest_title(clip_360p_silent, "shown", media_root=media_root, overrides=fast)
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "Traceback" not in text
    for line in ("ingest shown (5 stages)", "shown: probe", "shown: ladder (fixed)", "shown: encode (2 rungs, 0 audio)",
                 "shown: package (HLS + DASH)", "shown: publish"):
        assert line in text, text


def test_in_a_log_long_work_prints_a_plain_line_per_interval_and_one_when_done(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    import time

    monkeypatch.delenv("STREAMLAB_PROGRESS", raising=False)
    monkeypatch.setenv("STREAMLAB_PROGRESS_INTERVAL_S", "0.1")
    with core_progress.progress_bar("bbb: encode 10 tracks", total=10) as advance:
        advance(3)
        time.sleep(0.35)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 3, lines  # ~3 beats, then the end
    assert all(line.startswith("  [0:00] bbb: encode 10 tracks: 3/10") for line in lines), lines
    assert lines[-1].endswith(" done") and not lines[0].endswith(" done")

    with pytest.raises(RuntimeError):  # a failed job's error speaks for it: no "done" line
        with core_progress.progress_bar("doomed", total=2):
            time.sleep(0.15)
            raise RuntimeError("boom")
    assert not capsys.readouterr().err.endswith("done\n")

    with core_progress.progress_bar("ingest bbb (6 stages)", total=6) as stages:  # nested: the innermost speaks
        stages(2)
        with core_progress.progress_bar("bbb: encode 11 tracks", total=11) as tracks:
            tracks(3)
            time.sleep(0.35)
        time.sleep(0.25)
    lines = capsys.readouterr().err.splitlines()
    inner = [line for line in lines if "encode 11 tracks: 3/11" in line]
    outer = [line for line in lines if "ingest bbb (6 stages): 2/6" in line]
    assert len(inner) >= 2 and inner[-1].endswith(" done"), lines
    assert outer and outer[-1].endswith(" done"), lines
    assert lines == inner + outer  # the stages' bar speaks only once the tracks' bar has closed

    monkeypatch.setenv("STREAMLAB_PROGRESS", "0")
    with core_progress.progress_bar("off", total=1):
        time.sleep(0.25)
    assert capsys.readouterr().err == ""
