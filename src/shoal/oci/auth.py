"""Registry authentication: ``WWW-Authenticate`` challenges, Basic, and the Docker token flow.

A registry answers an unauthenticated request with 401 and a challenge:

* ``Basic realm="..."``: send the username and password on every request;
* ``Bearer realm="https://auth/token",service="reg",scope="repository:app:pull"``: get a
  token from the realm (Docker token spec) and send it as ``Authorization: Bearer``:
  ``GET realm?service=&scope=`` with Basic credentials if there are any (anonymous
  otherwise), or, holding an identity (refresh) token, ``POST realm`` with
  ``grant_type=refresh_token`` (Docker's OAuth2 token spec).

Tokens are cached per (registry host, scope) until shortly before ``expires_in`` runs out.
Only pull scopes are ever asked for. No secret ever appears in a message or a log line.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from shoal.errors import AuthError
from shoal.oci.credentials import Credentials

log = logging.getLogger(__name__)

CHALLENGE_BYTES_MAX = 8192
TOKEN_RESPONSE_MAX = 1024 * 1024
DEFAULT_EXPIRES_IN = 60  # the token spec: assume 60 s when the server does not say
MIN_EXPIRES_IN = 60
CLIENT_ID = "shoal"

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_TOKEN_RE = re.compile(_TOKEN)
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_TOKEN68_RE = re.compile(r"[A-Za-z0-9._~+/-]+=*")
# What a bearer token may look like in a header value: visible ASCII, no spaces.
_SAFE_TOKEN_RE = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header; ``scheme`` is lower case, parameter
    names are lower case."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` value (RFC 7235 syntax); raises ValueError, with a
    message naming the offset, on anything malformed."""
    if len(header) > CHALLENGE_BYTES_MAX:
        raise ValueError(f"longer than {CHALLENGE_BYTES_MAX} characters")
    out: list[Challenge] = []
    pos = _skip(header, 0)
    while pos < len(header):
        m = _TOKEN_RE.match(header, pos)
        if not m:
            raise ValueError(f"expected an auth scheme at offset {pos}")
        scheme = m.group().lower()
        pos = m.end()
        params: dict[str, str] = {}
        after_space = _skip_space(header, pos)
        if after_space > pos:
            pos = _parse_params(header, after_space, params)
        out.append(Challenge(scheme, params))
        pos = _skip(header, pos)
    return out


def _skip_space(header: str, pos: int) -> int:
    while pos < len(header) and header[pos] in " \t":
        pos += 1
    return pos


def _skip(header: str, pos: int) -> int:
    """Skip whitespace and list commas between elements."""
    while pos < len(header) and header[pos] in " \t,":
        pos += 1
    return pos


def _parse_params(header: str, pos: int, params: dict[str, str]) -> int:
    """Parse ``name=value`` pairs from ``pos``; stop before the next challenge's scheme."""
    t68 = _token68_end(header, pos)
    if t68 is not None:  # "Negotiate abc==": no registry scheme uses these
        return t68
    while pos < len(header):
        m = _TOKEN_RE.match(header, pos)
        if not m:
            raise ValueError(f"expected a parameter at offset {pos}")
        eq = _skip_space(header, m.end())
        if eq >= len(header) or header[eq] != "=":
            return pos  # a bare token after a comma: the next challenge's scheme
        name = m.group().lower()
        pos = _skip_space(header, eq + 1)
        q = _QUOTED_RE.match(header, pos)
        if q:
            value = re.sub(r"\\(.)", r"\1", q.group(1))
            pos = q.end()
        else:
            t = _TOKEN_RE.match(header, pos)
            if not t:
                raise ValueError(f"expected a value for {name!r} at offset {pos}")
            value, pos = t.group(), t.end()
        if name in params:
            raise ValueError(f"parameter {name!r} given twice")
        params[name] = value
        pos = _skip_space(header, pos)
        if pos < len(header):
            if header[pos] != ",":
                raise ValueError(f"expected ',' at offset {pos}")
            pos = _skip(header, pos)
    return pos


