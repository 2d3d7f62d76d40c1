"""MLflow registration of a detector artifact directory as the pyfunc model ``qoe-detector``.

Serialization, chosen deliberately: the artifact is the directory :meth:`QoeModel.save` writes
(JSON + a torch ``state_dict`` or a skops file), logged as a *models-from-code* pyfunc
(``training/qoe/pyfunc.py``) so nothing is cloudpickled and loading runs no stored code.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from streamlab.models.qoe.errors import DetectorError
from streamlab.models.qoe.model import QoeModel
from streamlab.core import tracking

PIP_REQUIREMENTS = ["torch", "scikit-learn", "skops", "pandas", "numpy", "scipy", "pydantic"]


def log_and_register(artifact_dir: Path, registered_model: str, alias: str | None) -> tuple[str, str | None]:
    mlflow = tracking.configure()
    info = mlflow.pyfunc.log_model(
        name="qoe-detector",
        python_model=str(Path(__file__).with_name("pyfunc.py")),
        artifacts={"detector": str(artifact_dir)},
        pip_requirements=PIP_REQUIREMENTS,
        registered_model_name=registered_model,
    )
    version = getattr(info, "registered_model_version", None)
    if alias and version is not None:
        mlflow.MlflowClient().set_registered_model_alias(registered_model, alias, str(version))
    return f"models:/{registered_model}/{version}", None if version is None else str(version)


def load_model(reference: str | Path | None) -> QoeModel:
    """A directory, ``models:/qoe-detector@alias`` (or ``/version``), a detector name, or the committed default."""
    from streamlab.models.qoe.weights import default_dir

    if reference is None:
        return QoeModel.load(default_dir())
    text = str(reference)
    if text.startswith("models:/"):
        mlflow = tracking.configure()
        try:
            local = mlflow.artifacts.download_artifacts(artifact_uri=text, dst_path=tempfile.mkdtemp(prefix="qoe-"))
        except Exception as exc:  # noqa: BLE001 - MLflow raises several types for a missing model
            raise DetectorError(f"cannot fetch {text} from the registry ({exc}); train first: streamlab qoe train") from None
        found = sorted(Path(local).glob("artifacts/*/model.json"))  # MLflow keeps the source directory's name
        if not found:
            raise DetectorError(f"{text}: the registered model holds no QoE detector artifact")
        return QoeModel.load(found[0].parent)
    path = Path(text)
    if path.is_dir():
        return QoeModel.load(path)
    if (default_dir().parent / text).is_dir():
        return QoeModel.load(default_dir().parent / text)
    raise DetectorError(f"no detector at {text!r}; give a directory, models:/qoe-detector@champion, "
                        "or a committed detector name (rule, zscore, iforest, sequence)")
