"""The sync protocol over HTTP, as sync/PROTOCOL.md tells it: replay, payload mismatch, conflicts between
two devices, held mutations released or rejected when their audit arrives, who may push what, and pull
paging while others write."""
from __future__ import annotations

import threading

from .conftest import needs
from .contract_http import Device, answer_set, mutation, uuid7


def rating_items(audit: dict) -> list[str]:
    """Keys of the items rated met / not met in the audit's pinned template (from the visit pack)."""
    keys = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("key"), str) and node.get("answer", "rating") == "rating" and "question" in node:
                keys.append(node["key"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(audit["template"])
    return keys


def start(audit: dict) -> dict:
    return mutation("audit.start", audit["audit_id"], {"visit_id": audit["visit_id"], "audit_type": audit["audit_type"],
                                                        "template_version_id": audit["template_version_id"]})


def started_audit(contract, device: Device) -> dict:
    audit = contract.fresh_audit(device.http)
    assert device.push_one(start(audit))["status"] == "applied"
    return audit


def test_a_replay_answers_duplicate_with_the_first_result(contract):
    device = contract.device()
    audit = started_audit(contract, device)
    sent = answer_set(audit["audit_id"], rating_items(audit)[0], {"rating": "met", "note": "Seen"})
    first = device.push_one(sent)
    assert first["status"] == "applied" and first["version"] == 1
    for _ in range(2):
        again = device.push_one(sent)
        assert again["status"] == "duplicate" and again["original"]["status"] == "applied"
        assert again["original"]["version"] == 1
    # Idempotency is per (device_id, mutation_id): the same mutation id from another device is another mutation.
    other = Device(device.http)
    assert other.push_one({**sent, "base_version": 1})["status"] == "applied"


def test_the_same_mutation_id_with_another_payload_is_rejected(contract):
    device = contract.device()
    audit = started_audit(contract, device)
    sent = answer_set(audit["audit_id"], rating_items(audit)[0], {"rating": "met"})
    assert device.push_one(sent)["status"] == "applied"
    changed = {**sent, "payload": {**sent["payload"], "fields": {"rating": "not_met"}}}
    result = device.push_one(changed)
    assert result["status"] == "rejected" and result["code"] == "sync.mutation_mismatch"


def test_two_devices_changing_one_field_from_one_base_conflict_and_pull_says_so(contract):
    first, second = contract.device(), contract.device()
    audit = started_audit(contract, first)
    key = rating_items(audit)[0]
    _, cursor = second.pull_all()
    applied = first.push_one(answer_set(audit["audit_id"], key, {"rating": "met"}))
    assert applied["status"] == "applied"
    contested = second.push_one(answer_set(audit["audit_id"], key, {"rating": "not_met", "note": "Not seen"}))
    assert contested["status"] == "conflict" and contested["code"] == "sync.conflict"
    assert contested["conflicts"] == ["rating"] and "version" not in contested
    changes, _ = first.pull_all(cursor)
    answer = [c for c in changes if c["entity"] == "answer" and c["entity_id"] == applied["entity_id"]][-1]
    # The contested field keeps the first value; the other field applied.
    assert answer["data"]["fields"]["rating"] == "met" and answer["data"]["fields"]["note"] == "Not seen"
    conflicts = [c["data"] for c in changes if c["entity"] == "conflict"]
    assert [(c["entity_id"], c["field"], c["status"], c["device_id"]) for c in conflicts] == [
        (applied["entity_id"], "rating", "open", second.device_id)]


def test_a_held_mutation_is_released_when_its_audit_arrives(contract):
    device = contract.device()
    audit = contract.fresh_audit(device.http)
    _, cursor = device.pull_all()
    waiting = answer_set(audit["audit_id"], rating_items(audit)[0], {"rating": "met"})
    held = device.push_one(waiting)
    assert held["status"] == "held" and held["code"] == "sync.parent_missing"
    assert device.push_one(start(audit))["status"] == "applied"
    changes, _ = device.pull_all(cursor)
    outcomes = [c["data"] for c in changes if c["entity"] == "mutation" and c["entity_id"] == waiting["mutation_id"]]
    assert len(outcomes) == 1 and outcomes[0]["status"] == "applied" and outcomes[0]["device_id"] == device.device_id
    assert outcomes[0]["kind"] == "answer.set"
    answers = [c for c in changes if c["entity"] == "answer" and c["data"]["audit_id"] == audit["audit_id"]]
    assert [a["data"]["fields"]["rating"] for a in answers] == ["met"]
    replay = device.push_one(waiting)
    assert replay["status"] == "duplicate" and replay["original"]["status"] == "applied"


def test_a_held_mutation_rejected_when_its_audit_arrives_is_reported_to_its_device(contract):
    device = contract.device()
    audit = contract.fresh_audit(device.http)
    _, cursor = device.pull_all()
    waiting = answer_set(audit["audit_id"], "NO-SUCH-9.9", {"rating": "met"})
    assert device.push_one(waiting)["status"] == "held"
    assert device.push_one(start(audit))["status"] == "applied"
    changes, _ = device.pull_all(cursor)
    outcomes = [c["data"] for c in changes if c["entity"] == "mutation" and c["entity_id"] == waiting["mutation_id"]]
    assert len(outcomes) == 1 and outcomes[0]["status"] == "rejected" and outcomes[0]["code"] == "sync.invalid"
    assert outcomes[0]["message"] and outcomes[0]["device_id"] == device.device_id
    replay = device.push_one(waiting)
    assert replay["status"] == "duplicate" and replay["original"]["code"] == "sync.invalid"


def test_another_users_device_id_and_audit_are_refused(contract):
    mine = contract.device()
    audit = started_audit(contract, mine)
    other = contract.session(needs(contract.auditor2, "AUDITOR2"))
    borrowed = Device(other, device_id=mine.device_id)
    result = borrowed.push_one(answer_set(audit["audit_id"], rating_items(audit)[0], {"rating": "met"}))
    assert result["status"] == "rejected" and result["code"] == "sync.forbidden"
    theirs = Device(other)
    for sent in (answer_set(audit["audit_id"], rating_items(audit)[0], {"rating": "not_met"}),
                 answer_set(uuid7(), "SG-1.1", {"rating": "met"})):  # an audit that exists, and one that does not
        result = theirs.push_one(sent)
        assert result["status"] == "rejected" and result["code"] == "sync.forbidden"
    assert other.call("GET", f"/capture/packs/{audit['visit_id']}").status == 404
    changes, _ = theirs.pull_all()
    assert not [c for c in changes if audit["audit_id"] in (c["entity_id"], (c.get("data") or {}).get("audit_id"))]


def test_base_version_above_the_servers_is_rejected(contract):
    device = contract.device()
    audit = started_audit(contract, device)
    result = device.push_one(answer_set(audit["audit_id"], rating_items(audit)[0], {"rating": "met"}, base_version=7))
    assert result["status"] == "rejected" and result["code"] == "sync.base_version_ahead"


def test_invalid_mutations_are_rejected_one_by_one(contract):
    device = contract.device()
    audit = started_audit(contract, device)
    keys = rating_items(audit)
    good = answer_set(audit["audit_id"], keys[0], {"rating": "met"})
    results = device.push([good, answer_set(audit["audit_id"], keys[1], {"note": "cut \ud83d"}),
                           answer_set(audit["audit_id"], keys[2], {"rating": "not_applicable"}),
                           {**answer_set(audit["audit_id"], keys[3], {"rating": "met"}), "base_version": 2**31}])
    assert [r["status"] for r in results] == ["applied", "rejected", "rejected", "rejected"]
    assert [r["code"] for r in results[1:]] == ["sync.invalid", "answer.na_reason_required", "sync.invalid"]
    assert "payload" in results[1]["details"] and "base_version" in results[3]["details"]
    answer = device.http.call("POST", "/sync/push", {"device_id": device.device_id, "mutations": [None, "a"]})
    assert answer.status == 200 and [r["code"] for r in answer.json["results"]] == ["sync.invalid", "sync.invalid"]


def test_submitting_an_incomplete_audit_is_rejected_with_the_missing_items(contract):
    device = contract.device()
    audit = started_audit(contract, device)
    result = device.push_one(mutation("audit.submit", audit["audit_id"], {}))
    assert result["status"] == "rejected" and result["code"] == "audit.incomplete"
    assert set(rating_items(audit)) <= set(result["details"]["missing"])


def test_pull_pages_miss_no_change_while_others_write(contract):
    reader = contract.device()
    _, cursor = reader.pull_all()
    writers = [contract.device() for _ in range(2)]
    audits = [started_audit(contract, w) for w in writers]
    latest: dict[str, int] = {}
    failures = []

    def write(device: Device, audit: dict):
        try:
            versions: dict[str, tuple[str, int]] = {}
            for round_ in range(6):
                batch = []
                for key in rating_items(audit)[:5]:
                    entity, base = versions.get(key, (uuid7(), 0))
                    batch.append(answer_set(audit["audit_id"], key, {"note": f"round {round_}"}, base, entity))
                for sent, result in zip(batch, device.push(batch)):
                    assert result["status"] == "applied", result
                    versions[sent["payload"]["item_key"]] = (result["entity_id"], result["version"])
                    latest[result["entity_id"]] = result["version"]
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=pair) for pair in zip(writers, audits)]
    for thread in threads:
        thread.start()
    seen: dict[str, int] = {}
    cursors = []
    while any(t.is_alive() for t in threads):
        answer = reader.http.call("GET", f"/sync/pull?cursor={cursor}&limit=3")
        assert answer.status == 200
        for change in answer.json["changes"]:
            cursors.append(change["cursor"])
            if change["entity"] == "answer":
                seen[change["entity_id"]] = max(seen.get(change["entity_id"], 0), change["data"]["version"])
        cursor = answer.json["next_cursor"]
    for thread in threads:
        thread.join()
    assert not failures, failures
    changes, _ = reader.pull_all(cursor, limit=3)
    for change in changes:
        cursors.append(change["cursor"])
        if change["entity"] == "answer":
            seen[change["entity_id"]] = max(seen.get(change["entity_id"], 0), change["data"]["version"])
    assert cursors == sorted(set(cursors))  # in server order, none twice
    assert len(latest) == 10 and {e: seen.get(e) for e in latest} == latest


