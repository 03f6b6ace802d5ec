"""Read, validate and compose template YAML into the content of one template version.

Errors name the file, the item (or section) and the field, so a council officer editing a
checklist can find the line to fix.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml
from marshmallow import ValidationError

from ..services.errors import Invalid
from .schema import HeaderFileSchema, PromptsFileSchema, TemplateFileSchema

HEADER_FILE = "header.yaml"
PROMPTS_FILE = "prompts.yaml"


def compose(path: Path) -> dict:
    """Return the validated, self-contained content of the template at `path`.

    The header and prompt sets are copied in, so a published version never depends on files
    that may change later.

    :raises template.invalid: a file is unreadable or fails the schema.
    """
    own = _load(path, TemplateFileSchema())
    sections = list(own["sections"])
    if own["includes_header"]:
        sections = _load(path.parent / HEADER_FILE, HeaderFileSchema())["sections"] + sections
    content = {**own, "sections": sections}
    del content["includes_header"]
    if own["prompt_sets"]:
        prompts = _load(path.parent / PROMPTS_FILE, PromptsFileSchema())
        content["prompt_sets"] = [
            {**ps, "prompts": [p for p in ps["prompts"] if own["template"] in p["audits"]]}
            for ps in prompts["prompt_sets"] if ps["key"] in own["prompt_sets"]
        ]
        content["disclosure_route"] = prompts["disclosure_route"]
    _check_unique_keys(path.name, content)
    return content


def content_hash(content: dict) -> str:
    """SHA-256 of the canonical JSON form: equal content, equal hash, whatever the YAML layout."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def items_by_key(content: dict) -> dict[str, dict]:
    """Every item of a composed template, keyed by item key."""
    return {item["key"]: item for section in content["sections"] for item in section["items"]}


def _load(path: Path, schema) -> dict:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Invalid("template.invalid", f"{path.name}: file not found", {"file": path.name}) from None
    except yaml.YAMLError as exc:
        raise Invalid("template.invalid", f"{path.name}: not valid YAML ({exc})", {"file": path.name}) from None
    if not isinstance(raw, dict):
        raise Invalid("template.invalid", f"{path.name}: expected a mapping at the top level", {"file": path.name})
    try:
        return schema.load(raw)
    except ValidationError as exc:
        problems = describe_errors(exc.messages, raw)
        raise Invalid("template.invalid", f"{path.name}: " + "; ".join(problems),
                      {"file": path.name, "problems": problems}) from None


def describe_errors(messages: dict, data: object, where: str = "", field_name: str = "") -> list[str]:
    """Flatten marshmallow's nested messages into "item SG-1.3, field 'critical': …" lines."""
    lines: list[str] = []
    for key, message in messages.items():
        child = _child(data, key)
        label, name = where, field_name
        if isinstance(key, int) and isinstance(child, dict) and "key" in child:
            label, name = f"{_kind(str(child['key']))} {child['key']}", ""
        elif isinstance(key, int):
            name = f"{field_name} entry {key + 1}".strip()
        else:
            name = f"field '{key}'"
        if isinstance(message, dict):
            lines += describe_errors(message, child, label, name)
        else:
            text = " ".join(message) if isinstance(message, list) else str(message)
            lines.append(", ".join(p for p in (label, name) if p) + f": {text}")
    return lines


def _child(data: object, field: object) -> object:
    if isinstance(data, dict):
        return data.get(field)
    if isinstance(data, list) and isinstance(field, int) and field < len(data):
        return data[field]
    return None


def _kind(key: str) -> str:
    if key[:2] in ("LC", "SC"):
        return "prompt"
    return "item" if "." in key or key.startswith("HDR-") else "section"


def _check_unique_keys(filename: str, content: dict) -> None:
    seen: set[str] = set()
    for section in content["sections"]:
        for key in [section["key"]] + [i["key"] for i in section["items"]]:
            if key in seen:
                raise Invalid("template.invalid", f"{filename}: item {key}, field 'key': used more than once",
                              {"file": filename, "problems": [f"item {key}: duplicate key"]})
            seen.add(key)
