"""Secrets never kept or shown: credential headers, the state file, the control token, open exposure."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from engagelab_kit.mock_server import ConfigError, build
from engagelab_kit.mock_server.store import JournalEntry
from engagelab_kit.mock_server.store_memory import MemoryStore
from engagelab_kit.mock_server.store_sqlite import SqliteStore
from tests.cases import AUTH, CONTACT, EXAMPLE, JSON_HEADERS
from tests.conftest import ROOT, Target

SECRETS = {
    "Authorization": AUTH,
    "Proxy-Authorization": "Basic cHJveHk6cHJveHktc2VjcmV0LTE=",
    "X-Mock-Token": "tok-secret-2",
    "Cookie": "session=cookie-secret-3",
    "Set-Cookie": "id=cookie-secret-4",
    "X-Api-Key": "api-key-secret-5",
    "X-Auth-Token": "auth-token-secret-6",
}
NEEDLES = [AUTH[6:], "cHJveHk6cHJveHktc2VjcmV0LTE", "tok-secret-2", "cookie-secret-3", "cookie-secret-4",
           "api-key-secret-5", "auth-token-secret-6"]


def test_every_credential_header_is_redacted_in_the_journal(target: Target) -> None:
    target.control("DELETE", "/journal")
    reply = target.request("POST", CONTACT, json.dumps(EXAMPLE).encode(), {**JSON_HEADERS, **SECRETS})
    assert reply.code == 0
    (logged,) = target.control("GET", "/journal").json["entries"]
    for name in SECRETS:
        # (Werkzeug's test client keeps its own cookie jar and may drop a Cookie header.)
        assert logged["headers"].get(name.lower(), "<redacted>") == "<redacted>", name
    assert logged["headers"]["authorization"] == logged["headers"]["proxy-authorization"] == "<redacted>"
    assert logged["headers"]["content-type"] == "application/json"
    text = json.dumps(logged)
    assert not [n for n in NEEDLES if n in text]


def _entry() -> JournalEntry:
    return JournalEntry(1e9, "POST", CONTACT, "", {k.lower(): v for k, v in SECRETS.items()}, b"{}", 2, 1, None, 0,
                        200, 0.1)


def test_memory_journal_keeps_no_secret_even_internally() -> None:
    store = MemoryStore()
    store.record(_entry())
    kept = repr(list(store._journal))  # what the process holds, not what it shows
    assert not [n for n in NEEDLES if n in kept]


def test_sqlite_state_is_private_and_holds_no_secret(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = SqliteStore(str(tmp_path / "state.db"))
        store.record(_entry())
        store.merge_contacts("p", 1, {"email": "a"})
    finally:
        os.umask(old)
    files = sorted(tmp_path.iterdir())
    assert {f.name for f in files} >= {"state.db", "state.db-wal", "state.db-shm"}
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        raw = f.read_bytes()
        assert not [n for n in NEEDLES if n.encode() in raw], f
    store.close()


def test_existing_state_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    SqliteStore(str(path)).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_secret_setting_values_are_not_echoed(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[control]\ntoken = 123456789\n")
    with pytest.raises(ConfigError) as info:
        build(config)
    assert "123456789" not in str(info.value) and "control.token" in str(info.value)


def test_serve_on_a_public_address_without_token_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "engagelab_kit.mock_server.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True, text=True, timeout=30, cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("ENGAGELAB_MOCK_")},
    )
    assert result.returncode == 2 and "serving on" not in result.stdout
    assert "--host: 0.0.0.0 is not a loopback address" in result.stderr
    assert "--allow-open-control" in result.stderr
