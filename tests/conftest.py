from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.registry import Registry, start_registry

pytest_plugins = ["tests.support.pg", "tests.support.service"]


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The real CNCF Distribution registry, anonymous access, on 127.0.0.1:<free port>."""
    if not shutil.which("docker-registry"):
        pytest.fail("docker-registry is not installed: run 'make test', which installs it")
    reg = start_registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The real registry behind htpasswd basic auth (user 'alice', password 'wonderland-42')."""
    reg = start_registry(
        tmp_path_factory.mktemp("auth-registry"), htpasswd=("alice", "wonderland-42")
    )
    yield reg
    reg.stop()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own shoal cache dir and no ambient docker credentials."""
    monkeypatch.setenv("SHOAL_CACHE__DIR", str(tmp_path / "shoal-cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
