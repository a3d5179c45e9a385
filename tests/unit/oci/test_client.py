# ruff: noqa: E731 - request handlers read best as one-line lambdas
"""RegistryClient and RegistrySource protocol edge cases against httpx.MockTransport: token
flow, retries, Retry-After, truncated blobs resumed with Range, digest checks, pagination,
redirects and the error mapping. The real registry (tests/integration) covers the rest."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from shoal.config import Limits, OciSettings, Settings
from shoal.errors import (
    AuthError,
    ConfigError,
    DigestMismatch,
    InvalidReference,
    LimitExceeded,
    NotFound,
    RateLimited,
    RegistryError,
    ShoalError,
    UnsupportedManifest,
)
from shoal.oci.client import RegistryClient, _error_detail, _retry_after, is_loopback
from shoal.oci.credentials import ANONYMOUS, Credentials
from shoal.oci.registry_source import RegistrySource
from shoal.oci.types import OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, Descriptor

SECRET = "wonderland-42"
ALICE = Credentials(username="alice", password=SecretStr(SECRET), source="test")
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "0" * 64,
            "size": 2,
        },
        "layers": [],
    }
).encode()
BLOB = bytes(range(256)) * 1000  # 256 kB, enough for several chunks


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def desc(data: bytes, **kw: object) -> Descriptor:
    return Descriptor(media_type=OCI_LAYER_GZIP, digest=sha(data), size=len(data), **kw)  # type: ignore[arg-type]


Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Routes requests by (method, path) and remembers them."""

    def __init__(self, routes: dict[str, Handler | list[Handler]]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, req: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(req)
            route = self.routes.get(f"{req.url.host}{req.url.path}") or self.routes.get(
                req.url.path
            )
            if route is None:
                return httpx.Response(
                    404, json={"errors": [{"code": "NAME_UNKNOWN", "message": "no route"}]}
                )
            handler = route.pop(0) if isinstance(route, list) else route
        return handler(req)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def client(
    routes: dict[str, Handler | list[Handler]],
    *,
    credentials: Credentials | Callable[[], Credentials] = ANONYMOUS,
    registry: str = "registry.test",
    retries: int = 3,
    limits: Limits | None = None,
    **kw: object,
) -> tuple[RegistryClient, Recorder, list[float]]:
    rec = Recorder(routes)
    sleeps: list[float] = []
    c = RegistryClient(
        registry,
        settings=OciSettings(retries=retries, **kw),
        limits=limits,
        credentials=credentials,
        transport=httpx.MockTransport(rec),
        sleep=sleeps.append,
    )
    return c, rec, sleeps


def ok_manifest(req: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200,
        content=MANIFEST,
        headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": sha(MANIFEST)},
    )


def error(status: int, code: str, message: str = "", **headers: str) -> Handler:
    return lambda req: httpx.Response(
        status, json={"errors": [{"code": code, "message": message}]}, headers=headers
    )


class Broken(httpx.SyncByteStream):
    """A body that sends some bytes, then the connection drops."""

    def __init__(
        self, data: bytes, cut: int, exc: type[Exception] = httpx.RemoteProtocolError
    ) -> None:
        self.data, self.cut, self.exc = data, cut, exc

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[: self.cut]
        raise self.exc("peer closed connection without sending complete message body")


def ranged(data: bytes) -> Handler:
    """A blob server that honours `Range: bytes=N-`."""

    def handle(req: httpx.Request) -> httpx.Response:
        rng = req.headers.get("range")
        if not rng:
            return httpx.Response(200, content=data, headers={"Accept-Ranges": "bytes"})
        start = int(rng.removeprefix("bytes=").rstrip("-"))
        part = data[start:]
        return httpx.Response(
            206,
            content=part,
            headers={"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"},
        )

    return handle


# -- transport basics -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost:5000", True),
        ("127.0.0.1", True),
        ("127.3.4.5:80", True),
        ("[::1]:5000", True),
        ("::1", False),  # unbracketed IPv6 is not a valid host:port; treated as remote
        ("10.0.0.1:5000", False),
        ("ghcr.io", False),
        ("localhost.evil.com", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_scheme_selection() -> None:
    assert RegistryClient("ghcr.io").base_url == "https://ghcr.io"
    assert RegistryClient("docker.io").base_url == "https://registry-1.docker.io"
    assert RegistryClient("127.0.0.1:5000").base_url == "http://127.0.0.1:5000"
    assert RegistryClient("[::1]:5000").base_url == "http://[::1]:5000"
    assert RegistryClient("reg.lan:5000", insecure=True).base_url == "http://reg.lan:5000"
    s = OciSettings(insecure_registries=["reg.lan:5000"])
    assert RegistryClient("reg.lan:5000", settings=s).base_url == "http://reg.lan:5000"
    assert RegistryClient("other.lan", settings=s).base_url == "https://other.lan"


# -- manifests ------------------------------------------------------------------------------


def test_get_manifest_by_tag() -> None:
    c, rec, _ = client({"/v2/app/manifests/v1": ok_manifest})
    data, media_type, digest = c.get_manifest("app", "v1")
    assert (data, media_type, digest) == (MANIFEST, OCI_MANIFEST, sha(MANIFEST))
    accept = rec.requests[0].headers["accept"]
    for t in (
        OCI_INDEX,
        OCI_MANIFEST,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ):
        assert t in accept
    assert str(rec.requests[0].url) == "https://registry.test/v2/app/manifests/v1"


def test_get_manifest_by_digest_is_verified() -> None:
    d = sha(MANIFEST)
    c, _, _ = client({f"/v2/app/manifests/{d}": ok_manifest})
    assert c.get_manifest("app", d)[2] == d
    other = "sha256:" + "1" * 64
    c, _, _ = client({f"/v2/app/manifests/{other}": ok_manifest})
    with pytest.raises(DigestMismatch, match=f"registry.test/app@{other}: content hashes to {d}"):
        c.get_manifest("app", other)


def test_manifest_header_digest_cross_checked() -> None:
    lying = lambda r: httpx.Response(
        200, content=MANIFEST, headers={"Docker-Content-Digest": "sha256:" + "2" * 64}
    )
    c, _, _ = client({"/v2/app/manifests/v1": lying})
    with pytest.raises(DigestMismatch, match=r"registry.test/app:v1"):
        c.get_manifest("app", "v1")
    # a malformed header says nothing either way: the computed digest stands
    odd = lambda r: httpx.Response(
        200, content=MANIFEST, headers={"Docker-Content-Digest": "nonsense"}
    )
    c, _, _ = client({"/v2/app/manifests/v1": odd})
    assert c.get_manifest("app", "v1")[2] == sha(MANIFEST)


def test_manifest_header_digest_other_algorithm() -> None:
    sha512 = "sha512:" + hashlib.sha512(MANIFEST).hexdigest()
    h = lambda r: httpx.Response(200, content=MANIFEST, headers={"Docker-Content-Digest": sha512})
    c, _, _ = client({"/v2/app/manifests/v1": h})
    assert c.get_manifest("app", "v1")[2] == sha(MANIFEST)


def test_manifest_size_limit() -> None:
    big = b"{" + b" " * 2000 + b"}"
    limits = Limits(manifest_bytes=1000)
    declared = lambda r: httpx.Response(200, content=big)
    c, _, _ = client({"/v2/app/manifests/v1": declared}, limits=limits)
    with pytest.raises(LimitExceeded, match="manifest_bytes") as e:
        c.get_manifest("app", "v1")
    assert e.value.limit == "manifest_bytes"

    def chunked(req: httpx.Request) -> httpx.Response:  # no Content-Length: counted while reading
        return httpx.Response(200, content=iter([big[:900], big[900:]]))

    c, _, _ = client({"/v2/app/manifests/v1": chunked}, limits=limits)
    with pytest.raises(LimitExceeded, match="more than manifest_bytes"):
        c.get_manifest("app", "v1")


@pytest.mark.parametrize(
    ("repo", "ref"),
    [("App", "v1"), ("a/../b", "v1"), ("app", "bad tag"), ("app", "sha256:xyz"), ("app?x=1", "v1")],
)
def test_invalid_names_never_reach_the_network(repo: str, ref: str) -> None:
    c, rec, _ = client({})
    with pytest.raises(RegistryError, match="invalid"):
        c.get_manifest(repo, ref)
    assert rec.requests == []


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "exc", "message"),
    [
        (
            error(404, "MANIFEST_UNKNOWN", "manifest unknown"),
            NotFound,
            "registry.test/app:v1: not found (MANIFEST_UNKNOWN: manifest unknown)",
        ),
        (
            error(404, "NAME_UNKNOWN", "repository name not known to registry"),
            NotFound,
            "registry.test/app:v1: not found (NAME_UNKNOWN: repository name not known to registry)",
        ),
        (lambda r: httpx.Response(404), NotFound, "registry.test/app:v1: not found (HTTP 404)"),
        (
            error(403, "DENIED", "requested access to the resource is denied"),
            AuthError,
            "registry.test/app:v1: access denied (HTTP 403)"
            " (DENIED: requested access to the resource is denied)",
        ),
        (
            error(400, "TAG_INVALID", "manifest tag did not match URI"),
            RegistryError,
            "registry.test/app:v1: HTTP 400 from registry.test"
            " (TAG_INVALID: manifest tag did not match URI)",
        ),
        (
            lambda r: httpx.Response(418, text="<html>\n<b>teapot</b>\n</html>"),
            RegistryError,
            "registry.test/app:v1: HTTP 418 from registry.test",
        ),
    ],
)
def test_error_mapping(handler: Handler, exc: type[Exception], message: str) -> None:
    c, _, _ = client({"/v2/app/manifests/v1": handler})
    with pytest.raises(exc) as e:
        c.get_manifest("app", "v1")
    assert type(e.value) is exc
    assert str(e.value) == message


