"""Models served from the MLflow registry by name and alias, swapped in without downtime.

A :class:`ServedModel` resolves ``models:/<name>@<alias>`` to a concrete version and loads it the
one way every streamlab model is loaded (:func:`streamlab.core.registry.load_native`: the family's
pyfunc reads its artifacts and keeps the deciding object), then hands that object to ``adapt``
(identity by default; recsys adds the online feature store). :meth:`ServedModel.poll` (called by a
background :class:`AliasWatcher`) re-resolves the alias; when it points at a new version, the new
model is loaded *beside* the current one and swapped in with one reference assignment, so requests
in flight keep the object they started with and none ever waits.

Before a version serves (before :attr:`ServedModel.ready` turns true or a swap), its served object
is warmed (:func:`warm_up`): an object with a ``warm_up()`` method answers its first requests there,
so one-time costs (lazy imports, caches, first touches of the arrays) are not a viewer's wait.

A version that fails to load or to warm up (missing files, non-finite weights, an unreadable pickle) is
refused: the previous model keeps serving, and the error is kept in :attr:`ServedModel.status`
(shown on ``/models/status`` and in the metrics) until a loadable version appears. The refused
version is not retried on every poll, only when the alias moves again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from streamlab.core import registry

log = logging.getLogger(__name__)

T = TypeVar("T")

Adapt = Callable[[Any], T]
"""Builds the served object from a version's native model (the pyfunc's ``model``); raises on a bad version."""

ModelLoadError = registry.RegistryError
"""A registered model version could not be resolved or loaded (the registry's error)."""


@dataclass(frozen=True)
class LoadedModel(Generic[T]):
    name: str
    version: str
    model: T
    loaded_at: float


@dataclass(frozen=True)
class ModelStatus:
    name: str
    alias: str
    version: str | None
    """The version serving now (``None``: nothing loaded yet)."""
    ready: bool
    last_error: str | None
    refused_version: str | None
    loads: int
    load_failures: int
    warm_ups: int = 0
    """Loaded versions whose served object was warmed (:func:`warm_up`) before serving."""
    warm_up_ms: float | None = None
    """How long the current version's warm-up took (``None``: nothing to warm, or nothing loaded)."""


def resolve_alias(name: str, alias: str) -> str:
    """The version number ``alias`` points at now; a clear error when the model or alias is missing."""
    return registry.resolve(name, alias)


def warm_up(model: object) -> float | None:
    """Run the served object's ``warm_up()``, if it has one, before it serves; seconds it took (``None``: none).

    Why: the first request a freshly loaded model answers pays what every later one gets for free
    (a library importing its backends on first use, a cache built on first access); a recommender's
    took ~108 ms against ~23 ms after, past its caller's budget. Paid here, it is part of the load:
    readiness flips, or the new version is swapped in, only after it. A warm-up that raises refuses
    the version like any load failure (its first request would have failed the same way).
    """
    warm = getattr(model, "warm_up", None)
    if not callable(warm):
        return None
    started = time.perf_counter()
    warm()
    return time.perf_counter() - started


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class ServedModel(Generic[T]):
    """The current version of one registered model, plus what happened on the last (re)load."""

    def __init__(self, name: str, alias: str, adapt: Adapt[T] | None = None) -> None:
        self.name = name
        self.alias = alias
        self.adapt: Adapt[T] = adapt or (lambda native: native)
        self._current: LoadedModel[T] | None = None
        self._lock = threading.Lock()  # one load at a time; readers never take it
        self.last_error: str | None = None
        self.refused_version: str | None = None
        self.loads = 0
        self.load_failures = 0
        self.warm_ups = 0
        self.warm_up_s: float | None = None
        self.listeners: list[Callable[[ServedModel[T]], None]] = []

    @property
    def current(self) -> LoadedModel[T] | None:
        return self._current

    @property
    def ready(self) -> bool:
        return self._current is not None

    def poll(self) -> bool:
        """Load the version the alias points at if it is new; True when a new version was swapped in."""
        with self._lock:
            try:
                version = resolve_alias(self.name, self.alias)
            except ModelLoadError as exc:
                self._fail(str(exc), None)
                return False
            if self._current is not None and self._current.version == version:
                return False
            if version == self.refused_version:
                return False
            try:
                model, warm_s = self._load(version)
            except ModelLoadError as exc:
                self._fail(str(exc), version)
                return False
            if warm_s is not None:
                self.warm_ups += 1
            self.warm_up_s = warm_s
            self._current = LoadedModel(self.name, version, model, time.time())
            self.loads += 1
            self.last_error = None
            self.refused_version = None
            log.info("serving %s version %s (alias %s)", self.name, version, self.alias)
            self._notify()
            return True

    def _load(self, version: str) -> tuple[T, float | None]:
        """The version's served object, warmed (:func:`warm_up`), and the warm-up's seconds."""
        try:
            _, native = registry.load_native(self.name, version)
            model = self.adapt(native)
            return model, warm_up(model)
        except ModelLoadError as exc:
            raise ModelLoadError(f"models:/{self.name}/{version} refused at load: {exc}") from None
        except Exception as exc:  # any loader failure refuses the version, whatever its type
            raise ModelLoadError(f"models:/{self.name}/{version} refused at load: {_first_line(exc)}") from None

    def _fail(self, message: str, version: str | None) -> None:
        self.last_error = message
        self.refused_version = version
        self.load_failures += 1
        serving = f"; still serving version {self._current.version}" if self._current else ""
        log.error("%s%s", message, serving)
        self._notify()

    def _notify(self) -> None:
        for listener in self.listeners:
            listener(self)

    def status(self) -> ModelStatus:
        current = self._current
        return ModelStatus(
            self.name,
            self.alias,
            current.version if current else None,
            current is not None,
            self.last_error,
            self.refused_version,
            self.loads,
            self.load_failures,
            self.warm_ups,
            None if self.warm_up_s is None or current is None else round(self.warm_up_s * 1e3, 1),
        )


class AliasWatcher:
    """Poll every model's alias from one daemon thread; a failing poll never stops the thread."""

    def __init__(self, models: list[ServedModel[Any]], interval_s: float) -> None:
        self.models = models
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="streamlab-alias-watcher", daemon=True)

    def start(self) -> AliasWatcher:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            for model in self.models:
                try:
                    model.poll()
                except Exception:  # noqa: BLE001 - keep watching; the error is in the model's status
                    log.exception("polling %s failed", model.name)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


