"""Steering the mock: faults, forced codes, the token, a switched-off control API."""

from __future__ import annotations

import json
import time

import pytest

from engagelab_kit.mock_server import Settings
from tests.cases import CONTACT, EXAMPLE, JSON_HEADERS
from tests.conftest import InProcess, Reply, Served, Target

BODY = json.dumps(EXAMPLE).encode()


def send(target: Target, headers: dict[str, str] | None = None, body: bytes = BODY) -> Reply:
    return target.request("POST", CONTACT, body, {**JSON_HEADERS, **(headers or {})})


def test_fault_returns_code_for_next_n_requests(target: Target) -> None:
    reply = target.control("POST", "/faults", {"code": -1, "times": 2})
    assert reply.status == 201 and reply.json["code"] == -1
    assert [(r.status, r.code) for r in (send(target), send(target))] == [(500, -1), (500, -1)]
    assert send(target).code == 0
    assert target.control("GET", "/faults").json["faults"] == []


def test_fault_matches_euid_only(target: Target) -> None:
    target.control("POST", "/faults", {"code": 55108, "euid": 99, "times": None})
    assert send(target).code == 0
    other = json.dumps({"euid": 99, "contacts": {"email": "a"}}).encode()
    assert send(target, body=other).code == 55108
    assert send(target, body=other).code == 55108
    assert target.control("DELETE", "/faults").json["removed"] == 1
    assert send(target, body=other).code == 0


def test_fault_latency(target: Target) -> None:
    target.control("POST", "/faults", {"latency_ms": 200})
    started = time.monotonic()
    assert send(target).code == 0
    assert time.monotonic() - started >= 0.19
    started = time.monotonic()
    send(target)
    assert time.monotonic() - started < 0.19


def test_fault_removed_by_id(target: Target) -> None:
    fault = target.control("POST", "/faults", {"code": 55004, "times": 5}).json
    assert target.control("DELETE", f"/faults/{fault['id']}").status == 200
    assert target.control("DELETE", f"/faults/{fault['id']}").status == 404
    assert send(target).code == 0


@pytest.mark.parametrize(
    "fault",
    [{"code": 0}, {"code": 55104}, {"code": "x"}, {"times": 0, "code": -1}, {"latency_ms": -1}, {}, {"bogus": 1},
     {"drop": "yes"}],
)
def test_bad_fault_is_refused(target: Target, fault: dict[str, object]) -> None:
    reply = target.control("POST", "/faults", fault)
    assert reply.status == 400 and "error" in reply.json


def test_control_refuses_non_json(target: Target) -> None:
    reply = target.request("POST", "/__mock/faults", b"nope", {"Content-Type": "text/plain"})
    assert reply.status == 400 and "error" in reply.json


def test_unknown_control_route_is_json_404(target: Target) -> None:
    reply = target.control("GET", "/nothing")
    assert reply.status == 404 and reply.headers["content-type"] == "application/json"


@pytest.mark.parametrize("code", [-1, 40050, 50031, 50034, 50074, 40007, 55004, 55101, 55102, 55103, 55105,
                                  55106, 55107, 55108])
def test_force_header_emits_every_documented_code(target: Target, code: int) -> None:
    reply = send(target, {"X-Mock-Force-Code": str(code)})
    assert reply.code == code
    expected = {-1: 500, 40050: 401, 50031: 401, 50034: 401, 50074: 401}.get(code, 400)
    assert reply.status == expected
    assert target.control("GET", "/users/10362473").status == 404


@pytest.mark.parametrize("value", ["0", "55104", "12", "abc", ""])
def test_force_header_refuses_other_codes(target: Target, value: str) -> None:
    assert send(target, {"X-Mock-Force-Code": value}).code == 55004


def test_control_health_and_config_hide_secrets(target: Target) -> None:
    assert target.control("GET", "/health").json["status"] == "ok"
    config = target.control("GET", "/config").json
    assert config["projects"][0]["key"] == "7d431e42dfa6a6d693ac2d04"
    assert "5e987ac6d2e04d95a9d8f0d1" not in json.dumps(config)


