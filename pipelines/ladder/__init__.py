"""Per-title encoding ladders: trial grid, VMAF convex hull, ladder rules, a predictor, BD-rate."""
