"""Registry credentials, found the way the Docker CLI finds them.

Sources, first match wins:

1. explicit username/password given for a registry (``--username``/``--password``);
2. ``credHelpers[host]`` in the Docker config, then ``credsStore``: run
   ``docker-credential-<name> get`` with the server URL on stdin, read JSON back;
3. ``auths[host]`` in the Docker config: ``auth`` (base64 ``user:pass``),
   ``username``/``password``, ``identitytoken``, ``registrytoken``;
4. anonymous.

The config is ``OciSettings.docker_config`` if set, else ``$DOCKER_CONFIG/config.json``,
else ``~/.docker/config.json``. Docker Hub is stored under the legacy key
``https://index.docker.io/v1/``; keys may carry a scheme and path, which are ignored.

Secrets are `pydantic.SecretStr`, so they never show in reprs, logs or error messages.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from shoal.errors import AuthError, ConfigError
from shoal.oci.reference import HUB_ALIASES

log = logging.getLogger(__name__)

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
HELPER_TIMEOUT = 30.0
CONFIG_BYTES_MAX = 4 * 1024 * 1024  # a Docker config is a few KiB; refuse absurd ones
HELPER_OUTPUT_MAX = 1024 * 1024
_NOT_FOUND = "credentials not found"
_TOKEN_USER = "<token>"  # what helpers return as Username for an identity token


@dataclass(frozen=True, slots=True)
class Credentials:
    """What to authenticate with at one registry. All None means anonymous.

    ``identity_token`` is an OAuth2 refresh token (``docker login`` against a registry
    that hands them out); ``registry_token`` is a bearer token used as is.
    """

    username: str | None = None
    password: SecretStr | None = None
    identity_token: SecretStr | None = None
    registry_token: SecretStr | None = None
    # Where they came from, safe to log: "docker config", "helper osxkeychain", "explicit"
    source: str = "anonymous"

    @property
    def anonymous(self) -> bool:
        return self.password is None and self.identity_token is None and self.registry_token is None

    @property
    def has_basic(self) -> bool:
        return self.username is not None and self.password is not None


ANONYMOUS = Credentials()


def default_config_path(explicit: Path | None = None) -> Path:
    """Where the Docker config lives; ``explicit`` may be the file or its directory."""
    if explicit is not None:
        return explicit / "config.json" if explicit.is_dir() else explicit
    env = os.environ.get("DOCKER_CONFIG")
    if env:
        return Path(env) / "config.json"
    return Path.home() / ".docker" / "config.json"


def config_key(host: str) -> str:
    """Normalise a registry name or a config key to the host it names.

    ``https://index.docker.io/v1/``, ``docker.io`` and ``registry-1.docker.io`` all give
    ``docker.io``; ``https://ghcr.io/v2/`` gives ``ghcr.io``.
    """
    h = host.strip()
    for scheme in ("https://", "http://"):
        if h.lower().startswith(scheme):
            h = h[len(scheme) :]
            break
    h = h.split("/", 1)[0].lower()
    return "docker.io" if h in HUB_ALIASES else h


def server_url(host: str) -> str:
    """The server URL a credential helper is asked about (Docker's convention)."""
    return DOCKER_HUB_KEY if config_key(host) == "docker.io" else config_key(host)


class CredentialStore:
    """Looks up credentials per registry; thread-safe, each host resolved once."""

    def __init__(
        self,
        config_path: Path | None = None,
        *,
        overrides: Mapping[str, Credentials] | None = None,
        helper_timeout: float = HELPER_TIMEOUT,
    ) -> None:
        self.config_path = default_config_path(config_path)
        self._overrides = {config_key(k): v for k, v in (overrides or {}).items()}
        self._helper_timeout = helper_timeout
        self._config: dict[str, Any] | None = None
        self._cache: dict[str, Credentials] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CredentialStore(config_path={str(self.config_path)!r})"

    def get(self, host: str) -> Credentials:
        key = config_key(host)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._lookup(key)
            return self._cache[key]

    def _lookup(self, key: str) -> Credentials:
        if key in self._overrides:
            return self._overrides[key]
        cfg = self._load()
        helpers = _mapping(cfg, "credHelpers", self.config_path)
        helper = next((v for k, v in helpers.items() if config_key(k) == key), None)
        if helper is None:
            helper = cfg.get("credsStore")
        if helper is not None:
            if not isinstance(helper, str) or not helper:
                raise ConfigError(f"docker config {str(self.config_path)!r}: bad helper name")
            creds = self._from_helper(helper, key)
            if creds is not None:
                return creds
        auths = _mapping(cfg, "auths", self.config_path)
        for k, entry in auths.items():
            if config_key(k) == key:
                return _from_auth_entry(entry, k, self.config_path)
        return ANONYMOUS

    def _load(self) -> dict[str, Any]:
        if self._config is not None:
            return self._config
        path = self.config_path
        try:
            with path.open("rb") as f:
                raw = f.read(CONFIG_BYTES_MAX + 1)
        except FileNotFoundError:
            self._config = {}
            return self._config
        except OSError as e:
            raise ConfigError(f"docker config {str(path)!r}: {e.strerror or e}") from e
        if len(raw) > CONFIG_BYTES_MAX:
            raise ConfigError(f"docker config {str(path)!r}: larger than {CONFIG_BYTES_MAX} bytes")
        try:
            data = json.loads(raw) if raw.strip() else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            # The decoder's message carries a position, never the file's content.
            msg = e.msg if isinstance(e, json.JSONDecodeError) else "not UTF-8"
            raise ConfigError(f"docker config {str(path)!r}: invalid JSON: {msg}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"docker config {str(path)!r}: top level is not an object")
        self._config = data
        return data

    def _from_helper(self, helper: str, key: str) -> Credentials | None:
        exe_name = f"docker-credential-{helper}"
        who = f"credential helper {exe_name!r} for {key!r}"
        exe = shutil.which(exe_name)
        if exe is None:
            raise AuthError(f"{who}: not on PATH")
        try:
            res = subprocess.run(
                [exe, "get"],
                input=server_url(key).encode(),
                capture_output=True,
                timeout=self._helper_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise AuthError(f"{who}: no answer in {self._helper_timeout:g} s") from e
        except OSError as e:
            raise AuthError(f"{who}: {e.strerror}") from e
        out = res.stdout[:HELPER_OUTPUT_MAX]
        if res.returncode != 0:
            text = (out + res.stderr[:HELPER_OUTPUT_MAX]).decode(errors="replace")
            if _NOT_FOUND in text.lower():
                log.debug("credential helper %r has nothing for %r", exe_name, key)
                return None
            # Helper output may contain anything, secrets included; report the exit code only.
            raise AuthError(f"{who}: failed with exit code {res.returncode}")
        try:
            data = json.loads(out)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise AuthError(f"{who}: output is not JSON") from e
        if not isinstance(data, dict):
            raise AuthError(f"{who}: output is not a JSON object")
        user, secret = data.get("Username"), data.get("Secret")
        if not isinstance(user, str) or not isinstance(secret, str):
            raise AuthError(f"{who}: output lacks a string 'Username' or 'Secret'")
        source = f"helper {helper}"
        if user == _TOKEN_USER:
            return Credentials(identity_token=SecretStr(secret), source=source)
        return Credentials(username=user, password=SecretStr(secret), source=source)


def _mapping(cfg: Mapping[str, Any], field: str, path: Path) -> Mapping[str, Any]:
    value = cfg.get(field, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"docker config {str(path)!r}: {field!r} is not an object")
    return value


def _from_auth_entry(entry: Any, key: str, path: Path) -> Credentials:
    where = f"docker config {str(path)!r}: auths[{key[:100]!r}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} is not an object")
    for name in ("auth", "username", "password", "identitytoken", "registrytoken"):
        if entry.get(name) is not None and not isinstance(entry[name], str):
            raise ConfigError(f"{where}.{name} is not a string")
    username: str | None = entry.get("username") or None
    password: str | None = entry.get("password") or None
    auth = entry.get("auth")
    if auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError) as e:
            raise ConfigError(f"{where}.auth is not base64 of 'user:password'") from e
        user, colon, pw = decoded.partition(":")
        if not colon or not user:
            raise ConfigError(f"{where}.auth is not base64 of 'user:password'")
        username, password = user, pw
    identity = entry.get("identitytoken") or None
    token = entry.get("registrytoken") or None
    return Credentials(
        username=username,
        password=SecretStr(password) if password is not None else None,
        identity_token=SecretStr(identity) if identity else None,
        registry_token=SecretStr(token) if token else None,
        source="docker config",
    )


def explicit(username: str | None, password: str | None) -> Credentials | None:
    """Credentials from ``--username``/``--password``; None when neither is given."""
    if username is None and password is None:
        return None
    if not username or password is None:
        raise ConfigError("registry credentials need both a username and a password")
    return Credentials(username=username, password=SecretStr(password), source="explicit")
