"""QoE telemetry, scores and anomaly detection (issue 7).

Layers: :mod:`streamlab.models.qoe.telemetry` (the typed event schema), :mod:`streamlab.models.qoe.scores` (session
scores), :mod:`streamlab.models.qoe.windows` (events to per-group window counts), :mod:`streamlab.models.qoe.detectors`
(rule, robust z, IsolationForest, sequence autoencoder behind one interface),
:mod:`streamlab.models.qoe.attribution` and :mod:`streamlab.models.qoe.alerts` (cause dimension, alert records) and
:mod:`streamlab.models.qoe.streaming` (event-by-event scoring). Simulation, file ingestion and Ray Data batch
scoring live in :mod:`streamlab.pipelines.qoe`.
"""
