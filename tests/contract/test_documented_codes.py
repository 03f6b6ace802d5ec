"""Every result and error code the server emits has a row in sync/PROTOCOL.md's "Result and error codes"
tables, and every row names a code the server emits.

This test reads source files, not the app: it is the one module of tests/contract that does not talk HTTP.
A code is emitted where the source (auditapp/, sync/) has a code-shaped string literal ("area.name") as:
the first argument of a DomainError subclass (or a module constant passed there); a `code=` keyword; the
value of a "code" key in a dict literal; the first item of a (code, message) pair a function returns;
a value in a module constant whose name says it holds codes (`*_CODES`); or the code argument of
`error_response`. Either branch of a conditional expression counts.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = re.compile(r"[a-z][a-z_]*\.[a-z0-9_]+\Z")
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")


def _strings(node: ast.AST, constants: dict[str, str]) -> list[str]:
    """The code-shaped strings `node` may evaluate to (constants, conditionals, module constants)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.match(node.value):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body, constants) + _strings(node.orelse, constants)
    if isinstance(node, ast.Name) and node.id in constants:
        return [constants[node.id]]
    return []


def _error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    names, grown = {"DomainError"}, True
    while grown:
        grown = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names and any(
                        getattr(base, "id", getattr(base, "attr", None)) in names for base in node.bases):
                    names.add(node.name)
                    grown = True
    return names


def _in_module(tree: ast.Module, error_classes: set[str]) -> set[str]:
    constants = {n.targets[0].id: n.value.value for n in tree.body
                 if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
                 and _strings(n.value, {})}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            if name in error_classes and node.args:
                found.update(_strings(node.args[0], constants))
            if name == "error_response" and len(node.args) > 1:
                found.update(_strings(node.args[1], constants))
            found.update(c for k in node.keywords if k.arg == "code" for c in _strings(k.value, constants))
        elif isinstance(node, ast.Dict):
            found.update(c for k, v in zip(node.keys, node.values)
                         if isinstance(k, ast.Constant) and k.value == "code" for c in _strings(v, constants))
        elif isinstance(node, ast.Return) and node.value is not None:
            for pair in ast.walk(node.value):
                if isinstance(pair, ast.Tuple) and len(pair.elts) >= 2 and isinstance(
                        pair.elts[1], (ast.Constant, ast.JoinedStr)) and not _strings(pair.elts[1], {}):
                    found.update(_strings(pair.elts[0], {}))
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id.endswith("_CODES")
                                                  for t in node.targets):
            found.update(c for part in ast.walk(node.value) for c in _strings(part, {}))
    return found


def emitted_codes() -> set[str]:
    files = [p for folder in ("auditapp", "sync") for p in sorted((ROOT / folder).rglob("*.py"))]
    trees = {p: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in files}
    error_classes = _error_classes(trees)
    return set().union(*(_in_module(tree, error_classes) for tree in trees.values()))


def documented_codes() -> list[str]:
    text = (ROOT / "sync" / "PROTOCOL.md").read_text(encoding="utf-8")
    section = text.split("\n## Result and error codes\n", 1)[1].split("\n## ", 1)[0]
    return [m.group(1) for line in section.splitlines() if (m := ROW.match(line)) and m.group(1) != "code"]


def test_the_scan_finds_codes_of_every_kind_of_emitter():
    # One per way of emitting: a raise, a code= keyword, a conditional, a returned pair, a *_CODES constant,
    # error_response's argument. If the scan stops seeing one of these, this fails before the real test lies.
    found = emitted_codes()
    assert {"sync.malformed", "sync.parent_missing", "sync.conflict", "audit.submitted", "answer.na_reason_required",
            "evidence.checksum_mismatch", "request.csrf_failed", "server.error", "http.405",
            "review.own_audit"} <= found


def test_every_emitted_code_has_a_row():
    missing = sorted(emitted_codes() - set(documented_codes()))
    assert not missing, f"add rows to sync/PROTOCOL.md 'Result and error codes' for: {missing}"


def test_every_row_names_an_emitted_code_once():
    rows = documented_codes()
    assert len(rows) == len(set(rows)), sorted({c for c in rows if rows.count(c) > 1})
    unknown = sorted(set(rows) - emitted_codes())
    assert not unknown, f"these rows name codes nothing emits: {unknown}"
