"""Shared set-up for evidence tests: real file bytes, a started audit, and evidence made through
the same services the push and the routes call (never inserted behind their back)."""
from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
import uuid

from sqlalchemy import select

from auditapp.models import Audit, AuditLogEntry, Evidence
from auditapp.services import audits, evidence, evidence_files
from auditapp.services.templates import latest_version
from sync.client import mutation, uuid7

from . import world

# The first bytes are what real files start with; the rest is filler so sizes are realistic.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 64 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(255, -1, -1)) * 48
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + b"0" * 9000 + b"\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 8000  # a Windows program
FILES = {"image/jpeg": JPEG, "image/png": PNG, "application/pdf": PDF}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Device:
    """A signed-in tablet: sync pushes plus the evidence upload calls, exactly as PROTOCOL.md has them."""

    def __init__(self, client, sync_device):
        self.client, self.sync = client, sync_device
        self.audit_id = sync_device.audit_id

    @property
    def csrf(self) -> dict:
        if self.sync.client.csrf_token is None:
            self.sync.client.config()
        return {"X-CSRFToken": self.sync.client.csrf_token}

    def push(self, *mutations):
        return self.sync.push(*mutations)

    def register(self, data=JPEG, **kw) -> str:
        registration = register_mutation(self.audit_id, data, **kw)
        result = self.push(registration)[0]
        assert result["status"] == "applied", result
        return registration["entity_id"]

    def target(self, evidence_id):
        return self.client.post(f"/evidence/{evidence_id}/upload-target", json={}, headers=self.csrf)

    def put(self, target: dict, data: bytes, **kw):
        return self.client.put(target["url"], data=data, headers={**target["headers"], **self.csrf}, **kw)

    def confirm(self, evidence_id):
        return self.client.post(f"/evidence/{evidence_id}/confirm", json={}, headers=self.csrf)

    def upload(self, evidence_id, data: bytes):
        """Target, PUT (to the app or straight to S3), confirm: the confirm response."""
        target = self.target(evidence_id)
        assert target.status_code == 200, target.get_json()
        target = target.get_json()
        if target["url"].startswith("/"):
            assert self.put(target, data).status_code == 200
        else:
            assert put_to_store(target, data) == 200
        return self.confirm(evidence_id)


def put_to_store(target: dict, data: bytes) -> int:
    """PUT to a presigned URL the way a browser does (exactly the target's headers); the status."""
    request = urllib.request.Request(target["url"], data=data, method=target["method"], headers=target["headers"])
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


def register_mutation(audit_id, data: bytes, media_type: str = "image/jpeg", item_key: str = "SG-1.1",
                      filename: str | None = "photo.jpg", evidence_id=None, size=None, digest=None) -> dict:
    """An `evidence.register` mutation as the device sends it."""
    payload = {"audit_id": str(audit_id), "item_key": item_key, "media_type": media_type,
               "size_bytes": len(data) if size is None else size, "sha256": digest or sha256(data)}
    if filename is not None:
        payload["filename"] = filename
    return mutation("evidence.register", evidence_id or uuid7(), payload)


def withdraw_mutation(audit_id, evidence_id, reason: str) -> dict:
    return mutation("evidence.withdraw", evidence_id, {"audit_id": str(audit_id), "reason": reason})


def started_audit(session, audit_type: str = "safeguarding") -> uuid.UUID:
    """The auditor's safeguarding audit on their first visit, started through the service."""
    visit = world.visit_assigned_to(session, "auditor")
    audit_id = audits.audit_id_for(visit.id, audit_type)
    outcome = audits.start_audits(session, world.user(session, "auditor"), [audits.StartAudit(
        None, audit_id, visit.id, audit_type, latest_version(session, audit_type).id)])[0]
    assert outcome.status == "applied", outcome
    return audit_id


def registered(session, audit_id, data: bytes = JPEG, media_type: str = "image/jpeg", item_key: str = "SG-1.1",
               filename: str = "photo.jpg") -> Evidence:
    """Evidence registered by the assigned auditor."""
    evidence_id = uuid7()
    outcome = evidence.register_evidence(session, world.user(session, "auditor"), [evidence.Registration(
        None, evidence_id, audit_id, item_key, media_type, len(data), sha256(data), filename)])[0]
    assert outcome.status == "applied", outcome
    return session.get(Evidence, evidence_id)


def verified(session, store, audit_id, data: bytes = JPEG, media_type: str = "image/jpeg",
             item_key: str = "SG-1.1", filename: str = "photo.jpg") -> Evidence:
    """Evidence registered, uploaded to `store` and confirmed: what a tablet leaves behind."""
    row = registered(session, audit_id, data, media_type, item_key, filename)
    auditor = world.user(session, "auditor")
    evidence_files.issue_upload_target(session, auditor, store, row.id)
    store.put(row.storage_key, data, media_type)
    assert evidence_files.confirm_upload(session, auditor, store, row.id).status == "verified"
    session.flush()
    return row


def rejected(session, store, audit_id, item_key: str = "SG-2.1", filename: str = "certificate.jpg") -> Evidence:
    """A Windows program registered and uploaded as a JPEG photo: rejected at confirm."""
    row = registered(session, audit_id, EXE, item_key=item_key, filename=filename)
    auditor = world.user(session, "auditor")
    evidence_files.issue_upload_target(session, auditor, store, row.id)
    store.put(row.storage_key, EXE, "image/jpeg")
    assert evidence_files.confirm_upload(session, auditor, store, row.id).status == "rejected"
    return row


def withdrawn(session, row: Evidence, reason: str) -> Evidence:
    """`row` withdrawn by the assigned auditor with `reason`."""
    outcome = evidence.withdraw_evidence(session, world.user(session, "auditor"),
                                         [evidence.Withdrawal(None, row.id, row.audit_id, reason)])[0]
    assert outcome.status == "applied", outcome
    return row


def verified_evidence_for_matrix(session, store) -> Evidence:
    """One verified file in the known world, made once per test (the test's transaction is rolled back)."""
    if "matrix_evidence" not in session.info:
        audit_id = audits.audit_id_for(world.visit_assigned_to(session, "auditor").id, "safeguarding")
        if session.get(Audit, audit_id) is None:
            started_audit(session)
        session.info["matrix_evidence"] = verified(session, store, audit_id)
    return session.info["matrix_evidence"]


def log_actions(session, evidence_id) -> list[str]:
    """The audit-log actions recorded for one evidence row, oldest first."""
    return list(session.scalars(select(AuditLogEntry.action).where(AuditLogEntry.entity == "evidence",
                                                                   AuditLogEntry.entity_id == str(evidence_id))
                                .order_by(AuditLogEntry.id)))