def test_registry_messages_are_one_line() -> None:
    h = error(404, "MANIFEST_UNKNOWN", "line one\nline two\r\n\tthree")
    c, _, _ = client({"/v2/app/manifests/v1": h})
    with pytest.raises(NotFound) as e:
        c.get_manifest("app", "v1")
    assert str(e.value).endswith("(MANIFEST_UNKNOWN: line one line two three)")


@given(st.binary(max_size=500))
def test_error_detail_fuzz(body: bytes) -> None:
    out = _error_detail(body)
    assert "\n" not in out and "\r" not in out
    assert len(out) <= 3 * 200 + 4


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=30),
        lambda k: (
            st.lists(k, max_size=4)
            | st.dictionaries(st.sampled_from(["errors", "code", "message", "x"]), k, max_size=3)
        ),
        max_leaves=12,
    )
)
def test_error_detail_fuzz_json(doc: object) -> None:
    out = _error_detail(json.dumps(doc).encode())
    assert "\n" not in out


# -- retries ----------------------------------------------------------------------------------


def test_5xx_is_retried_with_growing_backoff() -> None:
    c, rec, sleeps = client(
        {"/v2/app/manifests/v1": [error(503, "UNAVAILABLE")] * 3 + [ok_manifest]}
    )
    assert c.get_manifest("app", "v1")[0] == MANIFEST
    assert len(rec.requests) == 4
    assert len(sleeps) == 3
    # half fixed, half jitter: attempt n waits between 0.25*2^n and 0.5*2^n seconds
    for n, s in enumerate(sleeps):
        assert 0.25 * 2**n <= s <= 0.5 * 2**n


