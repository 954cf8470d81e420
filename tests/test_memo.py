"""The memos of the pure steps and the cheaper journal: same answers, bounded, no secret kept.

A memo hit must answer exactly what a miss answers (status, headers, body bytes, and the
journal entry); every memo stays within its bound; none keeps a credential in a form that
could be shown; the journal's JSON keeps its shape whichever store holds it.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagelab_kit.mock_server import Settings
from engagelab_kit.mock_server.answer import answer
from engagelab_kit.mock_server.app import make_service
from engagelab_kit.mock_server.exceptions import ApiError
from engagelab_kit.mock_server.jsonbody import parse_body, parse_object
from engagelab_kit.mock_server.memo import Memo
from engagelab_kit.mock_server.rules import Rules
from engagelab_kit.mock_server.service import AUTH_MEMO_SIZE, BODY_MEMO_LIMIT, BODY_MEMO_SIZE, TYPE_MEMO_SIZE
from engagelab_kit.mock_server.store import JournalEntry, compact, expand, journal_entry
from engagelab_kit.mock_server.store_memory import MemoryStore
from engagelab_kit.mock_server.store_sqlite import SqliteStore
from engagelab_kit.mock_server.wire import HttpRequest
from tests.cases import ALL_CASES, AUTH, CONTACT, EXAMPLE, KEY, SECRET, basic

EXAMPLE_BODY = json.dumps(EXAMPLE).encode()


def _request(case_headers: dict[str, str], body: bytes, path: str = CONTACT, method: str = "POST") -> HttpRequest:
    # A fresh dict and fresh bytes each time, as an adapter hands them over.
    return HttpRequest(method, path, {k.lower(): v for k, v in case_headers.items()}, bytes(bytearray(body)), "")


def _journal_view(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in ("time", "duration_ms", "id")}


# -- the memo itself ------------------------------------------------------------------------------

def test_memo_keeps_at_most_its_size_and_forgets_the_oldest() -> None:
    memo: Memo[int, str] = Memo(3)
    for n in range(5):
        assert memo.put(n, str(n)) == str(n)
    assert len(memo) == 3
    assert [memo.get(n) for n in range(5)] == [None, None, "2", "3", "4"]
    memo.put(4, "four")  # a key already held takes no other's place
    assert len(memo) == 3 and memo.get(2) == "2" and memo.get(4) == "four"
    memo.clear()
    assert len(memo) == 0
    with pytest.raises(ValueError):
        Memo(0)


def test_memo_stays_bounded_under_concurrent_puts() -> None:
    memo: Memo[int, int] = Memo(16)

    def fill(offset: int) -> None:
        for n in range(20_000):
            memo.put(offset + n, n)

    threads = [threading.Thread(target=fill, args=(k * 1_000_000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    memo.put(-1, 0)  # one put after the race brings it back within the bound
    assert len(memo) <= 16


# -- a hit answers what a miss answers -------------------------------------------------------------

STRICT = Settings(strict_euid=True, known_euids=(42,))


@pytest.mark.parametrize("settings_", [Settings(), STRICT], ids=["default", "strict"])
def test_every_case_answers_the_same_from_the_memo(settings_: Settings) -> None:
    """Each request of the case table sent twice: the second (memo hits) answers byte for byte
    what the first (misses) did, and journals the same entry; a service that never saw the
    request before agrees too."""
    warm = make_service(settings_)
    for case in ALL_CASES:
        body = case.payload()
        first = answer(warm, _request(case.headers, body, case.path, case.method))
        second = answer(warm, _request(case.headers, body, case.path, case.method))
        fresh = answer(make_service(settings_), _request(case.headers, body, case.path, case.method))
        assert (first.status, first.headers, first.body) == (second.status, second.headers, second.body), case.id
        assert (fresh.status, fresh.headers, fresh.body) == (first.status, first.headers, first.body), case.id
        *_, miss, hit = warm.store.journal(limit=2)
        assert _journal_view(hit) == _journal_view(miss), case.id


def test_a_memoized_refusal_keeps_code_rule_and_message() -> None:
    service = make_service()
    bad = {"Content-Type": "application/json", "Authorization": basic(f"{KEY}:wrong-secret")}
    for _ in range(3):
        reply = service.handle(_request(bad, EXAMPLE_BODY))
        assert (reply.status, reply.payload["code"], reply.rule) == (401, 40050, "auth.secret")
        assert reply.payload["message"].endswith("(wrong secret)")
    empty = json.dumps({"euid": 1, "contacts": {}}).encode()
    for _ in range(3):
        reply = service.handle(_request({"Content-Type": "application/json", "Authorization": AUTH}, empty))
        assert (reply.payload["code"], reply.rule, reply.euid, reply.project) == (55103, "contacts.empty", 1, KEY)


def test_strict_mode_asks_the_state_on_every_hit() -> None:
    """The body's outcome is memoized, the strict-euid lookup is not: an euid registered between
    two identical requests turns the 55108 into a success."""
    service = make_service(Settings(strict_euid=True))
    headers = {"Content-Type": "application/json", "Authorization": AUTH}
    assert service.handle(_request(headers, EXAMPLE_BODY)).payload["code"] == 55108
    service.store.add_known_euids([EXAMPLE["euid"]])
    assert service.handle(_request(headers, EXAMPLE_BODY)).payload["code"] == 0


def test_memoized_contacts_are_never_changed_by_a_store(tmp_path: Path) -> None:
    headers = {"Content-Type": "application/json", "Authorization": AUTH}
    for store in (MemoryStore(), SqliteStore(str(tmp_path / "s.db"), batched=True)):
        service = make_service(Settings(), store)
        service.handle(_request(headers, EXAMPLE_BODY))
        other = json.dumps({"euid": EXAMPLE["euid"], "contacts": {"email": "other@example.com"}}).encode()
        service.handle(_request(headers, other))
        service.handle(_request(headers, EXAMPLE_BODY))
        if isinstance(store, SqliteStore):
            store.flush()
        parsed = service._body_memo.get(EXAMPLE_BODY)
        assert parsed is not None and parsed.contacts == EXAMPLE["contacts"]
        assert store.contacts(KEY, EXAMPLE["euid"]) == EXAMPLE["contacts"]
        store.close()


# -- bounds ------------------------------------------------------------------------------------------

def test_the_memos_stay_within_their_bounds() -> None:
    service = make_service()
    for n in range(BODY_MEMO_SIZE + 50):
        body = json.dumps({"euid": n + 1, "contacts": {"email": f"u{n}@example.com"}}).encode()
        service.handle(_request({"Content-Type": "application/json", "Authorization": AUTH}, body))
    assert len(service._body_memo) == BODY_MEMO_SIZE
    big = json.dumps({"euid": 1, "contacts": {"email": "x" * BODY_MEMO_LIMIT}}).encode()
    service.handle(_request({"Content-Type": "application/json", "Authorization": AUTH}, big))
    assert service._body_memo.get(big) is None  # too large to keep: decided afresh each time
    for n in range(AUTH_MEMO_SIZE + 50):
        service.handle(_request({"Content-Type": "application/json", "Authorization": basic(f"{KEY}:s{n}")},
                                EXAMPLE_BODY))
    assert len(service._auth_memo) == AUTH_MEMO_SIZE
    for n in range(TYPE_MEMO_SIZE + 50):
        service.handle(_request({"Content-Type": f"application/json; x={n}", "Authorization": AUTH}, EXAMPLE_BODY))
    assert len(service._type_memo) == TYPE_MEMO_SIZE
    long_type = "application/json; x=" + "y" * 5000
    reply = service.handle(_request({"Content-Type": long_type, "Authorization": AUTH}, EXAMPLE_BODY))
    assert reply.payload["code"] == 0 and service._type_memo.get(long_type) is None


# -- no secret kept --------------------------------------------------------------------------------

def test_the_auth_memo_keeps_no_form_of_the_credentials_that_can_be_shown() -> None:
    service = make_service()
    wrong = basic(f"{KEY}:not-the-secret-42")
    for header in (AUTH, wrong, AUTH):
        service.handle(_request({"Content-Type": "application/json", "Authorization": header}, EXAMPLE_BODY))
    held = repr(list(service._auth_memo._data.items()))
    for needle in (AUTH, AUTH[6:], SECRET, wrong[6:], "not-the-secret-42"):
        assert needle not in held
    # What it does keep: the project's key for the good value, the refusal for the wrong one.
    assert KEY in held and "wrong secret" in held


# -- the JSON fine print through orjson --------------------------------------------------------------

_RULES = Rules(Settings())


def _outcome(parse: Any, body: bytes) -> tuple[Any, ...]:
    """What every rule reads from a body parsed by ``parse``: refusal or result, step by step."""
    def step(read: Any, data: Any) -> Any:
        try:
            return ("ok", read(data))
        except ApiError as exc:
            return ("refused", exc.code, exc.rule, exc.detail)

    try:
        data = parse(body, 32)
    except ApiError as exc:
        return ("body", exc.code, exc.rule, exc.detail)
    euid = data.get("euid")
    peek = euid if type(euid) is int and 1 <= euid <= 2**63 - 1 else None
    return (peek, step(_RULES.euid, data), step(_RULES.contacts, data), step(_RULES.registration, data))


_LITERALS = st.sampled_from([
    "1", "-1", "0", "-0", "10362473", "9223372036854775807", "9223372036854775808", "18446744073709551615",
    "18446744073709551616", "99999999999999999999", "-9223372036854775809", "1" * 40, "1" * 5000, "1.0", "1e3",
    "1e400", "-1e400", "NaN", "Infinity", "true", "null", '""', '" "', '"\\u3000"', '"\\ud800"', '"\\udc00x"',
    '"\\ud83d\\ude00"', '"\\\\ud800"', '"a\\u0000b"', '"\x01"', '"\x7f"', '"email"', '"mobile_phone"', "[]", "{}",
    '"' + "x" * 300 + '"', "01", "1.", "-", "[1,]",
])
_KEYS = st.sampled_from(["euid", "contacts", "email", "mobile_phone", "fax", "1st", "identity_name",
                         "identity_values", "email\n", ""])


def _member(key: str, value: str) -> str:
    return json.dumps(key) + ":" + value


_VALUES = st.recursive(
    _LITERALS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(_KEYS, inner), max_size=4).map(
            lambda pairs: "{" + ",".join(_member(k, v) for k, v in pairs) + "}"),  # duplicates allowed
    ),
    max_leaves=12,
)
_BODIES = st.one_of(
    st.lists(st.tuples(_KEYS, _VALUES), max_size=5).map(lambda p: "{" + ",".join(_member(k, v) for k, v in p) + "}"),
    _VALUES,
).map(str.encode)


def _mangled(body: bytes, where: int, junk: bytes) -> bytes:
    at = where % (len(body) + 1)
    return body[:at] + junk + body[at:]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_BODIES, st.integers(0, 10_000), st.sampled_from([b"", b"", b"\xef\xbb\xbf", b"\xff", b"\xed\xa0\x80", b" ",
                                                           b"\t", b"\x0c", b"[" * 40, b"}", b'"', b"\\"]))
def test_orjson_path_agrees_with_the_strict_parser_on_every_rule(body: bytes, where: int, junk: bytes) -> None:
    if junk:
        body = _mangled(body, where, junk)
    fast, strict = _outcome(parse_body, body), _outcome(parse_object, body)
    assert fast == strict, body


def test_orjson_path_keeps_the_contracts_json_fine_print() -> None:
    cases = {
        b'{"x":"\\ud800","x":1,"euid":1}': "body.json",  # a lone surrogate in an overridden value
        b'\xef\xbb\xbf{"euid":1}': "body.utf8",
        b'{"euid":NaN}': "body.json",
        b'{"a":"\x01"}': "body.json",
        b'{"a":' + b"[" * 33 + b"]" * 33 + b"}": "body.json",
        b"[1]": "body.object",
    }
    for body, rule in cases.items():
        with pytest.raises(ApiError) as raised:
            parse_body(body, 32)
        assert raised.value.rule == rule, body
    assert parse_body(b'{"a":1,"b":2,"a":3}', 32) == {"a": 3, "b": 2}
    assert list(parse_body(b'{"a":1,"b":2,"a":3}', 32)) == ["a", "b"]  # the first key's place, as json's
    assert parse_body(b'{"e":1e400}', 32)["e"] == math.inf  # orjson refuses it, the strict path reads it


# -- the journal's shape -------------------------------------------------------------------------------

def _entry(**changes: Any) -> JournalEntry:
    fields: dict[str, Any] = dict(
        time=1_000_000_000.25, method="POST", path=CONTACT, query="a=1",
        headers={"content-type": "application/json", "authorization": AUTH, "x-api-key": "k-secret"},
        body=EXAMPLE_BODY, body_bytes=len(EXAMPLE_BODY), euid=10362473, project=KEY, code=0, status=200,
        duration_ms=0.12345, message="success", rule=None, steered=None)
    fields.update(changes)
    return JournalEntry(**fields)


EXPECTED = {
    "time": "2001-09-09T01:46:40.250+00:00", "method": "POST", "path": CONTACT, "query": "a=1",
    "headers": {"content-type": "application/json", "authorization": "<redacted>", "x-api-key": "<redacted>"},
    "headers_truncated": False, "body": EXAMPLE_BODY.decode(), "body_bytes": len(EXAMPLE_BODY),
    "body_truncated": False, "euid": 10362473, "project": KEY, "code": 0, "status": 200, "message": "success",
    "rule": None, "dropped": False, "steered": None, "duration_ms": 0.123,
}


def test_journal_json_keeps_its_shape() -> None:
    assert list(_entry().to_json().items()) == list(EXPECTED.items())
    bounded = journal_entry(*_entry()[:12], "success", None, None)
    assert list(bounded.to_json().items()) == list(EXPECTED.items())
    assert expand(compact(bounded)) == EXPECTED
    dropped = _entry(code=None, status=None, message=None, steered="fault 3", duration_ms=-0.5).to_json()
    assert (dropped["dropped"], dropped["steered"], dropped["duration_ms"]) == (True, "fault 3", 0.0)


def test_both_stores_show_the_same_journal(tmp_path: Path) -> None:
    entries = [_entry(), _entry(body=b"\xff" * 9000, body_bytes=20_000, headers={"x-h": "v" * 600}),
               _entry(code=None, status=None, message=None, steered="fault 1"),
               _entry(headers={"x-\udcff": "\udcfe", "cookie": "c-secret"})]
    memory, sqlite = MemoryStore(), SqliteStore(str(tmp_path / "s.db"))
    for entry in entries:
        memory.record(entry)
        sqlite.record(entry)
    assert sqlite.journal() == memory.journal()
    assert len(memory.journal()) == 4 and memory.journal()[1]["body_truncated"] is True
    sqlite.close()


def test_sqlite_reads_journal_rows_written_as_objects(tmp_path: Path) -> None:
    """A state file from before the compact rows: its entries still read as they were written."""
    store = SqliteStore(str(tmp_path / "s.db"))
    old = {**EXPECTED, "headers": {"content-type": "application/json"}}
    store._db.execute("INSERT INTO journal (euid, code, entry) VALUES (?, ?, ?)", (1, 0, json.dumps(old)))
    store.record(_entry())
    first, second = store.journal()
    assert _journal_view(first) == _journal_view(old) and first["id"] < second["id"]
    assert list(second) == [*EXPECTED, "id"]
    store.close()
