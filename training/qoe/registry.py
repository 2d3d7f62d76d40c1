"""Find a QoE detector by reference: a folder, a registry URI, a committed detector name, or the default.

Registered versions load the one way every streamlab model loads (:func:`streamlab.core.registry.load_native`:
the family's pyfunc reads the ``detector`` artifact and keeps the :class:`QoeModel`), so the CLI and the
demo score with exactly what serving and ``mlflow.pyfunc.load_model`` get.
"""

from __future__ import annotations

from pathlib import Path

from streamlab.core import registry
from streamlab.models.qoe.detectors import DETECTORS
from streamlab.models.qoe.errors import DetectorError
from streamlab.models.qoe.family import FAMILY
from streamlab.models.qoe.model import QoeModel
from streamlab.models.qoe.weights import default_dir


def load_model(reference: str | Path | None) -> QoeModel:
    """A directory, ``models:/<name>@<alias>`` (or ``/<version>``), a committed detector name, or (``None``) the default."""
    if reference is None:
        return QoeModel.load(default_dir())
    text = str(reference)
    if text.startswith("models:/"):
        name, ref = registry.parse_uri(text)
        version, model = registry.load_native(name, ref)
        if not isinstance(model, QoeModel):
            raise DetectorError(f"{text} (version {version}) is not a QoE detector; use {FAMILY.uri()}")
        return model
    path = Path(text)
    if path.is_dir():
        return QoeModel.load(path)
    if (default_dir().parent / text).is_dir():
        return QoeModel.load(default_dir().parent / text)
    raise DetectorError(f"no detector at {text!r}; give a directory, {FAMILY.uri()}, "
                        f"or a committed detector name ({', '.join(DETECTORS)})")
