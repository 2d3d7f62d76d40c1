"""The ``/ladder`` HTTP contract: what a client (ingest's ``--ladder service``) sends and gets back.

It belongs to the family, not to the server, so a client never imports the server to learn it.
Two ways to ask: ``features`` (the predictor's inputs already measured, e.g. by an ingest that
ran its own probe; the answer costs milliseconds) or ``path`` (a source the server probes itself,
under its allowed roots). Either way the answer is :func:`streamlab.models.ladder.decide.decide`'s.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from streamlab.models.ladder.decide import LadderDecision
from streamlab.models.ladder.features import LadderFeatures, TitleFeatures
from streamlab.models.ladder.schema import Codec, Ladder, LadderRung


class LadderRequest(BaseModel):
    path: str | None = Field(None, min_length=1, max_length=4096, description="source video under an allowed root")
    features: LadderFeatures | None = None
    codecs: list[Codec] = Field(default_factory=lambda: ["h264", "av1"], min_length=1)
    segment_duration_s: float | None = Field(
        None, gt=0.5, le=30, description="segment (closed GOP) length; default: the stack's"
    )

    @model_validator(mode="after")
    def _one_input(self) -> LadderRequest:
        if (self.path is None) == (self.features is None):
            raise ValueError("send exactly one of 'path' (a source video) or 'features' (the predictor's inputs)")
        if len(set(self.codecs)) != len(self.codecs):
            raise ValueError(f"codecs must not repeat; got {self.codecs}")
        return self


class LadderResponse(BaseModel):
    rungs: list[LadderRung] = Field(description="every requested codec's rungs, each codec highest bitrate first")
    codecs: list[Codec]
    segment_duration_s: float
    source: Literal["path", "features"]
    model_version: str
    features: LadderFeatures
    decision_cpu_s: float
    notes: list[str]

    @classmethod
    def of(
        cls, decision: LadderDecision, features: TitleFeatures, source: Literal["path", "features"], model_version: str
    ) -> LadderResponse:
        first = decision.ladders[0]
        return cls(
            rungs=decision.rungs,
            codecs=[ladder.codec for ladder in decision.ladders],
            segment_duration_s=first.segment_duration_s,
            source=source,
            model_version=model_version,
            features=LadderFeatures.of(features),
            decision_cpu_s=round(features.cpu_s, 2),
            notes=decision.notes,
        )

    def ladders(self, source: str, server: str) -> list[Ladder]:
        """The answer as one :class:`Ladder` per codec, in the response's order (what a client publishes)."""
        return [
            Ladder(
                source=source,
                method="predicted",
                codec=codec,
                segment_duration_s=self.segment_duration_s,
                rungs=[r for r in self.rungs if r.codec == codec],
                notes=[*self.notes, f"served by {server}, model version {self.model_version}"],
            )
            for codec in self.codecs
        ]
