"""The control API under ``/__mock``: health, journal, state and faults, for tests to steer the mock.

Answers are JSON; mistakes get ``{"error": ...}`` with a 4xx status. When a
token is configured every call must carry it in ``X-Mock-Token``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from engagelab_kit import spec
from engagelab_kit.mock_server.exceptions import ApiError
from engagelab_kit.mock_server.jsonbody import parse_object
from engagelab_kit.mock_server.rules import EUID_MAX
from engagelab_kit.mock_server.service import MockService
from engagelab_kit.mock_server.settings import ACTIVE
from engagelab_kit.mock_server.store import Fault
from engagelab_kit.mock_server.store_memory import MemoryStore
from engagelab_kit.mock_server.wire import TOKEN_HEADER

_SPEC = spec.load()
control = Blueprint("control", __name__, url_prefix="/__mock")
# ASCII digits only, and no more than any valid value needs: str.isdigit() also takes "¹" and "²",
# which int() then refuses.
_INTEGER = re.compile(r"-?[0-9]{1,20}")
# The control API's own bodies are small; seeding many users at once fits well within this.
MAX_CONTROL_BODY = 16 * 1024 * 1024
CONTROL_JSON_DEPTH = 16


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _service() -> MockService:
    service: MockService = current_app.extensions["engagelab_mock"]
    return service


@control.errorhandler(ControlError)
def _control_error(exc: ControlError) -> ResponseReturnValue:
    return jsonify(error=str(exc)), exc.status


@control.before_request
def _check_token() -> ResponseReturnValue | None:
    if not _service().control_allowed(request.headers.get(TOKEN_HEADER)):
        return jsonify(error="X-Mock-Token missing or wrong"), 401
    if request.method == "OPTIONS" and request.url_rule is not None:
        # Flask's automatic answer is an empty text/html page; this API answers JSON everywhere.
        allowed = [*sorted((request.url_rule.methods or set()) - {"OPTIONS"}), "OPTIONS"]
        response = jsonify(allow=allowed)
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return None


def _fields(data: dict[str, Any], allowed: Iterable[str], what: str) -> dict[str, Any]:
    """``data`` if it has no field but ``allowed``: a misspelt field must not be silently ignored."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ControlError(f"unknown {what} field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    return data


def _json_object(*allowed: str) -> dict[str, Any]:
    if not request.is_json:
        raise ControlError("body must be a JSON object (Content-Type: application/json)")
    try:
        # The business path's parser: RFC 8259, bounded depth (Flask's would raise RecursionError).
        data = parse_object(request.get_data(cache=True), CONTROL_JSON_DEPTH)
    except ApiError as exc:
        raise ControlError(f"body must be a JSON object: {exc.detail}") from None
    return _fields(data, allowed, "body")


def _int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        value = int(value)
    if type(value) is not int or not low <= value <= high:
        raise ControlError(f"{name} must be an integer in {low}..{high}")
    return value


