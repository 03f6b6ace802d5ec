"""Visit packs: everything a tablet needs to capture a visit's audits with no signal (read-only)."""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import clock
from .models import Action, Answer, Audit, ChangeLogEntry, Conversation, PolicyCheck, User
from .models.enums import AUDIT_TYPE_LABELS
from .queries import audit_types_of, visit_for
from .services.access import CAPTURE_TYPES
from .services.audits import audit_id_for
from .services.capture_rules import SPECS
from .services.review import returned_comments
from .services.templates import latest_version

ENTITIES = {"answers": (Answer, "answer"), "policy_checks": (PolicyCheck, "policy_check"),
            "conversations": (Conversation, "conversation"), "actions": (Action, "action")}


def visit_pack(session: Session, user: User, visit_id: int, limits: dict) -> dict:
    """The pack for one visit assigned to `user`. :raises visit.not_found:"""
    from sync.pull import serialise
    visit = visit_for(session, user, visit_id)
    types = [t for t in audit_types_of(visit) if t in CAPTURE_TYPES.get(user.role, set())]
    audits = []
    ids = []
    for audit_type in types:
        audit_id = audit_id_for(visit.id, audit_type)
        existing = session.get(Audit, audit_id)
        version = existing.template_version if existing else latest_version(session, audit_type)
        ids.append(audit_id)
        audits.append({"audit_id": str(audit_id), "audit_type": audit_type, "title": AUDIT_TYPE_LABELS[audit_type],
                       "on_server": existing is not None, "status": existing.status if existing else "draft",
                       "version": existing.version if existing else 0, "template_version_id": version.id,
                       "template": version.content,
                       "review_comments": returned_comments(session, [existing])[existing.id] if existing else []})
    records = {name: [serialise(entity, row, SPECS[entity])
                      for row in session.scalars(select(model).where(model.audit_id.in_(ids)))]
               for name, (model, entity) in ENTITIES.items()}
    previous = session.scalars(select(Action).where(Action.provider_id == visit.provider_id,
                                                    Action.audit_id.not_in(ids),
                                                    Action.status.in_(("open", "provider_done", "overdue")))).all()
    provider, site = visit.provider, visit.site
    body = {
        "visit": {"id": visit.id, "date": visit.visit_date.isoformat(), "announced": visit.announced,
                  "status": visit.status},
        "provider": {"id": provider.id, "name": provider.display_name, "legal_name": provider.legal_name,
                     "company_number": provider.company_number, "charity_number": provider.charity_number,
                     "registration_status": provider.registration_status, "contact_name": provider.contact_name,
                     "district": provider.district},
        "site": {"id": site.id, "name": site.name, "address": f"{site.address_line1}, {site.town} {site.postcode}"},
        "audits": audits, **records,
        "previous_actions": [{"id": str(a.id), "item_key": a.item_key, "description": a.description,
                              "due_date": a.due_date.isoformat(), "status": a.status} for a in previous],
        "limits": limits,
        "cursor": session.scalar(select(func.coalesce(func.max(ChangeLogEntry.id), 0))),
    }
    body["pack_version"] = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]
    body["fetched_at"] = clock.now().isoformat(timespec="seconds")
    return body
