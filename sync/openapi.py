"""OpenAPI 3.1 description of the sync API (served at /sync/openapi.json, checked by tests)."""
from .schemas import KINDS, MAX_BATCH

_UUID = {"type": "string", "format": "uuid"}
_ERROR = {"type": "object", "required": ["code", "message"],
          "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}}}

_EVIDENCE_ID = {"name": "evidence_id", "in": "path", "required": True, "schema": _UUID}


def _json(description: str, schema: dict = _ERROR) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# The device's evidence upload calls (PROTOCOL.md "Evidence"): JSON in and out, session cookie and X-CSRFToken.
EVIDENCE_PATHS = {
    "/evidence/{evidence_id}/upload-target": {"post": {
        "operationId": "evidenceUploadTarget", "parameters": [_EVIDENCE_ID],
        "responses": {
            "200": _json("Where to PUT the bytes now", {"$ref": "#/components/schemas/UploadTarget"}),
            "400": _json("CSRF token missing or invalid"), "401": _json("Not signed in"),
            "403": _json("Role or audit not the user's (evidence.forbidden)"),
            "404": _json("Not registered yet: push first (evidence.not_found)"),
            "409": _json("evidence.already_verified, evidence.withdrawn, evidence.rejected, audit.finalised"),
            "503": _json("evidence.store_unavailable")}}},
    "/evidence/{evidence_id}/content": {"put": {
        "operationId": "evidenceContent", "description": "Local store only: the URL an upload target names.",
        "parameters": [_EVIDENCE_ID, {"name": "token", "in": "query", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                      for t in ("image/jpeg", "image/png", "application/pdf")}},
        "responses": {
            "200": _json("Stored; confirm next", {"type": "object", "required": ["received_bytes"],
                                                 "properties": {"received_bytes": {"type": "integer"}}}),
            "400": _json("CSRF token missing or invalid"), "401": _json("Not signed in"),
            "403": _json("evidence.bad_token, evidence.forbidden"),
            "404": _json("evidence.not_found; evidence.local_only in S3 mode"),
            "409": _json("evidence.target_expired, evidence.already_verified, evidence.withdrawn, evidence.rejected"),
            "413": _json("evidence.too_large: more bytes than registered")}}},
    "/evidence/{evidence_id}/confirm": {"post": {
        "operationId": "evidenceConfirm", "parameters": [_EVIDENCE_ID],
        "responses": {
            "200": _json("Settled: verified, or rejected for good", {"$ref": "#/components/schemas/Confirmation"}),
            "400": _json("CSRF token missing or invalid"), "401": _json("Not signed in"),
            "403": _json("evidence.forbidden"), "404": _json("evidence.not_found"),
            "409": _json("Upload again: evidence.not_uploaded, evidence.checksum_mismatch, evidence.size_mismatch, "
                         "evidence.target_expired; or evidence.withdrawn"),
            "503": _json("evidence.store_unavailable: retry with the sync backoff")}}},
}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "auditapp sync API", "version": "1",
             "description": "Offline capture sync: push device mutations, pull server changes. See sync/PROTOCOL.md. "
                            "Requests use the session cookie; POSTs need the X-CSRFToken header (from /sync/config)."},
    "paths": {
        "/sync/push": {"post": {
            "operationId": "push",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Push"}}}},
            "responses": {
                "200": {"description": "One result per mutation, in order",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PushResults"}}}},
                "400": {"description": "CSRF token missing or invalid", "content": {"application/json": {"schema": _ERROR}}},
                "401": {"description": "Not signed in"},
                "403": {"description": "Role may not sync", "content": {"application/json": {"schema": _ERROR}}},
                "413": {"description": f"More than {MAX_BATCH} mutations", "content": {"application/json": {"schema": _ERROR}}},
                "422": {"description": "Body is not a push (sync.malformed)", "content": {"application/json": {"schema": _ERROR}}},
            }}},
        "/sync/pull": {"get": {
            "operationId": "pull",
            "parameters": [
                {"name": "cursor", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                              "maximum": 2**63 - 1}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
            "responses": {
                "200": {"description": "Changes after the cursor",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pull"}}}},
                "422": {"description": "Bad cursor or limit", "content": {"application/json": {"schema": _ERROR}}}}}},
        "/sync/config": {"get": {
            "operationId": "config",
            "responses": {"200": {"description": "Limits and a CSRF token for pushes",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Config"}}}}}}},
        **EVIDENCE_PATHS,
    },
    "components": {"schemas": {
        "Push": {"type": "object", "required": ["device_id", "mutations"], "additionalProperties": False,
                 "properties": {"device_id": _UUID,
                                "mutations": {"type": "array", "maxItems": MAX_BATCH,
                                              "items": {"$ref": "#/components/schemas/Mutation"}}}},
        "Mutation": {"type": "object", "required": ["mutation_id", "kind", "entity_id", "payload"],
                     "properties": {"mutation_id": _UUID, "kind": {"type": "string", "enum": list(KINDS)},
                                    "entity_id": _UUID, "base_version": {"type": "integer", "minimum": 0},
                                    "payload": {"type": "object"}}},
        "PushResults": {"type": "object", "required": ["results", "server_time"],
                        "properties": {"server_time": {"type": "string"},
                                       "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}}}},
        "Result": {"type": "object", "required": ["status"],
                   "properties": {"mutation_id": {"type": ["string", "null"]},
                                  "status": {"type": "string",
                                             "enum": ["applied", "duplicate", "conflict", "held", "rejected"]},
                                  "entity_id": {"type": "string"}, "version": {"type": "integer"},
                                  "conflicts": {"type": "array", "items": {"type": "string"}},
                                  "code": {"type": "string"}, "message": {"type": "string"},
                                  "details": {"type": "object"}, "original": {"type": "object"}}},
        "Pull": {"type": "object", "required": ["changes", "next_cursor", "more"],
                 "properties": {"next_cursor": {"type": "integer"}, "more": {"type": "boolean"},
                                "changes": {"type": "array", "items": {"type": "object",
                                            "required": ["cursor", "entity", "entity_id", "version", "op"],
                                            "properties": {"cursor": {"type": "integer"}, "entity": {"type": "string"},
                                                           "entity_id": {"type": "string"},
                                                           "version": {"type": "integer"},
                                                           "op": {"type": "string", "enum": ["upsert", "delete"]},
                                                           "data": {"type": ["object", "null"]}}}}}},
        "UploadTarget": {"type": "object", "required": ["method", "url", "headers", "expires_at"],
                         "properties": {"method": {"type": "string", "enum": ["PUT"]}, "url": {"type": "string"},
                                        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                                        "expires_at": {"type": "string", "format": "date-time"}}},
        "Confirmation": {"type": "object", "required": ["status"],
                         "properties": {"status": {"type": "string", "enum": ["verified", "rejected"]},
                                        "code": {"type": "string"}, "message": {"type": "string"}}},
        "Config": {"type": "object", "required": ["max_batch", "max_pull", "protocol", "csrf_token"],
                   "properties": {"max_batch": {"type": "integer"}, "max_pull": {"type": "integer"},
                                  "protocol": {"type": "integer"}, "csrf_token": {"type": "string"},
                                  "evidence_max_bytes": {"type": "integer"},
                                  "evidence_media_types": {"type": "array", "items": {"type": "string"}}}},
    }},
}
