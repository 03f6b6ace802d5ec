"""OpenAPI 3.1 description of the directory API (served at /api/v1/openapi.json, checked by tests)."""
from ..directory_queries import SCHOOL_STATUSES
from ..models.base import MAX_INT_ID
from ..models.enums import (AUDIT_OUTCOMES, AUDIT_TYPES, DELIVERY_MODES, DISTRICTS, KEY_STAGES, PROVISION_TYPES,
                            TIME_BASES)

DISCLAIMER = ("A listing is not an endorsement and does not say a provider suits a particular child. It does not "
              "replace your school's own checks, and every placement must still be notified to the council.")

_ERROR = {"type": "object", "required": ["code", "message", "details"],
          "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                         "details": {"type": "object"}}}
_JSON_ERROR = {"content": {"application/json": {"schema": _ERROR}}}
_ALLOW = {"Allow": {"description": "The methods this address takes", "schema": {"type": "string"}}}
# Answers every route can give (sync/PROTOCOL.md "Result and error codes", "Any request").
COMMON = {
    "401": {"description": "Not signed in (auth.required)", **_JSON_ERROR},
    "403": {"description": "The role may not use the directory (auth.forbidden)", **_JSON_ERROR},
    "404": {"description": "No such address (http.404)", **_JSON_ERROR},
    "405": {"description": "Method not allowed here (http.405); Allow lists those that are", "headers": _ALLOW,
            **_JSON_ERROR},
}
_ETAG = {"ETag": {"description": "Change stamp of this response; send it back in If-None-Match",
                  "schema": {"type": "string"}}}
_IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                  "description": "An ETag from an earlier answer: 304 when nothing changed"}


def _choice(name: str, values, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description + " (leave it out for any)",
            "schema": {"type": "string", "enum": list(values)}}


# What the name search refuses: control characters other than tab, line feed and carriage return.
Q_PATTERN = "^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$"


