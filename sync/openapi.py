"""OpenAPI 3.1 description of the sync API (served at /sync/openapi.json, checked by tests).

With sync/PROTOCOL.md it is the contract: every route under it, every status each can answer, the JSON error
body of every 4xx/5xx, and the bounds the server enforces. A push's body is declared loosely on purpose:
each mutation is checked on its own and a bad one is rejected in its result (200), never the batch, so the
per-mutation shape is a component of its own (`Mutation`) rather than a constraint on the request.
"""
from .schemas import KINDS, MAX_BATCH

MAX_INT = 2**31 - 1  # PostgreSQL integer: visit ids, template version ids, entity versions
MAX_TEXT = 5000  # a text field of an answer, policy check, conversation or action
MAX_PULL = 1000

_UUID = {"type": "string", "format": "uuid",
         "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"}
_ERROR = {"$ref": "#/components/schemas/Error"}
_EVIDENCE_ID = {"name": "evidence_id", "in": "path", "required": True, "schema": _UUID}


def _json(description: str, schema: dict = _ERROR, headers: dict | None = None) -> dict:
    answer = {"description": description, "content": {"application/json": {"schema": schema}}}
    return {**answer, "headers": headers} if headers else answer


# Answers every route can give (PROTOCOL.md "Result and error codes", "Any request").
_ALLOW = {"Allow": {"description": "The methods this address takes", "schema": {"type": "string"}}}
COMMON = {
    "401": _json("Not signed in, or the session ended (auth.required)"),
    "403": _json("The role may not sync (auth.forbidden)"),
    "404": _json("No such address (http.404)"),
    "405": _json("Method not allowed here (http.405); Allow lists those that are", headers=_ALLOW),
}
_POST = {**COMMON, "400": _json("The X-CSRFToken header is missing or not valid (request.csrf_failed)"),
         "413": _json("The body is larger than the service accepts (request.too_large)")}


# The device's evidence upload calls (PROTOCOL.md "Evidence"): JSON in and out, session cookie and X-CSRFToken.
EVIDENCE_PATHS = {
    "/evidence/{evidence_id}/upload-target": {"post": {
        "operationId": "evidenceUploadTarget", "parameters": [_EVIDENCE_ID],
        "responses": {
            **_POST,
            "200": _json("Where to PUT the bytes now", {"$ref": "#/components/schemas/UploadTarget"}),
            "403": _json("auth.forbidden (the role may not upload)"),
            "404": _json("Not registered yet: push first (evidence.not_found, also for a file of an audit that is "
                         "not the user's); or http.404"),
            "409": _json("evidence.already_verified, evidence.withdrawn, evidence.rejected, evidence.purged, "
                         "audit.finalised"),
            "503": _json("evidence.store_unavailable", {"$ref": "#/components/schemas/EvidenceRetry"})}}},
    "/evidence/{evidence_id}/content": {"put": {
        "operationId": "evidenceContent", "description": "Local store only: the URL an upload target names.",
        "parameters": [_EVIDENCE_ID,
                       {"name": "token", "in": "query", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                      for t in ("image/jpeg", "image/png", "application/pdf")}},
        "responses": {
            **_POST,
            "200": _json("Stored; confirm next", {"type": "object", "required": ["received_bytes"],
                                                 "properties": {"received_bytes": {"type": "integer"}}}),
            "403": _json("evidence.bad_token, auth.forbidden"),
            "404": _json("evidence.not_found; evidence.local_only in S3 mode; http.404"),
            "409": _json("evidence.target_expired, evidence.already_verified, evidence.withdrawn, evidence.rejected, "
                         "evidence.purged, audit.finalised"),
            "413": _json("evidence.too_large: more bytes than registered; request.too_large")}}},
    "/evidence/{evidence_id}/confirm": {"post": {
        "operationId": "evidenceConfirm", "parameters": [_EVIDENCE_ID],
        "responses": {
            **_POST,
            "200": _json("Settled: verified, or rejected for good", {"$ref": "#/components/schemas/Confirmation"}),
            "403": _json("auth.forbidden"), "404": _json("evidence.not_found (also not the user's audit); http.404"),
            "409": _json("Upload again: evidence.not_uploaded, evidence.checksum_mismatch, evidence.size_mismatch, "
                         "evidence.target_expired; or evidence.withdrawn, evidence.purged, audit.finalised",
                         {"anyOf": [{"$ref": "#/components/schemas/EvidenceRetry"}, _ERROR]}),
            "503": _json("evidence.store_unavailable: retry with the sync backoff",
                         {"$ref": "#/components/schemas/EvidenceRetry"})}}},
}