def test_token_protects_control_and_force_header() -> None:
    target = InProcess(Settings(control_token="s3cret"))
    assert target.control("GET", "/health").status == 401
    reply = target.request("GET", "/__mock/health", headers={"X-Mock-Token": "s3cret"})
    assert reply.status == 200
    assert send(target, {"X-Mock-Force-Code": "-1"}).code == 0
    assert send(target, {"X-Mock-Force-Code": "-1", "X-Mock-Token": "s3cret"}).code == -1
    assert "s3cret" not in json.dumps(target.request(
        "GET", "/__mock/config", headers={"X-Mock-Token": "s3cret"}).json)


def test_control_switched_off() -> None:
    target = InProcess(Settings(control_enabled=False))
    reply = target.control("GET", "/health")
    assert (reply.status, reply.code) == (404, 55004)
    assert send(target, {"X-Mock-Force-Code": "-1"}).code == 0


def test_statuses_are_settings() -> None:
    target = InProcess(Settings(statuses={55004: 422, 0: 201}))
    assert (send(target).status, send(target).code) == (201, 0)
    reply = send(target, body=b"[]")
    assert (reply.status, reply.code) == (422, 55004)


def test_strict_euid_accepts_configured_and_registered_only() -> None:
    target = InProcess(Settings(strict_euid=True, known_euids=(5,)))
    assert send(target).code == 55108
    assert send(target, body=b'{"euid": 5, "contacts": {"email": "a"}}').code == 0
    reg = target.request("POST", "/v1/user/register",
                         b'{"identity_name": "user_id", "identity_values": ["me"]}', JSON_HEADERS).json
    euid = reg["data"][0]["euid"]
    assert send(target, body=json.dumps({"euid": euid, "contacts": {"email": "a"}}).encode()).code == 0
    assert target.control("POST", "/euids", {"euids": [10362473]}).status == 200
    assert send(target).code == 0
    # Validity still comes first: a malformed euid is 55108 for its own reason, a missing one 40007.
    assert send(target, body=b'{"contacts": {"email": "a"}}').code == 40007


def test_more_contact_types_let_100_entries_succeed() -> None:
    types = tuple(f"c{i}" for i in range(100))
    target = InProcess(Settings(contact_types=types))
    body = json.dumps({"euid": 1, "contacts": {t: "v" for t in types}}).encode()
    assert send(target, body=body).code == 0
    assert send(target, body=json.dumps({"euid": 1, "contacts": {"email": "a"}}).encode()).code == 55106


def test_secret_may_contain_colons() -> None:
    from engagelab_kit.mock_server import Project

    target = InProcess(Settings(projects=(Project("p", "0123456789abcdef01234567", "a:b:c"),)))
    from tests.cases import basic

    headers = {"Authorization": basic("0123456789abcdef01234567:a:b:c")}
    assert send(target, headers).code == 0
    assert send(target, {"Authorization": basic("0123456789abcdef01234567:a:b")}).code == 40050


def test_custom_key_pattern() -> None:
    from engagelab_kit.mock_server import Project
    from tests.cases import basic

    target = InProcess(Settings(projects=(Project("p", "KEY-1", "s"),), project_key_pattern=r"KEY-\d+"))
    assert send(target, {"Authorization": basic("KEY-1:s")}).code == 0
    assert send(target, {"Authorization": basic("7d431e42dfa6a6d693ac2d04:s")}).code == 50031


def test_base_latency() -> None:
    target = InProcess(Settings(latency_ms=100))
    started = time.monotonic()
    send(target)
    assert time.monotonic() - started >= 0.095


def test_served_with_token_flag() -> None:
    server = Served("--control-token", "tok")
    try:
        assert server.control("GET", "/health").status == 401
        assert server.request("GET", "/__mock/health", headers={"X-Mock-Token": "tok"}).status == 200
    finally:
        assert server.stop() == 0


def test_a_bug_still_answers_json(monkeypatch: pytest.MonkeyPatch) -> None:
    target = InProcess()
    service = target.app.extensions["engagelab_mock"]

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(service.store, "merge_contacts", broken)
    reply = send(target)
    assert (reply.status, reply.code) == (500, -1)
    assert reply.json["message"].startswith("Internal server error.")


