"""One run's connection to the target: budget, rate cap, dry-run and exchange log."""

from __future__ import annotations

import importlib
import statistics
import threading
import time
from dataclasses import dataclass, field

from engagelab_kit.contract_tests.config import RunConfig, TargetKind
from engagelab_kit.contract_tests.drift import BudgetExhausted
from engagelab_kit.contract_tests.http import (
    HttpRequest,
    HttpResponse,
    NetworkTransport,
    Transport,
    WsgiApp,
    WsgiTransport,
)
from engagelab_kit.contract_tests.redact import Redactor

IN_PROCESS_URL = "http://127.0.0.1:8080"  # what the curl lines of an in-process run point at


@dataclass
class Exchange:
    request: HttpRequest
    response: HttpResponse | None  # None in a dry run


@dataclass
class Session:
    config: RunConfig
    transport: Transport | None
    redactor: Redactor
    log: list[Exchange] = field(default_factory=list)
    sent: int = 0
    _last: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return self.config.target or IN_PROCESS_URL

    def remaining(self) -> float:
        budget = self.config.budget
        return float("inf") if budget is None else budget - self.sent

    def send(self, request: HttpRequest) -> HttpResponse:
        if self.config.dry_run or self.transport is None:
            self.log.append(Exchange(request, None))
            raise BudgetExhausted("dry run: nothing is sent")
        with self._lock:
            if self.remaining() <= 0:
                raise BudgetExhausted(f"request budget of {self.config.budget} spent")
            self._pace()
            self.sent += 1
        response = self.transport.send(request, self.config.timeout)
        self.log.append(Exchange(request, response))
        return response

    def _pace(self) -> None:
        if self.config.rate:
            wait = self._last + 1.0 / self.config.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last = time.monotonic()

    def curl(self, request: HttpRequest) -> str:
        return self.redactor.curl(self.base_url, request)

    def latency(self) -> dict[str, float]:
        times = sorted(e.response.elapsed for e in self.log if e.response is not None)
        if not times:
            return {}
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
        return {
            "count": len(times),
            "p50_ms": statistics.median(times) * 1000,
            "p99_ms": p99 * 1000,
            "max_ms": times[-1] * 1000,
        }

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def load_app(factory: str | None) -> WsgiApp:
    """The in-process target: the project's mock, or a WSGI factory named module:attr."""
    if factory:
        module, _, attr = factory.partition(":")
        obj = getattr(importlib.import_module(module), attr or "create_app")
        return obj() if not _is_wsgi_app(obj) else obj  # type: ignore[no-any-return]
    # The only place the suite touches the mock: to build the default target.
    mock = importlib.import_module("engagelab_kit.mock_server")
    app: WsgiApp = mock.create_app()
    return app


def _is_wsgi_app(obj: object) -> bool:
    code = getattr(obj, "__code__", None)
    return hasattr(obj, "wsgi_app") or (code is not None and code.co_argcount == 2)


def open_session(config: RunConfig, app: WsgiApp | None = None) -> Session:
    secrets = [c.secret for c in (config.credentials, config.deleted_project, config.deleted_datasource) if c]
    transport: Transport | None
    if config.dry_run:
        transport = None
    elif config.kind is TargetKind.IN_PROCESS:
        transport = WsgiTransport(app if app is not None else load_app(config.app_factory))
    else:
        transport = NetworkTransport(config.target or "")
    return Session(config, transport, Redactor(secrets))
