"""QoE telemetry, scores and anomaly detection (issue 7).

Layers: :mod:`streamlab.models.qoe.telemetry` (the typed event schema) and :mod:`streamlab.models.qoe.ingest`
(parsing files and records, every reject accounted for), :mod:`streamlab.models.qoe.scores` (session
scores), :mod:`streamlab.models.qoe.windows` (events to per-group window counts), :mod:`streamlab.models.qoe.detectors`
(rule, robust z, IsolationForest, sequence autoencoder behind one interface),
:mod:`streamlab.models.qoe.model` (attribution and the one alert rule) and :mod:`streamlab.models.qoe.alerts`
(alert records), scored by :mod:`streamlab.models.qoe.decide` (the typed decision, over
:mod:`streamlab.models.qoe.streaming`) or in batch by :mod:`streamlab.models.qoe.detect` (local or Ray Data).
:mod:`streamlab.models.qoe.evaluate` judges alerts against :mod:`streamlab.models.qoe.labels`;
:mod:`streamlab.models.qoe.family` declares the registered model. The simulated world that trains and
tests the detectors (population, incidents, the ABR outcome library) lives in :mod:`streamlab.training.qoe`.

Issue 19 adds telemetry schema v2 (:mod:`streamlab.models.qoe.schema_v2`, documented in ``SCHEMA.md``
beside this file; v1 still accepted) and the empirical-Bayes detector :mod:`streamlab.models.qoe.eb`
(any dimension and pairs, baselines shrunk towards the population, bounded state), tuned on
:mod:`streamlab.training.qoe.world_v2` and fed durably by :mod:`streamlab.streaming.telemetry.redis_stream`.
"""
