"""The running service: what `shoal serve` (and a Celery worker) start and stop.

`Runtime(settings).prepare()` builds everything in order, each step idempotent:

1. the service database's schema brought to head (`shoal.db.migrate`; several
   processes starting at once take turns);
2. the vulnerability DB built from the bundled feeds when there is none yet (never the
   network);
3. the credentials cipher: `$SHOAL_CREDENTIALS_KEY` when set, else a key file created
   once under `service.data_dir` (mode 0600, in a 0700 directory; refused when others
   can read it) and reused by every later start;
4. the `ServiceContext` with its queue (`InProcessQueue`, or `CeleryQueue` when
   `service.queue = "celery"`) and metrics.

`start()` then starts the queue (which first requeues jobs a previous run left
running) and the scheduler thread; `serve()` runs the HTTP app under uvicorn on
`service.host:port` until SIGINT/SIGTERM, then `stop()`: the listener closes and
in-flight requests finish, the scheduler stops, workers finish their current job
(those still running after `service.stop_timeout` go back to the queue).

The HTTP app comes from an `app_factory(ctx)` passed in (`shoal.api.create_app` from
the CLI): the service layer never imports the API layer above it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import uvicorn

from shoal.config import Settings
from shoal.db.crypto import KEY_ENV_VAR, CredentialCipher
from shoal.db.errors import CredentialError
from shoal.db.migrate import migrate
from shoal.errors import ConfigError
from shoal.service.clock import Clock
from shoal.service.context import ServiceContext
from shoal.service.metrics import Metrics
from shoal.service.queue import InProcessQueue, JobQueue
from shoal.service.scheduler import Scheduler

log = logging.getLogger("shoal.service.runtime")

KEY_FILE_NAME = "credentials.key"
AppFactory = Callable[[ServiceContext], Any]  # ctx -> an ASGI application
_KEY_BYTES_MAX = 4096


# --- the credentials key ----------------------------------------------------------------


def load_cipher(settings: Settings) -> CredentialCipher:
    """The cipher for registry credentials: `$SHOAL_CREDENTIALS_KEY` (comma-separated
    keys rotate) when set, else the key file under the data dir (created on first use)."""
    keys = os.environ.get(KEY_ENV_VAR, "").strip()
    if keys:
        return CredentialCipher(keys)
    return CredentialCipher(ensure_key_file(settings.service.data_dir / KEY_FILE_NAME))


def ensure_key_file(path: Path) -> str:
    """The Fernet key stored at `path`, generating it the first time (mode 0600).

    Safe against concurrent first starts: the key is written to a private temporary file
    and hard-linked into place, so exactly one key wins and every process reads it. A
    key file group or others may read is refused, not silently used."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(CredentialCipher.generate_key() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
            log.info("credentials key created", extra={"path": str(path)})
        except FileExistsError:
            pass  # another process was first: use its key
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key_file(path)


def _read_key_file(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd) as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise CredentialError(f"credentials key file {str(path)!r} is not a regular file")
        if st.st_mode & 0o077:
            raise CredentialError(
                f"credentials key file {str(path)!r} is readable by others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}): chmod 600 it"
            )
        key = f.read(_KEY_BYTES_MAX + 1).strip()
    if not key or len(key) > _KEY_BYTES_MAX:
        raise CredentialError(f"credentials key file {str(path)!r} holds no usable key")
    return key


# --- the runtime ------------------------------------------------------------------------