# -- the control API's own parsing (issue 8 point 6, issue 11 §4) ------------------------------------

@pytest.mark.parametrize("path", ["/users/%C2%B9", "/users/%D9%A3", "/journal?limit=%C2%B2", "/journal?euid=%C2%B9",
                                  "/users/99999999999999999999999", "/journal?code=1e3"])
def test_non_ascii_digits_are_a_json_400_not_a_500(target: Target, path: str) -> None:
    reply = target.control("GET", path)
    assert reply.status == 400 and reply.headers["content-type"].startswith("application/json")
    assert "must be an integer" in reply.json["error"]


@pytest.mark.parametrize("path", ["/health", "/journal", "/users/3", "/faults", "/faults/1", "/reset"])
def test_control_options_answers_json_with_allow(target: Target, path: str) -> None:
    reply = target.control("OPTIONS", path)
    assert reply.status == 200 and reply.headers["content-type"].startswith("application/json")
    assert "OPTIONS" in reply.json["allow"] and reply.headers["allow"] == ", ".join(reply.json["allow"])
    assert target.control("OPTIONS", "/no-such-thing").json["error"]


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("PUT", "/users/3", {"contact": {"email": "x"}}, "contact"),
        ("PUT", "/users/3", {"contacts": {"email": "x"}, "projct": "k"}, "projct"),
        ("POST", "/users", {"users": [{"euid": 3, "contact": {}}]}, "contact"),
        ("POST", "/users", {"user": []}, "user"),
        ("POST", "/euids", {"euids": [3], "strict": True}, "strict"),
        ("POST", "/faults", {"code": -1, "time": 3}, "time"),
    ],
)
def test_unknown_control_field_is_named_and_changes_nothing(
    target: Target, method: str, path: str, payload: dict[str, object], field: str
) -> None:
    assert target.control("PUT", "/users/3", {"contacts": {"email": "kept@example.com"}}).status == 200
    reply = target.control(method, path, payload)
    assert reply.status == 400 and repr(field) in reply.json["error"], reply.json
    assert target.control("GET", "/users/3").json["contacts"] == {"email": "kept@example.com"}
    assert target.control("GET", "/faults").json["faults"] == []


def test_seeding_needs_contacts(target: Target) -> None:
    reply = target.control("PUT", "/users/3", {})
    assert reply.status == 400 and "contacts is required" in reply.json["error"]
    assert target.control("GET", "/users/3").status == 404
    assert target.control("PUT", "/users/3", {"contacts": {}}).status == 200
    assert target.control("GET", "/users/3").json["contacts"] == {}


def test_openapi_document_is_served(target: Target) -> None:
    reply = target.control("GET", "/openapi.json")
    assert reply.status == 200 and reply.json["openapi"].startswith("3.")
    assert CONTACT in reply.json["paths"] and reply.json["servers"][0]["description"] == "this mock"


def test_control_call_with_an_unread_body_keeps_the_connection_usable(served: Served) -> None:
    import socket
    from urllib.parse import urlsplit

    def answer(sock: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"}\n"):
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        return data

    url = urlsplit(served.url)
    body = b"[" * 200_000
    request = (f"GET /__mock/health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    follow = b"GET /__mock/health HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        first = answer(sock)
        assert first.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in first
        sock.sendall(follow)  # on the same keep-alive connection
        assert answer(sock).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("body", [b"[" * 50_000 + b"]" * 50_000, b'{"contacts": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
                                  b'{"contacts": {"email": "\\ud800"}}', b"\xff", b'{"euids": [' + b"9" * 5000 + b"]}"])
@pytest.mark.parametrize("path", ["/users/1", "/users", "/euids", "/faults"])
def test_hostile_control_bodies_get_a_json_400(target: Target, body: bytes, path: str) -> None:
    method = "PUT" if path == "/users/1" else "POST"
    reply = target.request(method, f"/__mock{path}", body, {"Content-Type": "application/json"})
    assert reply.status == 400 and reply.headers["content-type"].startswith("application/json"), reply.raw[:200]
    assert reply.json["error"]
