"""Concurrent writers: every merge acknowledged with code 0 is in the stored user afterwards."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from reliability.fuzz import RawClient
from reliability.inputs import CONTACT, Input
from reliability.report import Row, verdict
from reliability.server import AUTH, Server

HEADERS = {"Content-Type": "application/json", "Authorization": AUTH}


def merge(client: RawClient, euid: int, contacts: dict[str, str]) -> bool:
    """True when the mock acknowledged the write with code 0."""
    try:
        status, _, body = client.send(Input("POST", CONTACT, HEADERS, json.dumps({"euid": euid,
                                                                                   "contacts": contacts}).encode()))
        return status == 200 and json.loads(body).get("code") == 0
    except (OSError, ValueError):
        client.close()
        return False


def stored(server: Server, euid: int) -> dict[str, str] | None:
    client = RawClient(server)
    try:
        status, _, body = client.send(Input("GET", f"/__mock/users/{euid}", {}, b""))
    finally:
        client.close()
    if status == 404:
        return None
    contacts: dict[str, str] = json.loads(body)["contacts"]
    return contacts


def _run(server: Server, writers: int, merges: int) -> tuple[int, int]:
    """(acknowledged, lost): each writer sets its own contact type on one shared user, and its own user."""
    last: dict[int, int] = {}
    acked = [0] * writers

    def write(i: int) -> None:
        client = RawClient(server)
        for j in range(merges):
            if merge(client, 1, {f"w{i}": f"v{j}"}) and merge(client, 1000 + i, {"email": f"v{j}"}):
                last[i] = j
                acked[i] += 2
        client.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shared = stored(server, 1) or {}
    lost = 0
    for i, j in last.items():
        lost += shared.get(f"w{i}") != f"v{j}"
        lost += (stored(server, 1000 + i) or {}).get("email") != f"v{j}"
    return sum(acked), lost


def concurrent_writers(writers: int, merges: int, log_dir: Path) -> list[Row]:
    types = ",".join(["email", *(f"w{i}" for i in range(writers))])
    rows = []
    for label, args in (("memory store", ()), ("2 workers, SQLite", ("--workers", "2"))):
        with Server("--contact-types", types, *args, log_dir=log_dir) as server:
            acked, lost = _run(server, writers, merges)
        rows.append(Row(f"concurrent writers ({label})", f"{writers} x {merges} merge pairs: {acked:,} acked, "
                        f"{lost} lost", verdict(lost == 0 and acked > 0)))
    return rows