def test_5xx_gives_up_after_the_retries() -> None:
    c, rec, sleeps = client({"/v2/app/manifests/v1": [error(502, "BAD")] * 3}, retries=2)
    with pytest.raises(RegistryError, match=r"HTTP 502 from registry.test"):
        c.get_manifest("app", "v1")
    assert len(rec.requests) == 3
    assert len(sleeps) == 2


def test_429_honours_retry_after_seconds() -> None:
    c, _, sleeps = client(
        {
            "/v2/app/manifests/v1": [
                error(429, "TOOMANYREQUESTS", **{"Retry-After": "7"}),
                ok_manifest,
            ]
        }
    )
    c.get_manifest("app", "v1")
    assert sleeps == [7.0]


def test_429_honours_retry_after_http_date_and_caps_it() -> None:
    soon = email.utils.formatdate(time.time() + 3600, usegmt=True)
    c, _, sleeps = client(
        {
            "/v2/app/manifests/v1": [
                error(429, "TOOMANYREQUESTS", **{"Retry-After": soon}),
                ok_manifest,
            ]
        }
    )
    c.get_manifest("app", "v1")
    assert sleeps == [120.0]


def test_429_exhausted_is_rate_limited() -> None:
    h = error(429, "TOOMANYREQUESTS", "You have reached your pull rate limit")
    c, _, _ = client({"/v2/app/manifests/v1": [h, h]}, retries=1)
    with pytest.raises(RateLimited, match=r"rate limited by registry.test .*TOOMANYREQUESTS"):
        c.get_manifest("app", "v1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("12", 12.0),
        (" 3 ", 3.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("-1", None),
        ("1.5", None),
    ],
)
def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    assert _retry_after(value) == expected


@given(st.text(max_size=60))
def test_retry_after_fuzz(value: str) -> None:
    got = _retry_after(value)
    assert got is None or got >= 0


def test_connection_errors_are_retried() -> None:
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=req)

    c, _, sleeps = client({"/v2/app/manifests/v1": [refuse, refuse, ok_manifest]})
    assert c.get_manifest("app", "v1")[0] == MANIFEST
    assert len(sleeps) == 2


def test_connection_errors_exhausted() -> None:
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=req)

    c, rec, _ = client({"/v2/app/manifests/v1": refuse}, retries=2)
    with pytest.raises(
        RegistryError,
        match=r"registry.test/app:v1: cannot reach registry.test: ConnectTimeout after 3 attempts",
    ):
        c.get_manifest("app", "v1")
    assert len(rec.requests) == 3


# -- authentication ---------------------------------------------------------------------------


def bearer_registry(token: str = "T1") -> Handler:
    """A manifest endpoint behind Docker token auth."""

    def handle(req: httpx.Request) -> httpx.Response:
        if req.headers.get("authorization") != f"Bearer {token}":
            return httpx.Response(
                401,
                json={"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                headers={
                    "WWW-Authenticate": 'Bearer realm="https://auth.test/token",service="registry.test",scope="repository:app:pull"'
                },
            )
        return ok_manifest(req)

    return handle


def token_server(token: str = "T1", user: str = "alice", pw: str = SECRET) -> Handler:
    def handle(req: httpx.Request) -> httpx.Response:
        expected = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
        if req.headers.get("authorization") != expected:
            return httpx.Response(401, json={"details": "incorrect username or password"})
        return httpx.Response(200, json={"token": token, "expires_in": 300})

    return handle


