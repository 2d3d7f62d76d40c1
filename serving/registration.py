"""Put known-good models in the registry: the committed ones, and a small recommender fitted in seconds.

What ``streamlab serve register-defaults``, the demo, the tests and the serving benchmark use so a
fresh store can serve at once. Every version is logged through the one lifecycle
(:func:`streamlab.core.registry.log_model`, in the family's own experiment), exactly as training
logs its models; only the alias handling differs: ``register`` points the alias at the new
version without the gate (a test or an operator asked for that version), ``register_defaults``
touches only aliases that are unset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamlab.core import registry, tracking
from streamlab.models.abr import family as abr_family
from streamlab.models.families import FAMILIES, MODULES, family, has_committed_model

COMMITTED = tuple(key for key in MODULES if has_committed_model(key))
"""Families with a committed model in the package (abr, ladder, qoe); recsys is fitted instead."""


def register(key: str, artifacts: dict[str, Path] | None = None, alias: str | None = "champion",
             metric: float | None = None) -> str:
    """Register ``artifacts`` (default: the family's committed model) as a new version of family ``key``.

    The committed model's metric comes from its card, so a later training run is gated against it.
    ``alias`` is pointed at the new version without the gate (``None``: left alone). Returns the version.
    """
    module = MODULES[key]
    spec = family(key)
    committed = artifacts is None
    if artifacts is None:
        artifacts = module.committed_artifacts()
        metric = module.committed_metric() if metric is None else metric
    with tracking.start_run(spec.experiment, run_name=f"register-{spec.name}"):
        version = registry.log_model(spec, artifacts, metric).version
    registry.tag_version(spec, version, registry.ORIGIN_TAG, "committed" if committed else "file")
    if alias:
        registry.set_alias(spec, alias, version)
    return version


def register_abr_checkpoint(checkpoint: Path, alias: str | None = "champion") -> str:
    """Register an ABR checkpoint (``.npz`` + ``.json``, the committed chunk-size table) as ``abr-policy``."""
    artifacts = abr_family.checkpoint_artifacts(checkpoint, abr_family.COMMITTED_VIDEO_SIZES)
    return register("abr", artifacts, alias, abr_family.checkpoint_metric(Path(checkpoint).with_suffix(".json")))


def register_small_recommender(workdir: Path | None = None, alias: str = "champion") -> str:
    """Fit the small real recommender on MovieLens-100k (seconds) and register it, gated; returns the version."""
    from streamlab.training.recsys.train import train_small

    return train_small(workdir, alias).version


@dataclass(frozen=True)
class DefaultRegistration:
    key: str
    """The family (abr, ladder, qoe, recsys)."""
    name: str
    version: str
    registered: bool
    """False: the alias already pointed at a version, which was left alone."""
    stale: bool = False
    """The version left alone is a committed default registered from another checkout: its files differ from this
    checkout's committed model, which therefore does not serve."""

    def note(self, alias: str) -> str | None:
        """What a user must hear when the alias serves an older committed default than this checkout's, else None."""
        if not self.stale:
            return None
        return (f"note: {self.name}@{alias} (v{self.version}) is an older committed model than this checkout's, and it "
                f"stays what serves (a champion moves only through the gate); to serve this checkout's: `streamlab serve "
                f"register-defaults --models {self.key} --alias committed`, then `streamlab {self.key} promote <that "
                f"version> --alias {alias} --force`")


def is_stale_default(key: str, version: str) -> bool:
    """Whether version ``version`` of family ``key`` was registered from committed files that differ from this
    checkout's (a trained champion is never stale: it won its place through the gate)."""
    if key not in COMMITTED:
        return False
    spec = family(key)
    if registry.version_origin(spec, version) != "committed":
        return False
    held = registry.version_digest(spec, version)
    return held is not None and held != registry.artifacts_digest(MODULES[key].committed_artifacts())


def register_defaults(keys: list[str] | None = None, alias: str = "champion",
                      workdir: Path | None = None) -> list[DefaultRegistration]:
    """For each family whose ``alias`` is unset, register its committed model (recsys: the small fit).

    A set alias is left alone (a champion is replaced only through the gate), but the entry says whether it holds the
    committed model: after a pull that changed a committed model, an existing store would otherwise go on serving the
    old one without a word.
    """
    done = []
    for key in keys or list(FAMILIES):
        spec = family(key)
        try:
            version = registry.resolve(spec.name, alias)
        except registry.RegistryError:
            pass
        else:
            done.append(DefaultRegistration(key, spec.name, version, False, is_stale_default(key, version)))
            continue
        version = register(key, alias=alias) if key in COMMITTED else register_small_recommender(workdir, alias)
        done.append(DefaultRegistration(key, spec.name, version, True))
    return done


def register_all(alias: str = "champion") -> list[DefaultRegistration]:
    """All four families at ``alias`` (where unset): what a fresh store needs to serve everything."""
    return register_defaults(list(FAMILIES), alias)
