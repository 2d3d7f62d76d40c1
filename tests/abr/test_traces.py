"""Trace and chunk-size loading: real data loads, every malformed input names its file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlab.models.abr.errors import TraceFormatError, VideoSizeError
from streamlab.models.abr.traces import load_trace, load_traces, parse_trace
from streamlab.models.abr.video import load_video


def _write(tmp_path: Path, text: str, name: str = "bad_trace") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_training_traces_load_in_sorted_order(traces):
    assert len(traces) == 127
    assert [t.name for t in traces] == sorted(t.name for t in traces)


def test_non_numeric_value_names_file_and_line(tmp_path):
    path = _write(tmp_path, "0.0 1.0\n1.0 abc\n")
    with pytest.raises(TraceFormatError, match=r"bad_trace:2: non-numeric"):
        load_trace(path)


def test_time_not_increasing_names_file_and_line(tmp_path):
    path = _write(tmp_path, "0.0 1.0\n1.0 2.0\n1.0 2.0\n")
    with pytest.raises(TraceFormatError, match=r"bad_trace:3: time 1.0 s is not after"):
        load_trace(path)


def test_negative_throughput_names_file_and_line(tmp_path):
    path = _write(tmp_path, "0.0 1.0\n1.0 -2.0\n")
    with pytest.raises(TraceFormatError, match=r"bad_trace:2: negative throughput"):
        load_trace(path)


def test_single_line_trace_is_refused_naming_the_line(tmp_path):
    path = _write(tmp_path, "\n0.0 1.0\n")
    with pytest.raises(TraceFormatError, match=r"bad_trace:2: the only data line; a trace needs at least 2"):
        load_trace(path)


@pytest.mark.parametrize("text", ["", "\n  \n"])
def test_empty_trace_file_is_refused_naming_line_1(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(TraceFormatError, match=r"bad_trace:1: empty trace; a trace needs at least 2"):
        load_trace(path)


@pytest.mark.parametrize(("line", "needle"), [("1.0 nan", "finite"), ("inf 2.0", "finite"), ("1.0 -0.5", "negative")])
def test_nan_infinite_or_negative_values_name_file_and_line(tmp_path, line, needle):
    path = _write(tmp_path, f"0.0 1.0\n{line}\n2.0 1.0\n")
    with pytest.raises(TraceFormatError, match=rf"bad_trace:2: .*{needle}"):
        load_trace(path)


def test_trace_that_never_delivers_data_is_refused(tmp_path):
    path = _write(tmp_path, "0.0 1.0\n1.0 0.0\n2.0 0.0\n")
    with pytest.raises(TraceFormatError, match="zero throughput"):
        load_trace(path)


def test_bad_file_in_a_directory_is_named(tmp_path):
    _write(tmp_path, "0.0 1.0\n1.0 2.0\n", "a_good")
    _write(tmp_path, "0.0 1.0\n1.0 x\n", "b_bad")
    with pytest.raises(TraceFormatError, match=r"b_bad:2"):
        load_traces(tmp_path)


def test_empty_trace_directory_is_refused(tmp_path):
    with pytest.raises(TraceFormatError, match="no trace files"):
        load_traces(tmp_path)


def test_missing_chunk_size_file_is_named(tmp_path, abr_dir):
    for level in range(5):
        (tmp_path / f"video_size_{level}").write_text((abr_dir / "video_sizes" / f"video_size_{level}").read_text())
    with pytest.raises(VideoSizeError, match=r"video_size_5: chunk-size file missing"):
        load_video(tmp_path)


def test_non_integer_chunk_size_names_file_and_line(tmp_path, abr_dir):
    for level in range(6):
        (tmp_path / f"video_size_{level}").write_text((abr_dir / "video_sizes" / f"video_size_{level}").read_text())
    lines = (tmp_path / "video_size_3").read_text().splitlines()
    lines[6] = "12x"
    (tmp_path / "video_size_3").write_text("\n".join(lines))
    with pytest.raises(VideoSizeError, match=r"video_size_3:7: chunk size '12x'"):
        load_video(tmp_path)


def test_video_has_48_chunks_and_the_lookahead_line(video):
    assert video.sizes_bytes.shape == (6, 49)
    assert np.all(np.diff(video.sizes_bytes[:, 0]) > 0)


_rows = st.lists(
    st.tuples(st.floats(0.001, 100.0), st.floats(0.0, 50.0)), min_size=2, max_size=40
).filter(lambda rows: any(r > 0 for _, r in rows[1:]))


@given(_rows)
@settings(max_examples=60, deadline=None)
def test_parser_round_trips_any_valid_trace(rows):
    times = np.cumsum([gap for gap, _ in rows])
    text = "\n".join(f"{float(t)!r}\t{r!r}" for t, (_, r) in zip(times, rows, strict=True))
    trace = parse_trace(text, "generated")
    assert np.array_equal(trace.time_s, times)
    assert np.array_equal(trace.bandwidth_mbps, [r for _, r in rows])


@given(st.text(alphabet="0123456789.-e \n\tx", max_size=80))
@settings(max_examples=150, deadline=None)
def test_parser_either_loads_or_names_the_file(text):
    try:
        trace = parse_trace(text, "fuzzed")
    except TraceFormatError as exc:
        assert str(exc).startswith("fuzzed")
    else:
        assert len(trace.time_s) >= 2
        assert np.all(np.diff(trace.time_s) > 0)
        assert np.all(trace.bandwidth_mbps >= 0)


def test_trace_categories_are_the_norway_transports_and_fcc(traces):
    from streamlab.models.abr.traces import trace_category

    assert {trace_category(t.name) for t in traces} == {"bus", "car", "ferry", "metro", "train", "tram", "fcc"}
