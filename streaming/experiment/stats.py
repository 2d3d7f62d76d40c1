"""The statistics of an A/B report, in one place: CIs, the CUPED estimate, the SRM check, the verdict.

The unit of analysis is the *viewer* (the unit of randomisation): each viewer contributes the mean
of their sessions' metric, so a heavy viewer does not count as many independent samples.

- Confidence intervals: Student-t on a mean; Welch's t on a difference of means (unequal variances).
- CUPED (Deng, Xu, Kohavi & Walker, WSDM 2013): ``y - theta * (x - mean(x))`` with ``x`` the viewer's
  pre-period QoE and ``theta = cov(x, y) / var(x)`` pooled over all arms; the estimate stays unbiased
  because ``x`` is fixed before assignment, and its variance shrinks by ``1 - corr(x, y)^2``. A viewer
  with no pre-period sessions gets the mean ``x`` (no adjustment, no bias).
- Sample-ratio mismatch: Pearson's chi-square of the viewers per arm against the configured split;
  a mismatch means the assignment or the logging is broken, so no effect estimate can be trusted.
- Comparisons are against the first arm (the control), Bonferroni-corrected over the other arms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    n: int

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def as_dict(self) -> dict[str, float]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def mean_ci(values: Sequence[float] | np.ndarray, confidence: float) -> Estimate:
    """Mean and its t-interval; NaN bounds with fewer than two values (no spread to estimate)."""
    y = np.asarray(values, dtype=float)
    if len(y) == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    mean = float(np.mean(y))
    if len(y) < 2:
        return Estimate(mean, float("nan"), float("nan"), 1)
    half = float(sps.t.ppf(0.5 + confidence / 2, len(y) - 1) * np.std(y, ddof=1) / np.sqrt(len(y)))
    return Estimate(mean, mean - half, mean + half, len(y))


def difference_ci(treatment: np.ndarray, control: np.ndarray, confidence: float) -> Estimate:
    """``mean(treatment) - mean(control)`` with Welch's interval (NaN bounds with < 2 per arm)."""
    t, c = np.asarray(treatment, dtype=float), np.asarray(control, dtype=float)
    n = len(t) + len(c)
    if len(t) < 2 or len(c) < 2:
        value = float(np.mean(t) - np.mean(c)) if len(t) and len(c) else float("nan")
        return Estimate(value, float("nan"), float("nan"), n)
    vt, vc = np.var(t, ddof=1) / len(t), np.var(c, ddof=1) / len(c)
    se = float(np.sqrt(vt + vc))
    value = float(np.mean(t) - np.mean(c))
    if se == 0.0:
        return Estimate(value, value, value, n)
    dof = (vt + vc) ** 2 / (vt**2 / (len(t) - 1) + vc**2 / (len(c) - 1))
    half = float(sps.t.ppf(0.5 + confidence / 2, dof) * se)
    return Estimate(value, value - half, value + half, n)


def cuped_adjust(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """CUPED-adjusted ``y`` and ``theta``; ``x`` may hold NaN (no pre-period): those viewers get mean ``x``."""
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float).copy()
    seen = ~np.isnan(x)
    if seen.sum() < 2:
        return y.copy(), 0.0
    x[~seen] = float(np.mean(x[seen]))
    var_x = float(np.var(x, ddof=1))
    if var_x == 0.0:
        return y.copy(), 0.0
    theta = float(np.cov(x, y, ddof=1)[0, 1] / var_x)
    return y - theta * (x - float(np.mean(x))), theta


@dataclass(frozen=True)
class SampleRatio:
    counts: dict[str, int]
    expected_percent: dict[str, float]
    chi2: float
    p_value: float
    mismatch: bool


def sample_ratio_check(counts: Mapping[str, int], percents: Mapping[str, float], alpha: float) -> SampleRatio:
    """Chi-square goodness of fit of the observed viewers per arm to the configured split."""
    names = list(percents)
    observed = np.array([counts.get(n, 0) for n in names], dtype=float)
    total = observed.sum()
    live = np.array([percents[n] > 0 for n in names])
    if total == 0 or live.sum() < 2:
        return SampleRatio(dict(counts), dict(percents), 0.0, 1.0, False)
    expected = np.array([percents[n] for n in names], dtype=float) / 100.0 * total
    if np.any(observed[~live] > 0):  # a 0% arm that got viewers is a mismatch whatever the rest
        return SampleRatio(dict(counts), dict(percents), float("inf"), 0.0, True)
    chi2, p = sps.chisquare(observed[live], expected[live] * observed[live].sum() / expected[live].sum())
    return SampleRatio({n: int(c) for n, c in zip(names, observed, strict=True)}, dict(percents), float(chi2), float(p),
                       bool(p < alpha))


@dataclass(frozen=True)
class Verdict:
    decision: str
    """``stop`` or ``continue``."""
    winner: str | None
    reason: str


def verdict(
    srm: SampleRatio,
    effects: Mapping[str, Estimate],
    viewers: Mapping[str, int],
    higher_is_better: bool,
    min_per_arm: int,
    max_per_arm: int,
    control: str,
) -> Verdict:
    """Stop on a broken split; stop with a winner when the primary CUPED effect's CI excludes 0 (with
    enough viewers per arm); stop with no effect past the sample budget; otherwise continue."""
    if srm.mismatch:
        return Verdict("stop", None, f"sample-ratio mismatch (chi-square p={srm.p_value:.2g}): fix assignment/logging, "
                                     "the estimates cannot be trusted")
    fewest = min(viewers.values()) if viewers else 0
    if fewest < min_per_arm:
        return Verdict("continue", None, f"the smallest arm has {fewest} viewers; at least {min_per_arm} each before a decision")
    significant = {arm: e for arm, e in effects.items() if e.excludes_zero()}
    better = {arm: e for arm, e in significant.items() if (e.value > 0) == higher_is_better}
    if better:
        arm = max(better, key=lambda a: better[a].value if higher_is_better else -better[a].value)
        e = better[arm]
        return Verdict("stop", arm, f"{arm} beats {control}: {e.value:+.4g} [{e.low:+.4g}, {e.high:+.4g}]")
    if significant:
        arms = ", ".join(significant)
        return Verdict("stop", control, f"{arms} is worse than {control} (CI excludes 0 on the wrong side)")
    if fewest >= max_per_arm:
        return Verdict("stop", None, f"no detectable effect after {fewest} viewers per arm")
    return Verdict("continue", None, "no effect detected yet (every CI includes 0)")


def bonferroni(confidence: float, comparisons: int) -> float:
    """The per-comparison confidence that keeps the family-wise error at ``1 - confidence``."""
    return 1.0 - (1.0 - confidence) / max(comparisons, 1)
