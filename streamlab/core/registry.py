"""One model lifecycle for the four families: register, promote, resolve, load.

Each family declares itself once as a :class:`ModelFamily` (registered name, experiment, pyfunc,
artifact layout, signature, promotion metric) in ``streamlab.models.<family>.family``; everything
that touches the MLflow registry (training, the CLI, serving, the demo) goes through the functions
here, so a model name is spelled once and every registered version is logged the same way.

Why a promotion *gate*: a training run that happens to be worse (a smaller demo budget, a bad
seed) must not silently replace the model viewers are served. A challenger becomes ``@champion``
only when its promotion metric beats the champion's; a refusal is logged with both numbers and
kept on the version as tags, so a reviewer reading MLflow sees why it was not promoted.

Why models-from-code with ``streamlab`` as a requirement: the registered pyfunc is a module of
this package (no cloudpickle), so a version loads with ``mlflow.pyfunc.load_model`` in any
environment that has the streamlab wheel, from any folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from streamlab.core import tracking
from streamlab.core.errors import StreamlabError
from streamlab.core.hashing import file_sha256

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

CHAMPION = "champion"
"""The alias serving, the demo and ``load`` use unless told otherwise."""

ORIGIN_TAG = "origin"
"""Version tag ``committed`` on a model registered from the package's committed files (not trained in this store)."""

DIGEST_TAG = "artifacts_sha256"
"""Version tag holding :func:`artifacts_digest` of what was registered, so "is this the committed model?" needs no
download."""


class RegistryError(StreamlabError):
    """A model, version, alias or artifact is missing from the registry, or cannot be loaded."""


@dataclass(frozen=True)
class ModelFamily:
    """Everything the registry needs to know about one model family, declared once in the family.

    ``pyfunc_module`` is a *models-from-code* module (it calls ``mlflow.models.set_model``) that
    lives in the family and imports only streamlab; ``artifacts`` names the keys a version carries
    (``{"checkpoint": "the .npz weights", ...}``) so loaders ask for a key, never for a path layout.
    ``example`` returns (input frame, output frame) for the signature. ``metric`` is the validation
    metric logged by training that decides promotion; ``higher_is_better`` its direction.
    """

    name: str
    experiment: str
    artifact_path: str
    pyfunc_module: str
    artifacts: Mapping[str, str]
    metric: str
    higher_is_better: bool
    example: Callable[[], tuple[pd.DataFrame, pd.DataFrame]]
    requirements: tuple[str, ...] = ()
    """Distributions whose installed versions are pinned in the model's requirements (streamlab is always added)."""
    description: str = ""

    def uri(self, alias: str = CHAMPION) -> str:
        return f"models:/{self.name}@{alias}"

    def better(self, challenger: float, champion: float) -> bool:
        """True when ``challenger`` strictly beats ``champion`` on this family's metric (NaN never does)."""
        if math.isnan(challenger):
            return False
        if math.isnan(champion):
            return True
        return challenger > champion if self.higher_is_better else challenger < champion


@dataclass(frozen=True)
class RegisteredVersion:
    family: str
    version: str
    metric: float | None
    run_id: str | None


@dataclass(frozen=True)
class Promotion:
    """What :func:`promote` decided, with both numbers so a report can say why."""

    family: str
    alias: str
    challenger_version: str
    challenger_metric: float | None
    champion_version: str | None
    champion_metric: float | None
    promoted: bool
    reason: str = field(default="")


def pinned_requirements(family: ModelFamily) -> list[str]:
    """``streamlab==<this version>`` plus each declared distribution at its installed version."""
    pins = [f"streamlab=={_public(metadata.version('streamlab'))}"]
    for dist in family.requirements:
        try:
            pins.append(f"{dist}=={_public(metadata.version(dist))}")
        except metadata.PackageNotFoundError:
            pins.append(dist)
    return pins


def _public(version: str) -> str:
    """``2.13.0+cpu`` → ``2.13.0``: a local version tag names a build no package index serves."""
    return version.split("+", 1)[0]


