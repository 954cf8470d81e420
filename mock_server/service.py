"""The mock's decision: a function of (request, settings, state), in the contract's order.

``MockService.handle`` takes a plain ``HttpRequest`` and returns an
``HttpResponse``; it knows nothing of Flask or WSGI. Steering (faults,
forced codes) is applied after routing and before authentication, so a test
can make any served route answer any documented code.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable
from typing import Any

from engagelab_kit import spec
from engagelab_kit.mock_server.auth import Authenticator
from engagelab_kit.mock_server.exceptions import ApiError, DropConnection
from engagelab_kit.mock_server.jsonbody import is_json_content_type, parse_object
from engagelab_kit.mock_server.rules import EUID_MAX, Rules
from engagelab_kit.mock_server.settings import Project, Settings
from engagelab_kit.mock_server.store import Store, journal_entry
from engagelab_kit.mock_server.wire import FORCE_HEADER, TOKEN_HEADER, HttpRequest, HttpResponse

_SPEC = spec.load()
_CODE_TEXT = re.compile(r"\s*-?\d{1,6}\s*")

Handler = Callable[[dict[str, Any], Project, HttpResponse], dict[str, Any]]


def message_for(code: int, detail: str = "") -> str:
    if code == 0:
        return _SPEC.success_message
    description = _SPEC.codes[code].description
    return f"{description} ({detail})" if detail else description


def _peek_euid(body: bytes) -> int | None:
    try:
        euid = parse_object(body, 64).get("euid")
    except ApiError:
        return None
    # Only a valid euid names a user; anything else would not even fit the journal's column.
    return euid if type(euid) is int and 1 <= euid <= EUID_MAX else None


class MockService:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.auth = Authenticator(settings)
        self.rules = Rules(settings)
        self._ok_status = settings.status_for(0)
        self.routes: dict[str, Handler] = {
            _SPEC.contact_path: self._set_contacts,
            _SPEC.register_path: self._register,
        }

    # -- the pipeline -------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = HttpResponse(self._ok_status, {})
        try:
            self._dispatch(request, response)
        except ApiError as exc:
            status = exc.http_status or self.settings.status_for(exc.code)
            response.status = status
            response.payload = {"code": exc.code, "message": message_for(exc.code, exc.detail)}
            response.rule = exc.rule
            if status == 405:
                response.headers["Allow"] = "POST"
        except DropConnection:
            self._record(request, None, started, response.steered)
            raise
        self._record(request, response, started)
        return response

    def _dispatch(self, request: HttpRequest, response: HttpResponse) -> None:
        handler = self.routes.get(request.path)
        if handler is None:
            raise ApiError(55004, f"unknown path {request.path[:200]}", 404, rule="route.path")
        if request.method != "POST":
            response.omit_body = request.method == "HEAD"
            raise ApiError(55004, f"method {request.method[:20]} not allowed", 405, rule="route.method")
        if self.settings.latency_ms:
            time.sleep(self.settings.latency_ms / 1000)
        self._steer(request, response)
        project = self.auth.authenticate(request.headers.get("authorization"))
        response.project = project.key
        body = self._body(request)
        response.payload = handler(body, project, response)

    def _steer(self, request: HttpRequest, response: HttpResponse) -> None:
        if self.store.has_faults():
            fault = self.store.take_fault(request.method, request.path, _peek_euid(request.body))
            if fault is not None:
                if fault.latency_ms:
                    time.sleep(fault.latency_ms / 1000)
                if fault.drop or fault.code is not None:
                    response.steered = f"fault {fault.id}"
                if fault.drop:
                    raise DropConnection()
                if fault.code is not None:
                    raise ApiError(fault.code, f"injected fault {fault.id}")
        forced = request.headers.get(FORCE_HEADER)
        if forced is not None and self.control_allowed(request.headers.get(TOKEN_HEADER)):
            code = int(forced) if _CODE_TEXT.fullmatch(forced) else None
            response.steered = "forced"
            if code is None or code == 0 or code not in _SPEC.documented_codes:
                raise ApiError(55004, "X-Mock-Force-Code must be a documented error code")
            raise ApiError(code, "forced by X-Mock-Force-Code")

    def control_allowed(self, token: str | None) -> bool:
        expected = self.settings.control_token
        if not self.settings.control_enabled:
            return False
        if expected is None:
            return True
        return token is not None and hmac.compare_digest(token.encode(), expected.encode())

    def _body(self, request: HttpRequest) -> dict[str, Any]:
        settings = self.settings
        if len(request.body) > settings.max_body_bytes:
            raise ApiError(55004, f"body larger than {settings.max_body_bytes} bytes", 413, rule="body.size")
        if not is_json_content_type(request.headers.get("content-type")):
            raise ApiError(55004, "Content-Type must be application/json", rule="body.content_type")
        return parse_object(request.body, settings.max_json_depth)

    # -- the routes ---------------------------------------------------------

    def _set_contacts(self, body: dict[str, Any], project: Project, response: HttpResponse) -> dict[str, Any]:
        euid = self.rules.euid(body)
        response.euid = euid
        if self.settings.strict_euid and not self.store.is_known_euid(euid):
            raise ApiError(55108, "euid is not known to this mock (strict mode)", rule="euid.unknown")
        contacts = self.rules.contacts(body)
        self.store.merge_contacts(project.key, euid, contacts)
        return {"code": 0, "message": _SPEC.success_message}

    def _register(self, body: dict[str, Any], project: Project, response: HttpResponse) -> dict[str, Any]:
        registration = self.rules.registration(body)
        euids = self.store.register(project.key, registration.identity_name, registration.identity_values)
        data = [{"identity_value": v, "euid": e} for v, e in zip(registration.identity_values, euids, strict=False)]
        return {"code": 0, "message": _SPEC.success_message, "data": data}

    # -- the journal ----------------------------------------------------------

    def _record(
        self, request: HttpRequest, response: HttpResponse | None, started: float, steered: str | None = None
    ) -> None:
        euid = response.euid if response else None
        self.store.record(journal_entry(
            time=time.time(),
            method=request.method,
            path=request.path,
            query=request.query,
            headers=request.headers,
            body=request.body,
            body_bytes=len(request.body),
            euid=euid if euid is not None else _peek_euid(request.body),
            project=response.project if response else None,
            code=response.code if response else None,
            status=response.status if response else None,
            duration_ms=(time.perf_counter() - started) * 1000,
            message=response.payload.get("message") if response else None,
            rule=response.rule if response else None,
            steered=response.steered if response else steered,
        ))
