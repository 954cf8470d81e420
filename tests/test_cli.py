"""The command line without serving: configuration checks and the startup banner."""

from __future__ import annotations

from pathlib import Path

import pytest

from engagelab_kit.mock_server import Project, Settings
from engagelab_kit.mock_server.auth import basic_header
from engagelab_kit.mock_server.cli import main
from engagelab_kit.mock_server.serve import banner, claim_port


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


def test_banner_never_prints_a_secret_even_encoded() -> None:
    for settings in (Settings(), Settings(projects=(Project("x", "0123456789abcdef01234567", "private-secret"),),
                                          control_token="t")):
        project = settings.projects[0]
        text = banner(settings, "http://127.0.0.1:1")
        assert project.key in text and '-u "' + project.key + ':$ENGAGELAB_API_SECRET"' in text
        assert project.secret not in text
        assert basic_header(project.key, project.secret)[6:] not in text
    assert "token required" in text


def test_claim_port_picks_a_free_one_and_refuses_a_held_one() -> None:
    import socket

    from engagelab_kit.mock_server import ConfigError

    port = claim_port("127.0.0.1", 0)
    assert 0 < port < 65536
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as servers that share ports do
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with pytest.raises(ConfigError, match="cannot listen"):
            claim_port("127.0.0.1", holder.getsockname()[1])


def test_check_config_blames_the_host_not_the_port(capsys: pytest.CaptureFixture[str]) -> None:
    # 192.0.2.0/24 is reserved for documentation: never an address of this machine.
    assert main(["check-config", "--host", "192.0.2.7", "--no-control", "--threads", "0"]) == 2
    err = capsys.readouterr().err
    assert "configuration refused (2 problems)" in err
    assert "--host: 192.0.2.7 is not an address of this machine" in err
    assert "--threads: must be at least 1" in err
    assert "--port" not in err and "-: " not in err


def test_serve_refuses_a_foreign_host_before_listening(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "192.0.2.7", "--no-control", "--port", "0"]) == 2
    captured = capsys.readouterr()
    assert "serving on" not in captured.out and "--host: 192.0.2.7" in captured.err


def test_version_is_printed_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    from engagelab_kit.spec.version import __version__

    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    out, err = capsys.readouterr()
    assert out == f"engagelab-mock {__version__}\n" and err == ""


def test_each_worker_gets_its_own_socket_on_one_port_and_a_held_port_is_still_refused() -> None:
    import socket

    from engagelab_kit.mock_server import ConfigError
    from engagelab_kit.mock_server.serve import listen_each

    socks = listen_each("127.0.0.1", 0, 3)
    try:
        ports = {sock.getsockname()[1] for sock in socks}
        assert len(socks) == 3 and len(ports) == 1
        for sock in socks:
            sock.setblocking(False)
        # The kernel spreads new connections over the sockets: 40 connections reach more than one.
        port = ports.pop()
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        reached = set()
        for index, sock in enumerate(socks):
            try:
                while True:
                    accepted, _ = sock.accept()
                    accepted.close()
                    reached.add(index)
            except BlockingIOError:
                pass
        for client in clients:
            client.close()
        assert len(reached) > 1
        with pytest.raises(ConfigError, match="cannot listen"):  # even by one sharing the port itself
            listen_each("127.0.0.1", socks[0].getsockname()[1], 2)
    finally:
        for sock in socks:
            sock.close()
    (alone,) = listen_each("127.0.0.1", 0, 1)
    alone.close()
