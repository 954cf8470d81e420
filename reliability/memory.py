"""Memory of the served mock over many requests of every shape the size rules admit."""

from __future__ import annotations

import json
import os
import random
import socket
import time
from pathlib import Path

from engagelab_kit.mock_server import HttpRequest, Settings
from engagelab_kit.mock_server.app import make_service
from reliability.inputs import CONTACT, REGISTER, Input
from reliability.report import SEEN, Row, verdict
from reliability.server import AUTH, Server, rss_bytes

MB = 1_000_000
_JSON = {"Content-Type": "application/json", "Authorization": AUTH}


def _shape(rng: random.Random, n: int) -> Input:
    roll = rng.random()
    if roll < 0.40:  # a new user each time
        body = {"euid": 10**9 + n, "contacts": {"mobile_phone": f"{n:011d}", "email": f"u{n}@example.com"}}
    elif roll < 0.50:  # a new user with the longest values
        body = {"euid": 10**9 + n, "contacts": {"mobile_phone": "\u4e2d" * 256, "email": "e" * 256}}
    elif roll < 0.55:  # 100 new identities
        body = {"identity_name": "user_id", "identity_values": [f"id-{n}-{i}" for i in range(100)]}
        return Input("POST", REGISTER, _JSON, json.dumps(body).encode())
    elif roll < 0.70:  # large headers
        headers = {**_JSON, **{f"X-Fill-{i}": f"{n}-" + "h" * 400 for i in range(20)}}
        return Input("POST", CONTACT, headers, json.dumps({"euid": n + 1, "contacts": {"email": "a"}}).encode())
    elif roll < 0.705:  # a large body (rejected, but read and journaled)
        return Input("POST", CONTACT, _JSON, b'{"euid": 1, "pad": "' + b"p" * 200_000 + b'"}')
    elif roll < 0.80:  # long query and path
        return Input("POST", f"{CONTACT}?{'q' * 2000}={n}", _JSON, b"{}")
    else:  # invalid requests of all kinds
        body = {"euid": n, "contacts": {f"bad-{n}": "x" * rng.randrange(300)}}
    return Input("POST", CONTACT, _JSON, json.dumps(body, ensure_ascii=False).encode())


def _pipeline(sock: socket.socket, batch: list[Input], host: str, token: str | None) -> None:
    sock.sendall(b"".join(i.http(host, token) for i in batch))
    buffer = b""
    for _ in batch:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed mid-batch")
            buffer += chunk
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), b"0"))
        while len(buffer) < length:
            buffer += sock.recv(1 << 20)
        buffer = buffer[length:]


def memory(total: int, seed: int, log_dir: Path, *args: str, env: dict[str, str] | None = None) -> list[Row]:
    rng = random.Random(seed)
    samples: list[tuple[int, int]] = []
    worker_rss: list[int] = []
    with Server(*args, log_dir=log_dir, env=env) as server:
        sock = socket.create_connection((server.host, server.port), timeout=30)
        host = f"{server.host}:{server.port}"
        started = time.perf_counter()
        step = max(total // 40, 100)
        n = 0
        while n < total:
            batch = [_shape(rng, n + i) for i in range(min(100, total - n))]
            try:
                _pipeline(sock, batch, host, server.token)
            except (OSError, ConnectionError):
                sock.close()
                sock = socket.create_connection((server.host, server.port), timeout=30)
            n += len(batch)
            if n % step < len(batch):
                samples.append((n, rss_bytes(server.pids())))
                worker_rss.append(rss_bytes(server.workers()))
        sock.close()
        seconds = time.perf_counter() - started
    first = samples[0][1]
    warm = [rss for count, rss in samples if count >= total // 5]  # after the caps filled
    band = max(warm) - min(warm)
    growth = samples[-1][1] - first
    label = " ".join(args) or "defaults"
    tenths = [f"{rss / MB:.0f}" for count, rss in samples[len(samples) // 10 - 1::len(samples) // 10]]
    (log_dir / f"memory-{total}.json").write_text(json.dumps({"samples": samples, "worker_rss": worker_rss}))
    return [
        Row(f"memory over {total:,} requests ({label})",
            f"RSS {first / MB:.0f} -> {samples[-1][1] / MB:.0f} MB (peak {max(r for _, r in samples) / MB:.0f})",
            SEEN, f"{total / seconds:,.0f} req/s; growth from the first sample {growth / MB:+.0f} MB; every tenth: "
                  f"{' '.join(tenths)} MB; worker {worker_rss[0] / MB:.0f} -> {worker_rss[-1] / MB:.0f} MB"),
        # "Flat, +-20 MB": every sample after warm-up within a 40 MB band.
        Row(f"memory flat after warm-up ({label})", f"band {band / MB:.1f} MB over the last 80 %",
            verdict(band <= 40 * MB)),
    ]


def _own_rss() -> int:
    return rss_bytes([os.getpid()])


def memory_rules(total: int, seed: int, settings: Settings | None = None) -> list[Row]:
    """The same request shapes through the rules function and the in-memory store, in this process:
    the mock's own memory, without the HTTP server's buffers and allocator."""
    rng = random.Random(seed)
    service = make_service(settings or Settings())
    samples: list[tuple[int, int]] = []
    step = max(total // 40, 100)
    for n in range(total):
        inp = _shape(rng, n)
        path, _, query = inp.path.partition("?")
        service.handle(HttpRequest(inp.method, path, {k.lower(): v for k, v in inp.headers.items()}, inp.body, query))
        if (n + 1) % step == 0:
            samples.append((n + 1, _own_rss()))
    warm = [rss for count, rss in samples if count >= total // 5]
    band = max(warm) - min(warm)
    return [Row(f"memory over {total:,} requests (rules function + in-memory store, in-process)",
                f"RSS {samples[0][1] / MB:.0f} -> {samples[-1][1] / MB:.0f} MB; band {band / MB:.1f} MB over the "
                "last 80 %", verdict(band <= 40 * MB))]
