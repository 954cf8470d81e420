"""The references the mock is measured against, served by Granian's own command line (WSGI).

``bare_flask``: Flask that parses the JSON body and answers success, with no
checks: what Flask costs for this traffic before any mock logic.
``fixed_body``: a raw WSGI callable that answers a constant: the WSGI
server's own floor, used for the requests-client ceiling.

The benchmark starts them itself (``command``), through nothing of the mock's
serving code, so they measure the same thing whatever serves the mock. Granian
is a development dependency for this purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
SUCCESS = b'{"code":0,"message":"success"}'
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
APPS = ("bare_flask", "fixed_body")
# Two threads per worker: what the mock had under WSGI, before its event loop.
THREADS = 2


def bare_flask() -> Flask:
    from flask import Flask, request

    app = Flask("bench_reference")

    @app.post("/v1/user/contact")
    def contact() -> dict[str, Any]:
        # silent + force: parse whatever came, never refuse; the point is the cost of parsing, not rules.
        request.get_json(force=True, silent=True)
        return {"code": 0, "message": "success"}

    return app


def fixed_body() -> WsgiApp:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["wsgi.input"].read()  # a real app reads the body; so does this floor
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(SUCCESS)))])
        return [SUCCESS]

    return app


def command(python: str, name: str, port: int) -> list[str]:
    """Granian's CLI serving ``name`` (one of ``APPS``) on loopback: one worker, HTTP/1, quiet."""
    if name not in APPS:
        raise ValueError(f"unknown reference app {name!r}; one of {', '.join(APPS)}")
    return [python, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--blocking-threads", str(THREADS), "--http", "1", "--no-ws",
            "--log-level", "warning", "--working-dir", str(ROOT), "--factory", f"bench.reference_app:{name}"]
