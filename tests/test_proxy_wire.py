"""The proxy on the wire: exact forwarding both ways, upstream failures, bad input, TLS, HAR."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
import trustme
from proxy_harness import AUTH, SECRET, RawUpstream, ThreadProxy, WsgiUpstream, raw_exchange, read_request

from engagelab_kit.mock_server import create_app

if TYPE_CHECKING:
    from tests.conftest import Served

EXAMPLE = b'{"euid":10362473,"contacts":{"mobile_phone":"18023456879","email":"12@gmail.com"}}'
HEADERS = {"Authorization": AUTH, "Content-Type": "application/json"}
ODD_BODY = b'{"code": 55108,  "message": "Invalid EUID."}'
ODD_ANSWER = (
    b"HTTP/1.1 418 I'm A Teapot\r\nX-Odd-Case: a\r\nx-odd-case: b\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Set-Cookie: s=1\r\nContent-Length: " + str(len(ODD_BODY)).encode() + b"\r\n\r\n" + ODD_BODY
)


def _request(body: bytes = EXAMPLE, extra: bytes = b"") -> bytes:
    return (b"POST /v1/user/contact?trace=1 HTTP/1.1\r\nHost: app.example\r\nAUTHORIZATION: " + AUTH.encode()
            + b"\r\ncontent-type: application/json\r\nX-Trace: two  spaces\r\n" + extra
            + b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)


@pytest.fixture
def odd_upstream() -> Iterator[RawUpstream]:
    def script(conn: socket.socket) -> None:
        upstream.received.append(read_request(conn))
        conn.sendall(ODD_ANSWER)

    upstream = RawUpstream(script)
    yield upstream
    upstream.stop()


def _proxy(url: str, **options: object) -> ThreadProxy:
    return ThreadProxy(url, **options)  # type: ignore[arg-type]


def test_request_and_answer_pass_byte_for_byte(odd_upstream: RawUpstream) -> None:
    proxy = _proxy(odd_upstream.url)
    try:
        sent = _request()
        got = raw_exchange(proxy.url, sent)
        assert got == ODD_ANSWER  # status line, reason, header order, case and duplicates, body
        received = odd_upstream.received[0]
        host = f"Host: 127.0.0.1:{odd_upstream.url.rsplit(':', 1)[1]}".encode()
        assert received == sent.replace(b"Host: app.example", host)  # only Host is the upstream's
        summary = proxy.settle(1)
        # 418 with 55108: the code is right, the status is not the spec's.
        assert (summary["exchanges"], summary["drift"], summary["client_errors"]) == (1, 1, 1)
        assert proxy.ledger.groups and "status_code" in next(iter(proxy.ledger.groups))
    finally:
        proxy.stop()


def test_upstream_that_closes_mid_answer_cuts_the_client_off_too() -> None:
    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"code\"")

    upstream = RawUpstream(script)
    proxy = _proxy(upstream.url)
    try:
        got = raw_exchange(proxy.url, _request())
        assert got.startswith(b"HTTP/1.1 200 OK\r\n") and got.endswith((b'{"code"', b"<reset>"))
        assert b"Content-Length: 100" in got  # the client sees the same broken answer
        summary = proxy.settle(1)
        assert (summary["upstream_failures"], summary["drift"]) == (1, 1)
        report = proxy.ledger.build()
        assert report["drifts"][0]["drifts"][0]["expected"] == "an HTTP response"
        # The proxy lives on.
        assert raw_exchange(proxy.url, b"GET /__mock/proxy/summary HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                            ).startswith(b"HTTP/1.1 200 ")
    finally:
        proxy.stop()
        upstream.stop()


def test_upstream_that_closes_without_answer_and_one_that_stalls() -> None:
    def close(conn: socket.socket) -> None:
        read_request(conn)

    def stall(conn: socket.socket) -> None:
        read_request(conn)
        time.sleep(1.5)

    for script in (close, stall):
        upstream = RawUpstream(script)
        proxy = _proxy(upstream.url, timeout=0.5)
        try:
            got = raw_exchange(proxy.url, _request(), timeout=5)
            assert got in (b"", b"<reset>")  # no made-up answer
            summary = proxy.settle(1)
            assert summary["upstream_failures"] == 1 and summary["drift"] == 1
        finally:
            proxy.stop()
            upstream.stop()


def test_refused_upstream_is_a_reset_for_the_client_and_counted() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proxy = _proxy(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{proxy.url}/v1/user/contact", data=EXAMPLE, headers=HEADERS, timeout=5)
        summary = proxy.settle(1)
        assert (summary["upstream_failures"], summary["drift"], summary["unjudged"]) == (1, 0, 1)
        reasons = [e["reason"] for e in proxy.ledger.build()["not_checked"]]
        assert len(reasons) == 1 and reasons[0].startswith("upstream unreachable: cannot connect")
    finally:
        proxy.stop()


@pytest.mark.parametrize("raw", [b"GARBAGE\r\n\r\n", b"POST /v1/user/contact HTTP/1.1\r\nHost x\r\n\r\n",
                                 b"POST /v1/user/contact HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                                 b"GET / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n"])
def test_an_unparseable_request_gets_a_clear_json_answer(odd_upstream: RawUpstream, raw: bytes) -> None:
    proxy = _proxy(odd_upstream.url)
    try:
        got = raw_exchange(proxy.url, raw)
        head, _, body = got.partition(b"\r\n\r\n")
        assert head.split(b" ")[1] in (b"400", b"431")
        assert b"application/json" in head and "not forwarded" in json.loads(body)["error"]
        assert odd_upstream.received == []
        summary = proxy.settle(1)
        assert (summary["unparseable"], summary["client_errors"]) == (1, 1)
    finally:
        proxy.stop()


def test_huge_body_the_size_rule_still_applies(served: Served) -> None:
    proxy = _proxy(served.url)
    try:
        huge = b'{"euid": 1, "contacts": {"email": "' + b"a" * (5 << 20) + b'"}}'
        authed = requests.post(f"{proxy.url}/v1/user/contact", data=huge, headers=HEADERS, timeout=30)
        assert (authed.status_code, authed.json()["code"]) == (413, 55004)
        anonymous = requests.post(f"{proxy.url}/v1/user/contact", data=huge,
                                  headers={"Content-Type": "application/json"}, timeout=30)
        assert (anonymous.status_code, anonymous.json()["code"]) == (401, 40050)
        summary = proxy.settle(2)
        assert (summary["drift"], summary["client_errors"]) == (0, 2)
        rules = proxy.ledger.build()["rules"]
        assert rules["body.size"]["verdict"] == "conform" and rules["auth.header"]["verdict"] == "conform"
    finally:
        proxy.stop()


def test_concurrent_clients_are_all_answered_and_counted(served: Served) -> None:
    proxy = _proxy(served.url)
    try:
        def one(i: int) -> int:
            body = json.dumps({"euid": i + 1, "contacts": {"email": f"{i}@x"}}).encode()
            return requests.post(f"{proxy.url}/v1/user/contact", data=body, headers=HEADERS, timeout=10).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(one, range(40))) == {200}
        summary = proxy.settle(40)
        assert (summary["exchanges"], summary["conform"], summary["drift"]) == (40, 40, 0)
        assert all(type(summary[k]) is int for k in ("exchanges", "drift", "client_errors"))
    finally:
        proxy.stop()


def test_tls_upstream_with_the_given_ca_and_without_it(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    upstream = WsgiUpstream(create_app(), tls=server_ctx)
    trusted, untrusted = _proxy(upstream.url, ca_file=str(ca_file)), _proxy(upstream.url)
    try:
        ok = requests.post(f"{trusted.url}/v1/user/contact", data=EXAMPLE, headers=HEADERS, timeout=10)
        assert (ok.status_code, ok.json()) == (200, {"code": 0, "message": "success"})
        assert trusted.settle(1)["conform"] == 1
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{untrusted.url}/v1/user/contact", data=EXAMPLE, headers=HEADERS, timeout=10)
        assert untrusted.settle(1)["upstream_failures"] == 1
        reason = json.dumps(untrusted.ledger.build())
        assert "CERTIFICATE_VERIFY_FAILED" in reason or "certificate" in reason.lower()
    finally:
        trusted.stop()
        untrusted.stop()
        upstream.stop()


def test_har_is_redacted_valid_and_capped(tmp_path: Path, served: Served) -> None:
    har_path = tmp_path / "ev.har"
    proxy = _proxy(served.url, har=har_path, har_max_bytes=6000, report_dir=tmp_path / "rep")
    try:
        with requests.Session() as session:
            for i in range(10):
                body = json.dumps({"euid": "bad", "contacts": {"email": f"{SECRET}-{i}"}}).encode()
                session.post(f"{proxy.url}/v1/user/contact?k={SECRET}", data=body, headers=HEADERS, timeout=10)
        proxy.settle(10)
        written = proxy.proxy.write_reports()
        assert har_path in written and (tmp_path / "rep" / "drift-report.json") in written
    finally:
        proxy.stop()
    log = json.loads(har_path.read_text())["log"]
    assert log["version"] == "1.2" and 0 < len(log["entries"]) < 10
    assert "left out" in log["comment"] and har_path.stat().st_size < 6000 + 4000
    entry = log["entries"][0]
    assert {"startedDateTime", "time", "request", "response", "cache", "timings"} <= set(entry)
    assert entry["response"]["status"] == 400 and entry["request"]["method"] == "POST"
    for path in [har_path, *(tmp_path / "rep").iterdir()]:
        text = path.read_text()
        assert SECRET not in text and AUTH.split()[1] not in text, path


def test_chunked_body_expect_continue_and_head_pass_through(served: Served) -> None:
    proxy = _proxy(served.url)
    try:
        body = b'{"euid": 7, "contacts": {"email": "' + b"a" * 300 + b'"}}'
        chunked = (b"POST /v1/user/contact HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH.encode()
                   + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                   + b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n")
        got = raw_exchange(proxy.url, chunked)
        assert got.startswith(b"HTTP/1.1 400 ") and b'"code":55105' in got.replace(b" ", b"")
        with socket.create_connection(("127.0.0.1", proxy.port), 5) as sock:
            sock.sendall(b"POST /v1/user/contact HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH.encode()
                         + b"\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: "
                         + str(len(EXAMPLE)).encode() + b"\r\nConnection: close\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 100 ")  # the upstream's interim answer, relayed
            sock.sendall(EXAMPLE)
            assert b'"code":0' in sock.recv(65536)
        head = requests.head(f"{proxy.url}/v1/user/contact", headers={"Authorization": AUTH}, timeout=5)
        assert (head.status_code, head.content) == (405, b"")
        summary = proxy.settle(3)
        assert (summary["exchanges"], summary["drift"], summary["client_errors"]) == (3, 0, 2)
    finally:
        proxy.stop()


def test_a_judge_that_fails_costs_nothing_but_a_count(odd_upstream: RawUpstream) -> None:
    proxy = _proxy(odd_upstream.url)

    def broken(ex: object) -> object:
        raise RuntimeError(f"bug while judging {SECRET}")

    proxy.proxy.judge.judge = broken  # type: ignore[assignment,method-assign]
    try:
        assert raw_exchange(proxy.url, _request()) == ODD_ANSWER  # the client still gets the upstream's answer
        summary = proxy.settle(1)
        assert (summary["exchanges"], summary["judge_errors"]) == (1, 1)
        assert SECRET not in json.dumps(proxy.ledger.build())
    finally:
        proxy.stop()


@pytest.mark.parametrize(("auth", "answer", "rule"), [
    (b"", b'{"code": 40050, "message": "Interface authentication failed."}', "auth.header"),
    (b"Authorization: " + AUTH.encode() + b"\r\n", b'{"code": 55004, "message": "Business parameters are invalid."}',
     "body.size"),
])
def test_an_answer_before_100_continue_is_relayed_and_judged_by_the_declared_length(
        auth: bytes, answer: bytes, rule: str) -> None:
    status = b"401 Unauthorized" if b"40050" in answer else b"413 Payload Too Large"

    def script(conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(answer)).encode() + b"\r\nConnection: close\r\n\r\n" + answer)

    upstream = RawUpstream(script)
    proxy = _proxy(upstream.url)
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), 5) as sock:
            sock.sendall(b"POST /v1/user/contact HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\n"
                         b"Expect: 100-continue\r\nContent-Length: 5242880\r\n\r\n")
            got = sock.recv(65536)
        assert got.startswith(b"HTTP/1.1 " + status) and got.endswith(answer)
        summary = proxy.settle(1)
        assert (summary["conform"], summary["drift"], summary["client_errors"]) == (1, 0, 1)
        assert proxy.ledger.build()["rules"][rule]["verdict"] == "conform"
    finally:
        proxy.stop()
        upstream.stop()


def test_an_early_answer_then_reset_still_reaches_the_client() -> None:
    """An upstream that answers a huge body at once (413) and closes while it is still coming in."""
    answer = b'{"code": 55004, "message": "Business parameters are invalid."}'

    def script(conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        conn.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(answer)).encode() + b"\r\nConnection: close\r\n\r\n" + answer)
        conn.shutdown(socket.SHUT_RDWR)

    upstream = RawUpstream(script)
    proxy = _proxy(upstream.url)
    try:
        huge = b'{"euid": 1, "contacts": {"email": "' + b"a" * (5 << 20) + b'"}}'
        for _ in range(2):
            got = requests.post(f"{proxy.url}/v1/user/contact", data=huge, headers=HEADERS, timeout=30)
            assert (got.status_code, got.content) == (413, answer)
        summary = proxy.settle(2)
        assert (summary["conform"], summary["upstream_failures"], summary["client_errors"]) == (2, 0, 2)
    finally:
        proxy.stop()
        upstream.stop()
