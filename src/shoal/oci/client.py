"""A pull-only client for the OCI Distribution API (and Docker Registry HTTP API v2).

One `RegistryClient` per registry host. It is safe to share between threads (parallel
blob downloads): httpx's client is, and the `Authenticator` locks its token cache.

Resilience: connection errors, 5xx and 429 are retried with exponential backoff and
jitter (a 429/503 ``Retry-After`` is honoured, capped); redirects are followed (blobs
usually live in object storage); a blob download that drops mid-way resumes with a
``Range`` request when the server supports it. Everything read is bounded and verified:
manifests and configs by `Limits.manifest_bytes`, blobs by their descriptor's size and
digest.

Plain HTTP is used only for loopback hosts and registries marked insecure.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import BinaryIO, NoReturn
from urllib.parse import urljoin, urlsplit

import httpx

from shoal.config import Limits, OciSettings
from shoal.errors import (
    AuthError,
    DigestMismatch,
    LimitExceeded,
    NotFound,
    RateLimited,
    RegistryError,
)
from shoal.model.digest import InvalidDigest, hasher_for, parse_digest, sha256_digest
from shoal.oci.auth import Authenticator
from shoal.oci.credentials import ANONYMOUS, Credentials
from shoal.oci.reference import PATH_RE, TAG_RE, api_host
from shoal.oci.types import ACCEPT, Descriptor

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
RETRY_AFTER_CAP = 120.0  # a server asking for longer is as good as down
ERROR_BODY_MAX = 64 * 1024
MAX_PAGES = 10_000
USER_AGENT = "shoal/0.1"

_DECIMAL_RE = re.compile(r"[0-9]{1,20}")
_CONTENT_RANGE_RE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)", re.ASCII)
_LINK_RE = re.compile(r"<([^>]*)>((?:\s*;\s*[^,;]*)*)")
_REL_NEXT_RE = re.compile(r';\s*rel\s*=\s*"?([^";]*)"?')


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1, with or without a port."""
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:  # "[not-ipv6]": not a host at all, certainly not a local one
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class RegistryClient:
    """Talks to one registry. ``registry`` is as in a reference (``docker.io``,
    ``ghcr.io``, ``127.0.0.1:5000``); Docker Hub's API host is used for ``docker.io``.

    ``credentials`` may be a callable, asked once on the first request (so creating a
    client never runs a credential helper). ``transport``, ``sleep``, ``clock`` and
    ``rng`` are for tests.
    """

    def __init__(
        self,
        registry: str,
        *,
        settings: OciSettings | None = None,
        limits: Limits | None = None,
        credentials: Credentials | Callable[[], Credentials] = ANONYMOUS,
        insecure: bool = False,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        settings = settings or OciSettings.model_validate({})
        self.registry = registry
        self.host = api_host(registry)
        self._limits = limits or Limits.model_validate({})
        self._retries = max(0, settings.retries)
        self._sleep = sleep
        self._rng = rng or random.Random()
        insecure_hosts = set(settings.insecure_registries)
        self._insecure = insecure or bool({registry, self.host} & insecure_hosts)
        scheme = "http" if self._insecure or is_loopback(self.host) else "https"
        self.base_url = f"{scheme}://{self.host}"
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
        )
        self._auth = Authenticator(
            self.host,
            credentials,
            self._send_retrying,
            allow_http=lambda h: self._insecure or is_loopback(h) or h in insecure_hosts,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"RegistryClient({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- API -------------------------------------------------------------------------------

    def ping(self) -> None:
        """Check that the registry speaks API v2 and accepts our credentials."""
        resp = self._request("GET", "/v2/", scope=None, what=f"{self.registry}: ping")
        with closing(resp):
            if resp.status_code != 200:
                self._fail(resp, f"{self.registry}: ping")

    def get_manifest(self, repo: str, ref: str) -> tuple[bytes, str, str]:
        """Fetch a manifest or index by tag or digest: ``(bytes, media_type, digest)``.

        By digest, the bytes are verified against it; by tag, the digest is computed
        (sha256) and cross-checked against ``Docker-Content-Digest`` when sent.
        """
        _check_repo(repo)
        by_digest = _check_ref(repo, ref)
        sep = "@" if by_digest else ":"
        what = f"{self.registry}/{repo}{sep}{ref}"
        resp = self._request(
            "GET",
            f"/v2/{repo}/manifests/{ref}",
            scope=_pull(repo),
            headers={"Accept": ACCEPT},
            what=what,
        )
        with closing(resp):
            if resp.status_code != 200:
                self._fail(resp, what)
            data = self._read_limited(resp, self._limits.manifest_bytes, "manifest_bytes", what)
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        if by_digest:
            _verify(data, ref, what)
            digest = ref
        else:
            digest = sha256_digest(data)
            header = resp.headers.get("docker-content-digest")
            if header:
                try:
                    _verify(data, header.strip(), what)
                except InvalidDigest:
                    log.debug("%s: ignoring malformed Docker-Content-Digest", what)
        return data, media_type, digest

    def head_manifest(self, repo: str, ref: str) -> tuple[str | None, str, int | None]:
        """What a tag or digest points at, without the body: ``(digest, media_type, size)``.

        Cheap (Docker Hub does not count HEADs against its pull limit), so it is the way
        to notice that a tag has not moved. ``digest`` is None when the registry sends no
        valid ``Docker-Content-Digest``.
        """
        _check_repo(repo)
        by_digest = _check_ref(repo, ref)
        what = f"{self.registry}/{repo}{'@' if by_digest else ':'}{ref}"
        resp = self._request(
            "HEAD",
            f"/v2/{repo}/manifests/{ref}",
            scope=_pull(repo),
            headers={"Accept": ACCEPT},
            what=what,
        )
        with closing(resp):
            if resp.status_code != 200:
                self._fail(resp, what)
        digest: str | None = resp.headers.get("docker-content-digest", "").strip() or None
        if digest is not None:
            try:
                parse_digest(digest)
            except InvalidDigest:
                digest = None
        if by_digest and digest is not None and digest != ref:
            raise DigestMismatch(f"{what}: registry says it is {digest}")
        size = _decimal(resp.headers.get("content-length"))
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        return digest, media_type, size

    def blob_bytes(self, repo: str, desc: Descriptor) -> bytes:
        """A small blob (an image config) in memory, bounded by `Limits.manifest_bytes`."""
        _check_repo(repo)
        _check_digest(desc.digest, f"{self.registry}/{repo}")
        what = f"{self.registry}/{repo}@{desc.digest}"
        limit = self._limits.manifest_bytes
        if desc.size > limit:
            raise LimitExceeded(
                f"{what}: blob of {desc.size} bytes exceeds manifest_bytes ({limit})",
                limit="manifest_bytes",
            )
        resp = self._request("GET", f"/v2/{repo}/blobs/{desc.digest}", scope=_pull(repo), what=what)
        with closing(resp):
            if resp.status_code != 200:
                self._fail(resp, what)
            data = self._read_limited(resp, desc.size, None, what)
        if len(data) != desc.size:
            raise DigestMismatch(f"{what}: got {len(data)} bytes, descriptor says {desc.size}")
        _verify(data, desc.digest, what)
        return data

    def get_blob_to(self, repo: str, desc: Descriptor, dest: Path) -> None:
        """Stream a blob to ``dest``, verifying size and digest; ``dest`` is removed on any
        failure. A dropped connection resumes from where it stopped (``Range``)."""
        _check_repo(repo)
        _check_digest(desc.digest, f"{self.registry}/{repo}")
        what = f"{self.registry}/{repo}@{desc.digest}"
        limit = self._limits.layer_bytes
        if desc.size > limit:
            # A compressed blob is (all but) never larger than the tar it unpacks to, so
            # one this large cannot unpack within the limit: refuse before the disk fills.
            raise LimitExceeded(
                f"{what}: blob of {desc.size} bytes exceeds layer_bytes ({limit})",
                limit="layer_bytes",
            )
        if desc.size < 0:
            raise RegistryError(f"{what}: negative blob size {desc.size}")
        try:
            self._download(repo, desc, dest, what)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise

    def tags(self, repo: str, *, page_size: int | None = None) -> Iterator[str]:
        """Every tag of ``repo``, following ``Link`` pagination."""
        _check_repo(repo)
        path = f"/v2/{repo}/tags/list"
        yield from self._paginate(path, "tags", _pull(repo), page_size, f"{self.registry}/{repo}")

    def catalog(self, *, page_size: int | None = None) -> Iterator[str]:
        """Every repository name the registry lists (``/v2/_catalog``)."""
        yield from self._paginate(
            "/v2/_catalog", "repositories", "registry:catalog:*", page_size, self.registry
        )

    # -- downloads -------------------------------------------------------------------------

    def _download(self, repo: str, desc: Descriptor, dest: Path, what: str) -> None:
        failures = 0
        with dest.open("wb") as f:
            part = _Partial(f, desc, what)
            while True:
                try:
                    self._fetch_part(repo, part, what)
                except httpx.TransportError as e:
                    reason = f"connection lost after {part.written} of {desc.size} bytes"
                    reason += f" ({type(e).__name__})"
                    cause: Exception | None = e
                except httpx.DecodingError as e:
                    raise RegistryError(f"{what}: body does not match its Content-Encoding") from e
                except _WrongRange:
                    part.restart()
                    reason, cause = "server sent the wrong byte range", None
                else:
                    if part.written == desc.size:
                        break
                    # A clean end before the declared size: a truncated body.
                    reason = f"body ended after {part.written} of {desc.size} bytes"
                    cause = None
                failures += 1
                if failures > self._retries:
                    raise RegistryError(f"{what}: {reason}") from cause
                log.debug("%s: %s; resuming", what, reason)
                self._sleep(self._backoff(failures - 1))
        part.verify()

    def _fetch_part(self, repo: str, part: _Partial, what: str) -> None:
        """One GET of the rest of a blob (all of it, or from ``part.written`` on)."""
        # identity: byte ranges must count the blob's own bytes, not a re-encoding
        headers = {"Accept-Encoding": "identity"}
        if part.written:
            headers["Range"] = f"bytes={part.written}-"
        url = f"/v2/{repo}/blobs/{part.desc.digest}"
        resp = self._request("GET", url, scope=_pull(repo), headers=headers, what=what)
        with closing(resp):
            if resp.status_code == 206:
                if _range_start(resp) != part.written:
                    raise _WrongRange
            elif resp.status_code == 200:
                if part.written:  # the server ignored Range: start over
                    part.restart()
            else:
                self._fail(resp, what)
            # Unbuffered chunks, so a drop loses nothing already received.
            for chunk in resp.iter_bytes():
                part.write(chunk)

    # -- pagination ------------------------------------------------------------------------

    def _paginate(
        self, path: str, key: str, scope: str, page_size: int | None, what: str
    ) -> Iterator[str]:
        url: str | None = path + (f"?n={int(page_size)}" if page_size else "")
        seen: set[str] = set()
        while url is not None:
            if url in seen:
                raise RegistryError(f"{what}: pagination loops back to {url[:200]!r}")
            if len(seen) >= MAX_PAGES:
                raise RegistryError(f"{what}: more than {MAX_PAGES} pages of {key}")
            seen.add(url)
            resp = self._request("GET", url, scope=scope, what=what)
            with closing(resp):
                if resp.status_code != 200:
                    self._fail(resp, what)
                body = self._read_limited(resp, self._limits.manifest_bytes, "manifest_bytes", what)
                link = resp.headers.get("link")
            try:
                doc = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise RegistryError(f"{what}: {key} list is not JSON") from e
            items = doc.get(key) if isinstance(doc, dict) else None
            if items is None and isinstance(doc, dict) and key in doc:
                # Distribution sends "tags": null for a repository without tags; a missing
                # key is a broken answer, not an empty list (that would look like deletions)
                items = []
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise RegistryError(f"{what}: {key!r} is not a list of strings")
            yield from items
            url = self._next_link(link, url, what)

    def _next_link(self, header: str | None, current: str, what: str) -> str | None:
        if not header:
            return None
        for m in _LINK_RE.finditer(header):
            rels = _REL_NEXT_RE.findall(m.group(2))
            if any("next" in r.split() for r in rels):
                try:
                    parts = urlsplit(urljoin(self.base_url + current, m.group(1)))
                except ValueError as e:
                    raise RegistryError(f"{what}: malformed pagination link") from e
                if f"{parts.scheme}://{parts.netloc}" != self.base_url:
                    # Following it would send our token to another host.
                    raise RegistryError(f"{what}: pagination link leaves the registry")
                return str(parts.path) + (f"?{parts.query}" if parts.query else "")
        return None

    # -- HTTP ------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        scope: str | None,
        what: str,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send with authentication: answer one 401 challenge, then give up. Returns the
        streamed response, whatever its status; the caller closes it."""
        url = self.base_url + path

        def build() -> httpx.Request:
            h = dict(headers or {})
            authz = self._auth.authorization(scope)
            if authz:
                h["Authorization"] = authz
            return self._http.build_request(method, url, headers=h)

        request = build()
        resp = self._send_retrying(request, rebuild=build, what=what)
        if resp.status_code != 401:
            return resp
        resp.close()
        self._auth.authenticate(resp.headers, scope, resp.request.headers.get("authorization"))
        resp = self._send_retrying(build(), rebuild=build, what=what)
        if resp.status_code == 401:
            with closing(resp):
                self._fail(resp, what)
        return resp

    def _send_retrying(
        self,
        request: httpx.Request,
        *,
        rebuild: Callable[[], httpx.Request] | None = None,
        what: str | None = None,
    ) -> httpx.Response:
        """Send, retrying connection errors, 5xx and 429 with backoff. Returns a streamed
        response (the last one, if every attempt failed with an HTTP status)."""
        what = what or f"{self.registry}: {request.method} {request.url.host}"
        attempt = 0
        while True:
            try:
                resp = self._http.send(request, stream=True)
            except (httpx.TooManyRedirects, httpx.DecodingError, httpx.InvalidURL) as e:
                # Not transient: retrying cannot help.
                raise RegistryError(f"{what}: {_not_transient(e)} from {request.url.host}") from e
            except httpx.TransportError as e:
                if attempt >= self._retries:
                    raise RegistryError(
                        f"{what}: cannot reach {request.url.host}: {type(e).__name__}"
                        + (f" after {attempt + 1} attempts" if attempt else "")
                    ) from e
                delay = self._backoff(attempt)
                log.debug("%s: %s, retry in %.1fs", what, type(e).__name__, delay)
            else:
                if resp.status_code not in RETRY_STATUSES or attempt >= self._retries:
                    return resp
                delay = _retry_after(resp.headers.get("retry-after")) or self._backoff(attempt)
                delay = min(delay, RETRY_AFTER_CAP)
                log.debug("%s: HTTP %d, retry in %.1fs", what, resp.status_code, delay)
                resp.close()
            self._sleep(delay)
            attempt += 1
            if rebuild is not None:
                request = rebuild()

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random, so that clients that
        failed together do not come back together."""
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempt)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _read_limited(
        self, resp: httpx.Response, limit: int, setting: str | None, what: str
    ) -> bytes:
        length = _decimal(resp.headers.get("content-length"))
        if setting and length is not None and length > limit:
            raise LimitExceeded(f"{what}: {length} bytes exceed {setting} ({limit})", limit=setting)
        buf = bytearray()
        try:
            for chunk in resp.iter_bytes():
                buf += chunk
                if len(buf) > limit:
                    if setting:
                        raise LimitExceeded(
                            f"{what}: more than {setting} ({limit}) bytes", limit=setting
                        )
                    raise DigestMismatch(f"{what}: more bytes than the descriptor's {limit}")
        except httpx.DecodingError as e:
            raise RegistryError(f"{what}: body does not match its Content-Encoding") from e
        except httpx.TransportError as e:
            raise RegistryError(f"{what}: connection lost reading the body") from e
        return bytes(buf)

    def _fail(self, resp: httpx.Response, what: str) -> NoReturn:
        """Raise the error that ``resp`` (a non-success answer) means."""
        try:
            body = b""
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > ERROR_BODY_MAX:
                    break
        except (httpx.TransportError, httpx.DecodingError):
            pass  # the status alone still says what went wrong
        detail = _error_detail(body[:ERROR_BODY_MAX])
        status = resp.status_code
        suffix = f" ({detail})" if detail else ""
        if status in (401, 403):
            raise AuthError(f"{what}: access denied (HTTP {status}){suffix}")
        if status == 404:
            raise NotFound(f"{what}: not found{suffix or ' (HTTP 404)'}")
        if status == 429:
            raise RateLimited(f"{what}: rate limited by {self.host} (HTTP 429){suffix}")
        raise RegistryError(f"{what}: HTTP {status} from {self.host}{suffix}")


