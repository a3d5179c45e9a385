"""Settings: environment variables `SHOAL_*` (nested with `__`) and an optional TOML file.

Secure, bounded defaults. `Settings()` reads the environment; `load_settings(path)` also
reads a TOML file (`SHOAL_CONFIG` names one by default).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOAL_", env_nested_delimiter="__")

    limits: Limits = Field(default_factory=Limits)
    oci: OciSettings = Field(default_factory=OciSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    vulndb: VulnDbSettings = Field(default_factory=VulnDbSettings)
    workers: int = Field(default_factory=lambda: max(2, os.cpu_count() or 2))


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
