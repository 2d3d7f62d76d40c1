"""Typed configuration: YAML files in this folder, validated into pydantic settings.

A run is *config + overrides*: every entry point loads ``configs/<name>.yaml``, applies
``dotted.key=value`` overrides from the CLI (values parsed as YAML, so ``trainer.epochs=3`` is an
int and ``ray.address=null`` is ``None``), and validates the result into the settings model that the
owning package declares. Settings models live beside the code that uses them; this package only
holds the files and the one loader, so every area loads configuration the same way.
"""

from configs.loader import CONFIG_DIR, ConfigError, apply_overrides, load_config, load_yaml

__all__ = ["CONFIG_DIR", "ConfigError", "apply_overrides", "load_config", "load_yaml"]