def test_token_flow_end_to_end() -> None:
    c, rec, _ = client(
        {"/v2/app/manifests/v1": bearer_registry(), "auth.test/token": token_server()},
        credentials=ALICE,
    )
    assert c.get_manifest("app", "v1")[0] == MANIFEST
    assert rec.paths() == ["/v2/app/manifests/v1", "/token", "/v2/app/manifests/v1"]
    tok_req = rec.requests[1]
    assert tok_req.url.params["scope"] == "repository:app:pull"
    assert tok_req.url.params["service"] == "registry.test"
    # the cached token is reused: one request, no new token
    c.get_manifest("app", "v1")
    assert rec.paths()[3:] == ["/v2/app/manifests/v1"]


def test_token_flow_wrong_password() -> None:
    bad = Credentials(username="alice", password=SecretStr("nope-" + SECRET), source="test")
    c, _, _ = client(
        {"/v2/app/manifests/v1": bearer_registry(), "auth.test/token": token_server()},
        credentials=bad,
    )
    with pytest.raises(AuthError, match=r"token endpoint 'auth.test' refused the credentials") as e:
        c.get_manifest("app", "v1")
    assert SECRET not in str(e.value)


def test_token_not_accepted_by_registry() -> None:
    c, _, _ = client(
        {
            "/v2/app/manifests/v1": bearer_registry("T-right"),
            "auth.test/token": token_server("T-wrong"),
        },
        credentials=ALICE,
    )
    with pytest.raises(
        AuthError, match=r"registry.test/app:v1: access denied \(HTTP 401\) \(UNAUTHORIZED"
    ):
        c.get_manifest("app", "v1")


def test_basic_auth_registry() -> None:
    def handle(req: httpx.Request) -> httpx.Response:
        want = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
        if req.headers.get("authorization") != want:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="test"'})
        return ok_manifest(req)

    c, rec, _ = client({"/v2/app/manifests/v1": handle, "/v2/": handle}, credentials=ALICE)
    c.get_manifest("app", "v1")
    c.ping()
    assert len(rec.requests) == 3  # one challenge, then Basic up front

    c, _, _ = client({"/v2/": handle})
    with pytest.raises(AuthError, match="no credentials found"):
        c.ping()


def test_ping() -> None:
    c, _, _ = client({"/v2/": lambda r: httpx.Response(200, json={})})
    c.ping()
    c, _, _ = client({"/v2/": lambda r: httpx.Response(404)})
    with pytest.raises(NotFound):
        c.ping()


def test_secrets_never_in_errors() -> None:
    c, _, _ = client(
        {
            "/v2/app/manifests/v1": bearer_registry(),
            "auth.test/token": lambda r: httpx.Response(500, text=SECRET),
        },
        credentials=ALICE,
        retries=0,
    )
    with pytest.raises(AuthError) as e:
        c.get_manifest("app", "v1")
    assert SECRET not in str(e.value)
    assert SECRET not in repr(c)


# -- blobs ------------------------------------------------------------------------------------


def test_blob_download(tmp_path: Path) -> None:
    d = desc(BLOB)
    c, _, _ = client({f"/v2/app/blobs/{d.digest}": ranged(BLOB)})
    dest = tmp_path / "blob"
    c.get_blob_to("app", d, dest)
    assert dest.read_bytes() == BLOB


def test_truncated_blob_resumes_with_range(tmp_path: Path) -> None:
    d = desc(BLOB)
    cut = 100_000
    first = lambda r: httpx.Response(
        200, stream=Broken(BLOB, cut), headers={"Content-Length": str(len(BLOB))}
    )
    c, rec, sleeps = client({f"/v2/app/blobs/{d.digest}": [first, ranged(BLOB)]})
    dest = tmp_path / "blob"
    c.get_blob_to("app", d, dest)
    assert dest.read_bytes() == BLOB
    assert rec.requests[1].headers["range"] == f"bytes={cut}-"
    assert len(sleeps) == 1


