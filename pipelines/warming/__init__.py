"""Predictive cache warming: per-region demand from the recommender, a byte-budgeted warm set, its simulation."""
