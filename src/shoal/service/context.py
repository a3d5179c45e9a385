"""Everything a piece of the service needs, built once and passed explicitly.

`ServiceContext` is the service's composition root: the database (a writer and a
read-only session factory), the clock, the credentials cipher, the current
vulnerability DB, the job queue and the metrics. The API, the workers, the scheduler
and the tests all take one; nothing in `shoal.service` or `shoal.api` reads global
state. `ServiceContext.create(settings)` builds the production one; tests pass a
`ManualClock`, their own database URL and so on.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from shoal.config import Settings
from shoal.db.crypto import CredentialCipher
from shoal.db.session import default_database_url, make_engine, session_factory
from shoal.service.clock import Clock, SystemClock
from shoal.vulndb.store import VulnDB

if TYPE_CHECKING:
    from shoal.service.metrics import Metrics
    from shoal.service.queue import JobQueue

ANALYSER_VERSION_PREFIX = "shoal-"


class VulnDbHandle:
    """The vulnerability DB the service matches against, reopened after an update.

    `shoal db update` (and the feed-update job) write a new file and rename it over the
    old one, so an open connection keeps reading the old data; `current()` notices the
    rename (inode/mtime) and opens the new file. Old handles are closed once replaced;
    a scan holding one keeps a consistent view (SQLite keeps the unlinked file alive)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: VulnDB | None = None
        self._stamp: tuple[int, int] | None = None

    def current(self) -> VulnDB:
        stamp = _stamp(self.path)
        with self._lock:
            if self._db is None or stamp != self._stamp:
                new = VulnDB.open(self.path)  # VulnDbError when missing: the caller's to report
                old, self._db, self._stamp = self._db, new, stamp
                if old is not None:
                    old.close()
            return self._db

    def version(self) -> str | None:
        """The data version, None when there is no DB yet."""
        try:
            return self.current().version
        except Exception:
            return None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
            self._db = None


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def current_analyser_version() -> str:
    """The version stamped on SBOMs: a new shoal release re-analyses stored images."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return ANALYSER_VERSION_PREFIX + version("shoal")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return ANALYSER_VERSION_PREFIX + "dev"


@dataclass
class ServiceContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]  # read-write; keep transactions short (SQLite)
    read_sessions: sessionmaker[Session]  # never write; never block a writer
    clock: Clock
    vulndb: VulnDbHandle
    cipher: CredentialCipher | None = None  # None: registries without credentials only
    queue: JobQueue | None = None  # set by `service.runtime` once built
    metrics: Metrics | None = None
    analyser_version: str = field(default_factory=current_analyser_version)

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        database_url: str | None = None,
        clock: Clock | None = None,
        cipher: CredentialCipher | None = None,
    ) -> ServiceContext:
        url = database_url or settings.service.database_url or _default_url(settings)
        engine = make_engine(url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            read_sessions=session_factory(engine, read_only=True),
            clock=clock or SystemClock(),
            vulndb=VulnDbHandle(settings.vulndb.path),
            cipher=cipher,
        )

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One short read-write transaction: committed on success, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self.read_sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.vulndb.close()
        self.engine.dispose()


def _default_url(settings: Settings) -> str:
    if os.environ.get("SHOAL_DATABASE_URL"):
        return default_database_url()
    return f"sqlite:///{settings.service.data_dir / 'shoal.db'}"