def test_clean_short_body_resumes_too(tmp_path: Path) -> None:
    d = desc(BLOB)
    short = lambda r: httpx.Response(200, content=iter([BLOB[:5000]]))
    c, rec, _ = client({f"/v2/app/blobs/{d.digest}": [short, ranged(BLOB)]})
    c.get_blob_to("app", d, tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == BLOB
    assert rec.requests[1].headers["range"] == "bytes=5000-"


def test_range_ignored_restarts_from_zero(tmp_path: Path) -> None:
    d = desc(BLOB)
    first = lambda r: httpx.Response(200, stream=Broken(BLOB, 1000, httpx.ReadError))
    full = lambda r: httpx.Response(200, content=BLOB)
    c, _, _ = client({f"/v2/app/blobs/{d.digest}": [first, full]})
    c.get_blob_to("app", d, tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == BLOB


def test_wrong_content_range_restarts(tmp_path: Path) -> None:
    d = desc(BLOB)
    first = lambda r: httpx.Response(200, stream=Broken(BLOB, 1000))
    wrong = lambda r: httpx.Response(
        206, content=BLOB[10:], headers={"Content-Range": f"bytes 10-{len(BLOB) - 1}/{len(BLOB)}"}
    )
    c, rec, _ = client({f"/v2/app/blobs/{d.digest}": [first, wrong, ranged(BLOB)]})
    c.get_blob_to("app", d, tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == BLOB
    assert "range" not in rec.requests[2].headers


def test_resume_gives_up(tmp_path: Path) -> None:
    d = desc(BLOB)
    dropping = lambda r: httpx.Response(200, stream=Broken(BLOB, 10))
    c, rec, _ = client({f"/v2/app/blobs/{d.digest}": dropping}, retries=2)
    dest = tmp_path / "b"
    with pytest.raises(
        RegistryError, match=r"connection lost after \d+ of 256000 bytes \(RemoteProtocolError\)"
    ):
        c.get_blob_to("app", d, dest)
    assert not dest.exists()
    assert len(rec.requests) == 3


def test_blob_digest_mismatch_removes_dest(tmp_path: Path) -> None:
    evil = bytearray(BLOB)
    evil[-1] ^= 1
    d = desc(BLOB)
    c, _, _ = client(
        {f"/v2/app/blobs/{d.digest}": lambda r: httpx.Response(200, content=bytes(evil))}
    )
    dest = tmp_path / "b"
    with pytest.raises(
        DigestMismatch, match=f"registry.test/app@{d.digest}: content hashes to {sha(bytes(evil))}"
    ):
        c.get_blob_to("app", d, dest)
    assert not dest.exists()


def test_blob_longer_than_descriptor(tmp_path: Path) -> None:
    d = desc(BLOB)
    c, _, _ = client(
        {f"/v2/app/blobs/{d.digest}": lambda r: httpx.Response(200, content=BLOB + b"extra")}
    )
    with pytest.raises(DigestMismatch, match="more than the descriptor's 256000 bytes"):
        c.get_blob_to("app", d, tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_blob_404_removes_dest(tmp_path: Path) -> None:
    d = desc(BLOB)
    dest = tmp_path / "b"
    c, _, _ = client(
        {f"/v2/app/blobs/{d.digest}": error(404, "BLOB_UNKNOWN", "blob unknown to registry")}
    )
    with pytest.raises(NotFound, match=r"not found \(BLOB_UNKNOWN"):
        c.get_blob_to("app", d, dest)
    assert not dest.exists()


def test_blob_redirect_to_storage_drops_authorization(tmp_path: Path) -> None:
    d = desc(BLOB)

    def registry(req: httpx.Request) -> httpx.Response:
        if req.headers.get("authorization") != "Bearer T1":
            return bearer_registry()(req)
        return httpx.Response(307, headers={"Location": "https://storage.test/bucket/blob?sig=abc"})

    c, rec, _ = client(
        {
            f"/v2/app/blobs/{d.digest}": registry,
            "auth.test/token": token_server(),
            "storage.test/bucket/blob": ranged(BLOB),
        },
        credentials=ALICE,
    )
    c.get_blob_to("app", d, tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == BLOB
    storage = [r for r in rec.requests if r.url.host == "storage.test"]
    assert len(storage) == 1
    assert "authorization" not in storage[0].headers
    assert storage[0].url.params["sig"] == "abc"


def test_blob_bytes() -> None:
    cfg = b'{"architecture":"amd64"}'
    d = desc(cfg)
    c, _, _ = client({f"/v2/app/blobs/{d.digest}": lambda r: httpx.Response(200, content=cfg)})
    assert c.blob_bytes("app", d) == cfg
    c, _, _ = client(
        {f"/v2/app/blobs/{d.digest}": lambda r: httpx.Response(200, content=cfg + b" ")}
    )
    with pytest.raises(DigestMismatch, match="more bytes than the descriptor's"):
        c.blob_bytes("app", d)
    c, _, _ = client({f"/v2/app/blobs/{d.digest}": lambda r: httpx.Response(200, content=cfg[:-1])})
    with pytest.raises(DigestMismatch, match="got 23 bytes, descriptor says 24"):
        c.blob_bytes("app", d)


def test_blob_bytes_limit() -> None:
    d = Descriptor(media_type="x", digest="sha256:" + "a" * 64, size=5000)
    c, rec, _ = client({}, limits=Limits(manifest_bytes=4096))
    with pytest.raises(LimitExceeded, match="exceeds manifest_bytes"):
        c.blob_bytes("app", d)
    assert rec.requests == []


def test_parallel_downloads_share_one_token(tmp_path: Path) -> None:
    blobs = [bytes([i]) * (50_000 + i) for i in range(8)]
    tokens: list[int] = []

    def token(req: httpx.Request) -> httpx.Response:
        tokens.append(1)
        time.sleep(0.01)  # widen the race window
        return httpx.Response(200, json={"token": "T1"})

    def blob_route(data: bytes) -> Handler:
        def handle(req: httpx.Request) -> httpx.Response:
            if req.headers.get("authorization") != "Bearer T1":
                return bearer_registry()(req)
            return httpx.Response(200, content=data)

        return handle

    routes: dict[str, Handler | list[Handler]] = {"auth.test/token": token}
    for b in blobs:
        routes[f"/v2/app/blobs/{sha(b)}"] = blob_route(b)
    c, _, _ = client(routes)
    errors: list[BaseException] = []

    def work(b: bytes, i: int) -> None:
        try:
            c.get_blob_to("app", desc(b), tmp_path / f"b{i}")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(b, i)) for i, b in enumerate(blobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(tokens) == 1
    for i, b in enumerate(blobs):
        assert (tmp_path / f"b{i}").read_bytes() == b


# -- pagination -------------------------------------------------------------------------------


def paged(key: str, items: list[str], base: str) -> Handler:
    """Distribution-style pagination: `n` per page, `last=` cursor, relative Link."""

    def handle(req: httpx.Request) -> httpx.Response:
        n = int(req.url.params.get("n", "100"))
        last = req.url.params.get("last")
        start = items.index(last) + 1 if last else 0
        page = items[start : start + n]
        headers = {}
        if start + n < len(items):
            headers["Link"] = f'<{base}?last={page[-1]}&n={n}>; rel="next"'
        return httpx.Response(200, json={key: page}, headers=headers)

    return handle


def test_tags_pagination() -> None:
    tags = [f"v{i}" for i in range(7)]
    c, rec, _ = client({"/v2/team/app/tags/list": paged("tags", tags, "/v2/team/app/tags/list")})
    assert list(c.tags("team/app", page_size=3)) == tags
    assert len(rec.requests) == 3
    assert rec.requests[0].url.params["n"] == "3"
    assert rec.requests[2].url.params["last"] == "v5"


def test_catalog_pagination_with_absolute_link_and_scope() -> None:
    repos = ["a", "b/c", "d"]
    route = paged("repositories", repos, "https://registry.test/v2/_catalog")

    def auth(req: httpx.Request) -> httpx.Response:
        if req.headers.get("authorization") != "Bearer T1":
            return httpx.Response(
                401,
                headers={
                    "WWW-Authenticate": 'Bearer realm="https://auth.test/token",service="s",scope="registry:catalog:*"'
                },
            )
        return route(req)

    c, rec, _ = client({"/v2/_catalog": auth, "auth.test/token": token_server()}, credentials=ALICE)
    assert list(c.catalog(page_size=2)) == repos
    assert rec.requests[1].url.params["scope"] == "registry:catalog:*"


def test_tags_null_means_none() -> None:
    c, _, _ = client(
        {"/v2/app/tags/list": lambda r: httpx.Response(200, json={"name": "app", "tags": None})}
    )
    assert list(c.tags("app")) == []


def test_catalog_without_its_key_is_an_error_not_an_empty_list() -> None:
    # an empty catalog would make every known repository look deleted to discovery
    c, _, _ = client({"/v2/_catalog": lambda r: httpx.Response(200, json={"oops": []})})
    with pytest.raises(RegistryError, match="'repositories' is not a list of strings"):
        list(c.catalog())


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ('</v2/app/tags/list>; rel="next"', "pagination loops back"),
        (
            '<https://evil.test/v2/app/tags/list?x=1>; rel="next"',
            "pagination link leaves the registry",
        ),
        (
            '<http://registry.test/v2/app/tags/list?x=1>; rel="next"',
            "pagination link leaves the registry",
        ),
    ],
)
def test_hostile_pagination(link: str, message: str) -> None:
    h = lambda r: httpx.Response(200, json={"tags": ["a"]}, headers={"Link": link})
    c, _, _ = client({"/v2/app/tags/list": h})
    with pytest.raises(RegistryError, match=message):
        list(c.tags("app"))


@pytest.mark.parametrize("body", [b"nope", b"[]", b'{"tags": "a"}', b'{"tags": [1]}'])
def test_bad_tag_lists(body: bytes) -> None:
    c, _, _ = client({"/v2/app/tags/list": lambda r: httpx.Response(200, content=body)})
    with pytest.raises(RegistryError, match=r"registry.test/app: .*tags"):
        list(c.tags("app"))


def test_link_header_with_several_links() -> None:
    seq = [
        lambda r: httpx.Response(
            200,
            json={"tags": ["a"]},
            headers={"Link": '</x>; rel="prev", </v2/app/tags/list?last=a>; rel=next'},
        ),
        lambda r: httpx.Response(200, json={"tags": ["b"]}),
    ]
    c, _, _ = client({"/v2/app/tags/list": seq})
    assert list(c.tags("app")) == ["a", "b"]


@given(st.text(max_size=120))
def test_link_header_fuzz(link: str) -> None:
    c, _, _ = client({})
    try:
        out = c._next_link(link, "/v2/app/tags/list", "w")
    except RegistryError as e:
        assert "\n" not in str(e)
        return
    assert out is None or out.startswith("/")


# -- HEAD, limits, fuzzed list bodies ----------------------------------------------------------


def test_head_manifest() -> None:
    def head(req: httpx.Request) -> httpx.Response:
        assert req.method == "HEAD"
        return httpx.Response(
            200,
            headers={
                "Content-Type": OCI_MANIFEST,
                "Content-Length": str(len(MANIFEST)),
                "Docker-Content-Digest": sha(MANIFEST),
            },
        )

    c, _, _ = client({"/v2/app/manifests/v1": head, f"/v2/app/manifests/{sha(MANIFEST)}": head})
    assert c.head_manifest("app", "v1") == (sha(MANIFEST), OCI_MANIFEST, len(MANIFEST))
    assert c.head_manifest("app", sha(MANIFEST))[0] == sha(MANIFEST)
    other = "sha256:" + "3" * 64
    c, _, _ = client({f"/v2/app/manifests/{other}": head})
    with pytest.raises(DigestMismatch, match="registry says it is"):
        c.head_manifest("app", other)


def test_head_manifest_without_digest_header() -> None:
    bare = lambda r: httpx.Response(200, headers={"Docker-Content-Digest": "junk"})
    c, _, _ = client({"/v2/app/manifests/v1": bare})
    assert c.head_manifest("app", "v1") == (None, "", None)
    c, _, _ = client({"/v2/app/manifests/v1": lambda r: httpx.Response(404)})
    with pytest.raises(NotFound, match=r"registry.test/app:v1: not found \(HTTP 404\)"):
        c.head_manifest("app", "v1")


def test_blob_larger_than_layer_limit_is_refused_up_front(tmp_path: Path) -> None:
    d = Descriptor(media_type=OCI_LAYER_GZIP, digest="sha256:" + "a" * 64, size=10_001)
    c, rec, _ = client({}, limits=Limits(layer_bytes=10_000))
    with pytest.raises(LimitExceeded, match="exceeds layer_bytes") as e:
        c.get_blob_to("app", d, tmp_path / "b")
    assert e.value.limit == "layer_bytes"
    assert rec.requests == []
    assert not (tmp_path / "b").exists()


@given(st.binary(max_size=300))
def test_tag_list_body_fuzz(body: bytes) -> None:
    c, _, _ = client({"/v2/app/tags/list": lambda r: httpx.Response(200, content=body)})
    try:
        tags = list(c.tags("app"))
    except RegistryError as e:
        assert "\n" not in str(e)
    else:
        assert all(isinstance(t, str) for t in tags)


@given(st.binary(max_size=2000))
def test_manifest_body_any_bytes(body: bytes) -> None:
    ok = lambda r: httpx.Response(200, content=body)
    c, _, _ = client({"/v2/app/manifests/v1": ok}, limits=Limits(manifest_bytes=1000))
    try:
        data, _, digest = c.get_manifest("app", "v1")
    except LimitExceeded:
        assert len(body) > 1000
    else:
        assert data == body
        assert digest == sha(body)


@given(st.text(max_size=60))
def test_is_loopback_fuzz(host: str) -> None:
    assert is_loopback(host) in (True, False)


@pytest.mark.parametrize("link", ["<//[>; rel=next", '<http://registry.test:x/>; rel="next"'])
def test_malformed_pagination_links(link: str) -> None:
    c, _, _ = client({})
    with pytest.raises(RegistryError, match="pagination link"):
        c._next_link(link, "/v2/app/tags/list", "w")


def test_too_many_redirects_is_a_registry_error() -> None:
    loop = lambda r: httpx.Response(302, headers={"Location": "/v2/app/manifests/v1"})
    c, _, _ = client({"/v2/app/manifests/v1": loop})
    with pytest.raises(RegistryError, match="TooManyRedirects"):
        c.get_manifest("app", "v1")


def test_bad_content_encoding_is_a_registry_error() -> None:
    bad = lambda r: httpx.Response(200, content=b"not gzip", headers={"Content-Encoding": "gzip"})
    c, _, _ = client({"/v2/app/manifests/v1": bad})
    with pytest.raises(RegistryError, match="Content-Encoding"):
        c.get_manifest("app", "v1")


# -- RegistrySource over MockTransport ----------------------------------------------------------


def _source(
    routes: dict[str, Handler | list[Handler]], ref: str = "registry.test/app:v1"
) -> RegistrySource:
    c, _, _ = client(routes)
    return RegistrySource(ref, Settings(), client=c)


def _doc(obj: object) -> bytes:
    return json.dumps(obj).encode()


def _serve(data: bytes, media_type: str) -> Handler:
    return lambda r: httpx.Response(200, content=data, headers={"Content-Type": media_type})


CONFIG = _doc(
    {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
)
IMAGE = _doc(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha(CONFIG),
            "size": len(CONFIG),
        },
        "layers": [],
    }
)


def test_source_resolves_a_manifest() -> None:
    src = _source(
        {
            "/v2/app/manifests/v1": _serve(IMAGE, OCI_MANIFEST),
            f"/v2/app/blobs/{sha(CONFIG)}": _serve(CONFIG, "x"),
        }
    )
    (res,) = src.resolve(None)
    assert res.manifest.digest == sha(IMAGE)
    assert res.config.digest == sha(CONFIG)
    assert res.reference == "registry.test/app:v1"
    assert repr(src) == "RegistrySource('registry.test/app:v1')"


def test_source_rejects_a_config_that_does_not_match() -> None:
    src = _source(
        {
            "/v2/app/manifests/v1": _serve(IMAGE, OCI_MANIFEST),
            f"/v2/app/blobs/{sha(CONFIG)}": _serve(CONFIG[:-1] + b" ", "x"),
        }
    )
    with pytest.raises(DigestMismatch, match=f"registry.test/app@{sha(CONFIG)}: content hashes to"):
        src.resolve(None)


def test_source_rejects_nested_indexes() -> None:
    inner = _doc({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
    outer = _doc(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": sha(inner),
                    "size": len(inner),
                    "platform": {"os": "linux", "architecture": "amd64"},
                }
            ],
        }
    )
    src = _source(
        {
            "/v2/app/manifests/v1": _serve(outer, OCI_INDEX),
            f"/v2/app/manifests/{sha(inner)}": _serve(inner, OCI_INDEX),
        }
    )
    with pytest.raises(UnsupportedManifest, match="index inside an index"):
        src.resolve("linux/amd64")


def test_source_index_child_is_verified() -> None:
    claimed = "sha256:" + "9" * 64
    index = _doc(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": claimed,
                    "size": len(IMAGE),
                    "platform": {"os": "linux", "architecture": "amd64"},
                }
            ],
        }
    )
    # the registry answers the child's digest with other content
    src = _source(
        {
            "/v2/app/manifests/v1": _serve(index, OCI_INDEX),
            f"/v2/app/manifests/{claimed}": _serve(IMAGE, OCI_MANIFEST),
        }
    )
    with pytest.raises(DigestMismatch, match=f"registry.test/app@{claimed}"):
        src.resolve("linux/amd64")