_TEXT = {"type": ["string", "null"], "maxLength": MAX_TEXT}
_FIELDS = {"type": "object", "maxProperties": 50,
           "description": "Field name to value: texts up to 5000 characters (no NUL, no lone surrogate), "
                          "numbers finite; see PROTOCOL.md 'Mutation kinds' for each kind's fields"}
_ITEM_KEY = {"type": "string", "minLength": 1, "maxLength": 20}
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_INT}


def _payload(required: list[str], properties: dict) -> dict:
    return {"type": "object", "additionalProperties": False, "required": required, "properties": properties}


PAYLOADS = {
    "FieldsPayload": _payload(["audit_id", "item_key", "fields"],
                              {"audit_id": _UUID, "item_key": _ITEM_KEY, "fields": _FIELDS}),
    "ConversationPayload": _payload(["audit_id", "kind", "fields"],
                                    {"audit_id": _UUID, "kind": {"type": "string", "enum": ["learner", "staff"]},
                                     "fields": _FIELDS}),
    "StartPayload": _payload(["visit_id", "audit_type", "template_version_id"],
                             {"visit_id": _ID, "template_version_id": _ID,
                              "audit_type": {"type": "string", "enum": ["safeguarding", "health_safety",
                                                                        "quality_education"]}}),
    "SubmitPayload": _payload([], {}),
    "ConcernPayload": _payload(["visit_id", "occurred_at", "referred_to_role", "about_provider_or_staff"],
                               {"visit_id": _ID, "occurred_at": {"type": "string", "format": "date-time"},
                                "referred_to_role": {"type": "string", "minLength": 1, "maxLength": 100},
                                "reference_number": {"type": ["string", "null"], "maxLength": 100},
                                "about_provider_or_staff": {"type": "boolean"},
                                "summary": {"type": ["string", "null"], "maxLength": 2000}}),
    "EvidenceRegisterPayload": _payload(["audit_id", "item_key", "media_type", "size_bytes", "sha256"],
                                        {"audit_id": _UUID, "item_key": _ITEM_KEY,
                                         "media_type": {"type": "string", "minLength": 1, "maxLength": 100},
                                         "size_bytes": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                                         "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                         "filename": {"type": ["string", "null"], "maxLength": 255}}),
    "EvidenceWithdrawPayload": _payload(["audit_id", "reason"],
                                        {"audit_id": _UUID,
                                         "reason": {"type": "string", "minLength": 1, "maxLength": 2000}}),
}
PAYLOAD_OF_KIND = {"answer.set": "FieldsPayload", "policy_check.set": "FieldsPayload", "action.set": "FieldsPayload",
                   "conversation.set": "ConversationPayload", "audit.start": "StartPayload",
                   "audit.submit": "SubmitPayload", "concern.raise": "ConcernPayload",
                   "evidence.register": "EvidenceRegisterPayload", "evidence.withdraw": "EvidenceWithdrawPayload"}

# Starting with no HTML (sync/devices.py, PROTOCOL.md "Starting with no HTML"): JSON sign-in and sign-out, the visit list.
DEVICE_PATHS = {
    "/sync/session": {
        "post": {
            "operationId": "signIn",
            "description": "Sign in; sets the session cookie. No X-CSRFToken (no session yet): the body must be "
                           "JSON and an Origin or Sec-Fetch-Site header, when sent, must name this site. The "
                           "form's lockout applies; unknown e-mail, wrong password and locked answer alike (401).",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["email", "password"],
                "properties": {"email": {"type": "string", "minLength": 1, "maxLength": 254},
                               "password": {"type": "string", "minLength": 1, "maxLength": 1000}}}}}},
            "responses": {
                "200": _json("Signed in", {"$ref": "#/components/schemas/Session"}),
                "401": _json("auth.invalid_credentials (unknown e-mail, wrong password or locked: one answer)"),
                "403": _json("request.cross_site: Origin or Sec-Fetch-Site names another site"),
                "404": COMMON["404"], "405": COMMON["405"],
                "413": _json("The body is larger than the service accepts (request.too_large)"),
                "415": _json("request.json_required: the body is not application/json"),
                "422": _json("auth.invalid: email or password missing or empty (details per field)")}},
        "delete": {
            "operationId": "signOut", "description": "Sign out: ends the session on the server, on every device.",
            "responses": {**{status: answer for status, answer in _POST.items() if status != "403"},
                          "204": {"description": "Signed out (every signed-in role may)"}}}},
    "/sync/visits": {"get": {
        "operationId": "visits",
        "description": "The visits assigned to the signed-in auditor or QoE teacher, oldest first, with the audits "
                       "their role captures and each visit's pack URL.",
        "responses": {**COMMON, "200": _json("The user's visits", {"$ref": "#/components/schemas/Visits"})}}},
}
_AUDIT_SUMMARY = {"type": "object",
                  "required": ["audit_id", "audit_type", "title", "on_server", "status", "version"],
                  "properties": {"audit_id": _UUID, "title": {"type": "string"},
                                 "audit_type": {"type": "string",
                                                "enum": ["safeguarding", "health_safety", "quality_education"]},
                                 "on_server": {"type": "boolean"},
                                 "status": {"type": "string", "description": "draft until the audit is on the server"},
                                 "version": {"type": "integer", "minimum": 0}}}