def _pyfunc_file(family: ModelFamily) -> str:
    spec = importlib.util.find_spec(family.pyfunc_module)
    if spec is None or spec.origin is None:
        raise RegistryError(f"{family.name}: pyfunc module {family.pyfunc_module} is not importable")
    return spec.origin


def log_model(
    family: ModelFamily,
    artifacts: Mapping[str, Path | str],
    metric: float | None = None,
    *,
    register: bool = True,
) -> RegisteredVersion:
    """Log ``artifacts`` as the family's pyfunc in the active run and register a new version.

    ``metric`` (the family's promotion metric) is logged on the run and tagged on the version, so
    :func:`promote` compares like with like. Call inside :func:`tracking.start_run`.
    """
    unknown = sorted(set(artifacts) - set(family.artifacts))
    missing = sorted(set(family.artifacts) - set(artifacts))
    if unknown or missing:
        raise RegistryError(f"{family.name}: artifacts {sorted(artifacts)} do not match the family's layout "
                            f"{sorted(family.artifacts)} (missing {missing}, unknown {unknown})")
    mlflow = tracking.configure()
    import warnings

    from mlflow.models import infer_signature

    active = mlflow.active_run()
    if active is None:
        raise RegistryError(f"{family.name}: log_model needs an active run (tracking.start_run)")
    if metric is not None:
        mlflow.log_metric(family.metric, float(metric))
    model_input, model_output = family.example()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(model_input, model_output)
        info = mlflow.pyfunc.log_model(
            name=family.artifact_path,
            python_model=_pyfunc_file(family),
            artifacts={key: str(path) for key, path in artifacts.items()},
            signature=signature,
            pip_requirements=pinned_requirements(family),
            registered_model_name=family.name if register else None,
        )
    version = getattr(info, "registered_model_version", None)
    if register and version is not None:
        client = mlflow.MlflowClient()
        client.set_model_version_tag(family.name, str(version), DIGEST_TAG, artifacts_digest(artifacts))
        if metric is not None:
            client.set_model_version_tag(family.name, str(version), family.metric, repr(float(metric)))
        if family.description:
            client.update_registered_model(family.name, description=family.description)
    return RegisteredVersion(family.name, str(version) if version is not None else "", metric, active.info.run_id)


def artifacts_digest(artifacts: Mapping[str, Path | str]) -> str:
    """SHA-256 over every artifact's key and bytes (a folder: each file's relative path and bytes, sorted).

    File and folder names at the top are left out: MLflow stores an artifact under its base name, so a registered
    copy and the files it came from hash the same wherever they lie.
    """
    digest = hashlib.sha256()
    for key in sorted(artifacts):
        root = Path(artifacts[key])
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        digest.update(f"{key}\0{len(files)}\0".encode())
        for path in files:
            digest.update(f"{path.relative_to(root).as_posix() if root.is_dir() else ''}\0".encode())
            digest.update(bytes.fromhex(file_sha256(path)))
    return digest.hexdigest()


def version_digest(family: ModelFamily, version: str) -> str | None:
    """:func:`artifacts_digest` of a registered version: its tag, else (versions logged before the tag) computed
    from its downloaded artifacts; None when neither can be had."""
    mlflow = tracking.configure()
    client = mlflow.MlflowClient()
    try:
        tagged = (client.get_model_version(family.name, str(version)).tags or {}).get(DIGEST_TAG)
    except Exception:  # noqa: BLE001 - mlflow raises several types for a missing version
        return None
    if tagged:
        return str(tagged)
    with tempfile.TemporaryDirectory(prefix="streamlab-digest-") as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(f"models:/{family.name}/{version}", dst_path=tmp))
            flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["python_function"]
            stored = {key: local / entry["path"] for key, entry in flavor["artifacts"].items()}
            return artifacts_digest(stored)
        except Exception:  # noqa: BLE001 - an unreadable version has no digest; the caller says "unknown"
            return None


