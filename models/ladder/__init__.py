"""Per-title encoding ladders, the decision: features in, ladder out (hull, rules, predictor, BD-rate).

Measuring a source (trial encodes, SI/TI, the probe encode) is the streaming stack's
(:mod:`streamlab.streaming.transcode.per_title`); building the corpus, training and evaluating by
encoding is :mod:`streamlab.training.ladder`'s. The family is declared in :mod:`.family`.
"""