def _token68_end(header: str, pos: int) -> int | None:
    """Where a token68 starting at ``pos`` ends, or None if there is none."""
    t68 = _TOKEN68_RE.match(header, pos)
    if not t68:
        return None
    rest = _skip_space(header, t68.end())
    at_end = rest >= len(header) or header[rest] == ","
    # "abc" alone is a token68 too, but then it is indistinguishable from a scheme; only
    # treat it as one when it is followed by the end or a comma and is not "name=value".
    if at_end and (t68.group().endswith("=") or "=" not in header[pos:rest]):
        return t68.end()
    return None


def basic_header(creds: Credentials) -> str:
    """``Basic base64(user:password)``; the caller checked `creds.has_basic`."""
    password = creds.password.get_secret_value() if creds.password is not None else ""
    raw = f"{creds.username or ''}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


@dataclass(slots=True)
class _Token:
    value: str = field(repr=False)
    expires: float


class Authenticator:
    """Supplies the ``Authorization`` header for one registry and answers its challenges.

    Thread-safe: parallel blob downloads share one instance. ``send`` performs a request
    with the client's retries but without authentication (token endpoints are not the
    registry and must not see its Authorization header).
    """

    def __init__(
        self,
        registry: str,
        credentials: Credentials | Callable[[], Credentials],
        send: Callable[[httpx.Request], httpx.Response],
        *,
        allow_http: Callable[[str], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        # A callable is asked on first use: no keychain or helper runs for a registry
        # that is never contacted.
        self._creds_source = credentials
        self._resolved = credentials if isinstance(credentials, Credentials) else None
        self._creds_lock = threading.Lock()
        self._send = send
        self._allow_http = allow_http
        self._clock = clock
        self._basic = False  # the registry asked for Basic auth
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        self.token_requests = 0  # how many tokens were fetched; for diagnostics and tests

    def __repr__(self) -> str:
        source = self._resolved.source if self._resolved is not None else "not yet looked up"
        return f"Authenticator(registry={self.registry!r}, credentials={source!r})"

    @property
    def _creds(self) -> Credentials:
        if self._resolved is None:
            with self._creds_lock:
                if self._resolved is None:
                    src = self._creds_source
                    self._resolved = src if isinstance(src, Credentials) else src()
        return self._resolved

    def authorization(self, scope: str | None) -> str | None:
        """The header value to send for ``scope`` now, from what earlier challenges taught."""
        if self._creds.registry_token is not None:
            return "Bearer " + self._creds.registry_token.get_secret_value()
        with self._lock:
            if self._basic and self._creds.has_basic:
                return basic_header(self._creds)
            tok = self._tokens.get((self.registry, scope or ""))
            if tok is not None and tok.expires > self._clock():
                return "Bearer " + tok.value
        return None

    def authenticate(
        self, headers: httpx.Headers, scope: str | None, sent: str | None = None
    ) -> None:
        """Answer a 401: learn the scheme, fetch a token if needed. Raises AuthError when
        the challenge cannot be met. ``sent`` is the Authorization value the refused
        request carried: if another thread has renewed it meanwhile, nothing is fetched."""
        values = headers.get_list("www-authenticate")
        if not values:
            raise AuthError(f"{self.registry}: 401 without a WWW-Authenticate challenge")
        challenges: list[Challenge] = []
        for v in values:
            try:
                challenges.extend(parse_challenges(v))
            except ValueError as e:
                raise AuthError(f"{self.registry}: malformed WWW-Authenticate header: {e}") from e
        by_scheme = {c.scheme: c for c in challenges}
        if "bearer" in by_scheme:
            self._bearer(by_scheme["bearer"], scope, sent)
        elif "basic" in by_scheme:
            if not self._creds.has_basic:
                raise AuthError(f"{self.registry}: authentication required, no credentials found")
            with self._lock:
                if self._basic:  # we already sent them: they were refused
                    raise AuthError(f"{self.registry}: credentials refused (HTTP 401)")
                self._basic = True
        else:
            schemes = ", ".join(sorted(by_scheme)) or "none"
            raise AuthError(f"{self.registry}: unsupported authentication scheme ({schemes})")

    def _bearer(self, ch: Challenge, scope: str | None, sent: str | None) -> None:
        realm = ch.params.get("realm")
        if not realm:
            raise AuthError(f"{self.registry}: Bearer challenge without a realm")
        try:
            parts = urlsplit(realm)
            valid = parts.scheme in ("https", "http") and bool(parts.hostname)
            parts.port  # noqa: B018 - raises ValueError on a non-numeric port
        except ValueError:
            valid = False
        if not valid:
            raise AuthError(f"{self.registry}: token realm {realm[:200]!r} is not an http(s) URL")
        if parts.scheme == "http" and not self._allow_http(parts.netloc):
            # Credentials would cross the network in clear text.
            raise AuthError(
                f"{self.registry}: token realm {realm[:200]!r} is plain HTTP on a non-local host"
            )
        # The registry says which scope it wants; use it, ours is only the default.
        scopes = ch.params.get("scope", scope or "").split()
        service = ch.params.get("service")
        key = (self.registry, scope or "")
        with self._fetch_lock:
            current = self.authorization(scope)
            if current is not None and current != sent:
                return  # parallel downloads: one thread fetched a fresh token already
            tok = self._fetch(realm, service, scopes)
            with self._lock:
                self._tokens[key] = tok

    def _fetch(self, realm: str, service: str | None, scopes: list[str]) -> _Token:
        where = f"{self.registry}: token endpoint {urlsplit(realm).netloc!r}"
        creds = self._creds
        self.token_requests += 1
        try:
            resp = self._send(self._token_request(realm, service, scopes))
        except httpx.InvalidURL as e:
            raise AuthError(f"{where}: invalid realm URL") from e
        try:
            body = _read_capped(resp, TOKEN_RESPONSE_MAX)
        finally:
            resp.close()
        if body is None:
            raise AuthError(f"{where}: response larger than {TOKEN_RESPONSE_MAX} bytes")
        if resp.status_code in (401, 403):
            who = "anonymous access" if creds.anonymous else "the credentials"
            raise AuthError(f"{where} refused {who} (HTTP {resp.status_code})")
        if resp.status_code != 200:
            raise AuthError(f"{where} answered HTTP {resp.status_code}")
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise AuthError(f"{where}: response is not JSON") from e
        if not isinstance(data, dict):
            raise AuthError(f"{where}: response is not a JSON object")
        # The token spec names it `token`; OAuth2 clients use `access_token`.
        value = data.get("token") or data.get("access_token")
        if not isinstance(value, str) or not _SAFE_TOKEN_RE.fullmatch(value):
            raise AuthError(f"{where}: response has no usable token")
        expires_in = data.get("expires_in", DEFAULT_EXPIRES_IN)
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
            raise AuthError(f"{where}: expires_in is not a number")
        lifetime = max(float(expires_in), MIN_EXPIRES_IN)
        # Renew a little early so a token does not expire between check and use.
        margin = min(30.0, lifetime / 10)
        log.debug("%s: got a token for %r valid %ss", self.registry, scopes, lifetime)
        return _Token(value=value, expires=self._clock() + lifetime - margin)

    def _token_request(self, realm: str, service: str | None, scopes: list[str]) -> httpx.Request:
        creds = self._creds
        if creds.identity_token is not None:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token.get_secret_value(),
                "client_id": CLIENT_ID,
                "scope": " ".join(scopes),
            }
            if service:
                form["service"] = service
            return httpx.Request("POST", realm, data=form)
        params: list[tuple[str, str]] = []
        if service:
            params.append(("service", service))
        params.extend(("scope", s) for s in scopes)
        headers = {}
        if creds.has_basic:
            headers["Authorization"] = basic_header(creds)
            params.append(("account", creds.username or ""))
        return httpx.Request("GET", realm, params=tuple(params), headers=headers)


def _read_capped(resp: httpx.Response, limit: int) -> bytes | None:
    """Read at most ``limit`` bytes of a (streamed) body; None if there is more."""
    buf = bytearray()
    for chunk in resp.iter_bytes():
        buf += chunk
        if len(buf) > limit:
            return None
    return bytes(buf)