def _optional_int(name: str, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    return None if raw is None else _int(raw, name, low, high)


def _project(data: dict[str, Any] | None = None) -> str:
    key = (data or {}).get("project") or request.args.get("project")
    projects = _service().settings.projects
    if key is None:
        return next(p.key for p in projects if p.status == ACTIVE)
    if not any(p.key == key for p in projects):
        raise ControlError(f"no configured project has key {str(key)[:64]!r}", 404)
    return str(key)


def _contacts(data: dict[str, Any]) -> dict[str, str]:
    if "contacts" not in data:
        raise ControlError("contacts is required (an object of strings; {} stores a user with none)")
    value = data["contacts"]
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ControlError("contacts must be an object of strings")
    return value


@control.get("/health")
def health() -> ResponseReturnValue:
    store = _service().store
    # Only the in-memory store forgets (to stay within max_state_bytes); the SQLite one keeps all.
    evicted = store.evicted() if isinstance(store, MemoryStore) else None
    return jsonify(status="ok", store=type(store).__name__, evicted=evicted)


@control.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI document of the endpoints this mock serves, with this mock as the first server."""
    document = dict(spec.load_json("openapi.json"))
    here = {"url": request.host_url.rstrip("/"), "description": "this mock"}
    document["servers"] = [here, *(s for s in document.get("servers", []) if s.get("url") != here["url"])]
    return jsonify(document)


@control.get("/config")
def config() -> ResponseReturnValue:
    return jsonify(_service().settings.public())


@control.get("/credentials")
def credentials() -> ResponseReturnValue:
    """The configured projects with their secrets: a contract run discovers the demo deleted-project
    and deleted-data-source credentials here. Token-protected like every control call."""
    projects = _service().settings.projects
    return jsonify(projects=[{"name": p.name, "key": p.key, "secret": p.secret, "status": p.status} for p in projects])


@control.get("/journal")
def journal() -> ResponseReturnValue:
    euid = _optional_int("euid", 1, EUID_MAX)
    code = _optional_int("code", -1, 99999)
    limit = _optional_int("limit", 1, 100_000) or 100
    entries = _service().store.journal(euid=euid, code=code, limit=limit)
    return jsonify(entries=entries, count=len(entries))


@control.delete("/journal")
def clear_journal() -> ResponseReturnValue:
    _service().store.clear_journal()
    return jsonify(cleared=True)


@control.get("/users/<euid>")
def get_user(euid: str) -> ResponseReturnValue:
    number = _int(euid, "euid", 1, EUID_MAX)
    project = _project()
    contacts = _service().store.contacts(project, number)
    if contacts is None:
        raise ControlError(f"no contacts stored for euid {number}", 404)
    return jsonify(project=project, euid=number, contacts=contacts)


@control.put("/users/<euid>")
def put_user(euid: str) -> ResponseReturnValue:
    number = _int(euid, "euid", 1, EUID_MAX)
    data = _json_object("contacts", "project")
    project = _project(data)
    contacts = _contacts(data)
    _service().store.seed(project, number, contacts)
    return jsonify(project=project, euid=number, contacts=contacts)


@control.post("/users")
def seed_users() -> ResponseReturnValue:
    data = _json_object("users", "project")
    project = _project(data)
    users = data.get("users")
    if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
        raise ControlError("users must be an array of {euid, contacts} objects")
    parsed = [
        (_int(_fields(u, ("euid", "contacts"), "user").get("euid"), "euid", 1, EUID_MAX), _contacts(u))
        for u in users
    ]
    for number, contacts in parsed:
        _service().store.seed(project, number, contacts)
    return jsonify(project=project, seeded=len(parsed))


@control.post("/euids")
def add_euids() -> ResponseReturnValue:
    euids = _json_object("euids").get("euids")
    if not isinstance(euids, list):
        raise ControlError("euids must be an array of integers")
    numbers = [_int(e, "euid", 1, EUID_MAX) for e in euids]
    _service().store.add_known_euids(numbers)
    return jsonify(added=len(numbers))


@control.post("/reset")
def reset() -> ResponseReturnValue:
    _service().store.reset()
    return jsonify(reset=True)


@control.get("/faults")
def list_faults() -> ResponseReturnValue:
    return jsonify(faults=[f.to_json() for f in _service().store.faults()])


def _fault(data: dict[str, Any]) -> Fault:
    code = data.get("code")
    if code is not None and (code == 0 or code not in _SPEC.documented_codes or type(code) is not int):
        raise ControlError("code must be a documented error code (-1 included)")
    latency = data.get("latency_ms", 0)
    if isinstance(latency, bool) or not isinstance(latency, (int, float)) or not 0 <= latency <= 60_000:
        raise ControlError("latency_ms must be a number in 0..60000")
    drop = data.get("drop", False)
    if not isinstance(drop, bool):
        raise ControlError("drop must be true or false")
    if code is None and not latency and not drop:
        raise ControlError("a fault needs code, latency_ms or drop")
    times = data.get("times", 1)
    for name in ("path", "method"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise ControlError(f"{name} must be a string")
    return Fault(
        code=code,
        latency_ms=float(latency),
        drop=drop,
        times=None if times is None else _int(times, "times", 1, 1_000_000),
        path=data.get("path", _SPEC.contact_path),
        method=data.get("method"),
        euid=None if data.get("euid") is None else _int(data["euid"], "euid", 1, EUID_MAX),
    )


@control.post("/faults")
def add_fault() -> ResponseReturnValue:
    data = _json_object("code", "latency_ms", "drop", "times", "path", "method", "euid")
    fault = _service().store.add_fault(_fault(data))
    return jsonify(fault.to_json()), 201


@control.delete("/faults")
def clear_faults() -> ResponseReturnValue:
    return jsonify(removed=_service().store.remove_faults())


@control.delete("/faults/<int:fault_id>")
def remove_fault(fault_id: int) -> ResponseReturnValue:
    removed = _service().store.remove_faults(fault_id)
    if not removed:
        abort(404)
    return jsonify(removed=removed)


def _read_body() -> None:
    # Read every control request's body, even where no handler wants it: the HTTP server closes a
    # keep-alive connection whose request body was left unread, without saying so, and the
    # client's next request on it is lost.
    if (request.content_length or 0) <= MAX_CONTROL_BODY:
        request.get_data(cache=True)


def _close_if_unread(response: Response) -> Response:
    if (request.content_length or 0) > MAX_CONTROL_BODY or request.headers.get("Transfer-Encoding"):
        response.headers["Connection"] = "close"
    return response


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    return jsonify(error=exc.description or exc.name), exc.code or 500


def _internal_error(exc: Exception) -> ResponseReturnValue:
    # The control API's own failures; never a traceback or an HTML page on the wire.
    return jsonify(error=f"internal error in the control API: {type(exc).__name__}"), 500


def control_app(service: MockService) -> Flask:
    """A Flask app serving the control API for ``service``; JSON errors throughout."""
    app = Flask("mock_server")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["engagelab_mock"] = service
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTROL_BODY
    app.before_request(_read_body)
    app.after_request(_close_if_unread)
    app.register_blueprint(control)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    return app


