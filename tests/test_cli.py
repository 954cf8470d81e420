"""The command line without serving: configuration checks and the startup banner."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_server import Project, Settings
from mock_server.cli import main
from mock_server.serve import banner, free_port


def test_check_config_accepts_defaults_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) == 0
    assert "defaults: ok (3 projects)" in capsys.readouterr().out
    config = tmp_path / "c.toml"
    config.write_text("[rules]\nstrict_euid = true\n")
    assert main(["check-config", "--config", str(config)]) == 0
    assert f"{config}: ok" in capsys.readouterr().out


def test_check_config_refuses_with_file_key_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[control]\njournal_size = 0\n")
    assert main(["check-config", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}: control.journal_size: must be at least 1" in err


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "env.toml"
    config.write_text("[rules]\nmax_contacts = -1\n")
    monkeypatch.setenv("ENGAGELAB_MOCK_CONFIG", str(config))
    assert main(["check-config"]) == 2
    assert "rules.max_contacts" in capsys.readouterr().err


def test_banner_prints_the_page_header_only_for_the_page_credentials() -> None:
    text = banner(Settings(), "http://127.0.0.1:1")
    assert "Authorization: Basic N2Q0MzFlNDJkZmE2YTZkNjkzYWMyZDA0OjVlOTg3YWM2ZDJlMDRkOTVhOWQ4ZjBkMQ==" in text
    own = Settings(projects=(Project("x", "0123456789abcdef01234567", "private-secret"),), control_token="t")
    text = banner(own, "http://127.0.0.1:1")
    assert "private-secret" not in text and "$ENGAGELAB_API_SECRET" in text
    assert "0123456789abcdef01234567" in text and "token required" in text


def test_free_port_is_bindable() -> None:
    assert 0 < free_port("127.0.0.1") < 65536
