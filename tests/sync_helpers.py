"""Shared set-up for sync tests: a signed-in device and the audit it works on."""
from __future__ import annotations

from dataclasses import dataclass

from auditapp.services.audits import audit_id_for
from auditapp.services.templates import latest_version
from sync.client import FlaskTransport, SyncClient, start

from . import world


@dataclass
class Device:
    client: SyncClient
    audit_id: str
    visit_id: int
    template_version_id: int

    def start(self) -> dict:
        return start(self.audit_id, self.visit_id, "safeguarding", self.template_version_id)

    def push(self, *mutations) -> list[dict]:
        status, body = self.client.push(list(mutations))
        assert status == 200, body
        return body["results"]


def device_for(flask_client, db_session, role: str = "auditor") -> Device:
    visit = world.visit_assigned_to(db_session, "auditor")
    return Device(SyncClient(FlaskTransport(flask_client)), str(audit_id_for(visit.id, "safeguarding")), visit.id,
                  latest_version(db_session, "safeguarding").id)


def signed_in_device(app, role: str = "auditor") -> Device:
    """A device of `role` signed in through the real sign-in form, on an app whose database commits
    (a module's own copy of the world), on the audit of the first visit assigned to the auditor."""
    from auditapp.db import db

    from .conftest import CSRF_RE
    client = app.test_client()
    token = CSRF_RE.search(client.get("/sign-in").get_data(as_text=True)).group(1)
    client.post("/sign-in", data={"email": world.EMAIL[role], "password": world.PASSWORD, "csrf_token": token})
    with db.binding(app).sessionmaker() as session:
        return device_for(client, session, role)


def pulled(device: Device, entity: str) -> list[dict]:
    """The changes of one entity kind this device pulls from where its cursor stands."""
    return [c for c in device.client.pull_all() if c["entity"] == entity]


def device_as(flask_client, audit_device: Device) -> Device:
    """A new device (its own id and CSRF token) for whoever is signed in now, on the same audit."""
    return Device(SyncClient(FlaskTransport(flask_client)), audit_device.audit_id, audit_device.visit_id,
                  audit_device.template_version_id)
