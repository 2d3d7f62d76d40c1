"""Typed configuration: the YAML files in this folder, one per area, mirroring the packages.

A run is *config + overrides*: every entry point loads ``configs/<name>.yaml`` through
:func:`streamlab.core.config.load_config`, applies ``dotted.key=value`` overrides from the CLI, and
validates the result into the settings model its family declares. This package holds data only
(it ships in the wheel as ``streamlab.configs``); the one loader is on the ground floor.
"""