def tag_version(family: ModelFamily, version: str, key: str, value: str) -> None:
    """Set one tag on a registered version (e.g. :data:`ORIGIN_TAG`)."""
    tracking.configure().MlflowClient().set_model_version_tag(family.name, str(version), key, value)


def version_origin(family: ModelFamily, version: str) -> str | None:
    """Where a version came from: its :data:`ORIGIN_TAG`; for versions registered before the tag, ``committed``
    when its run is a registration run (``register-<name>``, :mod:`streamlab.serving.registration`), else None."""
    client = tracking.configure().MlflowClient()
    try:
        mv = client.get_model_version(family.name, str(version))
        origin = (mv.tags or {}).get(ORIGIN_TAG)
        if origin:
            return str(origin)
        run_name = client.get_run(mv.run_id).info.run_name if mv.run_id else None
    except Exception:  # noqa: BLE001 - a missing version or deleted run: origin unknown
        return None
    return "committed" if run_name == f"register-{family.name}" else None


def version_metric(family: ModelFamily, version: str) -> float | None:
    """The promotion metric of ``version``: its tag, else the metric logged on its run."""
    client = tracking.configure().MlflowClient()
    try:
        mv = client.get_model_version(family.name, str(version))
    except Exception as exc:  # noqa: BLE001 - mlflow raises several types for a missing version
        raise RegistryError(f"models:/{family.name}/{version} is not registered: {_first_line(exc)}") from None
    tagged = (mv.tags or {}).get(family.metric)
    if tagged is not None:
        try:
            return float(tagged)
        except ValueError:
            pass
    if mv.run_id:
        try:
            value = client.get_run(mv.run_id).data.metrics.get(family.metric)
        except Exception:  # noqa: BLE001 - a deleted run: no metric
            value = None
        return None if value is None else float(value)
    return None


@dataclass(frozen=True)
class VersionRow:
    version: str
    metric: float | None
    aliases: tuple[str, ...]
    promotion: str


def list_versions(family: ModelFamily) -> list[VersionRow]:
    """Every registered version of ``family``, newest first, with its metric, aliases and promotion note."""
    client = tracking.configure().MlflowClient()
    try:
        found = client.search_model_versions(f"name='{family.name}'")
    except Exception:  # noqa: BLE001 - no such model yet
        return []
    try:  # a search does not fill in aliases; the registered model holds them
        aliases = dict(client.get_registered_model(family.name).aliases or {})
    except Exception:  # noqa: BLE001
        aliases = {}
    rows = []
    for mv in sorted(found, key=lambda v: int(v.version), reverse=True):
        held = tuple(sorted(alias for alias, version in aliases.items() if str(version) == str(mv.version)))
        rows.append(VersionRow(str(mv.version), version_metric(family, str(mv.version)), held,
                               (mv.tags or {}).get("promotion", "")))
    return rows


def promote(family: ModelFamily, version: str, alias: str = CHAMPION, *, force: bool = False) -> Promotion:
    """Point ``alias`` at ``version`` if it beats the version ``alias`` points at now.

    No current holder: promoted. A challenger without a metric never replaces a champion that has
    one (unless ``force``). The decision is logged and tagged on the challenger either way.
    """
    client = tracking.configure().MlflowClient()
    challenger = version_metric(family, version)
    try:
        current = client.get_model_version_by_alias(family.name, alias)
        champion_version: str | None = str(current.version)
    except Exception:  # noqa: BLE001 - no alias yet
        champion_version = None
    champion = version_metric(family, champion_version) if champion_version else None
    better = "higher" if family.higher_is_better else "lower"
    if champion_version is None:
        promoted, reason = True, f"{family.name} v{version} is the first @{alias}"
    elif champion_version == str(version):
        promoted, reason = True, f"{family.name} v{version} already is @{alias}"
    elif force:
        promoted, reason = True, f"{family.name} v{version} forced to @{alias} over v{champion_version}"
    elif challenger is None:
        promoted = champion is None
        reason = (f"{family.name} v{version} has no {family.metric}; "
                  + ("promoted: the champion has none either" if promoted else
                     f"@{alias} stays v{champion_version} ({family.metric} {champion:.4g})"))
    elif champion is None or family.better(challenger, champion):
        promoted = True
        reason = (f"{family.name} v{version} promoted to @{alias}: {family.metric} {challenger:.4g} "
                  f"vs v{champion_version} {'(none)' if champion is None else f'{champion:.4g}'} ({better} is better)")
    else:
        promoted = False
        reason = (f"{family.name} v{version} not promoted: {family.metric} {challenger:.4g} does not beat "
                  f"@{alias} v{champion_version} {champion:.4g} ({better} is better)")
    if promoted:
        client.set_registered_model_alias(family.name, alias, str(version))
    client.set_model_version_tag(family.name, str(version), "promotion", reason)
    log.info("%s", reason)
    return Promotion(family.name, alias, str(version), challenger, champion_version, champion, promoted, reason)


