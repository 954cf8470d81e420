"""nginx answering the page's success body from its config: the fixed-body ceiling of this machine.

The issue's 60 000 req/s target is "half of nginx's fixed-body ceiling"; the
ceiling moves with the machine (2-3x between sessions on a shared one), so it
is measured in the same run as the mock. nginx runs in the foreground
(``daemon off``) with one worker process, as an unprivileged user (``nobody``
when the benchmark runs as root), from a config generated into a scratch
directory of its own; it is stopped by its PID like every other server.
nginx comes from apt (package ``nginx``) when it is not installed.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.console import BenchError
from bench.installs import executable
from bench.mix import PATH

PACKAGE = "nginx"
# One worker process beside the master: the mock is measured with one worker too,
# and on 2 cores wrk needs the other one.
WORKER_PROCESSES = 1
SUCCESS = '{"code":0,"message":"success"}'
# Debian installs nginx in /usr/sbin, which is not on an unprivileged user's PATH.
_SBIN = "/usr/sbin:/sbin"
_UNPRIVILEGED = "nobody"
_VERSION = re.compile(r"nginx/(\S+)")


def config(port: int, prefix: Path) -> str:
    """The whole nginx.conf: every path nginx writes to lies under ``prefix``."""
    temp_paths = "\n".join(f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                                   "uwsgi", "scgi"))
    return f"""\
daemon off;
master_process on;
worker_processes {WORKER_PROCESSES};
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    default_type application/json;
    keepalive_timeout 75s;
    # The default (1000) closes a keep-alive connection every 1000 requests; the other
    # servers never do, and reconnects are not what the ceiling is meant to measure.
    keepalive_requests 100000000;
{temp_paths}

    server {{
        listen 127.0.0.1:{port};
        # `return` answers a POST too, after discarding its body.
        location = {PATH} {{
            return 200 '{SUCCESS}';
        }}
    }}
}}
"""


@dataclass(frozen=True)
class Nginx:
    executable: str
    version: str


def ensure_nginx() -> Nginx:
    """nginx on PATH or in /usr/sbin, apt-installed first when missing."""
    found = shutil.which("nginx") or shutil.which("nginx", path=_SBIN) or executable("nginx", PACKAGE)
    result = subprocess.run([found, "-v"], capture_output=True, text=True, timeout=30, check=False)
    match = _VERSION.search(result.stderr + result.stdout)
    if result.returncode or match is None:
        raise BenchError(f"`{found} -v` failed ({result.returncode}): {(result.stderr or result.stdout).strip()}")
    return Nginx(found, match.group(1))


def _drop_privileges() -> list[str]:
    """The prefix that runs nginx as ``nobody`` when we are root (nginx would otherwise keep a root master)."""
    if os.geteuid() != 0:
        return []
    user = pwd.getpwnam(_UNPRIVILEGED)
    setpriv = shutil.which("setpriv") or shutil.which("setpriv", path=_SBIN)
    if setpriv is None:
        raise BenchError("running as root, and setpriv (util-linux) is missing to start nginx unprivileged")
    # setpriv execs nginx: the PID the benchmark holds is nginx's master.
    return [setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]


@contextmanager
def scratch() -> Iterator[Path]:
    """A directory for the configs of one measurement (one per cold start), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as path:
        # Traversable by the unprivileged user, not listable: each config dir inside is its own.
        os.chmod(path, 0o711)
        yield Path(path)


def command(nginx: Nginx, scratch: Path, port: int) -> list[str]:
    """Write a config for ``port`` into a directory of its own under ``scratch``; the command serving it.

    ``scratch`` comes from ``scratch()``.
    """
    prefix = scratch / f"port-{port}"
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(config(port, prefix))
    drop = _drop_privileges()
    if drop:
        user = pwd.getpwnam(_UNPRIVILEGED)
        os.chown(prefix, user.pw_uid, user.pw_gid)
        conf.chmod(0o644)
    # -e: the error log from the first moment, before the config is read (else the compiled-in path).
    return [*drop, nginx.executable, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
