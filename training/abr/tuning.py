"""Validation evaluation, shared by the planner-knob search and the per-policy report (Ray tasks)."""

from __future__ import annotations

from dataclasses import dataclass

from streamlab.models.abr.env import play_all
from streamlab.models.abr.policies.learned import LearnedPolicy, PlannerKnobs
from streamlab.models.abr.policies.quantile_net import QuantileNet
from streamlab.models.abr.qoe import summarize
from streamlab.models.abr.registry import make_policy
from streamlab.models.abr.traces import Trace
from streamlab.models.abr.video import Video


@dataclass(frozen=True)
class KnobJob:
    net: QuantileNet
    knobs: PlannerKnobs
    traces: list[Trace]
    video: Video
    compat: bool


@dataclass(frozen=True)
class PolicyJob:
    name: str
    traces: list[Trace]
    video: Video
    compat: bool


def evaluate_knobs(job: KnobJob) -> dict:
    logs = play_all(LearnedPolicy(job.net, job.knobs), job.traces, job.video, job.compat)
    summary = summarize([log.score for log in logs])
    summary["per_trace_qoe"] = {log.trace.name: log.score.qoe for log in logs}
    return summary


def evaluate_policy(job: PolicyJob) -> dict:
    logs = play_all(make_policy(job.name, compat=job.compat), job.traces, job.video, job.compat)
    summary = summarize([log.score for log in logs])
    summary["per_trace_qoe"] = {log.trace.name: log.score.qoe for log in logs}
    return summary
