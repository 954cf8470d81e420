"""Evidence: the exchanges as a HAR 1.2 log, redacted and capped.

Credentials never reach it: Authorization, Proxy-Authorization, Cookie and
Set-Cookie values are replaced, and the request's own secret is masked
wherever else it might appear (bodies, URLs). Bodies are kept up to 8 KiB
each; once the log reaches its size cap, later exchanges are counted, not
kept, and the log says how many were left out.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engagelab_kit.contract_tests.redact import MASK, Redactor
from engagelab_kit.mock_server.proxy_judge import Exchange, Judgement, redactor_for
from engagelab_kit.spec.version import __version__

BODY_KEPT = 8 * 1024
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


class HarRecorder:
    def __init__(self, path: Path, max_bytes: int, upstream: str) -> None:
        self.path, self.max_bytes, self.upstream = path, max_bytes, upstream.rstrip("/")
        self.entries: list[dict[str, Any]] = []
        self.size = 0
        self.left_out = 0

    def add(self, ex: Exchange, judgement: Judgement) -> None:
        entry = self._entry(ex, judgement, redactor_for(ex.headers))
        size = len(json.dumps(entry))
        if self.size + size > self.max_bytes:
            self.left_out += 1
            return
        self.size += size
        self.entries.append(entry)

    def _entry(self, ex: Exchange, judgement: Judgement, redactor: Redactor) -> dict[str, Any]:
        ended = datetime.now(UTC)
        _path, _, query = ex.target.partition("?")
        request: dict[str, Any] = {
            "method": ex.method,
            "url": redactor.text(self.upstream + ex.target),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _headers(ex.headers, redactor),
            "queryString": [{"name": n, "value": redactor.text(v)}
                            for n, _, v in (p.partition("=") for p in query.split("&") if p)],
            "headersSize": -1,
            "bodySize": ex.body_size,
        }
        if ex.body_size:
            request["postData"] = {"mimeType": _content_type(ex.headers), **_text(ex.body, ex.body_size, redactor)}
        response_size = len(ex.response_body)
        return {
            "startedDateTime": (ended - timedelta(seconds=ex.elapsed)).isoformat(),
            "time": round(ex.elapsed * 1000, 3),
            "request": request,
            "response": {
                "status": ex.status or 0,
                "statusText": "" if not ex.failure else redactor.text(ex.failure),
                "httpVersion": "HTTP/1.1",
                "cookies": [],
                "headers": _headers(ex.response_headers, redactor),
                "content": {"size": response_size, "mimeType": _content_type(ex.response_headers),
                            **_text(ex.response_body, response_size, redactor)},
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": response_size if ex.status else -1,
            },
            "cache": {},
            "timings": {"send": -1, "wait": round(ex.elapsed * 1000, 3), "receive": -1},
            "_verdict": judgement.verdict,
            "_rule": judgement.rule,
            "_drifts": [d["check"] for d in judgement.drifts],
        }

    def write(self) -> Path:
        log = {
            "log": {
                "version": "1.2",
                "creator": {"name": "engagelab-mock proxy", "version": __version__},
                "comment": f"credentials redacted; bodies over {BODY_KEPT} bytes cut; "
                f"{self.left_out} exchanges left out after the {self.max_bytes}-byte cap",
                "entries": self.entries,
            }
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_name(f".{self.path.name}.tmp")
        scratch.write_text(json.dumps(log, indent=1), "utf-8")
        os.replace(scratch, self.path)
        return self.path


def _headers(headers: list[tuple[str, str]], redactor: Redactor) -> list[dict[str, str]]:
    return [{"name": k, "value": MASK if k.lower() in SECRET_HEADERS else redactor.text(v)} for k, v in headers]


def _content_type(headers: list[tuple[str, str]]) -> str:
    return next((v for k, v in headers if k.lower() == "content-type"), "")


def _text(body: bytes, size: int, redactor: Redactor) -> dict[str, Any]:
    kept = body[:BODY_KEPT]
    out: dict[str, Any]
    try:
        out = {"text": redactor.text(kept.decode("utf-8"))}
    except UnicodeDecodeError:
        out = {"text": base64.b64encode(kept).decode("ascii"), "encoding": "base64"}
    if size > len(kept):
        out["comment"] = f"first {len(kept)} of {size} bytes"
    return out
