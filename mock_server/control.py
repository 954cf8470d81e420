"""The control API under ``/__mock``: health, journal, state and faults, for tests to steer the mock.

Answers are JSON; mistakes get ``{"error": ...}`` with a 4xx status. When a
token is configured every call must carry it in ``X-Mock-Token``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from engagelab_kit import spec
from engagelab_kit.mock_server.rules import EUID_MAX
from engagelab_kit.mock_server.service import MockService
from engagelab_kit.mock_server.settings import ACTIVE
from engagelab_kit.mock_server.store import Fault
from engagelab_kit.mock_server.wire import TOKEN_HEADER

_SPEC = spec.load()
control = Blueprint("control", __name__, url_prefix="/__mock")


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
    return None


def _json_object() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ControlError("body must be a JSON object (Content-Type: application/json)")
    return data


def _int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, str) and value.lstrip("-").isdigit():
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


def _contacts(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ControlError("contacts must be an object of strings")
    return value


@control.get("/health")
def health() -> ResponseReturnValue:
    service = _service()
    return jsonify(status="ok", store=type(service.store).__name__)


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
    data = _json_object()
    project = _project(data)
    contacts = _contacts(data.get("contacts", {}))
    _service().store.seed(project, number, contacts)
    return jsonify(project=project, euid=number, contacts=contacts)


@control.post("/users")
def seed_users() -> ResponseReturnValue:
    data = _json_object()
    project = _project(data)
    users = data.get("users")
    if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
        raise ControlError("users must be an array of {euid, contacts} objects")
    parsed = [(_int(u.get("euid"), "euid", 1, EUID_MAX), _contacts(u.get("contacts", {}))) for u in users]
    for number, contacts in parsed:
        _service().store.seed(project, number, contacts)
    return jsonify(project=project, seeded=len(parsed))


@control.post("/euids")
def add_euids() -> ResponseReturnValue:
    euids = _json_object().get("euids")
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
    unknown = set(data) - {"code", "latency_ms", "drop", "times", "path", "method", "euid"}
    if unknown:
        raise ControlError(f"unknown fault field {sorted(unknown)[0]!r}")
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
    fault = _service().store.add_fault(_fault(_json_object()))
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
    app.register_blueprint(control)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    return app