def test_an_entity_id_of_another_record_is_refused(contract):
    device = contract.device()
    audit = started_audit(contract, device)
    first, second = rating_items(audit)[:2]
    taken = device.push_one(answer_set(audit["audit_id"], first, {"rating": "met"}))["entity_id"]
    result = device.push_one(answer_set(audit["audit_id"], second, {"rating": "met"}, entity_id=taken))
    assert result["status"] == "rejected" and result["code"] == "sync.entity_id_taken"


def test_a_change_after_submission_is_kept_for_the_reviewer(contract):
    device = contract.device()
    audit = started_audit(contract, device)
    items = rating_items(audit)
    results = device.push([answer_set(audit["audit_id"], key, {"rating": "met"}) for key in items])
    assert {r["status"] for r in results} == {"applied"}
    submitted = device.push_one(mutation("audit.submit", audit["audit_id"], {}, base_version=1))
    assert submitted["status"] == "applied", submitted
    late = device.push_one(answer_set(audit["audit_id"], items[0], {"rating": "not_met"}, base_version=1,
                                      entity_id=results[0]["entity_id"]))
    assert late["status"] == "conflict" and late["code"] == "audit.submitted" and late["conflicts"] == ["rating"]


def test_held_mutations_are_capped_per_device(contract):
    device = contract.device()
    audit = contract.fresh_audit(device.http)  # never started: everything sent for it waits
    held, refused = 0, []
    while not refused and held <= 20_000:
        results = device.push([answer_set(audit["audit_id"], "SG-1.1", {"note": "waiting"}) for _ in range(2000)])
        held += sum(r["status"] == "held" for r in results)
        refused = [r for r in results if r["status"] != "held"]
    assert refused and {(r["status"], r["code"]) for r in refused} == {("rejected", "sync.held_limit")}
    assert held == refused[0]["details"]["max_held_per_device"]  # one device pushing alone: exactly the cap
