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
    ).model_copy(update={"cpu_s": _cpu_s() - started})


def si_ti(facts: SourceFacts, max_pairs: int) -> tuple[list[float], list[float]]:
    """Per-frame SI and TI (P.910) on luma, on ``max_pairs`` consecutive-frame pairs spread evenly."""
    import av
    from scipy import ndimage

    stride = max(1, facts.frames // max_pairs)
    si: list[float] = []
    ti: list[float] = []
    previous: np.ndarray | None = None
    with av.open(str(facts.path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            phase = index % stride
            if phase > 1 and stride > 1:
                previous = None
                continue
            luma = frame.to_ndarray(format="gray").astype(np.float32)
            if phase == 0 or stride == 1:
                gx, gy = ndimage.sobel(luma, axis=1), ndimage.sobel(luma, axis=0)
                si.append(float(np.std(np.hypot(gx, gy)[1:-1, 1:-1])))
            if previous is not None:
                ti.append(float(np.std(luma - previous)))
            previous = luma if phase == 0 or stride == 1 else None
    if not si:
        si = [0.0]
    return si, ti


def probe_encode(facts: SourceFacts, settings: PredictorSettings) -> dict[str, float]:
    short = min(facts.width, facts.height)
    scale = min(1.0, settings.probe_height / short)
    width, height = even(facts.width * scale), even(facts.height * scale)
    fps = facts.fps_out or facts.fps
    filters = f"scale={width}:{height}:flags=bicubic" + (f",fps={facts.fps_out:g}" if facts.fps_out else "")
    result = run_ffmpeg(["-i", facts.path, "-map", "0:v:0", "-an", "-vf", filters, "-c:v", "libx264", "-preset", "ultrafast",
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
