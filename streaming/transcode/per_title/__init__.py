"""Per-title ladders on the stack's side: inspect and measure a source, and hand ingest its ladder.

The decision itself (hull, rules, the predictor's :func:`~streamlab.models.ladder.decide.decide`)
is the ladder family's (:mod:`streamlab.models.ladder`); what needs the source file lives here:
its facts (:mod:`.source`), its cheap features (:mod:`.features`), trial encodes (:mod:`.trials`),
shot detection and per-shot trials for shot-based ladders (:mod:`.shots`),
the stack's fixed ladder as a ladder (:mod:`.fixed`), the one entry point by method
(:mod:`.optimize`) and the ingest selectors (:mod:`.selector`, :mod:`.service_client`).
"""