_NAMED = {"type": "object", "required": ["id", "name"],
          "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
DEVICE_SCHEMAS = {
    "Session": {"type": "object", "required": ["user", "csrf_token"],
                "properties": {"csrf_token": {"type": "string", "description": "X-CSRFToken for later calls"},
                               "user": {"type": "object",
                                        "required": ["id", "email", "full_name", "role", "organisation"],
                                        "properties": {"id": {"type": "integer"}, "email": {"type": "string"},
                                                       "full_name": {"type": "string"}, "role": {"type": "string"},
                                                       "organisation": {"type": "string"}}}}},
    "Visits": {"type": "object", "required": ["visits"], "properties": {"visits": {"type": "array", "items": {
        "type": "object",
        "required": ["id", "date", "status", "announced", "provider", "site", "pack_url", "audits"],
        "properties": {"id": {"type": "integer"}, "date": {"type": "string", "format": "date"},
                       "status": {"type": "string"}, "announced": {"type": "boolean"},
                       "provider": _NAMED, "site": _NAMED,
                       "pack_url": {"type": "string", "description": "/capture/packs/<visit_id>"},
                       "audits": {"type": "array", "items": _AUDIT_SUMMARY}}}}}},
}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "auditapp sync API", "version": "1",
             "description": "Offline capture sync: push device mutations, pull server changes, upload evidence. "
                            "See sync/PROTOCOL.md, which lists every result and error code. Requests use the session "
                            "cookie; POSTs and PUTs need the X-CSRFToken header (from /sync/config). Every 4xx/5xx "
                            "body is an Error."},
    "paths": {
        "/sync/push": {"post": {
            "operationId": "push",
            "description": "Each item of `mutations` is checked on its own against `Mutation`: one that does not "
                           "match is rejected in its result (`sync.invalid`), never the batch. Idempotent per "
                           "(device_id, mutation_id); a device id belongs to the first user who pushed with it.",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Push"}}}},
            "responses": {
                **_POST,
                "200": _json("One result per mutation, in order", {"$ref": "#/components/schemas/PushResults"}),
                "413": _json(f"More than {MAX_BATCH} mutations (sync.batch_too_large), or a body over the byte "
                             "bound (request.too_large)"),
                "422": _json("The body is not a push: not JSON, not an object, a missing or bad device_id or "
                             "mutations, an unknown member, or nested too deep (sync.malformed, request.too_deep); "
                             "nothing was written"),
            }}},
        "/sync/pull": {"get": {
            "operationId": "pull",
            "parameters": [
                {"name": "cursor", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PULL}}],
            "responses": {
                **COMMON,
                "200": _json("Changes after the cursor", {"$ref": "#/components/schemas/Pull"}),
                "422": _json("Bad cursor or limit (sync.malformed; details name the parameter)")}}},
        "/sync/config": {"get": {
            "operationId": "config",
            "responses": {**COMMON,
                          "200": _json("Limits and a CSRF token for pushes", {"$ref": "#/components/schemas/Config"})}}},
        "/sync/openapi.json": {"get": {
            "operationId": "openapi", "description": "This document (no sign-in needed)",
            "responses": {"200": _json("The OpenAPI document", {"type": "object"}),
                          "404": COMMON["404"], "405": COMMON["405"]}}},
        **EVIDENCE_PATHS,
        **DEVICE_PATHS,
    },
    "components": {"schemas": {
        **DEVICE_SCHEMAS,
        "Error": {"type": "object", "required": ["code", "message", "details"],
                  "properties": {"code": {"type": "string", "description": "PROTOCOL.md 'Result and error codes'"},
                                 "message": {"type": "string"},
                                 "details": {"type": "object", "description": "{} when empty; field errors as "
                                                                              "{field: [message]}"}}},
        "EvidenceRetry": {"allOf": [_ERROR, {"type": "object", "required": ["status"],
                                             "properties": {"status": {"type": "string", "enum": ["expected"]}}}]},
        "Push": {"type": "object", "required": ["device_id", "mutations"], "additionalProperties": False,
                 "properties": {"device_id": _UUID,
                                "mutations": {"type": "array", "maxItems": MAX_BATCH,
                                              "description": "Each item should be a Mutation; one that is not is "
                                                             "rejected in its own result (sync.invalid)",
                                              "items": {}}}},
        "Mutation": {"type": "object", "required": ["mutation_id", "kind", "entity_id", "payload"],
                     "additionalProperties": False,
                     "description": "One mutation of a push. `payload` is the kind's payload component: "
                                    + "; ".join(f"{kind}: {name}" for kind, name in PAYLOAD_OF_KIND.items())
                                    + " (PROTOCOL.md 'Mutation kinds'). A mutation that does not match is "
                                      "rejected in its own result (sync.invalid)",
                     "properties": {"mutation_id": _UUID, "kind": {"type": "string", "enum": list(KINDS)},
                                    "entity_id": _UUID,
                                    "base_version": {"type": "integer", "minimum": 0, "maximum": MAX_INT,
                                                     "default": 0},
                                    "payload": {"type": "object"}}},
        **PAYLOADS,
        "PushResults": {"type": "object", "required": ["results", "server_time"],
                        "properties": {"server_time": {"type": "string"},
                                       "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}}}},
        "Result": {"type": "object", "required": ["status"],
                   "properties": {"mutation_id": {"type": ["string", "null"]},
                                  "status": {"type": "string",
                                             "enum": ["applied", "duplicate", "conflict", "held", "rejected"]},
                                  "entity_id": {"type": ["string", "null"]}, "version": {"type": "integer"},
                                  "conflicts": {"type": "array", "items": {"type": "string"}},
                                  "code": {"type": "string"}, "message": {"type": "string"},
                                  "details": {"type": "object"}, "original": {"type": "object"}}},
        "Pull": {"type": "object", "required": ["changes", "next_cursor", "more"],
                 "properties": {"next_cursor": {"type": "integer"}, "more": {"type": "boolean"},
                                "changes": {"type": "array", "items": {"type": "object",
                                            "required": ["cursor", "entity", "entity_id", "version", "op"],
                                            "properties": {"cursor": {"type": "integer"},
                                                           "entity": {"type": "string", "description":
                                                                      "audit, answer, policy_check, conversation, "
                                                                      "action, evidence, concern, mutation, conflict "
                                                                      "(PROTOCOL.md 'Pull'); ignore others"},
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
        "Config": {"type": "object",
                   "required": ["max_batch", "max_pull", "protocol", "csrf_token", "max_body_bytes", "max_depth",
                                "evidence_max_bytes", "evidence_media_types"],
                   "properties": {"max_batch": {"type": "integer", "description": "most mutations in one push"},
                                  "max_pull": {"type": "integer", "description": "largest pull limit"},
                                  "protocol": {"type": "integer"}, "csrf_token": {"type": "string"},
                                  "max_body_bytes": {"type": "integer", "description": "largest push body"},
                                  "max_depth": {"type": "integer", "description": "deepest nesting of a push body"},
                                  "evidence_max_bytes": {"type": "integer"},
                                  "evidence_media_types": {"type": "array", "items": {"type": "string"}}}},
    }},
}