FILTERS = [
    {"name": "q", "in": "query", "required": False, "description": "Part of the provider's name (letters are "
     "matched without regard to case; % and _ are literal; no control characters)",
     "schema": {"type": "string", "maxLength": 100, "pattern": Q_PATTERN}},
    _choice("provision_type", PROVISION_TYPES, "Type of provision"),
    _choice("key_stage", KEY_STAGES, "Key stage"),
    {"name": "age", "in": "query", "required": False, "description": "A learner's age: providers whose age "
     "range includes it", "schema": {"type": "integer", "minimum": 4, "maximum": 19}},
    _choice("district", DISTRICTS, "District"),
    {"name": "specialism", "in": "query", "required": False, "style": "form", "explode": True,
     "description": "SEND and/or SEMH (repeat the parameter; a provider must have each one asked for)",
     "schema": {"type": "array", "items": {"type": "string", "enum": ["send", "semh"]}}},
    _choice("time_basis", ["part_time", "full_time"], "Part or full time (providers offering both match either)"),
    _choice("delivery", ["in_person", "online"], "In person or online (hybrid providers match either)"),
    _choice("status", SCHOOL_STATUSES, "Published status"),
    {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1,
                                                                  "maximum": 10000}},
    {"name": "per_page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1,
                                                                      "maximum": 200}},
    _IF_NONE_MATCH,
]
_DATE_OR_NULL = {"type": ["string", "null"], "format": "date"}
_SUMMARY = {
    "type": "object",
    "required": ["id", "name", "legal_name", "status", "status_label", "status_since", "valid_until", "district",
                 "provision_types", "key_stages", "age_min", "age_max", "send_specialism", "semh_specialism",
                 "time_basis", "delivery_mode", "url"],
    "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "legal_name": {"type": "string"},
        "status": {"type": "string", "enum": list(SCHOOL_STATUSES)}, "status_label": {"type": "string"},
        "status_since": _DATE_OR_NULL, "valid_until": _DATE_OR_NULL,
        "district": {"type": "string", "enum": list(DISTRICTS)},
        "provision_types": {"type": "array", "items": {"type": "string", "enum": list(PROVISION_TYPES)}},
        "key_stages": {"type": "array", "items": {"type": "string", "enum": list(KEY_STAGES)}},
        "age_min": {"type": "integer"}, "age_max": {"type": "integer"},
        "send_specialism": {"type": "boolean"}, "semh_specialism": {"type": "boolean"},
        "time_basis": {"type": "string", "enum": list(TIME_BASES)},
        "delivery_mode": {"type": "string", "enum": list(DELIVERY_MODES)},
        "url": {"type": "string", "description": "This provider in the API"},
    },
}
_DETAIL = {
    "allOf": [{"$ref": "#/components/schemas/ProviderSummary"}, {
        "type": "object",
        "required": ["status_meaning", "reasons", "open_actions", "open_action_headings", "latest_audits",
                     "disclaimer", "contact_name", "contact_email", "listed_by"],
        "properties": {
            "offer_summary": {"type": ["string", "null"]},
            "cost_per_day_pence": {"type": ["integer", "null"]},
            "contact_name": {"type": "string"}, "contact_email": {"type": "string"},
            "listed_by": {"type": "array", "items": {"type": "string"}},
            "status_meaning": {"type": "string", "description": "What the status means for a school"},
            "reasons": {"type": "array", "items": {"type": "string"},
                        "description": "Plain reason categories behind the status (never safeguarding detail)"},
            "open_actions": {"type": "integer", "minimum": 0},
            "open_action_headings": {"type": "array", "items": {"type": "string"},
                                     "description": "Audit sections with open actions (Conditional providers)"},
            "latest_audits": {"type": "array", "items": {
                "type": "object", "required": ["audit_type", "audit_type_label", "visit_date", "outcome",
                                               "outcome_label"],
                "properties": {"audit_type": {"type": "string", "enum": list(AUDIT_TYPES)},
                               "audit_type_label": {"type": "string"},
                               "visit_date": {"type": "string", "format": "date"},
                               "outcome": {"type": "string", "enum": list(AUDIT_OUTCOMES)},
                               "outcome_label": {"type": "string"}}}},
            "disclaimer": {"type": "string"},
        }}]}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "auditapp directory API", "version": "1",
             "description": "The joint AP directory as a school sees it: never Pending, Removed or closed providers, "
                            "never audit notes, conversations, evidence or safeguarding detail. Read-only. Sign in "
                            "and send the session cookie; school staff and LA roles may call it, auditors may not. "
                            "Every 200 carries an ETag; send it back in If-None-Match to get 304 when nothing "
                            "changed. " + DISCLAIMER},
    "paths": {
        "/api/v1/providers": {"get": {
            "operationId": "listProviders",
            "parameters": FILTERS,
            "responses": {
                **COMMON,
                "200": {"description": "One page of matching providers, by name", "headers": _ETAG,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProviderPage"}}}},
                "304": {"description": "Not modified since the ETag sent in If-None-Match", "headers": _ETAG},
                "422": {"description": "A filter is not valid (directory.bad_filter; details name the fields)",
                        **_JSON_ERROR}}}},
        "/api/v1/providers/{provider_id}": {"get": {
            "operationId": "getProvider",
            "parameters": [{"name": "provider_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INT_ID}}, _IF_NONE_MATCH],
            "responses": {
                **COMMON,
                "200": {"description": "The provider as a school sees it", "headers": _ETAG,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Provider"}}}},
                "304": {"description": "Not modified since the ETag sent in If-None-Match", "headers": _ETAG},
                "404": {"description": "No such provider, or not shown to schools (provider.not_found); http.404",
                        **_JSON_ERROR}}}},
        "/api/v1/openapi.json": {"get": {
            "operationId": "openapi", "description": "This document (no sign-in needed)",
            "responses": {"200": {"description": "The OpenAPI document",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          "404": COMMON["404"], "405": COMMON["405"]}}},
    },
    "components": {"schemas": {
        "ProviderSummary": _SUMMARY,
        "Provider": _DETAIL,
        "ProviderPage": {"type": "object", "required": ["providers", "total", "page", "pages", "per_page"],
                         "properties": {"providers": {"type": "array",
                                                      "items": {"$ref": "#/components/schemas/ProviderSummary"}},
                                        "total": {"type": "integer", "minimum": 0},
                                        "page": {"type": "integer", "minimum": 1},
                                        "pages": {"type": "integer", "minimum": 1},
                                        "per_page": {"type": "integer", "minimum": 1}}},
    }},
}
