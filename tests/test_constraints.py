"""The schema itself refuses bad rows: CHECKs on enums, UNIQUE client ids, N/A needs a reason."""
import uuid

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from auditapp.models import Answer, Audit, Organisation, User
from auditapp.services import templates

from . import world


def _audit(session):
    visit = world.visit_assigned_to(session, "auditor")
    auditor = world.user(session, "auditor")
    audit = Audit(id=uuid.uuid4(), visit_id=visit.id, audit_type="safeguarding", created_by_id=auditor.id,
                  template_version_id=templates.latest_version(session, "safeguarding").id)
    session.add(audit)
    session.flush()
    return audit, auditor


def _refused(session, row):
    session.add(row)
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.flush()


def test_unknown_role_is_refused(db_session):
    org = db_session.query(Organisation).first()
    _refused(db_session, User(email="x@example.org", full_name="X", password_hash="h", role="superuser",
                              organisation_id=org.id))


def test_not_applicable_without_reason_is_refused(db_session):
    audit, auditor = _audit(db_session)
    _refused(db_session, Answer(id=uuid.uuid4(), audit_id=audit.id, item_key="SG-1.1", rating="not_applicable",
                                updated_by_id=auditor.id))


def test_unknown_rating_is_refused(db_session):
    audit, auditor = _audit(db_session)
    _refused(db_session, Answer(id=uuid.uuid4(), audit_id=audit.id, item_key="SG-1.1", rating="great",
                                updated_by_id=auditor.id))


def test_one_answer_per_item_per_audit(db_session):
    audit, auditor = _audit(db_session)
    db_session.add(Answer(id=uuid.uuid4(), audit_id=audit.id, item_key="SG-1.1", rating="met", updated_by_id=auditor.id))
    db_session.flush()
    _refused(db_session, Answer(id=uuid.uuid4(), audit_id=audit.id, item_key="SG-1.1", rating="not_met",
                                updated_by_id=auditor.id))


def test_a_device_id_cannot_be_used_twice(db_session):
    audit, auditor = _audit(db_session)
    second_insert = insert(Audit).values(id=audit.id, visit_id=audit.visit_id, audit_type="health_safety", status="draft",
                                         version=1, revision=1, template_version_id=audit.template_version_id,
                                         created_by_id=auditor.id)
    with pytest.raises(IntegrityError, match="pk_audits"):
        with db_session.begin_nested():
            db_session.execute(second_insert)