class _WrongRange(Exception):
    """A 206 answer whose Content-Range does not start where we asked."""


class _Partial:
    """The part of a blob written so far, with its running hash."""

    def __init__(self, f: BinaryIO, desc: Descriptor, what: str) -> None:
        self.f, self.desc, self.what = f, desc, what
        self.written = 0
        self.hasher = hasher_for(desc.digest)

    def restart(self) -> None:
        self.f.seek(0)
        self.f.truncate()
        self.written = 0
        self.hasher = hasher_for(self.desc.digest)

    def write(self, chunk: bytes) -> None:
        if self.written + len(chunk) > self.desc.size:
            raise DigestMismatch(f"{self.what}: more than the descriptor's {self.desc.size} bytes")
        self.f.write(chunk)
        self.hasher.update(chunk)
        self.written += len(chunk)

    def verify(self) -> None:
        got = f"{self.hasher.name}:{self.hasher.hexdigest()}"
        if got != self.desc.digest:
            raise DigestMismatch(f"{self.what}: content hashes to {got}")


def _not_transient(e: Exception) -> str:
    if isinstance(e, httpx.TooManyRedirects):
        return "too many redirects (TooManyRedirects)"
    if isinstance(e, httpx.DecodingError):
        return "body does not match its Content-Encoding"
    return f"invalid URL ({type(e).__name__})"


