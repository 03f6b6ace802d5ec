"""The push path on SQLite, the embedded store of `make run`: apply, replay, mismatch."""
import uuid

from sqlalchemy import func, select

from auditapp.db import bind, session_scope
from auditapp.migrate import upgrade
from auditapp.models import Answer, User
from auditapp.services import demo
from auditapp.services.audits import audit_id_for
from auditapp.services.templates import latest_version
from sync import apply
from sync.client import answer, start, uuid7

from . import world


def test_push_replay_and_mismatch_work_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.sqlite3'}"
    upgrade(url)
    binding = bind(url)
    with session_scope(binding) as session:
        demo.seed_demo(session, {row[0]: "a demo password" for row in demo.DEMO_USERS})
        seeded_answers = session.scalar(select(func.count()).select_from(Answer))  # the demo's QE audits
    try:
        with session_scope(binding) as session:
            auditor = session.scalar(select(User).where(User.email == world.EMAIL["auditor"]))
            visit = world.visit_assigned_to(session, "auditor")
            audit_id = str(audit_id_for(visit.id, "safeguarding"))
            batch = [start(audit_id, visit.id, "safeguarding", latest_version(session, "safeguarding").id),
                     answer(audit_id, "SG-1.1", {"rating": "met", "note": "Seen"})]
            device = uuid7()
            # Given a push applied on SQLite
            assert [r["status"] for r in apply.push(session, auditor, device, batch)] == ["applied", "applied"]
        with session_scope(binding) as session:
            auditor = session.get(User, auditor.id)
            # When the same batch is replayed, once with an upper-case id, and an id is reused
            replay = apply.push(session, auditor, device, [batch[0], {**batch[1], "mutation_id": batch[1]["mutation_id"].upper()}])
            reused = {**batch[1], "payload": {**batch[1]["payload"], "fields": {"rating": "not_met"}}}
            mismatch = apply.push(session, auditor, device, [reused])
        with session_scope(binding) as session:
            answers = session.scalars(select(Answer).where(Answer.audit_id == uuid.UUID(audit_id))).all()
            count = session.scalar(select(func.count()).select_from(Answer))
    finally:
        binding.engine.dispose()
    # Then the replay answers from the stored results and nothing is written twice or changed
    assert [r["status"] for r in replay] == ["duplicate", "duplicate"]
    assert replay[1]["original"]["status"] == "applied" and replay[1]["original"]["version"] == 1
    assert mismatch[0]["status"] == "rejected" and mismatch[0]["code"] == "sync.mutation_mismatch"
    assert count - seeded_answers == 1 and answers[0].rating == "met" and answers[0].version == 1