def test_source_schema1_is_unsupported() -> None:
    s1 = _doc({"schemaVersion": 1, "name": "app", "tag": "v1", "fsLayers": [], "history": []})
    src = _source(
        {
            "/v2/app/manifests/v1": _serve(
                s1, "application/vnd.docker.distribution.manifest.v1+prettyjws"
            )
        }
    )
    with pytest.raises(UnsupportedManifest, match="schema 1"):
        src.resolve(None)


def test_source_invalid_reference() -> None:
    with pytest.raises(InvalidReference, match="must be lowercase"):
        RegistrySource("registry.test/App:v1", Settings())


def test_credentials_are_looked_up_on_first_use() -> None:
    calls: list[str] = []

    def provider() -> Credentials:
        calls.append("get")
        return ALICE

    c, _, _ = client(
        {"/v2/app/manifests/v1": bearer_registry(), "auth.test/token": token_server()},
        credentials=provider,
    )
    assert calls == []
    assert "not yet looked up" in repr(c._auth)
    c.get_manifest("app", "v1")
    c.get_manifest("app", "v1")
    assert calls == ["get"]


def test_registry_source_constructor_runs_no_credential_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "dc"
    cfg.mkdir()
    (cfg / "config.json").write_text("{broken")
    monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
    src = RegistrySource("registry.test/app:v1", Settings())  # no I/O yet, so no error yet
    assert "not yet looked up" in repr(src.client._auth)
    with pytest.raises(ConfigError, match="invalid JSON"):
        src.client._auth.authorization("repository:app:pull")  # the first request's lookup
    src.close()


