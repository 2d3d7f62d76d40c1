"""User-facing errors of the QoE area (the CLI prints them as one line and exits 2)."""

from streamlab.core.errors import StreamlabError


class TelemetryError(StreamlabError):
    """An events file cannot be read at all (missing, wrong format); bad *lines* are rejects instead."""


class IncidentSpecError(StreamlabError):
    """An ``--incidents`` SPEC is malformed or names an unknown kind, dimension or value."""


class DetectorError(StreamlabError):
    """A detector name, artifact or model URI is unknown or unusable."""
