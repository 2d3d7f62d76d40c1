"""The licence server's OpenAPI 3 document, built from the limits it enforces (served at ``/openapi.json``).

Starlette documents nothing by itself; written here once, next to the routes, with the sizes taken
from the same settings and constants the handlers check, the document cannot drift from the server.
Clients read it, and the property-based fuzz test (schemathesis) generates its requests from it.
"""

from __future__ import annotations

from typing import Any

from streamlab.streaming.drm.settings import DrmSettings

KID_B64URL = r"^[A-Za-z0-9_-]{22}$"
"""A 16-byte key id as unpadded base64url (W3C EME ClearKey, §9.1.3)."""


def _refusal(description: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["error", "detail"],
        "properties": {"error": {"type": "string", "description": "stable reason code"}, "detail": {"type": "string"}},
    }
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document(settings: DrmSettings, max_kids: int) -> dict[str, Any]:
    """The document for the routes of :func:`streamlab.streaming.drm.license_server.create_license_app`."""
    refusals = {
        "400": _refusal("malformed request (bad_request, bad_device_key, ...)"),
        "401": _refusal("no, expired or forged playback token"),
        "403": _refusal("not entitled, wrong title or device, replayed token, unknown key"),
        "413": _refusal(f"body over {settings.license_server.max_body_bytes} bytes"),
        "429": _refusal("rate limited"),
    }
    bearer: list[dict[str, list[str]]] = [{"playbackToken": []}]
    clearkey_request = {
        "type": "object",
        "required": ["kids"],
        "properties": {
            "kids": {"type": "array", "minItems": 1, "maxItems": max_kids,
                     "items": {"type": "string", "pattern": KID_B64URL}},
            "type": {"type": "string", "enum": ["temporary", "persistent-license"]},
        },
    }
    jwk_set = {
        "type": "object",
        "properties": {
            "keys": {"type": "array", "items": {"type": "object", "properties": {
                "kty": {"type": "string"}, "kid": {"type": "string"}, "k": {"type": "string"}}}},
            "type": {"type": "string"},
        },
    }
    offline_request = {
        "type": "object",
        "required": ["device_public_key"],
        "properties": {"device_public_key": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{43}$",
                                             "description": "the device's X25519 public key, base64url"}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "streamlab licence server", "version": "1"},
        "components": {"securitySchemes": {"playbackToken": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/drm/clearkey/license": {"post": {
                "operationId": "clearkey_licence",
                "summary": "W3C ClearKey licence: the JWK set for the requested key ids",
                "security": bearer,
                "requestBody": {"required": True, "content": {"application/json": {"schema": clearkey_request}}},
                "responses": {"200": {"description": "JWK set",
                                      "content": {"application/json": {"schema": jwk_set}}}, **refusals},
            }},
            "/drm/hls/{title_id}/{kid}.key": {"get": {
                "operationId": "hls_key",
                "summary": "the 16 raw key bytes an EXT-X-KEY URI names",
                "security": bearer,
                "parameters": [
                    {"name": "title_id", "in": "path", "required": True,
                     "schema": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]{0,63}$"}},
                    {"name": "kid", "in": "path", "required": True, "schema": {"type": "string", "pattern": r"^[0-9a-f]{32}$"}},
                    {"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
                     "description": "the playback token, for players that cannot set headers"},
                ],
                "responses": {"200": {"description": "key bytes", "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}}, "404": _refusal("not a key URI"), **refusals},
            }},
            "/drm/offline/license": {"post": {
                "operationId": "offline_licence",
                "summary": "a persistent licence for the token's title, wrapped to the device's X25519 key",
                "security": bearer,
                "requestBody": {"required": True, "content": {"application/json": {"schema": offline_request}}},
                "responses": {"200": {"description": "the wrapped licence",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}, **refusals},
            }},
            "/healthz": {"get": {"operationId": "health", "responses": {"200": {"description": "alive"}}}},
        },
    }
