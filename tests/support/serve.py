"""Run `shoal serve` (and `shoal worker`) as real subprocesses for tests.

    with start_serve(tmp_path / "svc", vulndb=vulndb_copy) as svc:
        svc.wait_ready()
        r = svc.client.get("/api/v1/registries")
    # leaving the block stops it with SIGINT and fails the test if it does not exit 0

The service listens on a free loopback port (`--port 0`; the URL is read from the line
it prints), keeps its SQLite database and credentials key under `data_dir`, and logs
JSON lines to `data_dir/serve.log`. `database_url` (e.g. a fresh PostgreSQL database
from the `pg_databases` fixture) is passed as `SHOAL_DATABASE_URL`. Ambient `SHOAL_*`
variables of the test process are dropped, except the cache dir the autouse fixture
sets, so a developer's environment cannot change what a test sees.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

_LISTENING = re.compile(r"listening on (http://\S+)")
_KEEP_ENV = {"SHOAL_CACHE__DIR"}
SHOAL = [sys.executable, "-c", "from shoal.cli.main import app; app(prog_name='shoal')"]


class ServeError(AssertionError):
    """The subprocess did not start, get ready or stop as expected (its log attached)."""


def child_env(
    *,
    database_url: str | None = None,
    vulndb: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment for a shoal subprocess: this one minus SHOAL_* (but the cache
    dir), plus the database URL, the vulnerability DB path and `env`."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_") or k in _KEEP_ENV}
    if database_url:
        out["SHOAL_DATABASE_URL"] = database_url
    if vulndb is not None:
        out["SHOAL_VULNDB__PATH"] = str(vulndb)
    out.update(env or {})
    return out


@dataclass
class ServeProcess:
    """A running `shoal serve`."""

    proc: subprocess.Popen[bytes]
    data_dir: Path
    stdout_path: Path
    log_path: Path
    url: str = ""
    stdout_offset: int = 0  # where this run's output starts (the files are appended to)
    log_offset: int = 0
    _client: httpx.Client | None = field(default=None, repr=False)

    @property
    def client(self) -> httpx.Client:
        """An HTTP client with `base_url` set to the service."""
        if self._client is None:
            self._client = httpx.Client(base_url=self.url, timeout=30.0)
        return self._client

    def stdout(self) -> str:
        """This run's standard output."""
        return _read_from(self.stdout_path, self.stdout_offset)

    def log_text(self) -> str:
        """This run's log (stderr)."""
        return _read_from(self.log_path, self.log_offset)

    def log_records(self) -> list[dict[str, Any]]:
        """The service's JSON log lines (lines that are not JSON are skipped)."""
        out: list[dict[str, Any]] = []
        for line in self.log_text().splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict):
                out.append(doc)
        return out

    def wait_listening(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = _LISTENING.search(self.stdout())
            if m:
                self.url = m.group(1)
                return self.url
            if self.proc.poll() is not None:
                raise ServeError(self._why(f"shoal serve exited {self.proc.returncode} at start"))
            time.sleep(0.05)
        raise ServeError(self._why(f"shoal serve did not listen within {timeout:.0f} s"))

    def wait_ready(self, timeout: float = 60.0) -> dict[str, Any]:
        """Poll /readyz until it answers 200; its JSON body."""
        if not self.url:
            self.wait_listening(timeout)
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServeError(self._why(f"shoal serve exited {self.proc.returncode}"))
            try:
                r = self.client.get("/readyz")
            except httpx.TransportError as e:
                last = f"{type(e).__name__}: {e}"
            else:
                if r.status_code == 200:
                    body: dict[str, Any] = r.json()
                    return body
                last = f"{r.status_code} {r.text[:500]}"
            time.sleep(0.1)
        raise ServeError(self._why(f"not ready within {timeout:.0f} s (last: {last})"))

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60.0) -> int:
        """Send `sig`, wait for the exit; its exit code (killed after `timeout`, which
        is a ServeError)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise ServeError(
                    self._why(f"shoal serve did not stop within {timeout:.0f} s")
                ) from None
        return int(self.proc.returncode)

    def kill(self) -> None:
        """SIGKILL: a crash (nothing runs at exit)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        code = self.stop()
        if t is None and code != 0:
            raise ServeError(self._why(f"shoal serve exited {code} on SIGINT"))

    def _why(self, what: str) -> str:
        return f"{what}\n--- stdout ---\n{self.stdout()[-2000:]}\n--- log ---\n{self.log_text()[-6000:]}"


def _read_from(path: Path, offset: int) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def start_serve(
    data_dir: Path,
    *,
    database_url: str | None = None,
    vulndb: Path | None = None,
    workers: int | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    wait: bool = True,
    timeout: float = 60.0,
) -> ServeProcess:
    """Start `shoal serve` with its state in `data_dir`; by default wait until it
    listens (not until ready: call `wait_ready`). `vulndb`: the vulnerability DB file
    to use (a copy if the test updates feeds); None builds one from the bundled data
    under `data_dir` at start (about 2 s)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if vulndb is None:
        vulndb = data_dir / "vulndb" / "vuln.db"
    cmd = [*SHOAL, "serve", "--host", host, "--port", str(port), "--data-dir", str(data_dir)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    cmd += list(args)
    stdout_path = data_dir / "serve.out"
    log_path = data_dir / "serve.log"
    with stdout_path.open("ab") as out, log_path.open("ab") as log:
        offsets = out.tell(), log.tell()
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=child_env(database_url=database_url, vulndb=vulndb, env=env),
            start_new_session=True,  # a Ctrl-C of the test run reaches it only through us
        )
    svc = ServeProcess(
        proc, data_dir, stdout_path, log_path, stdout_offset=offsets[0], log_offset=offsets[1]
    )
    if wait:
        try:
            svc.wait_listening(timeout)
        except BaseException:
            svc.kill()
            raise
    return svc


@dataclass
class WorkerProcess:
    """A running `shoal worker` (Celery)."""

    proc: subprocess.Popen[bytes]
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise ServeError(
                    f"shoal worker did not stop within {timeout:.0f} s\n{self.log_text()[-4000:]}"
                ) from None
        return int(self.proc.returncode)


def start_worker(
    data_dir: Path,
    *,
    database_url: str | None = None,
    vulndb: Path | None = None,
    broker_url: str,
    queue_name: str,
    pool: str = "solo",
    concurrency: int = 1,
    args: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
) -> WorkerProcess:
    """Start `shoal worker` on `broker_url`/`queue_name` with the service's settings."""
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        *SHOAL,
        "worker",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--broker-url",
        broker_url,
        "--queue-name",
        queue_name,
        "--data-dir",
        str(data_dir),
        *args,
    ]
    log_path = data_dir / f"worker-{queue_name}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=child_env(
                database_url=database_url,
                vulndb=vulndb or data_dir / "vulndb" / "vuln.db",
                env=env,
            ),
            start_new_session=True,
        )
    return WorkerProcess(proc, log_path)
