"""Run the real CNCF Distribution registry (Debian's `docker-registry`) for tests.

Listens on 127.0.0.1 on a free port, storage in a temporary directory. Optional
htpasswd basic auth, Docker token auth (with a token server from `tokenserver.py`) and
notifications endpoints.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Registry:
    root: Path
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    username: str | None = None
    password: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_registry(
    root: Path,
    *,
    htpasswd: tuple[str, str] | None = None,
    token: dict[str, Any] | None = None,
    notifications: list[dict[str, Any]] | None = None,
) -> Registry:
    """Start a registry; `token` is the `auth.token` section (realm, service, issuer,
    rootcertbundle)."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": False}},
        "storage": {
            "filesystem": {"rootdirectory": str(root / "data")},
            "delete": {"enabled": True},
        },
        "http": {"addr": f"127.0.0.1:{port}", "secret": "test-secret"},
    }
    if htpasswd:
        import bcrypt

        user, pw = htpasswd
        hashed = bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()
        (root / "htpasswd").write_text(f"{user}:{hashed}\n")
        config["auth"] = {"htpasswd": {"realm": "test", "path": str(root / "htpasswd")}}
    if token:
        config["auth"] = {"token": token}
    if notifications:
        config["notifications"] = {"endpoints": notifications}
    cfg = root / "config.yml"
    cfg.write_text(yaml.safe_dump(config))
    log = root / "registry.log"
    proc = subprocess.Popen(
        [REGISTRY_BIN, "serve", str(cfg)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    reg = Registry(root=root, port=port, proc=proc, log=log)
    if htpasswd:
        reg.username, reg.password = htpasswd
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        try:
            httpx.get(f"{reg.url}/v2/", timeout=1)
            return reg
        except httpx.TransportError:
            time.sleep(0.05)
    reg.stop()
    raise RuntimeError("docker-registry did not start within 20 s")
