"""The mock's decision: a function of (request, settings, state), in the contract's order.

``MockService.decide`` takes a plain ``HttpRequest`` and returns a ``Verdict``
(status, payload and the bytes to send); ``handle`` gives the same as an
``HttpResponse``. Neither knows Flask or WSGI. Steering (faults, forced codes)
is applied after routing and before authentication, so a test can make any
served route answer any documented code.

What the rules make of the Authorization value, the Content-Type and the body
depends on nothing but those inputs and the settings (fixed for the service's
life), so it is memoized (``memo.Memo``): a client that sends the same bytes
again pays for the state merge and the journal entry only. The state part
(strict-euid lookup, merge, journal) runs for every request.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from engagelab_kit import spec
from engagelab_kit.mock_server.auth import Authenticator
from engagelab_kit.mock_server.exceptions import ApiError, DropConnection
from engagelab_kit.mock_server.jsonbody import is_json_content_type, parse_body, parse_object
from engagelab_kit.mock_server.memo import Memo
from engagelab_kit.mock_server.rules import EUID_MAX, Rules
from engagelab_kit.mock_server.settings import Settings
from engagelab_kit.mock_server.store import JournalEntry, Store, journal_entry
from engagelab_kit.mock_server.wire import FORCE_HEADER, TOKEN_HEADER, HttpRequest, HttpResponse, Verdict, verdict

_SPEC = spec.load()
_CODE_TEXT = re.compile(r"\s*-?\d{1,6}\s*")
_PEEK_DEPTH = 64

# Memo bounds. Longer Content-Type values and bodies larger than BODY_MEMO_LIMIT are decided
# afresh each time: the body memo's keys stay under BODY_MEMO_SIZE * BODY_MEMO_LIMIT bytes (1 MiB).
AUTH_MEMO_SIZE = 256
TYPE_MEMO_SIZE = 64
TYPE_MEMO_LIMIT = 256  # characters of a Content-Type value worth keeping
BODY_MEMO_SIZE = 512
BODY_MEMO_LIMIT = 2048
# The memo key for a request without Authorization: hash() never returns -1 in CPython.
_NO_HEADER = -1


def message_for(code: int, detail: str = "") -> str:
    if code == 0:
        return _SPEC.success_message
    description = _SPEC.codes[code].description
    return f"{description} ({detail})" if detail else description


def _peek_euid(body: bytes) -> int | None:
    try:
        euid = parse_object(body, _PEEK_DEPTH).get("euid")
    except ApiError:
        return None
    # Only a valid euid names a user; anything else would not even fit the journal's column.
    return euid if type(euid) is int and 1 <= euid <= EUID_MAX else None


class Parsed(NamedTuple):
    """What the contact route's rules make of a body (step 3 to 6 but the state's part)."""

    euid: int | None  # the valid euid the rules read, if they got that far
    peek: int | None  # the euid the journal and faults see when the rules did not read one
    refusal: Verdict | None  # refused before the state is asked (body, euid)
    late: Verdict | None  # refused after the strict-euid lookup (contacts)
    contacts: dict[str, str] | None  # the contacts to merge; shared: the stores never change it


_new = tuple.__new__
Handler = Callable[[dict[str, Any], str], Verdict]


class MockService:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.auth = Authenticator(settings)
        self.rules = Rules(settings)
        self._contact_path = _SPEC.contact_path
        self.routes: dict[str, Handler] = {_SPEC.register_path: self._register}
        self._max_body = settings.max_body_bytes
        self._max_depth = settings.max_json_depth
        self._latency_s = settings.latency_ms / 1000
        self._strict = settings.strict_euid
        self._ok = verdict(settings.status_for(0), {"code": 0, "message": _SPEC.success_message})
        self._unknown_euid = self._refusal(
            ApiError(55108, "euid is not known to this mock (strict mode)", rule="euid.unknown"))
        self._bad_type = self._refusal(
            ApiError(55004, "Content-Type must be application/json", rule="body.content_type"))
        self._too_large = self._refusal(
            ApiError(55004, f"body larger than {self._max_body} bytes", 413, rule="body.size"))
        # Authorization value's hash() -> the project's key or the refusal. The key is a salted
        # 64-bit hash, not the credentials: the memo keeps no form of a secret that can be shown.
        self._auth_memo: Memo[int, str | Verdict] = Memo(AUTH_MEMO_SIZE)
        self._type_memo: Memo[str | None, bool] = Memo(TYPE_MEMO_SIZE)
        self._body_memo: Memo[bytes, Parsed] = Memo(BODY_MEMO_SIZE)

    # -- the pipeline -------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        """The decision as an ``HttpResponse`` (a copy: the caller may change it)."""
        decided, entry = self.decide(request)
        return HttpResponse(
            decided.status, dict(decided.payload), dict(decided.answer.headers[1:]), decided.omit_body,
            entry.euid, entry.project, decided.rule, decided.steered,
        )

    def decide(self, request: HttpRequest) -> tuple[Verdict, JournalEntry]:
        """The verdict on ``request`` and its journal entry (recorded). Raises ``DropConnection``
        for a drop fault."""
        started = time.time()
        try:
            if (
                request.path != self._contact_path or request.method != "POST" or self._latency_s
                or FORCE_HEADER in request.headers or self.store.has_faults()
            ):
                decided, project, euid = self._routed(request)
            else:
                decided, project, euid = self._contact(request.headers, request.body)
        except DropConnection as drop:
            self._record(request, started, None, None, self._peek(request.body), str(drop))
            raise
        return decided, self._record(request, started, decided, project, euid)

    def _routed(self, request: HttpRequest) -> tuple[Verdict, str | None, int | None]:
        """Any request but a plain POST to the contact route: routing, latency, steering first."""
        handler = None
        if request.path != self._contact_path:
            handler = self.routes.get(request.path)
            if handler is None:
                return self._refusal(ApiError(55004, f"unknown path {request.path[:200]}", 404, rule="route.path")), \
                    None, self._peek(request.body)
        if request.method != "POST":
            refusal = ApiError(55004, f"method {request.method[:20]} not allowed", 405, rule="route.method")
            return self._refusal(refusal, omit_body=request.method == "HEAD"), None, self._peek(request.body)
        if self._latency_s:
            time.sleep(self._latency_s)
        steered = self._steer(request)
        if steered is not None:
            return steered, None, self._peek(request.body)
        if handler is None:
            return self._contact(request.headers, request.body)
        project = self._authenticated(request.headers.get("authorization"))
        if type(project) is not str:
            return project, None, self._peek(request.body)  # type: ignore[return-value]
        try:
            return handler(self._body(request), project), project, self._peek(request.body)
        except ApiError as exc:
            return self._refusal(exc), project, self._peek(request.body)

    def _contact(self, headers: Mapping[str, str], body: bytes) -> tuple[Verdict, str | None, int | None]:
        """Steps 2 to 6 and the merge for the contact route: the hot path, so the pure steps'
        outcomes come from the memos when the inputs repeat."""
        header = headers.get("authorization")
        key = _NO_HEADER if header is None else hash(header)
        project = self._auth_memo.get(key)
        if project is None:
            project = self._auth_memo.put(key, self._authenticate(header))
        if type(project) is not str:
            return project, None, self._peek(body)  # type: ignore[return-value]
        if len(body) > self._max_body:
            return self._too_large, project, self._peek(body)
        content_type = headers.get("content-type")
        json_ok = self._type_memo.get(content_type)
        if json_ok is None:
            json_ok = is_json_content_type(content_type)
            if content_type is None or len(content_type) <= TYPE_MEMO_LIMIT:
                self._type_memo.put(content_type, json_ok)
        parsed = self._body_memo.get(body) or self._parse(body)
        if not json_ok:
            return self._bad_type, project, parsed.peek
        euid = parsed.euid
        if euid is None:
            return parsed.refusal, project, parsed.peek  # type: ignore[return-value]
        if self._strict and not self.store.is_known_euid(euid):
            return self._unknown_euid, project, euid
        if parsed.contacts is None:
            return parsed.late, project, euid  # type: ignore[return-value]
        self.store.merge_contacts(project, euid, parsed.contacts)
        return self._ok, project, euid

    # -- the pure steps, memoized by the callers --------------------------------

    def _authenticated(self, header: str | None) -> str | Verdict:
        key = _NO_HEADER if header is None else hash(header)
        project = self._auth_memo.get(key)
        return project if project is not None else self._auth_memo.put(key, self._authenticate(header))

    def _authenticate(self, header: str | None) -> str | Verdict:
        try:
            return self.auth.authenticate(header).key
        except ApiError as exc:
            return self._refusal(exc)

    def _parse(self, body: bytes) -> Parsed:
        """Steps 3 (but the size and Content-Type) to 6 (but the state) for the contact route."""
        # (tuple.__new__: NamedTuple's own constructor is a Python frame, and this runs for every new body.)
        try:
            data = parse_body(body, self._max_depth)
        except ApiError as exc:
            parsed = _new(Parsed, (None, _peek_euid(body), self._refusal(exc), None, None))
        else:
            # The journal's peek parses at its own depth; one parse serves both when it reaches as deep.
            peek = _peek_euid(body) if self._max_depth > _PEEK_DEPTH else None
            try:
                euid = self.rules.euid(data)
            except ApiError as exc:
                parsed = _new(Parsed, (None, peek, self._refusal(exc), None, None))
            else:
                peek = euid if self._max_depth <= _PEEK_DEPTH else peek
                try:
                    parsed = _new(Parsed, (euid, peek, None, None, self.rules.contacts(data)))
                except ApiError as exc:
                    parsed = _new(Parsed, (euid, peek, None, self._refusal(exc), None))
        if len(body) <= BODY_MEMO_LIMIT:
            self._body_memo.put(body, parsed)
        return parsed

    def _peek(self, body: bytes) -> int | None:
        """The euid a body names, for the journal and the faults' match."""
        if len(body) > BODY_MEMO_LIMIT:
            return _peek_euid(body)
        return (self._body_memo.get(body) or self._parse(body)).peek

    def _body(self, request: HttpRequest) -> dict[str, Any]:
        settings = self.settings
        if len(request.body) > settings.max_body_bytes:
            raise ApiError(55004, f"body larger than {settings.max_body_bytes} bytes", 413, rule="body.size")
        if not is_json_content_type(request.headers.get("content-type")):
            raise ApiError(55004, "Content-Type must be application/json", rule="body.content_type")
        return parse_body(request.body, settings.max_json_depth)

    def _refusal(self, exc: ApiError, omit_body: bool = False, steered: str | None = None) -> Verdict:
        status = exc.http_status or self.settings.status_for(exc.code)
        return verdict(status, {"code": exc.code, "message": message_for(exc.code, exc.detail)}, exc.rule,
                       (("Allow", "POST"),) if status == 405 else (), omit_body, steered)

    # -- steering -------------------------------------------------------------

    def _steer(self, request: HttpRequest) -> Verdict | None:
        """The answer a fault or X-Mock-Force-Code imposes, if any; DropConnection for a drop."""
        if self.store.has_faults():
            fault = self.store.take_fault(request.method, request.path, self._peek(request.body))
            if fault is not None:
                if fault.latency_ms:
                    time.sleep(fault.latency_ms / 1000)
                if fault.drop:
                    raise DropConnection(f"fault {fault.id}")
                if fault.code is not None:
                    injected = ApiError(fault.code, f"injected fault {fault.id}")
                    return self._refusal(injected, steered=f"fault {fault.id}")
        forced = request.headers.get(FORCE_HEADER)
        if forced is not None and self.control_allowed(request.headers.get(TOKEN_HEADER)):
            code = int(forced) if _CODE_TEXT.fullmatch(forced) else None
            if code is None or code == 0 or code not in _SPEC.documented_codes:
                refusal = ApiError(55004, "X-Mock-Force-Code must be a documented error code")
            else:
                refusal = ApiError(code, "forced by X-Mock-Force-Code")
            return self._refusal(refusal, steered="forced")
        return None

    def control_allowed(self, token: str | None) -> bool:
        expected = self.settings.control_token
        if not self.settings.control_enabled:
            return False
        if expected is None:
            return True
        return token is not None and hmac.compare_digest(token.encode(), expected.encode())

    # -- the register route -----------------------------------------------------

    def _register(self, body: dict[str, Any], project: str) -> Verdict:
        registration = self.rules.registration(body)
        euids = self.store.register(project, registration.identity_name, registration.identity_values)
        data = [{"identity_value": v, "euid": e} for v, e in zip(registration.identity_values, euids, strict=False)]
        return verdict(self._ok.status, {"code": 0, "message": _SPEC.success_message, "data": data})

    # -- the journal ----------------------------------------------------------

    def _record(
        self, request: HttpRequest, started: float, decided: Verdict | None, project: str | None, euid: int | None,
        steered: str | None = None,
    ) -> JournalEntry:
        now = time.time()
        duration_ms = (now - started) * 1000
        body = request.body
        if decided is None:  # the connection was dropped: nothing answered
            entry = journal_entry(now, request.method, request.path, request.query, request.headers, body, len(body),
                                  euid, None, None, None, duration_ms, None, None, steered)
        else:
            entry = journal_entry(now, request.method, request.path, request.query, request.headers, body, len(body),
                                  euid, project, decided.code, decided.status, duration_ms, decided.message,
                                  decided.rule, decided.steered, request.journal_headers)
        self.store.record(entry)
        return entry