class Runtime:
    """One service instance: context, queue, scheduler and (optionally) the HTTP server."""

    def __init__(
        self,
        settings: Settings,
        *,
        app_factory: AppFactory | None = None,
        database_url: str | None = None,
        clock: Clock | None = None,
        run_scheduler: bool | None = None,
    ) -> None:
        self.settings = settings
        self._app_factory = app_factory
        self._database_url = database_url
        self._clock = clock
        self._run_scheduler = settings.service.scheduler if run_scheduler is None else run_scheduler
        self.ctx: ServiceContext | None = None
        self.scheduler: Scheduler | None = None
        self._started = False
        self._server: _Server | None = None
        self._stop_lock = threading.Lock()

    # lifecycle ---------------------------------------------------------------------

    def prepare(self) -> ServiceContext:
        """Build the context (migrations, vulnerability DB, cipher, queue, metrics).
        Starts no thread; idempotent."""
        if self.ctx is not None:
            return self.ctx
        cipher = load_cipher(self.settings)
        ctx = ServiceContext.create(
            self.settings, database_url=self._database_url, clock=self._clock, cipher=cipher
        )
        try:
            url = ctx.engine.url
            log.info(
                "migrating the service database",
                extra={"database": url.render_as_string(hide_password=True)},
            )
            migrate(ctx.engine)
            self._ensure_vulndb(ctx)
            ctx.metrics = Metrics(ctx)
            ctx.queue = self._make_queue(ctx)
        except BaseException:
            ctx.close()
            raise
        self.ctx = ctx
        return ctx

    def start(self) -> ServiceContext:
        """Prepare, then start the queue (requeueing what a previous run left running)
        and the scheduler."""
        ctx = self.prepare()
        if self._started:
            return ctx
        assert ctx.queue is not None
        ctx.queue.start()
        if self._run_scheduler:
            self.scheduler = Scheduler(ctx)
            self.scheduler.start()
        self._started = True
        log.info(
            "service started",
            extra={
                "queue": self.settings.service.queue,
                "workers": self.settings.service.workers,
                "scheduler": self._run_scheduler,
            },
        )
        return ctx

    def stop(self) -> None:
        """Stop the scheduler, let workers finish (or requeue) their job, close the DBs.
        Safe to call more than once."""
        with self._stop_lock:
            ctx, self.ctx = self.ctx, None
            if ctx is None:
                return
            if self.scheduler is not None:
                self.scheduler.stop()
                self.scheduler = None
            if ctx.queue is not None and self._started:
                ctx.queue.stop(self.settings.service.stop_timeout)
            self._started = False
            ctx.close()
            log.info("service stopped")

    def __enter__(self) -> Runtime:
        self.start()
        return self

    def __exit__(
        self,
        t: type[BaseException] | None,
        e: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # serving -----------------------------------------------------------------------

    def serve(
        self,
        *,
        on_listening: Callable[[str], None] | None = None,
        access_log: bool = True,
    ) -> None:
        """Start, serve HTTP on `service.host:port` until SIGINT/SIGTERM (or
        `request_stop()`), then stop. `on_listening(url)` is called once the socket
        listens (with the real port when the setting is 0)."""
        if self._app_factory is None:
            raise ConfigError("Runtime.serve needs an app_factory (shoal.api.create_app)")
        svc = self.settings.service
        sock = bind_socket(svc.host, svc.port)
        # port 0 took a free port: the settings say which, so URLs built from them (the
        # registries' receiver URLs when public_url is unset) name the real one
        svc.port = int(sock.getsockname()[1])
        try:
            ctx = self.start()
            app = self._app_factory(ctx)
            config = uvicorn.Config(
                app,
                log_config=None,  # the process's logging (structured lines), not uvicorn's
                access_log=access_log,
                lifespan="auto",
                timeout_graceful_shutdown=max(1, int(svc.stop_timeout)),
                server_header=False,
                proxy_headers=False,
            )
            self._server = _Server(config)
            url = listen_url(sock)
            log.info("listening", extra={"url": url})
            if on_listening is not None:
                on_listening(url)
            self._server.run(sockets=[sock])
        finally:
            sock.close()
            self._server = None
            self.stop()

    def request_stop(self) -> None:
        """Ask a running `serve()` to stop (as SIGTERM would)."""
        server = self._server
        if server is not None:
            server.should_exit = True

    # internals ---------------------------------------------------------------------

    def _ensure_vulndb(self, ctx: ServiceContext) -> None:
        from shoal.vulndb.update import bootstrap

        path = self.settings.vulndb.path
        try:
            report = bootstrap(path)
        except Exception as e:  # the service still runs; /readyz says what is missing
            log.error(
                "building the vulnerability DB from bundled data failed",
                extra={"path": str(path), "error": str(e)[:300]},
            )
            return
        if report is not None:
            log.info("vulnerability DB built from bundled data", extra={"path": str(path)})

    def _make_queue(self, ctx: ServiceContext) -> JobQueue:
        if self.settings.service.queue == "celery":
            from shoal.service.celery_queue import CeleryQueue

            return CeleryQueue(ctx)
        return InProcessQueue(ctx, self.settings.service.workers)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free one). One clear error when
    the address is taken or not local."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ConfigError(f"listen address {host!r}: {e.strerror}") from e
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    sock.set_inheritable(True)
    return sock


def listen_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if sock.family == socket.AF_INET6:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn's server with signal handling that does not re-raise the signal after a
    graceful shutdown (uvicorn's does, which would skip `Runtime.stop`): the first
    SIGINT/SIGTERM stops gracefully, a second SIGINT forces the exit."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only: request_stop() stops this one
            return

        def handle(sig: int, frame: FrameType | None) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True
            log.info("stopping", extra={"signal": signal.Signals(sig).name})

        originals = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, original in originals.items():
                signal.signal(sig, original)
