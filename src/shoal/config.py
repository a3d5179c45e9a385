"""Settings: environment variables `SHOAL_*` (nested with `__`) and an optional TOML file.

Secure, bounded defaults. `Settings()` reads the environment; `load_settings(path)` also
reads a TOML file (`SHOAL_CONFIG` names one by default).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shoal.errors import ConfigError

MiB = 1024 * 1024
GiB = 1024 * MiB


class Limits(BaseModel):
    """Bounds on what one image may cost. Exceeding one is a clear error."""

    layer_bytes: int = Field(8 * GiB, description="decompressed bytes per layer")
    image_bytes: int = Field(32 * GiB, description="decompressed bytes per image")
    file_bytes: int = Field(512 * MiB, description="bytes read from one file for a cataloger")
    layer_entries: int = Field(2_000_000, description="tar entries per layer")
    path_length: int = Field(4096, description="bytes in one path")
    symlink_hops: int = Field(40, description="symlinks followed resolving one path")
    nesting_depth: int = Field(8, description="archives inside archives (jar in war in ear)")
    manifest_bytes: int = Field(4 * MiB, description="bytes in a manifest, index or config")
    metadata_bytes: int = Field(64 * MiB, description="bytes in one package database record")


class OciSettings(BaseModel):
    insecure_registries: list[str] = Field(default_factory=list)
    timeout: float = 30.0
    retries: int = 4
    parallel_downloads: int = 4
    docker_config: Path | None = None  # default ~/.docker/config.json (or $DOCKER_CONFIG)


class CacheSettings(BaseModel):
    dir: Path = Field(default_factory=lambda: Path(platformdirs.user_cache_dir("shoal")))
    max_bytes: int = 2 * GiB
    enabled: bool = True


class VulnDbSettings(BaseModel):
    """The local vulnerability DB (`shoal db ...`, `shoal scan`)."""

    path: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("shoal")) / "vulndb" / "vuln.db"
    )
    online: bool = Field(
        False, description="`db update` fetches upstream URLs; off: --from or bundled data"
    )
    sources: list[str] = Field(
        default_factory=list, description="sources `db update` updates by default; empty: all"
    )
    max_import_bytes: int = Field(8 * GiB, description="DB size accepted from a bundle")


class ServiceSettings(BaseModel):
    """`shoal serve`: the assessment service."""

    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite under the data dir ($SHOAL_DATABASE_URL)"
    )
    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("shoal")) / "service",
        description="SQLite DB, credentials key file, service state",
    )
    host: str = Field("127.0.0.1", description="listen address; loopback unless told otherwise")
    port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = Field(
        None, description="base URL registries reach shoal at (receiver URLs); default: listen URL"
    )
    queue: Literal["inprocess", "celery"] = Field(
        "inprocess", description="'inprocess' (default) or 'celery'"
    )
    broker_url: str = Field("redis://127.0.0.1:6379/0", description="Celery broker (queue=celery)")
    workers: int = Field(2, ge=0, le=64, description="in-process worker threads (0: none)")
    reassess_hours: float = Field(24.0, gt=0, description="re-assess in-use images this often")
    poll_minutes: float = Field(15.0, gt=0, description="discovery for registries without webhooks")
    feed_update_hours: float = Field(0.0, ge=0, description="update feeds this often; 0: never")
    scheduler: bool = Field(True, description="run the periodic scheduler in this process")
    scheduler_seconds: float = Field(30.0, gt=0, le=3600, description="scheduler tick interval")
    reassess_check_minutes: float = Field(
        10.0, gt=0, description="how often the scheduler looks for images due for re-assessment"
    )
    snapshot_minutes: float = Field(
        60.0,
        gt=0,
        description="refresh today's daily counts this often (and at the first tick of a day)",
    )
    celery_queue: str = Field(
        "shoal", min_length=1, max_length=200, description="Celery queue name (queue=celery)"
    )
    celery_sweep_seconds: float = Field(
        60.0, gt=0, description="re-send queued jobs older than this to Celery (lost messages)"
    )
    stop_timeout: float = Field(
        30.0, ge=0, description="seconds a stop waits for running jobs before leaving them"
    )
    webhook_max_bytes: int = Field(1 * MiB, description="largest webhook body accepted")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOAL_", env_nested_delimiter="__")

    limits: Limits = Field(default_factory=Limits)
    oci: OciSettings = Field(default_factory=OciSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    vulndb: VulnDbSettings = Field(default_factory=VulnDbSettings)
    workers: int = Field(default_factory=lambda: max(2, os.cpu_count() or 2))
    service: ServiceSettings = Field(default_factory=ServiceSettings)


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Settings from a TOML file (if any), then the environment, then `overrides`."""
    path = path or (Path(os.environ["SHOAL_CONFIG"]) if os.environ.get("SHOAL_CONFIG") else None)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"config file {str(path)!r}: {e}") from e
    settings = Settings()
    merged = _deep_merge(data, settings.model_dump(exclude_unset=True))
    merged.update(overrides)
    try:
        return Settings.model_validate(merged)
    except ValueError as e:
        raise ConfigError(f"invalid settings: {str(e).splitlines()[0]}") from e


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out
