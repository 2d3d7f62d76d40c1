"""The wire contract of a ranking request: viewer, context and k in; ranked titles with scores out.

It belongs to the family, not to the server: the model server's ``/recommend``, the catalog page
that calls it, the CLI and the registered pyfunc all speak these types, and a client never
imports the server to learn them. Pydantic only (no numpy), so a client pays nothing to import it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from streamlab.core.errors import UsageError

Device = Literal["tv", "mobile", "web"]
Source = Literal["model", "popular", "fallback"]


class InvalidRecommendRequestError(UsageError):
    """A request built from command-line values breaks the contract (k out of range, unknown device)."""


class RecommendContext(BaseModel):
    timestamp_s: float | None = Field(None, ge=0, le=4e9, description="request time, epoch seconds (UTC)")
    device: Device | None = None


class RecommendRequest(BaseModel):
    viewer: str = Field(min_length=1, max_length=128)
    context: RecommendContext = RecommendContext()
    k: int = Field(10, ge=1, le=100)

    @classmethod
    def of(cls, viewer: str, k: int = 10, timestamp_s: float | None = None, device: str | None = None) -> RecommendRequest:
        """A validated request from plain values; a bad value is a usage error naming what is valid."""
        try:
            return cls.model_validate({"viewer": viewer, "k": k, "context": {"timestamp_s": timestamp_s, "device": device}})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise InvalidRecommendRequestError(f"invalid recommend request: {problems}") from None


class RecommendedTitle(BaseModel):
    title: str
    score: float
    reason: str


class RecommendResponse(BaseModel):
    viewer: str
    titles: list[RecommendedTitle]
    source: Source
    """``model``: ranked for this viewer; ``popular``: the model's own list for a viewer it does not
    know; ``fallback``: a client's local list because the model did not answer."""
    model_version: str | None = None
