"""The parts users test their clients with: in-process transport, journal rules, request problems,
strategies and the reference client, all against the in-process mock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagelab_kit import spec
from engagelab_kit.mock_server import (
    ContactClient,
    InProcessMock,
    InvalidRequest,
    MockTransport,
    ProjectError,
    TransportError,
    in_process_mock,
    invalid_requests,
    mock_engagelab,
    request_problems,
    valid_requests,
)
from engagelab_kit.mock_server.strategies import INVALID_RULES
from tests.cases import ALL_CASES, KEY, SECRET, Case

SPEC = spec.load()
RULES = {r.id: r for r in SPEC.rules}
BASE = SPEC.base_urls["singapore"]


@pytest.fixture(scope="module")
def mock() -> Iterator[InProcessMock]:
    yield in_process_mock()


def _send(mock: InProcessMock, case: Case) -> requests.Response:
    session = mock.session()
    return session.request(case.method, BASE + case.path, data=case.payload(), headers=case.headers, timeout=5)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_transport_answers_every_case_and_the_journal_names_its_rule(mock: InProcessMock, case: Case) -> None:
    mock.control.reset()
    reply = _send(mock, case)
    assert reply.status_code == case.status
    [entry] = mock.control.journal()
    assert entry.code == case.code
    if case.code == 0:
        assert entry.rule is None
    else:
        assert entry.rule in RULES, entry.rule
        assert RULES[entry.rule].code == case.code


def test_every_contact_rule_is_named_by_some_case(mock: InProcessMock) -> None:
    seen: set[str | None] = set()
    for case in ALL_CASES:
        mock.control.reset()
        _send(mock, case)
        seen.update(e.rule for e in mock.control.journal())
    # euid.unknown needs strict mode; success is not a refusal.
    assert set(RULES) - seen == {"euid.unknown", "success"}


def test_request_problems_skip_steered_answers_and_account_rules(mock: InProcessMock) -> None:
    mock.control.reset()
    session = mock.session()
    url = BASE + SPEC.contact_path
    session.post(url, json={"euid": "7", "contacts": {"email": "a@b"}}, auth=(KEY, SECRET), timeout=5)  # 55108
    session.post(url, json={"euid": 7, "contacts": {"email": "a@b"}}, auth=(KEY, "wrong"), timeout=5)  # 40050
    session.post(url, json={"euid": 7, "contacts": {"email": "a@b"}}, timeout=5)  # 40050, no header at all
    mock.control.force_code(55105)
    session.post(url, json={"euid": 7, "contacts": {"email": "a@b"}}, auth=(KEY, SECRET), timeout=5)
    session.post(url, json={"euid": 7, "contacts": {"email": "a@b"}}, auth=(KEY, SECRET), timeout=5,
                 headers={"X-Mock-Force-Code": "55101"})
    journal = mock.control.journal()
    assert [e.code for e in journal] == [55108, 40050, 40050, 55105, 55101]
    assert [(p.rule, p.code) for p in request_problems(journal)] == [("euid.invalid", 55108), ("auth.header", 40050)]
    everything = request_problems(journal, include_account_rules=True)
    assert [p.rule for p in everything] == ["euid.invalid", "auth.secret", "auth.header"]
    text = str(everything[0])
    assert "rule euid.invalid -> code 55108" in text and '"euid": "7"' in text
    assert SECRET not in "".join(map(str, everything))


def test_transport_timeout_and_drop_are_requests_exceptions() -> None:
    mock = in_process_mock()  # its own: the abandoned request is recorded when it finishes, after this test
    session = mock.session()
    mock.control.add_latency(400)
    with pytest.raises(requests.ReadTimeout):
        session.post(BASE + SPEC.contact_path, json={}, timeout=(1, 0.05))
    mock.control.drop_connection()
    with pytest.raises(requests.ConnectionError):
        session.post(BASE + SPEC.contact_path, json={}, timeout=5)


def test_patch_covers_new_sessions_and_leaves_other_hosts_alone() -> None:
    original = requests.adapters.HTTPAdapter.send
    with mock_engagelab() as mock:
        reply = requests.Session().post(BASE + SPEC.contact_path, json=SPEC.example["body"], auth=(KEY, SECRET),
                                        timeout=5)
        assert reply.json()["code"] == 0
        # Another host goes to the real network code: here a refused loopback connection.
        with pytest.raises(requests.ConnectionError):
            requests.get("http://127.0.0.1:9/", timeout=1)
        assert len(mock.control.journal()) == 1
    assert requests.adapters.HTTPAdapter.send is original


def test_two_transports_keep_separate_state() -> None:
    first, second = in_process_mock(), in_process_mock()
    first.session().post(BASE + SPEC.contact_path, json=SPEC.example["body"], auth=(KEY, SECRET), timeout=5)
    assert len(first.control.journal()) == 1
    assert len(second.control.journal()) == 0


@pytest.mark.parametrize("rule", INVALID_RULES)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_invalid_requests_break_exactly_their_rule(mock: InProcessMock, rule: str, data: st.DataObject) -> None:
    case: InvalidRequest = data.draw(invalid_requests(rule))
    mock.control.clear_journal()
    mock.session().post(BASE + SPEC.contact_path, data=case.content(), auth=(KEY, SECRET), timeout=5,
                        headers={"Content-Type": "application/json"})
    [entry] = mock.control.journal()
    assert (entry.rule, entry.code) == (rule, case.code), case.body


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=valid_requests(("mobile_phone", "email")))
def test_valid_requests_succeed(mock: InProcessMock, body: dict[str, object]) -> None:
    mock.control.clear_journal()
    reply = mock.session().post(BASE + SPEC.contact_path, json=body, auth=(KEY, SECRET), timeout=5)
    assert reply.json() == {"code": 0, "message": "success"}


def test_reference_client_errors_never_carry_the_secret() -> None:
    with mock_engagelab() as mock:
        mock.control.force_code(50034)
        with pytest.raises(ProjectError) as raised:
            ContactClient(KEY, SECRET).set_contacts(1, {"email": "a@b"})
        assert raised.value.code == 50034 and raised.value.status == 401
        assert SECRET not in str(raised.value) and SECRET not in repr(ContactClient(KEY, SECRET))
        mock.control.drop_connection(times=None)
        client = ContactClient(KEY, SECRET, retries=3, backoff=0)
        with pytest.raises(TransportError):
            client.set_contacts(1, {"email": "a@b"})
        assert len(mock.control.journal()) == 1 + 4  # the 50034 once; the drop tried 1 + 3 times


def test_mounted_transport_uses_the_given_app() -> None:
    from engagelab_kit.mock_server import Settings, create_app

    app = create_app(Settings(contact_types=("email", "whatsapp")))
    session = requests.Session()
    session.mount(BASE + "/", MockTransport(app))
    reply = session.post(BASE + SPEC.contact_path, json={"euid": 1, "contacts": {"whatsapp": "+1"}},
                         auth=(KEY, SECRET), timeout=5)
    assert reply.json()["code"] == 0


def test_a_late_answer_from_an_earlier_test_stays_out_of_the_journal() -> None:
    import time

    from engagelab_kit.mock_server import EngageLabMock

    mock = in_process_mock()
    mock.control.add_latency(300)
    with pytest.raises(requests.ReadTimeout):
        mock.session().post(BASE + SPEC.contact_path, json=SPEC.example["body"], auth=(KEY, SECRET), timeout=0.05)
    since = time.time()  # "the next test" starts while that request is still held
    mock.control.reset()
    handle = EngageLabMock(mock.url, mock.control, since=since)
    mock.session().post(BASE + SPEC.contact_path, json={"euid": 5, "contacts": {"email": "a@b"}}, auth=(KEY, SECRET),
                        timeout=5)
    time.sleep(0.4)
    assert [e.euid for e in mock.control.journal()] == [5, 10362473]  # the late one was recorded after the reset
    assert [e.euid for e in handle.journal()] == [5]


def test_strategies_cover_every_rule_a_json_body_can_break() -> None:
    body_rules = {r.id for r in SPEC.rules if r.step in (4, 5, 6)} | {"body.object"}
    # euid.unknown is strict mode's (an account setting, not the body's form).
    assert set(INVALID_RULES) == body_rules - {"euid.unknown"}


def test_control_client_reports_the_control_apis_refusal(mock: InProcessMock) -> None:
    from engagelab_kit.mock_server import ControlApiError

    with pytest.raises(ControlApiError, match="documented error code"):
        mock.control.force_code(12345)
    assert mock.control.user(999) is None


def test_served_mock_that_cannot_start_says_why() -> None:
    from engagelab_kit.mock_server import MockStartError, ServedMock

    server = ServedMock(["--threads", "0"], startup_timeout=20)
    with pytest.raises(MockStartError, match="threads"):
        server.start()
    assert server.pid is None  # stopped and forgotten


def test_served_mock_with_a_token_in_its_config(tmp_path: Path) -> None:
    from engagelab_kit.mock_server import ServedMock

    config = tmp_path / "mock.toml"
    config.write_text('[control]\ntoken = "sesame"\n[rules]\ncontact_types = ["email", "whatsapp"]\n')
    with ServedMock(config=str(config)) as server:
        assert server.control.config()["contact_types"] == ["email", "whatsapp"]
        assert requests.get(server.url + "/__mock/health", timeout=5).status_code == 401