class PinnedModels(Generic[T]):
    """Registered versions pinned by number (an experiment's arms), each loaded once and kept, at most ``capacity``.

    An A/B arm serves the version its alias resolved to when the experiment started, whatever the alias
    points at now, so these are loaded by version, not followed like :class:`ServedModel`. The cache is
    bounded (least recently used goes first) because each version holds a whole model in memory; a
    version that fails to load is remembered with its error (also bounded), so a broken arm costs one
    load attempt, not one per request. Loads happen under a lock: two requests for a new version load it once.
    """

    def __init__(self, capacity: int, adapt: Adapt[T] | None = None) -> None:
        self.capacity = capacity
        self.adapt: Adapt[T] = adapt or (lambda native: native)
        self._loaded: dict[tuple[str, str], LoadedModel[T]] = {}
        self._failed: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self.loads = 0

    def cached(self, name: str, version: str) -> bool:
        """Whether ``get`` answers without loading (a load is seconds of CPU: callers move it off the event loop)."""
        key = (name, version)
        return key in self._loaded or key in self._failed

    def get(self, name: str, version: str) -> LoadedModel[T]:
        """The loaded version; :data:`ModelLoadError` (with the first error's reason) when it cannot be loaded."""
        key = (name, version)
        with self._lock:
            if key in self._failed:
                raise ModelLoadError(self._failed[key])
            loaded = self._loaded.pop(key, None)
            if loaded is None:
                try:
                    _, native = registry.load_native(name, version)
                    model = self.adapt(native)
                    warm_up(model)
                    loaded = LoadedModel(name, version, model, time.time())
                except Exception as exc:  # any loader failure refuses the version, whatever its type
                    message = f"models:/{name}/{version} refused at load: {_first_line(exc)}"
                    self._failed[key] = message
                    while len(self._failed) > self.capacity:
                        self._failed.pop(next(iter(self._failed)))
                    raise ModelLoadError(message) from None
                self.loads += 1
            self._loaded[key] = loaded  # re-inserted last: the most recently used
            while len(self._loaded) > self.capacity:
                self._loaded.pop(next(iter(self._loaded)))
            return loaded

    def versions(self) -> list[str]:
        return [f"models:/{name}/{version}" for name, version in self._loaded]
