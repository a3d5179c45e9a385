"""Reaching a registry the service knows: its row's URL and stored credentials become a
`RegistryClient`, an `ImageSource` for one digest, or a connection check.

- The URL (``https://ghcr.io``, ``http://127.0.0.1:5000``, or a bare ``host[:port]``,
  taken as https) gives the host. Plain http is allowed only for a loopback host or a
  host listed in `OciSettings.insecure_registries`, the same rule as `shoal scan`'s
  registry client; anything else is refused before a byte is sent, so credentials never
  travel in clear text by accident. A path after the host is refused: a reference
  (``host/repo@digest``) has no place for it.
- Credentials are decrypted from the row with `ctx.cipher`, and only those are used: a
  registry stored without credentials is pulled anonymously, never with whatever the
  service account's Docker config holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import SecretStr

from shoal.config import OciSettings
from shoal.db.errors import CredentialError
from shoal.db.inventory import registry_credentials
from shoal.db.models import Registry
from shoal.errors import AuthError, ConfigError, NotFound, RegistryError, ShoalError
from shoal.oci.client import RegistryClient, is_loopback
from shoal.oci.credentials import ANONYMOUS, Credentials
from shoal.oci.registry_source import RegistrySource
from shoal.service.context import ServiceContext

TEST_TIMEOUT = 10.0  # seconds per request of a connection check
TEST_RETRIES = 1  # a check answers a person waiting for it: retry once, not four times
_USERINFO_RE = re.compile(r"//[^/@]*@")
_HTTP_STATUS_RE = re.compile(r"\(HTTP (\d{3})\)|HTTP (\d{3}) from")


class RegistryAccessError(ConfigError):
    """A registry row that cannot be used as it is (URL, credentials): one line."""


@dataclass(frozen=True, slots=True)
class RegistryEndpoint:
    host: str  # "ghcr.io", "127.0.0.1:5000": the registry part of a reference
    insecure: bool  # plain http


def registry_endpoint(reg: Registry, settings: OciSettings) -> RegistryEndpoint:
    """Host and scheme of a registry row; `RegistryAccessError` when the URL is unusable
    or asks for plain http to a host that is neither loopback nor listed insecure."""
    where = f"registry {reg.id} ({reg.name!r})"
    raw = (reg.url or "").strip()
    if not raw:
        raise RegistryAccessError(f"{where}: no URL")
    text = raw if "://" in raw else f"https://{raw}"
    shown = repr(_USERINFO_RE.sub("//***@", raw)[:200])  # never echo a password
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as e:
        raise RegistryAccessError(f"{where}: invalid URL {shown} ({e})") from e
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise RegistryAccessError(f"{where}: URL scheme {scheme[:20]!r} is not http or https")
    host = parts.netloc.rsplit("@", 1)[-1]
    if not host or parts.username is not None or parts.password is not None:
        raise RegistryAccessError(
            f"{where}: URL {shown} must be scheme://host[:port] (credentials are stored separately)"
        )
    path = parts.path.rstrip("/")
    if path not in ("", "/v2") or parts.query or parts.fragment:
        raise RegistryAccessError(
            f"{where}: URL {shown} has a path; a registry is reached at its host"
        )
    insecure = scheme == "http"
    if insecure and not is_loopback(host) and host not in settings.insecure_registries:
        raise RegistryAccessError(
            f"{where}: plain http to {host!r} is refused; use https, or list the host in "
            "oci.insecure_registries"
        )
    return RegistryEndpoint(host=host, insecure=insecure)


def client_credentials(ctx: ServiceContext, reg: Registry) -> Credentials:
    """The row's stored credentials, decrypted; anonymous when it has none."""
    if reg.credentials is None:
        return ANONYMOUS
    if ctx.cipher is None:
        raise RegistryAccessError(
            f"registry {reg.id} ({reg.name!r}): has stored credentials but the service "
            "has no credentials key"
        )
    try:
        creds = registry_credentials(reg, cipher=ctx.cipher)
    except CredentialError as e:
        raise RegistryAccessError(f"registry {reg.id} ({reg.name!r}): {e}") from e
    if creds is None:
        return ANONYMOUS
    return Credentials(
        username=creds.username,
        password=SecretStr(creds.password),
        source=f"shoal registry {reg.id}",
    )


def registry_client(
    ctx: ServiceContext, reg: Registry, *, oci: OciSettings | None = None
) -> RegistryClient:
    """A `RegistryClient` for the row (the caller closes it). `oci` overrides the
    service's OCI settings (timeouts, retries)."""
    oci = oci or ctx.settings.oci
    endpoint = registry_endpoint(reg, oci)
    return RegistryClient(
        endpoint.host,
        settings=oci,
        limits=ctx.settings.limits,
        credentials=client_credentials(ctx, reg),
        insecure=endpoint.insecure,
    )


def open_image_source(
    ctx: ServiceContext, reg: Registry, repository: str, digest: str
) -> RegistrySource:
    """The `ImageSource` for ``host/repository@digest`` through shoal's registry client,
    authenticated with the row's credentials. Nothing is fetched until it is used."""
    client = registry_client(ctx, reg)
    try:
        return RegistrySource(
            f"{client.registry}/{repository}@{digest}", ctx.settings, client=client
        )
    except ShoalError:
        client.close()
        raise


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """The outcome of `test_connection`: `status` is the HTTP status of the last answer
    (None when none came: unreachable, refused URL)."""

    ok: bool
    status: int | None
    message: str


def test_connection(ctx: ServiceContext, reg: Registry) -> ConnectionCheck:
    """``GET /v2/`` with the stored credentials (answering a token challenge if the
    registry sends one). Never raises for network or registry errors: they are the
    answer. Bounded: `TEST_TIMEOUT` per request, one retry."""
    oci = ctx.settings.oci.model_copy(
        update={"timeout": min(ctx.settings.oci.timeout, TEST_TIMEOUT), "retries": TEST_RETRIES}
    )
    try:
        client = registry_client(ctx, reg, oci=oci)
    except RegistryAccessError as e:
        return ConnectionCheck(False, None, str(e))
    try:
        client.ping()
    except AuthError as e:
        return ConnectionCheck(False, _status_of(e) or 401, f"credentials refused: {e}")
    except NotFound as e:
        return ConnectionCheck(False, 404, f"not a registry API (no /v2/): {e}")
    except RegistryError as e:
        return ConnectionCheck(False, _status_of(e), str(e))
    except ShoalError as e:  # e.g. a token endpoint over plain http to a remote host
        return ConnectionCheck(False, None, str(e))
    finally:
        client.close()
    return ConnectionCheck(True, 200, f"{client.base_url}/v2/ answered 200")


def _status_of(e: Exception) -> int | None:
    m = _HTTP_STATUS_RE.search(str(e))
    if m is None:
        return None
    return int(m.group(1) or m.group(2))
