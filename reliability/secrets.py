"""Secret scan: no credential that the runs sent appears in any output channel."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from reliability.inputs import MARKERS, SCAN_NEEDLES, Input
from reliability.report import Row, verdict
from reliability.server import AUTH, CONTROL_TOKEN, Server


def dump_channels(log_dir: Path) -> None:
    """A served run whose journal, config and errors are written to ``log_dir`` for the scan."""
    from reliability.fuzz import RawClient

    with Server("--state", str(log_dir / "secrets.db"), log_dir=log_dir) as server:
        client = RawClient(server)
        headers = {"Content-Type": "application/json", "Authorization": AUTH,
                   **{k.title(): v for k, v in MARKERS.items()}}
        for body in (b'{"euid": 5, "contacts": {"email": "a"}}', b"not json", b'{"euid": 0}'):
            client.send(Input("POST", "/v1/user/contact", headers, body))
        client.send(Input("POST", "/v1/user/contact", {**headers, "X-Mock-Force-Code": "-1"}, b"{}"))
        for path in ("/__mock/journal?limit=100000", "/__mock/config", "/__mock/health", "/__mock/openapi.json"):
            request = urllib.request.Request(server.url + path, headers=server.control_headers())
            with urllib.request.urlopen(request, timeout=10) as answer:
                (log_dir / (path.split("/")[2].split("?")[0] + ".json")).write_bytes(answer.read())
        wrong = urllib.request.Request(server.url + "/__mock/health",
                                       headers={"X-Mock-Token": "wrong-" + CONTROL_TOKEN})
        try:
            urllib.request.urlopen(wrong, timeout=10)
        except OSError as exc:
            (log_dir / "wrong-token.txt").write_text(str(exc))
        client.close()


def scan(paths: list[Path]) -> list[Row]:
    needles = [n.encode() for n in (*SCAN_NEEDLES, CONTROL_TOKEN)]
    found: list[str] = []
    scanned = 0
    for path in paths:
        if not path.is_file():
            continue
        data = path.read_bytes()
        scanned += len(data)
        found.extend(f"{path.name}: {n.decode()[:6]}…" for n in needles if n in data)
    channels = sorted({p.suffix or p.name for p in paths if p.is_file()})
    return [Row("secret scan", f"{len(found)} secrets in {len(paths)} files ({scanned / 1e6:.1f} MB: "
                f"{', '.join(channels)})", verdict(not found), "; ".join(found[:5]))]


def scan_dir(log_dir: Path, extra: list[Path]) -> list[Row]:
    return scan(sorted(p for p in log_dir.rglob("*") if p.is_file()) + extra)


def jsonable(rows: list[Row]) -> str:
    return json.dumps([r.to_json() for r in rows], indent=2)
