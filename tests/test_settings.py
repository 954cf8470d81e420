"""Settings: defaults, file, environment and flags, each validated with a message that names its source."""

from __future__ import annotations

from pathlib import Path

import pytest

from engagelab_kit.mock_server import ConfigError, Settings, build
from engagelab_kit.mock_server.settings import DEFAULT_PROJECTS, dump, restore

FULL = """
[server]
host = "0.0.0.0"
port = 9001
workers = 2
latency_ms = 5
state = "/tmp/x.db"

[rules]
contact_types = ["email", "whatsapp"]
strict_euid = true
known_euids = [1, 2]
max_contacts = 10

[control]
token = "tok"
journal_size = 50

[statuses]
55004 = 422

[[projects]]
name = "a"
key = "0123456789abcdef01234567"
secret = "s"

[[projects]]
key = "0123456789abcdef01234568"
secret = "t"
status = "datasource_deleted"
"""


def test_defaults_need_no_configuration() -> None:
    settings, options = build()
    assert settings == Settings()
    assert (options.host, options.port, options.workers) == ("127.0.0.1", 8080, 1)
    assert [p.status for p in settings.projects] == ["active", "project_deleted", "datasource_deleted"]
    assert settings.projects == DEFAULT_PROJECTS


def test_file_sets_everything(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(FULL)
    settings, options = build(config)
    assert (options.host, options.port, options.workers) == ("0.0.0.0", 9001, 2)
    assert settings.contact_types == ("email", "whatsapp")
    assert settings.strict_euid and settings.known_euids == (1, 2)
    assert settings.max_contacts == 10 and settings.journal_size == 50
    assert settings.control_token == "tok" and settings.latency_ms == 5.0
    assert settings.status_for(55004) == 422 and settings.status_for(55101) == 400
    assert [p.name for p in settings.projects] == ["a", "project-1"]
    assert settings.state_file == "/tmp/x.db"


def test_environment_beats_file_and_flags_beat_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(FULL)
    env = {"ENGAGELAB_MOCK_PORT": "9002", "ENGAGELAB_MOCK_CONTACT_TYPES": "email, sms",
           "ENGAGELAB_MOCK_STRICT_EUID": "no"}
    settings, options = build(config, env)
    assert options.port == 9002 and settings.contact_types == ("email", "sms") and not settings.strict_euid
    settings, options = build(config, env, {"port": "9003", "contact_types": None})
    assert options.port == 9003 and settings.contact_types == ("email", "sms")


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ENGAGELAB_MOCK_PORT": "x"}, "ENGAGELAB_MOCK_PORT: ENGAGELAB_MOCK_PORT: expected an integer"),
        ({"ENGAGELAB_MOCK_STRICT_EUID": "maybe"}, "expected a boolean"),
        ({"ENGAGELAB_MOCK_LATENCY_MS": "-3"}, "must be 0..60000"),
        ({"ENGAGELAB_MOCK_CONTACT_TYPES": "e-mail"}, "not valid contact-type names"),
    ],
)
def test_bad_environment_is_named(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        build(None, env)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[rules]\nproject_key_pattern = '('\n", "rules.project_key_pattern"),
        ("[rules]\nknown_euids = [0]\n", "rules.known_euids"),
        ("[rules]\nknown_euids = 'x'\n", "rules.known_euids"),
        ("[rules]\nstrict_euid = 'x'\n", "rules.strict_euid"),
        ("[server]\nlatency_ms = true\n", "server.latency_ms"),
        ("[control]\ntoken = 5\n", "control.token"),
        ("[control]\njournal_size = true\n", "control.journal_size"),
        ("[nothing]\na = 1\n", "nothing"),
        ("projects = 1\n", "projects"),
        ("projects = [1]\n", "projects[0]"),
        ("[[projects]]\nkey = 'a:b'\nsecret = 's'\n", "projects[0].key"),
        ("[[projects]]\nkey = 'k'\nsecret = 's'\nextra = 1\n", "projects[0].extra"),
        ("[[projects]]\nkey = 'k'\nsecret = 's'\n[[projects]]\nkey = 'k'\nsecret = 't'\n", "projects"),
        ("[[projects]]\nkey = 'k'\nsecret = 's'\nstatus = 'project_deleted'\n", "projects"),
        ("statuses = 1\n", "statuses"),
        ("[statuses]\nabc = 400\n", "statuses.abc"),
        ("[statuses]\n55004 = 99\n", "statuses.55004"),
    ],
)
def test_bad_file_is_named(tmp_path: Path, text: str, key: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as info:
        build(config)
    assert info.value.source == str(config) and info.value.key == key


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        build(tmp_path / "none.toml")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot read"):
        build(binary)


def test_settings_round_trip_to_workers_and_public_view_hides_secrets() -> None:
    settings = Settings(statuses={55004: 422}, control_token="zq-secret-77", known_euids=(3,))
    assert restore(dump(settings)) == settings
    public = str(settings.public())
    assert "zq-secret-77" not in public and "5e987ac6d2e04d95a9d8f0d1" not in public
    assert "5e987ac6d2e04d95a9d8f0d1" not in repr(settings)
