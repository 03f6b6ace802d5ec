"""OpenAPI 3.1 description of the sync API (served at /sync/openapi.json, checked by tests)."""
from .schemas import KINDS, MAX_BATCH

_UUID = {"type": "string", "format": "uuid"}
_ERROR = {"type": "object", "required": ["code", "message"],
          "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}}}

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
        "Config": {"type": "object", "required": ["max_batch", "max_pull", "protocol", "csrf_token"],
                   "properties": {"max_batch": {"type": "integer"}, "max_pull": {"type": "integer"},
                                  "protocol": {"type": "integer"}, "csrf_token": {"type": "string"},
                                  "evidence_max_bytes": {"type": "integer"},
                                  "evidence_media_types": {"type": "array", "items": {"type": "string"}}}},
    }},
}
