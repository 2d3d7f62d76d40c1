"""Load ``configs/<name>.yaml`` into a typed settings model, with CLI overrides."""

from __future__ import annotations

import importlib.util
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from streamlab.core.errors import UsageError

def _packaged_configs() -> Path:
    """The ``streamlab.configs`` package folder: ``configs/`` in a checkout, inside the wheel when installed."""
    spec = importlib.util.find_spec("streamlab.configs")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("streamlab.configs is missing from the installation")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


CONFIG_DIR = _packaged_configs()
"""Where the YAML files live; ``STREAMLAB_CONFIG_DIR`` points elsewhere (e.g. a deployment's own)."""

T = TypeVar("T", bound=BaseModel)


class ConfigError(UsageError):
    """A config file is missing or malformed, or an override names an unknown key or bad value."""


def config_dir() -> Path:
    return Path(os.environ.get("STREAMLAB_CONFIG_DIR", CONFIG_DIR))


def load_yaml(name: str) -> dict[str, Any]:
    """Read ``<config dir>/<name>.yaml`` as a mapping (an empty file is an empty mapping)."""
    path = config_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(loaded).__name__}")
    return loaded


def apply_overrides(config: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Return a copy of ``config`` with each ``a.b.c=value`` override applied.

    Values are parsed as YAML so types survive the shell. A key that does not exist is refused
    unless it is prefixed with ``+`` (as in Hydra): a typo must not silently do nothing.
    """
    result = _deep_copy(config)
    for raw in overrides or []:
        if "=" not in raw:
            raise ConfigError(f"override {raw!r} is not of the form key=value (e.g. trainer.epochs=3)")
        key, value_text = raw.split("=", 1)
        add = key.startswith("+")
        key = key.lstrip("+").strip()
        if not key:
            raise ConfigError(f"override {raw!r} has an empty key")
        try:
            value = yaml.safe_load(value_text) if value_text != "" else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {raw!r}: value is not valid YAML: {exc}") from exc
        node = result
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None and add:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(f"override {raw!r}: {where!r} is not a section of the config")
            node = child
        if parts[-1] not in node and not add:
            known = ", ".join(sorted(node)) or "(none)"
            raise ConfigError(f"override {raw!r}: unknown key {key!r}; known keys here: {known}")
        node[parts[-1]] = value
    return result


def load_config(name: str, model: type[T], overrides: list[str] | None = None) -> T:
    """Load, override and validate one config; errors name the file and the offending field.

    A key the settings do not read is refused, whether it comes from the file or a ``+`` override:
    pydantic would drop it, and a renamed or misspelt setting (``window_days`` after it became
    ``window``) would silently do nothing. A model that reads only part of a file other readers share
    says so with ``model_config = ConfigDict(extra="ignore")``; its own sections are still checked.
    """
    data = apply_overrides(load_yaml(name), overrides)
    unknown = unread_keys(model, data)
    if unknown:
        key, known = unknown[0]
        raise ConfigError(f"configs/{name}.yaml (with overrides): unknown key {key!r}; known keys here: {known}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"configs/{name}.yaml (with overrides): {problems}") from exc


def unread_keys(model: type[BaseModel], data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Keys of ``data`` that ``model`` (and the models of its sections) would ignore, each with the
    keys known at its level; mappings typed ``dict[str, Model]`` and lists of models are walked too.
    A model that says ``extra="ignore"`` (or ``"allow"``) explicitly reads part of a shared file: only
    the sections it declares are checked."""
    if not isinstance(data, dict):
        return []
    names = _field_names(model)
    partial = model.model_config.get("extra") in ("ignore", "allow")
    own: list[tuple[str, str]] = []
    nested: list[tuple[str, str]] = []
    for key, value in data.items():
        field = names.get(key)
        if field is None:
            if not partial:
                own.append((f"{prefix}{key}", ", ".join(sorted(names)) or "(none)"))
            continue
        # A union of several settings models (``A | B``): the value is read by whichever fits it best, so a key
        # is unread only when every alternative leaves it unread.
        candidates = [_unread_in_section(kind, section, value, f"{prefix}{key}")
                      for kind, section in _sections(model.model_fields[field].annotation)]
        fitting = [found for found in candidates if found is not None]
        if fitting:
            nested += min(fitting, key=len)
    return own + nested


def _unread_in_section(kind: str, section: type[BaseModel], value: Any, where: str) -> list[tuple[str, str]] | None:
    """What ``section`` leaves unread of ``value`` held as ``kind``; ``None`` when the value is not of that shape."""
    if kind == "model" and isinstance(value, dict):
        return unread_keys(section, value, f"{where}.")
    if kind == "dict" and isinstance(value, dict):
        return [found for inner_key, inner in value.items() for found in unread_keys(section, inner, f"{where}.{inner_key}.")]
    if kind == "list" and isinstance(value, list):
        return [found for index, inner in enumerate(value) for found in unread_keys(section, inner, f"{where}[{index}].")]
    return None


def _field_names(model: type[BaseModel]) -> dict[str, str]:
    """Every name a key may use for a field (its own and its alias), mapped to the field."""
    names = {name: name for name in model.model_fields}
    names.update({f.alias: name for name, f in model.model_fields.items() if f.alias})
    return names


def _sections(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """The settings models a field's value may hold: itself (``model``), its values (``dict``) or items (``list``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("model", annotation)]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return [found for arg in args for found in _sections(arg)]
    if origin in (list, tuple, set, frozenset):
        return [("list", m) for arg in args for _, m in _sections(arg)]
    if origin is dict and len(args) == 2:
        return [("dict", m) for _, m in _sections(args[1])]
    return []


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
