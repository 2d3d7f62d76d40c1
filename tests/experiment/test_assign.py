"""Sticky hash assignment: same viewer, same arm; the observed split follows the configured one."""

from __future__ import annotations

from collections import Counter

import pytest

from streamlab.streaming.experiment.assign import BUCKETS, assign, bucket, parse_arms
from streamlab.streaming.experiment.errors import ExperimentError


def test_the_same_viewer_lands_in_the_same_arm_across_1000_requests() -> None:
    arms = parse_arms("champion,challenger", "50/50")
    for viewer in ("viewer-1", "7f3c2a", "alice@example"):
        assert len({assign("abr-test", arms, viewer) for _ in range(1000)}) == 1


@pytest.mark.parametrize(("names", "split"), [("champion,challenger", "50/50"), ("a,b,c", "20/30/50"), ("a,b", "90/10")])
def test_observed_split_of_10000_ids_is_within_one_point_of_the_configured_one(names: str, split: str) -> None:
    arms = parse_arms(names, split)
    counts = Counter(assign("split-test", arms, f"viewer-{i}") for i in range(10_000))
    for arm in arms:
        assert abs(100 * counts[arm.name] / 10_000 - arm.percent) <= 1.0, (arm, counts)


def test_the_salt_decorrelates_experiments() -> None:
    """A viewer's arm in one experiment says nothing about their arm in another."""
    arms = parse_arms("a,b", "50/50")
    same = sum(assign("one", arms, f"v{i}") == assign("two", arms, f"v{i}") for i in range(4000))
    assert 0.46 < same / 4000 < 0.54


def test_an_even_split_over_three_arms_covers_every_bucket() -> None:
    arms = parse_arms("a,b,c")
    assert sum(a.buckets for a in arms) == BUCKETS
    assert 0 <= bucket("x", "viewer") < BUCKETS


@pytest.mark.parametrize(
    ("names", "split", "message"),
    [
        ("a,b", "50/40", "sums to 90"),
        ("a,b", "60/50", "sums to 110"),
        ("a,b,c", "50/50", "2 shares for 3 arms"),
        ("a", "100", "at least two arms"),
        ("a,a", "50/50", "repeat"),
        ("a,b", "fifty/fifty", "not numbers"),
        ("a,b", "150/-50", "between 0 and 100"),
        ("A B,c", "50/50", "lowercase token"),
    ],
)
def test_a_bad_split_or_arm_list_is_one_clear_error(names: str, split: str, message: str) -> None:
    with pytest.raises(ExperimentError, match=message):
        parse_arms(names, split)


def test_an_empty_viewer_id_is_refused_not_routed() -> None:
    with pytest.raises(ExperimentError, match="empty viewer id"):
        assign("x", parse_arms("a,b"), "")
