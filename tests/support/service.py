"""Fixtures for the assessment service: a migrated database on each backend, the
vulnerability DB built from the bundled real feeds, and a `ServiceContext` on both.

`ctx` is parametrised over SQLite and the real PostgreSQL server, so every service
test runs on both. Its clock is a `ManualClock`; its queue an `InProcessQueue`
without worker threads: tests run queued work deterministically with
`shoal.service.queue.drain(ctx)`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from shoal.config import Settings
from shoal.db import make_engine, migrate
from shoal.db.crypto import CredentialCipher
from shoal.db.models import Base
from shoal.service.clock import ManualClock
from shoal.service.context import ServiceContext
from shoal.service.queue import InProcessQueue

BACKENDS = ["sqlite", "postgresql"]
START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
def bundled_vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The vulnerability DB built from the bundled real feed snapshots (read-only:
    copy it before changing it)."""
    from shoal.vulndb.update import bootstrap

    path = tmp_path_factory.mktemp("vulndb") / "vuln.db"
    bootstrap(path)
    return path


@pytest.fixture
def vulndb_copy(bundled_vulndb: Path, tmp_path: Path) -> Path:
    """A private copy of the bundled DB, for tests that update it."""
    dst = tmp_path / "vulndb" / "vuln.db"
    dst.parent.mkdir()
    shutil.copy2(bundled_vulndb, dst)
    return dst


def truncate_all(url: str) -> None:
    eng = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with eng.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    eng.dispose()


@pytest.fixture(params=BACKENDS)
def service_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty service database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'service.db'}"
        migrate(url)
        return url
    url: str = request.getfixturevalue("pg_migrated")
    truncate_all(url)
    return url


@pytest.fixture
def make_ctx(
    service_db_url: str, bundled_vulndb: Path, tmp_path: Path
) -> Iterator[Callable[..., ServiceContext]]:
    """Builds ServiceContexts on this test's database (several: a "restart" is a second
    context on the same database). Keyword overrides: vulndb (a path), clock, workers."""
    made: list[ServiceContext] = []
    cipher = CredentialCipher(CredentialCipher.generate_key())

    def make(
        *, vulndb: Path | None = None, clock: ManualClock | None = None, workers: int = 0
    ) -> ServiceContext:
        settings = Settings.model_validate(
            {
                "vulndb": {"path": str(vulndb or bundled_vulndb)},
                "cache": {"dir": str(tmp_path / "layer-cache")},
                "service": {"data_dir": str(tmp_path / "service"), "workers": workers},
            }
        )
        ctx = ServiceContext.create(
            settings,
            database_url=service_db_url,
            clock=clock or ManualClock(START),
            cipher=cipher,
        )
        ctx.queue = InProcessQueue(ctx, workers)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        if ctx.queue is not None:
            ctx.queue.stop(timeout=10)
        ctx.close()


@pytest.fixture
def ctx(make_ctx: Callable[..., ServiceContext]) -> ServiceContext:
    """A service context on SQLite and on PostgreSQL, clock at START, no worker threads."""
    return make_ctx()
