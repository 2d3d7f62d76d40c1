"""Objective video quality: VMAF, PSNR and SSIM of a rendition against its source (libvmaf)."""

from streamlab.streaming.quality.vmaf import MetricSummary, QualityError, QualityReport, measure_quality, vmaf_model_for

__all__ = ["MetricSummary", "QualityError", "QualityReport", "measure_quality", "vmaf_model_for"]