def _pull(repo: str) -> str:
    return f"repository:{repo}:pull"


def _check_repo(repo: str) -> None:
    # Repository names go into URL paths: only the reference grammar's characters.
    if len(repo) > 255 or not PATH_RE.fullmatch(repo):
        raise RegistryError(f"invalid repository name {repo[:100]!r}")


def _check_ref(repo: str, ref: str) -> bool:
    """Validate a tag or digest; True when it is a digest."""
    if ":" in ref:
        _check_digest(ref, repo)
        return True
    if not TAG_RE.fullmatch(ref):
        raise RegistryError(f"{repo}: invalid tag {ref[:100]!r}")
    return False


def _check_digest(digest: str, where: str) -> None:
    try:
        parse_digest(digest)
    except InvalidDigest as e:
        raise RegistryError(f"{where}: {e}") from e


def _verify(data: bytes, digest: str, what: str) -> None:
    h = hasher_for(digest)
    h.update(data)
    got = f"{h.name}:{h.hexdigest()}"
    if got != digest:
        raise DigestMismatch(f"{what}: content hashes to {got}, expected {digest}")


def _range_start(resp: httpx.Response) -> int | None:
    m = _CONTENT_RANGE_RE.fullmatch(resp.headers.get("content-range", "").strip())
    return int(m.group(1)) if m else None


def _decimal(value: str | None) -> int | None:
    """A header's non-negative integer (ASCII digits only: str.isdigit accepts '²')."""
    if value is None or not _DECIMAL_RE.fullmatch(value.strip()):
        return None
    return int(value.strip())


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date."""
    if not value:
        return None
    seconds = _decimal(value)
    if seconds is not None:
        return float(seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_detail(body: bytes) -> str:
    """``CODE: message`` from a Distribution error body, one line, bounded."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return ""
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for err in errors[:3]:
        if not isinstance(err, dict):
            continue
        code, msg = err.get("code"), err.get("message")
        text = str(code) if isinstance(code, str) else ""
        if isinstance(msg, str) and msg:
            text = f"{text}: {msg}" if text else msg
        if text:
            parts.append(" ".join(text.split())[:200])
    return "; ".join(parts)
