"""WWW-Authenticate parsing and the Docker token flow, against a scripted token endpoint."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from shoal.errors import AuthError
from shoal.oci.auth import Authenticator, Challenge, parse_challenges
from shoal.oci.credentials import ANONYMOUS, Credentials

SECRET = "pw-Secret-42"
ALICE = Credentials(username="alice", password=SecretStr(SECRET), source="test")
HUB = (
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
    'scope="repository:library/alpine:pull"'
)


# -- parse_challenges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            HUB,
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://auth.docker.io/token",
                        "service": "registry.docker.io",
                        "scope": "repository:library/alpine:pull",
                    },
                )
            ],
        ),
        # ghcr.io and Distribution send this shape, Harbor adds spaces after commas
        (
            'Bearer realm="https://ghcr.io/token", service="ghcr.io", scope="repository:o/a:pull"',
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://ghcr.io/token",
                        "service": "ghcr.io",
                        "scope": "repository:o/a:pull",
                    },
                )
            ],
        ),
        ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
        ("basic realm=test", [Challenge("basic", {"realm": "test"})]),
        (
            'Basic realm="a", Bearer realm="https://t/x",service=s',
            [
                Challenge("basic", {"realm": "a"}),
                Challenge("bearer", {"realm": "https://t/x", "service": "s"}),
            ],
        ),
        ('Bearer realm="quote \\" inside"', [Challenge("bearer", {"realm": 'quote " inside'})]),
        (
            "Negotiate abc==, Basic realm=x",
            [Challenge("negotiate"), Challenge("basic", {"realm": "x"})],
        ),
        ("Bearer", [Challenge("bearer")]),
        (
            'Bearer error="insufficient_scope",realm="r"',
            [Challenge("bearer", {"error": "insufficient_scope", "realm": "r"})],
        ),
    ],
)
def test_parse_challenges(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        'Bearer realm="unterminated',
        "Bearer realm=,service=x",
        'Bearer realm="a" service="b"',
        "=x",
        'Bearer a="1",a="2"',
        "B" * 9000,
    ],
)
def test_parse_challenges_rejects(header: str) -> None:
    with pytest.raises(ValueError):
        parse_challenges(header)


@given(st.text(max_size=200))
def test_parse_challenges_fuzz(header: str) -> None:
    try:
        out = parse_challenges(header)
    except ValueError as e:
        assert "\n" not in str(e)
        return
    for ch in out:
        assert ch.scheme == ch.scheme.lower()


@given(
    st.dictionaries(
        st.sampled_from(["realm", "service", "scope", "error"]),
        st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=30),
        min_size=1,
    )
)
def test_parse_challenges_round_trips_quoted_values(params: dict[str, str]) -> None:
    def quote(v: str) -> str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'

    header = "Bearer " + ",".join(f"{k}={quote(v)}" for k, v in params.items())
    assert parse_challenges(header) == [Challenge("bearer", params)]


# -- Authenticator --------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _headers(value: str) -> httpx.Headers:
    return httpx.Headers({"WWW-Authenticate": value})


def _auth(
    creds: Credentials,
    handler: Callable[[httpx.Request], httpx.Response],
    clock: Clock | None = None,
) -> tuple[Authenticator, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def send(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        req.read()
        return handler(req)

    a = Authenticator(
        "registry.test",
        creds,
        send,
        allow_http=lambda h: h.startswith("127.0.0.1"),
        clock=clock or Clock(),
    )
    return a, seen


def _token(value: str = "tok-1", **extra: object) -> Callable[[httpx.Request], httpx.Response]:
    return lambda req: httpx.Response(200, json={"token": value, **extra})


def test_anonymous_token_flow() -> None:
    a, seen = _auth(ANONYMOUS, _token())
    assert a.authorization("repository:library/alpine:pull") is None
    a.authenticate(_headers(HUB), "repository:library/alpine:pull")
    assert a.authorization("repository:library/alpine:pull") == "Bearer tok-1"
    (req,) = seen
    assert req.method == "GET"
    assert req.url.host == "auth.docker.io"
    assert req.url.params.get_list("scope") == ["repository:library/alpine:pull"]
    assert req.url.params["service"] == "registry.docker.io"
    assert "authorization" not in req.headers
    # another scope has no token yet
    assert a.authorization("repository:other:pull") is None


def test_token_request_sends_basic_credentials() -> None:
    a, seen = _auth(ALICE, _token())
    a.authenticate(_headers(HUB), "repository:library/alpine:pull")
    (req,) = seen
    assert (
        req.headers["authorization"]
        == "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
    )
    assert req.url.params["account"] == "alice"


def test_access_token_and_scope_from_our_side_when_challenge_has_none() -> None:
    a, seen = _auth(ANONYMOUS, lambda r: httpx.Response(200, json={"access_token": "oauth-tok"}))
    a.authenticate(
        _headers('Bearer realm="https://auth.test/token",service="reg"'), "repository:x:pull"
    )
    assert seen[0].url.params["scope"] == "repository:x:pull"
    assert a.authorization("repository:x:pull") == "Bearer oauth-tok"


def test_identity_token_uses_oauth2_refresh_grant() -> None:
    creds = Credentials(identity_token=SecretStr("refresh-abc"), source="test")
    a, seen = _auth(
        creds, lambda r: httpx.Response(200, json={"access_token": "acc", "expires_in": 300})
    )
    a.authenticate(_headers(HUB), "repository:library/alpine:pull")
    (req,) = seen
    assert req.method == "POST"
    form = dict(x.split("=", 1) for x in req.content.decode().split("&"))
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == "refresh-abc"
    assert form["service"] == "registry.docker.io"
    assert form["client_id"] == "shoal"
    assert a.authorization("repository:library/alpine:pull") == "Bearer acc"


def test_token_expires_after_expires_in() -> None:
    clock = Clock()
    a, _ = _auth(ANONYMOUS, _token(expires_in=300), clock)
    a.authenticate(_headers(HUB), "s")
    clock.now += 260
    assert a.authorization("s") == "Bearer tok-1"
    clock.now += 20  # inside the 30 s renewal margin
    assert a.authorization("s") is None


def test_short_or_missing_expiry_means_sixty_seconds() -> None:
    clock = Clock()
    a, _ = _auth(ANONYMOUS, _token(expires_in=5), clock)
    a.authenticate(_headers(HUB), "s")
    clock.now += 50
    assert a.authorization("s") == "Bearer tok-1"
    clock.now += 10
    assert a.authorization("s") is None


def test_no_refetch_when_another_thread_renewed() -> None:
    a, seen = _auth(ANONYMOUS, _token())
    a.authenticate(_headers(HUB), "s")
    a.authenticate(_headers(HUB), "s", sent=None)  # sent before the token existed
    assert len(seen) == 1
    a.authenticate(_headers(HUB), "s", sent="Bearer tok-1")  # the token itself was refused
    assert len(seen) == 2


def test_registry_token_is_sent_as_is() -> None:
    a, seen = _auth(Credentials(registry_token=SecretStr("rt"), source="t"), _token())
    assert a.authorization("anything") == "Bearer rt"
    assert seen == []


def test_basic_challenge() -> None:
    a, _ = _auth(ALICE, _token())
    a.authenticate(_headers('Basic realm="r"'), "s")
    assert a.authorization("s") == a.authorization(None)
    assert (a.authorization(None) or "").startswith("Basic ")
    with pytest.raises(AuthError, match="credentials refused"):
        a.authenticate(_headers('Basic realm="r"'), "s")


def test_basic_challenge_without_credentials() -> None:
    a, _ = _auth(ANONYMOUS, _token())
    with pytest.raises(AuthError, match="no credentials"):
        a.authenticate(_headers('Basic realm="r"'), None)


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (401, b"{}", "refused the credentials (HTTP 401)"),
        (403, b"", "refused the credentials (HTTP 403)"),
        (500, b"", "answered HTTP 500"),
        (200, b"not json", "not JSON"),
        (200, b"[]", "not a JSON object"),
        (200, b'{"token": ""}', "no usable token"),
        (200, b'{"token": "has space"}', "no usable token"),
        (200, b'{"token": 5}', "no usable token"),
        (200, b'{"token": "t", "expires_in": "soon"}', "expires_in"),
        (200, b'{"token": "t", "expires_in": true}', "expires_in"),
        (200, b"x" * (1024 * 1024 + 10), "larger than"),
    ],
)
def test_token_endpoint_failures(status: int, body: bytes, reason: str) -> None:
    a, _ = _auth(ALICE, lambda r: httpx.Response(status, content=body))
    with pytest.raises(AuthError, match=re.escape(reason)) as e:
        a.authenticate(_headers(HUB), "s")
    assert SECRET not in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("", "without a WWW-Authenticate"),
        ('Bearer service="x"', "without a realm"),
        ('Bearer realm="ftp://x/token"', "not an http"),
        ('Bearer realm="http://auth.example.com/token"', "plain HTTP"),
        ('Digest realm="x"', "unsupported authentication scheme"),
        ('Bearer realm="unterminated', "malformed WWW-Authenticate"),
    ],
)
def test_unusable_challenges(header: str, reason: str) -> None:
    a, seen = _auth(ALICE, _token())
    headers = _headers(header) if header else httpx.Headers()
    with pytest.raises(AuthError, match=reason):
        a.authenticate(headers, "s")
    assert seen == []


def test_plain_http_realm_allowed_on_loopback() -> None:
    a, _ = _auth(ALICE, _token())
    a.authenticate(_headers('Bearer realm="http://127.0.0.1:9999/token",service="s"'), "s")
    assert a.authorization("s") == "Bearer tok-1"


def test_repr_hides_secrets() -> None:
    a, _ = _auth(ALICE, _token())
    assert SECRET not in repr(a)
    assert SECRET not in repr(ALICE)


@given(st.binary(max_size=300))
def test_fuzz_token_responses(body: bytes) -> None:
    a, _ = _auth(ALICE, lambda r: httpx.Response(200, content=body))
    try:
        a.authenticate(_headers(HUB), "s")
    except AuthError as e:
        assert "\n" not in str(e)
        assert SECRET not in str(e)
    else:
        token = json.loads(body)
        assert a.authorization("s") == "Bearer " + (token.get("token") or token["access_token"])


@given(st.text(max_size=80), st.text(max_size=30))
def test_fuzz_realm_and_service(realm: str, service: str) -> None:
    a, _ = _auth(ALICE, _token())

    def q(v: str) -> str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'

    try:
        # as received: httpx decodes raw header bytes, so any text can arrive
        raw = f"Bearer realm={q(realm)},service={q(service)}".encode()
        a.authenticate(httpx.Headers([(b"WWW-Authenticate", raw)]), "s")
    except AuthError as e:
        assert "\n" not in str(e)
        assert SECRET not in str(e)
    else:
        assert a.authorization("s") == "Bearer tok-1"
