"""Measuring a title's cheap features for the ladder predictor: SI/TI (ITU-T P.910) and one fast probe encode.

What the features are, and how the model uses them, is the family's
(:class:`streamlab.models.ladder.features.TitleFeatures`); this module reads the source to get them.

- **SI/TI** (ITU-T P.910 §7.7): SI = spatial std-dev of the Sobel-filtered luma, TI = std-dev of the
  luma difference of consecutive frames; P.910 takes the maximum over time, we also keep the mean
  and 90th percentile (a single flash frame should not decide a ladder). Computed with numpy on
  decoded luma (PyAV), on at most ``si_ti_max_frames`` frame pairs spread over the title.
- **Probe encode**: one x264 ``ultrafast`` encode at CRF ``probe_crf`` and ``probe_height``
  (or the source's own size if smaller), to ``-f null``: its bits per pixel, luma PSNR (x264's own,
  against the scaled input: how hard the content is to compress) and I/P frame-size ratio (how
  much of the cost is motion). It costs a few percent of one trial-grid encode.
- **Format**: display size, frame rate.
"""

from __future__ import annotations

import re
import resource
from collections.abc import Sequence

import numpy as np

from streamlab.models.ladder.features import TitleFeatures
from streamlab.models.ladder.settings import PredictorSettings
from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.transcode.ladder import even
from streamlab.streaming.transcode.per_title.source import SourceFacts

_PSNR = re.compile(r"PSNR Mean Y:(?P<y>[\d.]+).*kb/s:(?P<kbps>[\d.]+)")
_FRAME_SIZE = re.compile(r"frame (?P<type>[IPB]):\d+\s+Avg QP:\s*(?P<qp>[\d.]+)\s+size:\s*(?P<size>\d+)")


def title_features(facts: SourceFacts, settings: PredictorSettings) -> TitleFeatures:
    started = _cpu_s()
    si, ti = si_ti(facts, settings.si_ti_max_frames)
    probe = probe_encode(facts, settings)
    return _features(facts, si, ti, probe).model_copy(update={"cpu_s": _cpu_s() - started})


def shot_features(
    facts: SourceFacts, shots: Sequence[tuple[float, float]], settings: PredictorSettings
) -> list[TitleFeatures]:
    """The same features for every shot (start_s, duration_s): each shot is a title to the model.

    One decode serves all shots' SI/TI (``si_ti_max_frames`` pairs per shot, bounded by the title's
    frames); one probe encode per shot, cut by an input seek, so the probes together cost one probe
    of the title. ``cpu_s`` of the first shot carries the whole measurement (the others 0), so sums
    over shots stay honest.
    """
    started = _cpu_s()
    fps = facts.fps or 25.0
    samples = si_ti_frames(facts, settings.si_ti_max_frames * max(1, len(shots)))
    out = []
    for start_s, duration_s in shots:
        first, last = round(start_s * fps), round((start_s + duration_s) * fps)
        mine = [(si, ti) for index, si, ti in samples if first <= index < last]
        si = [v for v, _ in mine if v is not None]
        ti = [t for _, t in mine if t is not None]
        probe = probe_encode(facts, settings, window=(start_s, duration_s))
        out.append(_features(facts, si or [0.0], ti, probe))
    return [f.model_copy(update={"cpu_s": (_cpu_s() - started) if i == 0 else 0.0}) for i, f in enumerate(out)]


def _features(facts: SourceFacts, si: list[float], ti: list[float], probe: dict[str, float]) -> TitleFeatures:
    return TitleFeatures(
        width=facts.width,
        height=facts.height,
        fps=facts.fps_out or facts.fps,
        si_mean=float(np.mean(si)),
        si_p90=float(np.percentile(si, 90)),
        si_max=float(np.max(si)),
        ti_mean=float(np.mean(ti)) if ti else 0.0,
        ti_p90=float(np.percentile(ti, 90)) if ti else 0.0,
        ti_max=float(np.max(ti)) if ti else 0.0,
        cpu_s=0.0,
        **probe,
    )


def si_ti(facts: SourceFacts, max_pairs: int) -> tuple[list[float], list[float]]:
    """Per-frame SI and TI (P.910) on luma, on ``max_pairs`` consecutive-frame pairs spread evenly."""
    samples = si_ti_frames(facts, max_pairs)
    si = [v for _, v, _ in samples if v is not None] or [0.0]
    return si, [t for _, _, t in samples if t is not None]


def si_ti_frames(facts: SourceFacts, max_pairs: int) -> list[tuple[int, float | None, float | None]]:
    """(frame index, SI or None, TI or None) on ``max_pairs`` consecutive-frame pairs spread evenly.

    SI is taken on the first frame of a pair, TI on the second (its difference to the first).
    """
    import av
    from scipy import ndimage

    stride = max(1, facts.frames // max_pairs)
    samples: list[tuple[int, float | None, float | None]] = []
    previous: np.ndarray | None = None
    with av.open(str(facts.path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            phase = index % stride
            if phase > 1 and stride > 1:
                previous = None
                continue
            luma = frame.to_ndarray(format="gray").astype(np.float32)
            si = ti = None
            if phase == 0 or stride == 1:
                gx, gy = ndimage.sobel(luma, axis=1), ndimage.sobel(luma, axis=0)
                si = float(np.std(np.hypot(gx, gy)[1:-1, 1:-1]))
            if previous is not None:
                ti = float(np.std(luma - previous))
            samples.append((index, si, ti))
            previous = luma if phase == 0 or stride == 1 else None
    return samples


def probe_encode(
    facts: SourceFacts, settings: PredictorSettings, window: tuple[float, float] | None = None
) -> dict[str, float]:
    """The probe encode's features, of the title or of ``window`` = (start_s, duration_s) of it (one shot)."""
    short = min(facts.width, facts.height)
    scale = min(1.0, settings.probe_height / short)
    width, height = even(facts.width * scale), even(facts.height * scale)
    fps = facts.fps_out or facts.fps
    filters = f"scale={width}:{height}:flags=bicubic" + (f",fps={facts.fps_out:g}" if facts.fps_out else "")
    seek = ["-ss", f"{window[0]:.6f}", "-t", f"{window[1]:.6f}"] if window else []
    result = run_ffmpeg([*seek, "-i", facts.path, "-map", "0:v:0", "-an", "-vf", filters, "-c:v", "libx264", "-preset", "ultrafast",
                         "-crf", f"{settings.probe_crf:g}", "-flags", "+psnr", "-f", "null", "-"], "probe encode")  # fmt: skip
    summary = _PSNR.search(result.stderr)
    if summary is None:
        raise RuntimeError(f"probe encode printed no x264 summary: {result.stderr[-300:]}")
    sizes = {m["type"]: (float(m["size"]), float(m["qp"])) for m in _FRAME_SIZE.finditer(result.stderr)}
    i_size = sizes.get("I", (1.0, 0.0))[0]
    p_size, p_qp = sizes.get("P", (i_size, sizes.get("I", (0.0, settings.probe_crf))[1]))
    kbps = float(summary["kbps"])
    return {
        "probe_bpp": max(kbps * 1000 / (width * height * fps), 1e-6),
        "probe_psnr_y": float(summary["y"]),
        "probe_qp_p": p_qp,
        "probe_ip_ratio": max(i_size / max(p_size, 1.0), 1e-3),
    }


def _cpu_s() -> float:
    """CPU of this process (numpy SI/TI) plus its finished children (the probe encode)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
