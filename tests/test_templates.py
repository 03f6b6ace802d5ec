"""Publishing audit templates: valid files publish once, broken ones say where, meanings never drift."""
import shutil

import pytest
import yaml

from auditapp.audit_templates import TEMPLATE_DIR
from auditapp.audit_templates.loader import compose, items_by_key
from auditapp.models import AuditLogEntry, TemplateVersion
from auditapp.services import templates
from auditapp.services.errors import Conflict, Invalid


@pytest.fixture
def template_dir(tmp_path):
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _edit(path, change):
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _item(data, key):
    return next(i for s in data["sections"] for i in s["items"] if i["key"] == key)


def test_the_three_templates_compose_with_header_and_prompts():
    sg, hs, qe = (compose(TEMPLATE_DIR / f) for f in ("safeguarding.yaml", "health_safety.yaml", "quality_education.yaml"))
    assert sg["sections"][0]["key"] == "HDR" and "HDR-4.5" in items_by_key(sg)
    assert len(items_by_key(sg)) == 36 + 11 and len(items_by_key(hs)) == 37 + 11 and len(items_by_key(qe)) == 31 + 11
    critical = {k for c in (sg, hs, qe) for k, i in items_by_key(c).items() if i["critical"]}
    assert critical == {"SG-1.1", "SG-2.1", "SG-3.2", "SG-3.3", "SG-3.4", "SG-6.1", "SG-6.2", "SG-8.1", "HS-2.2",
                        "HS-3.1", "HS-4.2", "HS-7.1", "QE-2.2", "HDR-4.5"}
    assert [p["key"] for p in hs["prompt_sets"]] == ["staff"]
    assert all("health_safety" in p["audits"] for p in hs["prompt_sets"][0]["prompts"])
    item = items_by_key(sg)["SG-3.3"]
    assert item["evidence"] == ["document"] and item["source"] == ["VNS 1.1", "KCSIE"] and item["guidance"]


def test_the_known_world_has_each_template_published_once(db_session):
    versions = templates.list_versions(db_session)
    assert sorted((v.template.audit_type, v.version) for v in versions) == [
        ("health_safety", 1), ("quality_education", 1), ("safeguarding", 1)]
    assert all(len(v.content_hash) == 64 for v in versions)


def test_republishing_the_same_files_is_a_no_op(db_session, template_dir):
    before = db_session.query(TemplateVersion).count()
    results = templates.publish_all(db_session, None, template_dir)
    assert [r.status for r in results] == ["unchanged"] * 3
    assert db_session.query(TemplateVersion).count() == before


def test_a_new_version_with_a_new_item_publishes(db_session, template_dir):
    def add_item(data):
        data["version"] = 2
        data["sections"][0]["items"].append({**_item(data, "SG-1.7"), "key": "SG-1.8",
                                             "question": "Is the Prevent risk assessment current?"})
    _edit(template_dir / "safeguarding.yaml", add_item)
    result = templates.publish_template(db_session, None, template_dir / "safeguarding.yaml")
    assert (result.status, result.version) == ("published", 2)
    assert db_session.query(AuditLogEntry).filter_by(action="template.publish", entity_id=str(
        templates.latest_version(db_session, "safeguarding").id)).count() == 1


def test_a_broken_file_names_the_file_item_and_field(db_session, template_dir):
    _edit(template_dir / "safeguarding.yaml", lambda d: _item(d, "SG-1.3").update(critical="maybe"))
    with pytest.raises(Invalid) as caught:
        templates.publish_template(db_session, None, template_dir / "safeguarding.yaml")
    assert caught.value.code == "template.invalid"
    assert "safeguarding.yaml" in caught.value.message
    assert "item SG-1.3, field 'critical'" in caught.value.message


def test_a_broken_header_is_reported_against_the_header_file(db_session, template_dir):
    _edit(template_dir / "header.yaml", lambda d: d["sections"][0]["items"][0].update(evidence=["telepathy"]))
    with pytest.raises(Invalid, match=r"header.yaml: item HDR-1, field 'evidence'"):
        templates.publish_template(db_session, None, template_dir / "safeguarding.yaml")


def test_a_file_that_is_not_yaml_is_refused(db_session, template_dir):
    (template_dir / "health_safety.yaml").write_text("template: [unclosed")
    with pytest.raises(Invalid, match="health_safety.yaml: not valid YAML"):
        templates.publish_template(db_session, None, template_dir / "health_safety.yaml")


def test_changing_a_question_under_the_same_key_is_refused(db_session, template_dir):
    def change(data):
        data["version"] = 2
        _item(data, "SG-3.3")["question"] = "Does the provider keep a fire log?"
    _edit(template_dir / "safeguarding.yaml", change)
    with pytest.raises(Conflict) as caught:
        templates.publish_template(db_session, None, template_dir / "safeguarding.yaml")
    assert caught.value.code == "template.meaning_changed"
    assert "item SG-3.3, field 'question'" in caught.value.message
    assert templates.latest_version(db_session, "safeguarding").version == 1


def test_a_declared_rewording_keeps_the_key(db_session, template_dir):
    def reword(data):
        data["version"] = 2
        _item(data, "SG-3.3").update(question="Do all staff and proprietors have an enhanced DBS with barred list "
                                              "check, completed before they started work?", rewording=True)
    _edit(template_dir / "safeguarding.yaml", reword)
    assert templates.publish_template(db_session, None, template_dir / "safeguarding.yaml").version == 2


def test_changing_the_kind_of_answer_is_refused_even_as_rewording(db_session, template_dir):
    def change(data):
        data["version"] = 2
        _item(data, "HDR-4.2").update(answer="text", rewording=True)
    _edit(template_dir / "header.yaml", lambda d: _item(d, "HDR-4.2").update(answer="text"))
    _edit(template_dir / "health_safety.yaml", lambda d: d.update(version=2))
    with pytest.raises(Conflict, match="item HDR-4.2, field 'answer'"):
        templates.publish_template(db_session, None, template_dir / "health_safety.yaml")


def test_a_retired_key_is_never_reused(db_session, template_dir):
    path = template_dir / "quality_education.yaml"
    original = yaml.safe_load(path.read_text())
    _edit(path, lambda d: (d.update(version=2), d["sections"][-1]["items"].pop()))  # retire QE-10.2
    templates.publish_template(db_session, None, path)
    path.write_text(yaml.safe_dump({**original, "version": 3}, sort_keys=False))
    with pytest.raises(Conflict, match="item QE-10.2: the key was retired"):
        templates.publish_template(db_session, None, path)


def test_changed_content_under_a_published_version_number_is_refused(db_session, template_dir):
    _edit(template_dir / "safeguarding.yaml", lambda d: _item(d, "SG-1.1").update(guidance="Newer guidance"))
    with pytest.raises(Conflict) as caught:
        templates.publish_template(db_session, None, template_dir / "safeguarding.yaml")
    assert caught.value.code == "template.version_conflict"
    assert "give the changed template version 2" in caught.value.message
