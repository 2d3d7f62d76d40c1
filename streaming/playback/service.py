"""``POST /v1/playback``: a signed viewer token + a title or channel -> manifest URLs, DRM and ABR config.

Request (JSON)::

    {"title": "bbb" | "channel": "news", "device_class": "tv"?, "experiment": "abr-test"?, "arm": "challenger"?}

with the playback token (:mod:`streamlab.streaming.drm.tokens`) as ``Authorization: Bearer …``
(or ``"token"`` in the body). Answer::

    {"viewer_id", "title"|"channel", "device_class", "region",
     "manifests": {"hls": URL, "dash": URL},
     "drm": null | {"key_system": "org.w3.clearkey", "license_url", "headers": {"Authorization": …}},
     "abr": {"experiment", "arm", "policy" | "model" + "version", "decide_url"}}

Decisions and refusals (each one JSON ``{"error", "reason"}``, never a 500):

* The token is verified here (signature, expiry): missing or forged -> 401. It names one title
  and one device class: asking for another title -> 403 ``title_not_in_token``; a device class
  other than the token's -> 403 ``device_mismatch`` (a TV token cannot fetch a phone's manifest
  and vice versa), unless the token was issued for ``any``.
* The device class is the request's ``device_class`` when given (an unknown name -> 400), else
  the edge hook's classifier run on this request's User-Agent and client hints, else
  ``playback.unknown_device``. The manifests are then capped for that class by the origin.
* The arm is always the hash of the *token's* viewer id (:mod:`streamlab.streaming.experiment`),
  never a client's say-so: an unknown experiment -> 404, an arm the experiment lacks -> 400, an arm
  that is not this viewer's -> 403 ``arm_mismatch``. Nothing is ever routed to a wrong arm.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from pydantic import BaseModel, Field, ValidationError, model_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamlab.core.errors import StreamlabError
from streamlab.streaming.catalog import TITLE_ID_PATTERN, read_title
from streamlab.streaming.drm.tokens import LicenseRefused, PlaybackClaims, TokenSigner
from streamlab.streaming.edge.hook import DeviceClassifier, RegionMapper
from streamlab.streaming.edge.settings import DEVICE_CLASSES, EdgeSettings
from streamlab.streaming.experiment.definition import Experiment, load
from streamlab.streaming.experiment.edge import running
from streamlab.streaming.experiment.errors import ExperimentError
from streamlab.streaming.live.settings import CHANNEL_PATTERN

MAX_BODY_BYTES = 4096
ANY_DEVICE = "any"
PROTECTED = ("clearkey", "all")
"""Title DRM modes a browser player opens with EME ClearKey (``aes128`` keys come through the playlist)."""


class PlaybackRefused(Exception):
    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


class PlaybackRequest(BaseModel):
    title: str | None = None
    channel: str | None = None
    device_class: str | None = None
    experiment: str | None = Field(None, max_length=64)
    arm: str | None = Field(None, max_length=32)
    token: str | None = Field(None, max_length=2048)

    @model_validator(mode="after")
    def _one_asset(self) -> PlaybackRequest:
        if (self.title is None) == (self.channel is None):
            raise ValueError("give exactly one of title or channel")
        return self


@dataclass(frozen=True)
class PlaybackContext:
    """Where the service finds what it answers about; ``live_state_dir`` holds ``<channel>/state.json``."""

    media_root: Path
    live_state_dir: Path
    license_url: str


class PlaybackService:
    def __init__(self, settings: EdgeSettings, signer: TokenSigner, context: PlaybackContext) -> None:
        self.settings = settings
        self.signer = signer
        self.context = context
        self.devices = DeviceClassifier(settings.hook)
        self.regions = RegionMapper(settings.hook)

    # ---- the decisions, one each ----------------------------------------------------------------
    def claims(self, token: str | None) -> PlaybackClaims:
        try:
            return self.signer.verify(token)
        except LicenseRefused as exc:
            raise PlaybackRefused(exc.status, exc.reason, exc.detail) from None

    def device_class(self, asked: str | None, claims: PlaybackClaims, headers: dict[str, str]) -> str:
        if asked is not None and asked not in DEVICE_CLASSES:
            raise PlaybackRefused(400, "unknown_device", f"device class {asked!r} is not one of {', '.join(DEVICE_CLASSES)}")
        device = asked or self.devices.classify(headers)
        if device == "unknown":
            device = self.settings.playback.unknown_device
        if claims.device_class not in (ANY_DEVICE, device):
            raise PlaybackRefused(403, "device_mismatch",
                                  f"the token is for device class {claims.device_class!r}, this request is {device!r}")
        return device

    def asset(self, request: PlaybackRequest, claims: PlaybackClaims) -> tuple[str, str, str | None]:
        """``(kind, id, drm mode)`` of the title or channel, after checking it exists and is the token's."""
        kind, asset_id = ("title", request.title) if request.title is not None else ("channel", request.channel)
        assert asset_id is not None
        pattern = TITLE_ID_PATTERN if kind == "title" else CHANNEL_PATTERN
        if not pattern.fullmatch(asset_id):
            raise PlaybackRefused(400, f"bad_{kind}", f"{kind} {asset_id!r} is not a valid {kind} id")
        if claims.title_id != asset_id:
            raise PlaybackRefused(403, "title_not_in_token", f"the token is for {claims.title_id!r}, not {asset_id!r}")
        if kind == "channel":
            if not (self.context.live_state_dir / asset_id / "state.json").is_file():
                raise PlaybackRefused(404, "unknown_channel", f"live channel {asset_id!r} was never started here")
            return kind, asset_id, None
        try:
            record = read_title(self.context.media_root, asset_id)
        except (StreamlabError, ValueError, OSError):
            raise PlaybackRefused(404, "unknown_title", f"title {asset_id!r} is not published") from None
        return kind, asset_id, record.drm

    def experiment(self, name: str | None) -> Experiment | None:
        name = name or self.settings.playback.experiment
        try:
            if name is not None:
                return load(name)
            started = running()
        except ExperimentError as exc:
            raise PlaybackRefused(404, "unknown_experiment", str(exc)) from None
        return started[0] if len(started) == 1 else None

    def abr(self, experiment: Experiment | None, viewer_id: str, asked_arm: str | None) -> dict[str, object]:
        if experiment is None:
            if asked_arm is not None:
                raise PlaybackRefused(400, "unknown_arm", f"arm {asked_arm!r} asked for, but no experiment is running")
            return {"experiment": None, "arm": None}
        if asked_arm is not None and asked_arm not in experiment.arm_names():
            raise PlaybackRefused(400, "unknown_arm", f"experiment {experiment.name!r} has no arm {asked_arm!r}; "
                                                      f"its arms: {', '.join(experiment.arm_names())}")
        arm = experiment.assign(viewer_id)
        if asked_arm is not None and asked_arm != arm.name:
            raise PlaybackRefused(403, "arm_mismatch", f"viewer {viewer_id!r} is in arm {arm.name!r} of {experiment.name!r}, "
                                                       f"not {asked_arm!r} (assignment is by hash, not by request)")
        target = arm.target
        served: dict[str, object] = {"policy": target.policy} if target.policy else {"model": target.model, "version": arm.version}
        return {"experiment": experiment.name, "arm": arm.name, **served, "decide_url": self.settings.playback.abr_decide_url}

    def answer(self, request: PlaybackRequest, token: str | None, headers: dict[str, str], base_url: str) -> dict[str, object]:
        claims = self.claims(token)
        kind, asset_id, drm_mode = self.asset(request, claims)
        device = self.device_class(request.device_class, claims, headers)
        abr = self.abr(self.experiment(request.experiment), claims.viewer_id, request.arm)
        base = (self.settings.playback.manifest_base_url or base_url).rstrip("/")
        root = f"{base}/media/{quote(asset_id)}" if kind == "title" else f"{base}/live/{quote(asset_id)}"
        drm = None
        if drm_mode in PROTECTED:
            drm = {"key_system": "org.w3.clearkey", "license_url": self.context.license_url.rstrip("/") + "/drm/clearkey/license",
                   "headers": {"Authorization": f"Bearer {token or request.token}"}}
        return {"viewer_id": claims.viewer_id, kind: asset_id, "device_class": device, "region": self.regions.region(headers),
                "manifests": {"hls": f"{root}/master.m3u8", "dash": f"{root}/manifest.mpd"}, "drm": drm, "abr": abr}

    # ---- HTTP -------------------------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        try:
            length = request.headers.get("content-length")
            if length is None or not length.isdigit():
                raise PlaybackRefused(411, "length_required", "send the JSON body with a Content-Length")
            if int(length) > MAX_BODY_BYTES:
                raise PlaybackRefused(413, "too_large", f"a playback request is at most {MAX_BODY_BYTES} bytes")
            try:
                body = PlaybackRequest.model_validate_json(await request.body())
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "body"
                raise PlaybackRefused(400, "bad_request", f"{where}: {first['msg']}") from None
            auth = request.headers.get("authorization", "")
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else body.token
            headers = {k.lower(): v for k, v in request.headers.items()}
            answer = self.answer(body, token, headers, str(request.base_url))
        except PlaybackRefused as exc:
            return JSONResponse({"error": exc.detail, "reason": exc.reason}, exc.status, headers={"Cache-Control": "no-store"})
        return Response(json.dumps(answer, separators=(",", ":")), media_type="application/json",
                        headers={"Cache-Control": "private, no-store"})


def create_playback_app(service: PlaybackService) -> Starlette:
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})

    return Starlette(routes=[Route("/v1/playback", service.handle, methods=["POST"]), Route("/healthz", health)])
