"""Bjøntegaard delta rate (BD-rate): the average bitrate difference at equal quality.

The standard method (VCEG-M33, with the piecewise-cubic interpolation of JCTVC/AOM CTC): fit
log10(bitrate) as a function of quality for each curve, integrate the difference over the quality
range both curves cover, and turn the mean log difference into a percentage. Negative means the
test curve needs fewer bits than the anchor for the same VMAF. ``method="cubic"`` is the original
third-order polynomial fit (needs 4 points a curve); ``"pchip"`` (the default) is the monotone
piecewise-cubic fit, robust for the 2-6 rung ladders compared here.

Curves are reduced to their Pareto front first (a rung that costs more and looks worse than
another adds nothing to what a player can get), so log-rate is a function of quality.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from streamlab.core.errors import StreamlabError


class BDRateError(StreamlabError):
    """The curves cannot be compared: too few points, or no shared quality range."""


Curve = Sequence[tuple[float, float]]  # (bitrate_kbps, quality)


def bd_rate(anchor: Curve, test: Curve, method: Literal["pchip", "cubic"] = "pchip") -> float:
    """BD-rate of ``test`` against ``anchor`` in percent (negative: ``test`` saves bits)."""
    a_q, a_r = _prepare(anchor, "anchor", method)
    t_q, t_r = _prepare(test, "test", method)
    low, high = max(a_q[0], t_q[0]), min(a_q[-1], t_q[-1])
    if high <= low:
        raise BDRateError(
            f"the curves share no quality range: anchor covers {a_q[0]:.2f}-{a_q[-1]:.2f}, "
            f"test {t_q[0]:.2f}-{t_q[-1]:.2f}"
        )
    mean_diff = (_integral(a_q, a_r, low, high, method) - _integral(t_q, t_r, low, high, method)) / (high - low)
    return float((10 ** (-mean_diff) - 1) * 100)


def bd_quality(anchor: Curve, test: Curve) -> float:
    """BD-quality (the BD-PSNR of VCEG-M33, here in VMAF): mean quality difference of ``test`` over
    ``anchor`` at equal bitrate, over the log-rate range both cover (monotone piecewise-cubic fit).

    Negative: ``test`` looks worse for the same bits. Used to say how close a predicted ladder
    comes to the ladder it imitates, in VMAF points rather than in bits.
    """
    a_q, a_r = _prepare(anchor, "anchor", "pchip")
    t_q, t_r = _prepare(test, "test", "pchip")
    low, high = max(a_r[0], t_r[0]), min(a_r[-1], t_r[-1])
    if high <= low:
        raise BDRateError(
            f"the curves share no bitrate range: anchor covers {10 ** a_r[0]:.0f}-{10 ** a_r[-1]:.0f} kbit/s, "
            f"test {10 ** t_r[0]:.0f}-{10 ** t_r[-1]:.0f} kbit/s"
        )
    from scipy.interpolate import PchipInterpolator

    area = PchipInterpolator(t_r, t_q).integrate(low, high) - PchipInterpolator(a_r, a_q).integrate(low, high)
    return float(area / (high - low))


def rate_at_anchor_quality(anchor: Curve, test: Curve) -> float:
    """Mean bitrate difference (%) of ``test`` at the quality of each ``anchor`` point inside its range.

    What is left of BD-rate when the anchor has too few points for a curve (a one-rung fixed ladder
    on a tiny source): the test curve's rate at exactly the anchor's qualities, log-rate interpolated.
    """
    t_q, t_r = _prepare(test, "test", "pchip")
    inside = [(r, q) for r, q in anchor if t_q[0] <= q <= t_q[-1]]
    if not inside:
        raise BDRateError(f"no anchor point lies in the test curve's quality range {t_q[0]:.2f}-{t_q[-1]:.2f}")
    from scipy.interpolate import PchipInterpolator

    fit = PchipInterpolator(t_q, t_r)
    return float(np.mean([(10 ** float(fit(q)) / r - 1) * 100 for r, q in inside]))


def shared_range(anchor: Curve, test: Curve) -> tuple[float, float]:
    a = [q for _, q in anchor]
    t = [q for _, q in test]
    return max(min(a), min(t)), min(max(a), max(t))


def _prepare(curve: Curve, role: str, method: str) -> tuple[np.ndarray, np.ndarray]:
    points = sorted((float(r), float(q)) for r, q in curve)
    if any(r <= 0 for r, _ in points):
        raise BDRateError(f"{role} curve has a non-positive bitrate: {points}")
    front: list[tuple[float, float]] = []
    for r, q in points:
        if not front or q > front[-1][1]:
            front.append((r, q))
    need = 4 if method == "cubic" else 2
    if len(front) < need:
        raise BDRateError(
            f"{role} curve has {len(front)} useful points (quality rising with rate); {method} needs {need}"
        )
    q = np.array([p[1] for p in front])
    log_r = np.log10([p[0] for p in front])
    return q, log_r


def _integral(q: np.ndarray, log_r: np.ndarray, low: float, high: float, method: str) -> float:
    if method == "cubic":
        poly = np.polyint(np.polyfit(q, log_r, 3))
        return float(np.polyval(poly, high) - np.polyval(poly, low))
    from scipy.interpolate import PchipInterpolator

    return float(PchipInterpolator(q, log_r).integrate(low, high))
