"""Reference client for the sync API: what capture.js does, in Python, for tests and tools.

Transport-agnostic: give it a Flask test client (tests) or an `HttpTransport` (a real server).
"""
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


_last = (0, 0)  # (milliseconds, 74-bit random part) of the previous id


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (UUIDv7 layout), strictly increasing within this process.

    48-bit milliseconds, version 7, then 74 random bits; within one millisecond the previous
    random part is incremented, so a device's mutation ids sort in the order they were made.
    """
    global _last
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big") & ((1 << 74) - 1)
    if millis <= _last[0]:
        millis, rand = _last[0], _last[1] + 1
    _last = (millis, rand)
    value = (millis << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return uuid.UUID(int=value)


class HttpTransport:
    """Talk to a running server with a cookie session (sign in first)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def sign_in(self, email: str, password: str) -> None:
        with self.opener.open(self.base_url + "/sign-in") as page:
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)
        data = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token}).encode()
        with self.opener.open(self.base_url + "/sign-in", data=data):
            pass

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json",
                                              **(headers or {})})
        try:
            with self.opener.open(req) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read() or b"null")


class FlaskTransport:
    """Adapter for a Flask test client (already signed in)."""

    def __init__(self, client) -> None:
        self.client = client

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        response = self.client.open(path, method=method, json=body,
                                    headers={"Accept": "application/json", **(headers or {})})
        return response.status_code, response.get_json()


@dataclass
class SyncClient:
    transport: object
    device_id: uuid.UUID = field(default_factory=uuid7)
    cursor: int = 0
    csrf_token: str | None = None

    def config(self) -> dict:
        status, body = self.transport.request("GET", "/sync/config")
        assert status == 200, body
        self.csrf_token = body["csrf_token"]
        return body

    def push(self, mutations: list[dict]) -> tuple[int, dict]:
        if self.csrf_token is None:
            self.config()
        return self.transport.request("POST", "/sync/push", {"device_id": str(self.device_id), "mutations": mutations},
                                      {"X-CSRFToken": self.csrf_token})

    def pull_all(self, limit: int = 500) -> list[dict]:
        changes = []
        while True:
            status, body = self.transport.request("GET", f"/sync/pull?cursor={self.cursor}&limit={limit}")
            assert status == 200, body
            changes += body["changes"]
            self.cursor = body["next_cursor"]
            if not body["more"]:
                return changes


def mutation(kind: str, entity_id: uuid.UUID, payload: dict, base_version: int = 0,
             mutation_id: uuid.UUID | None = None) -> dict:
    """Build one mutation as the device sends it."""
    return {"mutation_id": str(mutation_id or uuid7()), "kind": kind, "entity_id": str(entity_id),
            "base_version": base_version, "payload": _jsonable(payload)}


def answer(audit_id, item_key: str, fields: dict, base_version: int = 0, entity_id=None) -> dict:
    return mutation("answer.set", entity_id or uuid7(), {"audit_id": audit_id, "item_key": item_key, "fields": fields},
                    base_version)


def start(audit_id, visit_id: int, audit_type: str, template_version_id: int) -> dict:
    return mutation("audit.start", audit_id, {"visit_id": visit_id, "audit_type": audit_type,
                                              "template_version_id": template_version_id})


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return str(value) if isinstance(value, uuid.UUID) else value
