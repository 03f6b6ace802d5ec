"""A small HTTP client for the conformance suite, written from README.md, sync/PROTOCOL.md and the OpenAPI
documents alone: urllib, a cookie jar, no redirects followed, JSON in and out. It imports nothing of auditapp."""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field

_last = [0, 0]


def uuid7() -> str:
    """A UUIDv7 (48-bit milliseconds, version 7, random), strictly increasing within this process."""
    millis, rand = time.time_ns() // 1_000_000, int.from_bytes(os.urandom(10), "big") & ((1 << 74) - 1)
    if millis <= _last[0]:
        millis, rand = _last[0], _last[1] + 1
    _last[:] = [millis, rand]
    value = (millis << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body) if self.body else None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    def error_code(self) -> str:
        """The `code` of a JSON error body, after checking the body has the documented shape."""
        assert self.content_type == "application/json", (self.status, self.content_type, self.body[:200])
        body = self.json
        assert set(body) >= {"code", "message", "details"} and isinstance(body["details"], dict), body
        return body["code"]


@dataclass
class Http:
    base_url: str
    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)
    csrf_token: str | None = None

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def call(self, method: str, path: str, json_body=None, *, data: bytes | None = None,
             headers: dict | None = None, timeout: float = 30) -> Answer:
        """One request; `path` may be absolute (a presigned URL). POST/PUT/DELETE carry X-CSRFToken once known."""
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        sent = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", "application/json")
        if method not in ("GET", "HEAD") and self.csrf_token and url.startswith(self.base_url):
            sent.setdefault("X-CSRFToken", self.csrf_token)
        request = urllib.request.Request(url, data=data, method=method, headers=sent)
        opener = self.opener if url.startswith(self.base_url) else urllib.request.build_opener(_NoRedirect())
        try:
            with opener.open(request, timeout=timeout) as response:
                return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())

    # ---- sign-in: PROTOCOL "Starting with no HTML" (JSON), or README's HTML form on a server without it ----
    def sign_in(self, email: str, password: str) -> Answer:
        self.csrf_token = None
        if "/sync/session" in (self.call("GET", "/sync/openapi.json").json or {}).get("paths", {}):
            answer = self.call("POST", "/sync/session", {"email": email, "password": password})
            if answer.status == 200:
                self.csrf_token = answer.json["csrf_token"]
            return answer
        page = self.call("GET", "/sign-in")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page.body).group(1).decode()
        form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token}).encode()
        return self.call("POST", "/sign-in", data=form, headers={"Content-Type": "application/x-www-form-urlencoded"})

    def device_token(self) -> str:
        """GET /sync/config's csrf_token (PROTOCOL: POSTs need it in X-CSRFToken)."""
        answer = self.call("GET", "/sync/config")
        assert answer.status == 200, (answer.status, answer.body[:200])
        self.csrf_token = answer.json["csrf_token"]
        return self.csrf_token

    def signed_out(self) -> "Http":
        return Http(self.base_url)


@dataclass
class Device:
    """One tablet: a device id and a signed-in session."""

    http: Http
    device_id: str = field(default_factory=uuid7)

    def push(self, mutations: list[dict]) -> list[dict]:
        answer = self.http.call("POST", "/sync/push", {"device_id": self.device_id, "mutations": mutations})
        assert answer.status == 200, (answer.status, answer.body[:500])
        assert [r.get("mutation_id") for r in answer.json["results"]] == [m.get("mutation_id") for m in mutations]
        return answer.json["results"]

    def push_one(self, mutation: dict) -> dict:
        return self.push([mutation])[0]

    def pull_all(self, cursor: int = 0, limit: int = 500) -> tuple[list[dict], int]:
        changes = []
        while True:
            answer = self.http.call("GET", f"/sync/pull?cursor={cursor}&limit={limit}")
            assert answer.status == 200, (answer.status, answer.body[:300])
            body = answer.json
            changes += body["changes"]
            cursor = body["next_cursor"]
            if not body["more"]:
                return changes, cursor


def mutation(kind: str, entity_id: str, payload: dict, base_version: int = 0, mutation_id: str | None = None) -> dict:
    return {"mutation_id": mutation_id or uuid7(), "kind": kind, "entity_id": entity_id,
            "base_version": base_version, "payload": payload}


def answer_set(audit_id: str, item_key: str, fields: dict, base_version: int = 0, entity_id: str | None = None) -> dict:
    return mutation("answer.set", entity_id or uuid7(), {"audit_id": audit_id, "item_key": item_key, "fields": fields},
                    base_version)