_HEADER_NAMES = st.sampled_from(
    [
        "Content-Type",
        "Content-Length",
        "Docker-Content-Digest",
        "WWW-Authenticate",
        "Retry-After",
        "Link",
        "Location",
        "Content-Range",
        "Content-Encoding",
    ]
)
_HEADER_VALUES = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60
)


@given(
    status=st.integers(min_value=200, max_value=599),
    headers=st.dictionaries(_HEADER_NAMES, _HEADER_VALUES, max_size=4),
    body=st.binary(max_size=200),
)
@settings(max_examples=300)
def test_any_answer_is_data_or_a_shoal_error(
    status: int, headers: dict[str, str], body: bytes
) -> None:
    """Whatever a hostile or broken registry sends, the client returns or raises a
    one-line ShoalError; never a traceback from below."""

    def answer(req: httpx.Request) -> httpx.Response:
        h = {k.encode(): v.encode("latin-1") for k, v in headers.items()}
        if b"Content-Length" in h and req.method != "HEAD":
            h.pop(b"Content-Length")  # a lying length is caught by h11, not our concern here
        return httpx.Response(status, headers=h, content=body)

    d = desc(body)
    scratch = Path(tempfile.mkdtemp())
    calls: list[Callable[[RegistryClient], object]] = [
        lambda c: c.get_blob_to("app", d, scratch / "blob"),
        lambda c: c.get_manifest("app", "v1"),
        lambda c: c.head_manifest("app", "v1"),
        lambda c: c.blob_bytes("app", d),
        lambda c: list(c.tags("app")),
        lambda c: c.ping(),
    ]
    for call in calls:
        c, _, _ = client(
            {
                "/v2/": answer,
                "/v2/app/manifests/v1": answer,
                f"/v2/app/blobs/{d.digest}": answer,
                "/v2/app/tags/list": answer,
            },
            retries=1,
        )
        try:
            call(c)
        except ShoalError as e:
            assert "\n" not in str(e)
    blob = scratch / "blob"
    assert not blob.exists() or blob.read_bytes() == body  # only verified content stays
    shutil.rmtree(scratch)
