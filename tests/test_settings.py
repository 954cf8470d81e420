"""Settings: defaults, file, environment and flags, each validated with a message that names its source."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engagelab_kit.mock_server import ConfigError, Settings, build
from engagelab_kit.mock_server.settings import DEFAULT_PROJECTS

FULL = """
[server]
host = "0.0.0.0"  # allowed: the file sets a control token
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
        ({"ENGAGELAB_MOCK_PORT": "x"}, "^ENGAGELAB_MOCK_PORT: expected an integer"),
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


def test_the_public_view_hides_secrets() -> None:
    settings = Settings(statuses={55004: 422}, control_token="zq-secret-77", known_euids=(3,))
    public = str(settings.public())
    assert "zq-secret-77" not in public and "5e987ac6d2e04d95a9d8f0d1" not in public
    assert "5e987ac6d2e04d95a9d8f0d1" not in repr(settings)


# -- one declaration drives everything (issue 11 §4) ---------------------------------------------

def test_every_declared_setting_is_a_field_with_the_declared_default() -> None:
    from engagelab_kit.mock_server.settings import BUILD_ONLY, ServeOptions
    from engagelab_kit.mock_server.settings_table import SETTINGS

    fields = {f.name: f for owner in (Settings, ServeOptions) for f in dataclasses.fields(owner)}
    for setting in SETTINGS:
        if setting.name in BUILD_ONLY:
            assert setting.name not in fields
            continue
        owner = ServeOptions() if setting.serve else Settings()
        assert getattr(owner, setting.name) == setting.default, setting.name
    declared = {s.name for s in SETTINGS} | {"projects", "statuses"}
    assert set(fields) <= declared, set(fields) - declared


def test_help_shows_each_setting_with_its_real_default(capsys: pytest.CaptureFixture[str]) -> None:
    from engagelab_kit.mock_server.cli import main
    from engagelab_kit.mock_server.settings import ServeOptions
    from engagelab_kit.mock_server.settings_table import SETTINGS

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    threads = next(s for s in SETTINGS if s.name == "threads")
    assert f"{threads.help} (default {ServeOptions().threads};" in text
    for setting in SETTINGS:
        if setting.flag:
            assert setting.flag in text and setting.env in text


def test_readme_settings_table_is_current() -> None:
    from engagelab_kit.mock_server.settings_table import markdown_table, with_table

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert with_table(readme) == readme, "README settings table is stale: run `make settings-table`"
    assert markdown_table() in readme


def test_every_setting_reads_from_file_environment_and_flag(tmp_path: Path) -> None:
    from engagelab_kit.mock_server.settings_table import SETTINGS

    samples = {"host": "127.0.0.2", "contact_types": "email", "project_key_pattern": "^k$",
               "known_euids": "7", "state_file": "s.db", "control_token": "t", "port": "9000",
               "latency_ms": "5", "body_timeout": "2.5"}
    config = tmp_path / "c.toml"
    for setting in SETTINGS:
        if setting.name in ("control_token_file",):
            continue
        flipped = str(not setting.default).lower()
        raw = samples.get(setting.name, flipped if isinstance(setting.default, bool) else "2000000")
        config.write_text(f"[{setting.section}]\n{setting.key} = {raw!r}\n")
        ways = [build(config), build(None, {setting.env: raw})]
        if setting.flag and setting.switch is None:
            ways.append(build(None, {}, {setting.name: raw}))
        for values in ways:
            got = getattr(values[1] if setting.serve else values[0], setting.name)
            assert got == setting.parse(raw) != setting.default, setting.name


def test_errors_name_each_source_once_and_report_everything(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[server]\nport = 'x'\nthreads = 0\n[rules]\nmax_contacts = -1\n")
    with pytest.raises(ConfigError) as info:
        build(config, {"ENGAGELAB_MOCK_WORKERS": "two"}, {"host": "no such host!", "latency_ms": "-1"})
    text = str(info.value)
    assert len(info.value.problems) == 6, text
    assert f"{config}: server.port: expected an integer" in text
    assert f"{config}: server.threads: must be at least 1" in text
    assert "ENGAGELAB_MOCK_WORKERS: expected an integer" in text
    assert "--host: not an IP address or host name" in text
    assert "--latency-ms: must be 0..60000" in text
    assert "--port" not in text and "-: " not in text
    assert "ENGAGELAB_MOCK_WORKERS: ENGAGELAB_MOCK_WORKERS" not in text


def test_unreadable_file_has_no_stray_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build(tmp_path / "none.toml")
    assert str(info.value) == f"{tmp_path / 'none.toml'}: file not found"


# -- the control token and exposure -----------------------------------------------------------------

def test_token_from_environment_or_file(tmp_path: Path) -> None:
    assert build(None, {"ENGAGELAB_MOCK_CONTROL_TOKEN": "env-tok"})[0].control_token == "env-tok"
    token = tmp_path / "token"
    token.write_text("file-tok\n")
    assert build(None, {}, {"control_token_file": str(token)})[0].control_token == "file-tok"
    assert build(None, {"ENGAGELAB_MOCK_CONTROL_TOKEN_FILE": str(token)})[0].control_token == "file-tok"
    with pytest.raises(ConfigError, match="not both"):
        build(None, {"ENGAGELAB_MOCK_CONTROL_TOKEN": "a"}, {"control_token_file": str(token)})
    token.write_text("\n")
    with pytest.raises(ConfigError, match=r"^--control-token-file: the token file .* is empty"):
        build(None, {}, {"control_token_file": str(token)})
    with pytest.raises(ConfigError, match="cannot read the token file"):
        build(None, {}, {"control_token_file": str(tmp_path / "missing")})


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "mock.example"])
def test_open_control_on_a_public_address_is_refused(host: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(None, {}, {"host": host})
    assert info.value.source == "--host" and "not a loopback address" in str(info.value)
    with pytest.raises(ConfigError, match=r"^ENGAGELAB_MOCK_HOST: "):
        build(None, {"ENGAGELAB_MOCK_HOST": host})
    # Each way out is accepted.
    assert build(None, {}, {"host": host, "control_token": "t"})[1].host == host
    assert build(None, {}, {"host": host, "control_enabled": False})[1].host == host
    assert build(None, {}, {"host": host, "allow_open_control": True})[1].allow_open_control


@pytest.mark.parametrize("host", ["127.0.0.1", "127.9.9.9", "::1", "localhost"])
def test_loopback_needs_no_token(host: str) -> None:
    assert build(None, {}, {"host": host})[1].host == host
