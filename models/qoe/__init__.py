"""QoE telemetry, scores and anomaly detection (issue 7).

Layers: :mod:`models.qoe.telemetry` (the typed event schema), :mod:`models.qoe.scores` (session
scores), :mod:`models.qoe.windows` (events to per-group window counts), :mod:`models.qoe.detectors`
(rule, robust z, IsolationForest, sequence autoencoder behind one interface),
:mod:`models.qoe.attribution` and :mod:`models.qoe.alerts` (cause dimension, alert records) and
:mod:`models.qoe.streaming` (event-by-event scoring). Simulation, file ingestion and Ray Data batch
scoring live in :mod:`pipelines.qoe`.
"""
