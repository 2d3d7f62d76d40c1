"""An independent QoE evaluation world (issue 19): telemetry schema v2, incidents, scorer, driver.

Written from ``models/qoe/SCHEMA.md`` and the ``streamlab qoe`` CLI help only, without reading the
detector, its simulator or their configs, so that it does not share the detector's assumptions.
See ``README.md`` beside this file.
"""
