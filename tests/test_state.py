"""Stored contacts, registration and the journal, seen through the control API on every target."""

from __future__ import annotations

import json
from typing import Any

from tests.cases import AUTH, CONTACT, JSON_HEADERS, KEY, REGISTER
from tests.conftest import Target


def post(target: Target, body: Any, path: str = CONTACT, headers: dict[str, str] | None = None) -> Any:
    reply = target.request("POST", path, json.dumps(body).encode(), headers or JSON_HEADERS)
    return reply.json


def stored(target: Target, euid: int) -> dict[str, str] | None:
    reply = target.control("GET", f"/users/{euid}")
    return reply.json["contacts"] if reply.status == 200 else None


def test_success_merges_and_keeps_unsent_keys(target: Target) -> None:
    assert post(target, {"euid": 7, "contacts": {"email": "a@x"}})["code"] == 0
    assert post(target, {"euid": 7, "contacts": {"mobile_phone": "1"}})["code"] == 0
    assert stored(target, 7) == {"email": "a@x", "mobile_phone": "1"}
    assert post(target, {"euid": 7, "contacts": {"email": "b@x"}})["code"] == 0
    assert stored(target, 7) == {"email": "b@x", "mobile_phone": "1"}


def test_users_are_separate(target: Target) -> None:
    post(target, {"euid": 1, "contacts": {"email": "one"}})
    post(target, {"euid": 2, "contacts": {"email": "two"}})
    assert stored(target, 1) == {"email": "one"}
    assert stored(target, 2) == {"email": "two"}


def test_success_is_idempotent(target: Target) -> None:
    body = {"euid": 9, "contacts": {"email": "a@x", "mobile_phone": "5"}}
    first, second = post(target, body), post(target, body)
    assert first == second == {"code": 0, "message": "success"}
    assert stored(target, 9) == body["contacts"]


def test_rejected_request_changes_nothing(target: Target) -> None:
    post(target, {"euid": 3, "contacts": {"email": "kept"}})
    reply = post(target, {"euid": 3, "contacts": {"email": "lost", "mobile_phone": "x" * 257}})
    assert reply["code"] == 55105
    assert stored(target, 3) == {"email": "kept"}
    assert post(target, {"euid": 4, "contacts": {"email": "a", "fax": "b"}})["code"] == 55106
    assert stored(target, 4) is None


def test_register_hands_out_stable_euids(target: Target) -> None:
    reply = post(target, {"identity_name": "user_id", "identity_values": ["u1", "u2"]}, REGISTER)
    assert reply["code"] == 0 and reply["message"] == "success"
    data = reply["data"]
    assert [d["identity_value"] for d in data] == ["u1", "u2"]
    assert data[0]["euid"] != data[1]["euid"]
    again = post(target, {"identity_name": "user_id", "identity_values": ["u2"]}, REGISTER)
    assert again["data"] == [data[1]]
    other = post(target, {"identity_name": "anonymous_id", "identity_values": ["u1"]}, REGISTER)
    assert other["data"][0]["euid"] not in {d["euid"] for d in data}


def test_register_rules(target: Target) -> None:
    cases: list[tuple[Any, int]] = [
        ({"identity_name": "email", "identity_values": ["a"]}, 55106),
        ({"identity_name": "user_id", "identity_values": [f"v{i}" for i in range(101)]}, 55101),
        ({"identity_name": "user_id", "identity_values": [f"v{i}" for i in range(100)]}, 0),
        ({"identity_name": "user_id", "identity_values": ["x" * 257]}, 55105),
        ({"identity_name": "user_id", "identity_values": ["x" * 256]}, 0),
        ({"identity_name": "user_id", "identity_values": [""]}, 55107),
        ({"identity_name": "user_id", "identity_values": [" \u3000"]}, 55107),
        ({"identity_name": "user_id", "identity_values": []}, 55107),
        ({"identity_name": "user_id", "identity_values": [1]}, 55004),
        ({"identity_name": "user_id", "identity_values": "a"}, 55004),
        ({"identity_name": "user_id"}, 55004),
        ({"identity_values": ["a"]}, 55004),
    ]
    for body, code in cases:
        assert post(target, body, REGISTER)["code"] == code, body


def test_register_needs_auth_and_post(target: Target) -> None:
    body = json.dumps({"identity_name": "user_id", "identity_values": ["a"]}).encode()
    assert target.request("POST", REGISTER, body, {"Content-Type": "application/json"}).code == 40050
    assert target.request("GET", REGISTER).status == 405


def test_journal_records_and_redacts(target: Target) -> None:
    target.control("DELETE", "/journal")
    post(target, {"euid": 11, "contacts": {"email": "a"}}, headers={**JSON_HEADERS, "X-Mock-Token": "t0ken"})
    post(target, {"euid": 11, "contacts": {"fax": "a"}})
    post(target, {"euid": 12, "contacts": {"email": "b"}})
    entries = target.control("GET", "/journal").json["entries"]
    assert [(e["euid"], e["code"]) for e in entries] == [(11, 0), (11, 55106), (12, 0)]
    first = entries[0]
    assert first["method"] == "POST" and first["path"] == CONTACT and first["status"] == 200
    assert first["project"] == KEY
    assert json.loads(first["body"]) == {"euid": 11, "contacts": {"email": "a"}}
    text = json.dumps(entries)
    assert AUTH[6:] not in text and "t0ken" not in text
    assert first["headers"]["authorization"] == "<redacted>"
    by_euid = target.control("GET", "/journal?euid=11").json["entries"]
    assert [e["code"] for e in by_euid] == [0, 55106]
    by_code = target.control("GET", "/journal?code=0&limit=1").json["entries"]
    assert [e["euid"] for e in by_code] == [12]
    assert target.control("DELETE", "/journal").status == 200
    assert target.control("GET", "/journal").json["entries"] == []


def test_journal_keeps_euid_of_failed_auth(target: Target) -> None:
    target.control("DELETE", "/journal")
    target.request("POST", CONTACT, b'{"euid": 77, "contacts": {}}', {"Content-Type": "application/json"})
    assert [e["code"] for e in target.control("GET", "/journal?euid=77").json["entries"]] == [40050]


def test_seed_and_reset(target: Target) -> None:
    assert target.control("PUT", "/users/5", {"contacts": {"email": "seeded"}}).status == 200
    assert stored(target, 5) == {"email": "seeded"}
    assert target.control("POST", "/users", {"users": [{"euid": 6, "contacts": {"email": "s6"}}]}).status == 200
    assert stored(target, 6) == {"email": "s6"}
    assert target.control("POST", "/reset").status == 200
    assert stored(target, 5) is None and stored(target, 6) is None
    assert target.control("GET", "/journal").json["entries"] == []
