"""The references the mock is measured against, served by Granian with the mock's own settings.

``bare_flask``: Flask that parses the JSON body and answers success, with no
checks: what Flask on Granian costs for this traffic before any mock logic.
``fixed_body``: a raw WSGI callable that answers a constant: the server's
own floor, used for the requests-client ceiling.

    python -m bench.reference_app {bare_flask,fixed_body} PORT
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
SUCCESS = b'{"code":0,"message":"success"}'
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
APPS = ("bare_flask", "fixed_body")


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


def serve(name: str, port: int) -> None:
    """Granian as ``engagelab-mock serve`` runs it, through its WSGI interface."""
    from engagelab_kit.mock_server.serve import granian_server
    from engagelab_kit.mock_server.settings import ServeOptions

    os.chdir(ROOT)  # the factory target is importable from the checkout
    # WSGI with two threads: how the references (and, before RSGI, the mock) are served.
    granian_server(f"bench.reference_app:{name}", ServeOptions(threads=2), port, interface="wsgi").serve()


def command(python: str, name: str, port: int) -> list[str]:
    return [python, "-m", "bench.reference_app", name, str(port)]


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in APPS or not sys.argv[2].isdigit():
        raise SystemExit(f"usage: python -m bench.reference_app {{{','.join(APPS)}}} PORT")
    serve(sys.argv[1], int(sys.argv[2]))
