"""A long ingest says which stage it is in and how far (the shared rich bars), and stays quiet in CI logs."""

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


def test_bars_render_on_a_terminal_and_stay_silent_in_logs(
    clip_360p_silent: Path, media_root: Path, fast, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    monkeypatch.delenv("STREAMLAB_PROGRESS", raising=False)
    ingest_title(clip_360p_silent, "quiet", media_root=media_root, overrides=fast)
    quiet = capsys.readouterr()
    assert "━" not in quiet.out + quiet.err and "Traceback" not in quiet.out + quiet.err  # not a TTY: no bars

    monkeypatch.setattr(core_progress, "_enabled", lambda: True)  # as on a terminal (rich renders the final state)
    monkeypatch.setenv("COLUMNS", "160")
    ingest_title(clip_360p_silent, "shown", media_root=media_root, overrides=fast)
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "Traceback" not in text
    for line in ("ingest shown (5 stages)", "shown: probe", "shown: ladder (fixed)", "shown: encode (2 rungs, 0 audio)",
                 "shown: package (HLS + DASH)", "shown: publish"):
        assert line in text, text
