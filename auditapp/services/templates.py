"""Publish audit templates as immutable, hashed versions; list what is published."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..audit_templates import TEMPLATE_DIR, TEMPLATE_FILES
from ..audit_templates.loader import compose, content_hash, items_by_key
from ..models import AuditTemplate, TemplateVersion
from ..models.people import Actor
from . import audit_log
from .errors import Conflict, NotFound


@dataclass(frozen=True)
class PublishResult:
    audit_type: str
    version: int
    status: str  # "published" | "unchanged"
    content_hash: str


def publish_template(session: Session, actor: Actor | None, path: Path) -> PublishResult:
    """Publish the template at `path` as a new immutable version, or do nothing if unchanged.

    :raises template.invalid: the file (or the header/prompts it includes) fails validation.
    :raises template.version_conflict: the version number is taken by other content, or goes backwards.
    :raises template.meaning_changed: an item's meaning changed under a published key, or a
        retired key came back.
    """
    content = compose(path)
    digest = content_hash(content)
    template = session.scalar(select(AuditTemplate).where(AuditTemplate.audit_type == content["template"])
                              .options(selectinload(AuditTemplate.versions)))
    if template is None:
        template = AuditTemplate(audit_type=content["template"], title=content["title"])
        session.add(template)
        session.flush()
    published = list(template.versions)
    for existing in published:
        if existing.content_hash == digest:
            return PublishResult(template.audit_type, existing.version, "unchanged", digest)
    latest = published[-1] if published else None
    if latest is not None and content["version"] <= latest.version:
        raise Conflict("template.version_conflict",
                       f"{path.name}: version {content['version']} is already published with different content; "
                       f"give the changed template version {latest.version + 1}",
                       {"file": path.name, "published_version": latest.version})
    _check_meanings(path.name, content, published)
    version = TemplateVersion(template_id=template.id, version=content["version"], content=content,
                              content_hash=digest, source_file=path.name,
                              published_by_id=actor.id if actor else None)
    template.title = content["title"]
    session.add(version)
    session.flush()
    audit_log.record(session, actor, "template.publish", "template_version", version.id,
                     after={"audit_type": template.audit_type, "version": version.version, "hash": digest})
    return PublishResult(template.audit_type, version.version, "published", digest)


def publish_all(session: Session, actor: Actor | None, directory: Path = TEMPLATE_DIR) -> list[PublishResult]:
    """Publish the three standard templates from `directory`."""
    return [publish_template(session, actor, directory / name) for name in TEMPLATE_FILES]


def list_versions(session: Session) -> list[TemplateVersion]:
    """Every published version, by audit type then version."""
    return list(session.scalars(select(TemplateVersion).join(TemplateVersion.template)
                                .order_by(AuditTemplate.audit_type, TemplateVersion.version)))


def latest_version(session: Session, audit_type: str) -> TemplateVersion:
    """The newest published version of one audit type. :raises template.not_found:"""
    version = session.scalar(select(TemplateVersion).join(TemplateVersion.template)
                             .where(AuditTemplate.audit_type == audit_type)
                             .order_by(TemplateVersion.version.desc()).limit(1))
    if version is None:
        raise NotFound("template.not_found", f"No {audit_type.replace('_', ' ')} template is published yet")
    return version


def get_version(session: Session, version_id: int) -> TemplateVersion:
    """One template version by id. :raises template.not_found:"""
    version = session.get(TemplateVersion, version_id)
    if version is None:
        raise NotFound("template.not_found", "There is no such template version")
    return version


def _check_meanings(filename: str, content: dict, published: list[TemplateVersion]) -> None:
    new_items = items_by_key(content)
    ever_seen: dict[str, dict] = {}
    for old in published:
        ever_seen.update(items_by_key(old.content))
    latest_keys = set(items_by_key(published[-1].content)) if published else set()
    problems = []
    for key, item in new_items.items():
        old = ever_seen.get(key)
        if old is None:
            continue
        if key not in latest_keys:
            problems.append(f"item {key}: the key was retired and is never reused; give the item a new key")
            continue
        if item["answer"] != old["answer"] or _choice_values(item) != _choice_values(old):
            problems.append(f"item {key}, field 'answer': the kind of answer changed; retire the key and add a new one")
        elif _normalise(item["question"]) != _normalise(old["question"]) and not item.get("rewording"):
            problems.append(f"item {key}, field 'question': the question changed under the same key. If only the "
                            "wording changed, mark the item 'rewording: true'; if what is checked changed, "
                            "retire the key and add a new one")
    if problems:
        raise Conflict("template.meaning_changed", f"{filename}: " + "; ".join(problems),
                       {"file": filename, "problems": problems})


def _choice_values(item: dict) -> list[str]:
    return [c["value"] for c in item.get("choices") or []]


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()