def set_alias(family: ModelFamily, alias: str, version: str) -> None:
    """Point ``alias`` at ``version`` without the gate (tests, rollbacks an operator asked for)."""
    tracking.configure().MlflowClient().set_registered_model_alias(family.name, alias, str(version))


def resolve(name: str, alias: str = CHAMPION) -> str:
    """The version ``alias`` points at now; a clear error when the model or alias is missing."""
    mlflow = tracking.configure()
    try:
        return str(mlflow.MlflowClient().get_model_version_by_alias(name, alias).version)
    except Exception as exc:  # noqa: BLE001 - mlflow raises RestException / MlflowException subtypes
        raise RegistryError(
            f"models:/{name}@{alias} cannot be resolved in the registry at {tracking.tracking_uri()}: "
            f"{_first_line(exc)} (train and register one, or `streamlab serve register-defaults`)"
        ) from None


def parse_uri(uri: str) -> tuple[str, str]:
    """``models:/name@alias`` or ``models:/name/version`` → (name, alias or version)."""
    if not uri.startswith("models:/"):
        raise RegistryError(f"{uri!r} is not a registry URI (models:/<name>@<alias> or models:/<name>/<version>)")
    rest = uri.removeprefix("models:/")
    if "@" in rest:
        name, _, ref = rest.partition("@")
    else:
        name, _, ref = rest.partition("/")
    if not name or not ref:
        raise RegistryError(f"{uri!r} names no model or no alias/version")
    return name, ref


def load_pyfunc(family: ModelFamily, alias: str = CHAMPION) -> Any:
    """``mlflow.pyfunc.load_model`` on ``models:/<name>@<alias>``, with one clear error when it fails."""
    mlflow = tracking.configure()
    try:
        return mlflow.pyfunc.load_model(family.uri(alias))
    except Exception as exc:  # noqa: BLE001
        raise RegistryError(f"{family.uri(alias)} cannot be loaded: {_first_line(exc)}") from None


def load_native(name: str, ref: str = CHAMPION) -> tuple[str, Any]:
    """Load ``models:/name@ref`` (or version ``ref``) and return (version, the family's domain object).

    The one way streamlab loads a registered model: the family's pyfunc ``load_context`` reads its
    artifacts by key and keeps the object that decides in ``self.model``; serving, the CLI and the
    demo take that object, so they load exactly what ``mlflow.pyfunc.load_model`` loads.
    """
    version = ref if ref.isdigit() else resolve(name, ref)
    mlflow = tracking.configure()
    uri = f"models:/{name}/{version}"
    try:
        python_model = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    except RegistryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any load failure refuses the version, whatever its type
        raise RegistryError(f"{uri} cannot be loaded: {_first_line(exc)}") from None
    model = getattr(python_model, "model", None)
    if model is None:
        raise RegistryError(f"{uri}: its pyfunc keeps no `model` after load_context")
    return version, model


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
