"""Reference parsing against the distribution/reference grammar and Docker's normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shoal.errors import InvalidReference, ShoalError
from shoal.oci.reference import Reference, api_host, parse_reference, registry_of_url

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("alpine", "docker.io", "library/alpine", "latest", None),
        ("alpine:3.19", "docker.io", "library/alpine", "3.19", None),
        ("library/alpine", "docker.io", "library/alpine", "latest", None),
        ("bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", None),
        ("docker.io/alpine", "docker.io", "library/alpine", "latest", None),
        ("index.docker.io/alpine", "docker.io", "library/alpine", "latest", None),
        ("registry-1.docker.io/x/y", "docker.io", "x/y", "latest", None),
        ("ghcr.io/owner/app:v1", "ghcr.io", "owner/app", "v1", None),
        ("quay.io/a/b/c/d:tag_1.2-x", "quay.io", "a/b/c/d", "tag_1.2-x", None),
        ("localhost/app", "localhost", "app", "latest", None),
        ("localhost:5000/app:1", "localhost:5000", "app", "1", None),
        ("127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app", "latest", None),
        ("[::1]:5000/app:dev", "[::1]:5000", "app", "dev", None),
        ("[2001:db8::1]/app", "[2001:db8::1]", "app", "latest", None),
        (f"alpine@{D}", "docker.io", "library/alpine", None, D),
        (f"ghcr.io/o/a:1.0@{D}", "ghcr.io", "o/a", "1.0", D),
        (f"localhost:5000/a@{D}", "localhost:5000", "a", None, D),
        (
            "my-registry.example.com:443/a__b/c--d/e.f",
            "my-registry.example.com:443",
            "a__b/c--d/e.f",
            "latest",
            None,
        ),
        ("Registry.Example.com/app", "Registry.Example.com", "app", "latest", None),
        ("foo_bar", "docker.io", "library/foo_bar", "latest", None),
        ("a" * 64 + ":" + "T" * 128, "docker.io", "library/" + "a" * 64, "T" * 128, None),
    ],
)
def test_parse_reference_table(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_reference(text)
    assert ref == Reference(registry, repository, tag, digest)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("Alpine", "must be lowercase"),
        ("docker.io/Library/alpine", "must be lowercase"),
        ("alpine:", "malformed tag"),
        ("alpine:-dash", "malformed tag"),
        ("alpine:" + "x" * 129, "malformed tag"),
        ("alpine@sha256:abc", "malformed digest"),
        ("alpine@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("alpine@sha256:" + "A" * 64, "lower-case hex"),
        ("alpine@", "malformed digest"),
        ("a//b", "malformed repository"),
        ("/alpine", "malformed repository"),
        ("alpine/", "malformed repository"),
        ("-alpine", "malformed repository"),
        ("alpine-", "malformed repository"),
        ("a___b", "malformed repository"),
        ("a..b", "malformed repository"),
        ("localhost:/app", "malformed registry"),
        ("-bad.example.com/app", "malformed registry"),
        ("bad_host.example.com/app", "malformed registry"),
        ("[::1/app", "malformed registry"),
        ("example.com:port/app", "malformed registry"),
        ("a b", "malformed"),
        ("ghcr.io/" + "a" * 250, "longer than 255"),
        ("x" * 5000, "longer than 4096"),
    ],
)
def test_parse_reference_rejects(text: str, reason: str) -> None:
    with pytest.raises(InvalidReference) as e:
        parse_reference(text)
    msg = str(e.value)
    assert reason in msg
    assert "\n" not in msg
    assert msg.startswith("invalid reference")


def test_name_limit_counts_the_whole_name() -> None:
    # 255 characters in all is fine, 256 is not (distribution's NameTotalLengthMax).
    ok = "ghcr.io/" + "a" * (255 - len("ghcr.io/"))
    assert parse_reference(ok).repository == "a" * 247
    with pytest.raises(InvalidReference, match="longer than 255"):
        parse_reference(ok + "a")


def test_normalized_round_trips() -> None:
    assert parse_reference("alpine").normalized == "docker.io/library/alpine:latest"
    both = parse_reference(f"ghcr.io/o/a:1@{D}")
    assert both.normalized == f"ghcr.io/o/a:1@{D}"
    assert parse_reference(both.normalized) == both
    assert str(parse_reference(f"a@{D}")) == f"docker.io/library/a@{D}"


def test_ref_prefers_the_digest() -> None:
    assert parse_reference(f"a:1@{D}").ref == D
    assert parse_reference("a:1").ref == "1"


def test_api_host() -> None:
    assert parse_reference("alpine").api_host == "registry-1.docker.io"
    assert parse_reference("ghcr.io/a/b").api_host == "ghcr.io"
    assert api_host("127.0.0.1:5000") == "127.0.0.1:5000"


_component = st.from_regex(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+){0,2}", fullmatch=True)
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_host = st.sampled_from(["ghcr.io", "localhost:5000", "127.0.0.1:80", "[::1]:5000", "a.b.c"])


@given(
    host=_host,
    parts=st.lists(_component, min_size=1, max_size=4),
    tag=st.none() | _tag,
    digest=st.none() | st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True),
)
def test_valid_references_parse_and_round_trip(
    host: str, parts: list[str], tag: str | None, digest: str | None
) -> None:
    text = f"{host}/{'/'.join(parts)}"
    if tag:
        text += f":{tag}"
    if digest:
        text += f"@{digest}"
    ref = parse_reference(text)
    assert ref.registry == host
    assert ref.repository == "/".join(parts)
    assert ref.digest == digest
    assert ref.tag == (tag if tag or digest else "latest")
    assert parse_reference(ref.normalized) == ref


@given(st.text(max_size=300))
def test_arbitrary_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        ref = parse_reference(text)
    except InvalidReference as e:
        assert "\n" not in str(e)
        return
    except ShoalError as e:  # pragma: no cover - would be a wrong error type
        pytest.fail(f"wrong error type {type(e).__name__}: {e}")
    assert parse_reference(ref.normalized) == ref


@given(st.text(alphabet="abc:/@.-_[]0123456789ABC", max_size=80))
def test_grammar_alphabet_parses_or_fails_cleanly(text: str) -> None:
    try:
        ref = parse_reference(text)
    except InvalidReference as e:
        assert "\n" not in str(e)
        return
    assert ref.repository == ref.repository.lower()
    assert parse_reference(ref.normalized) == ref


@pytest.mark.parametrize(
    ("url", "registry"),
    [
        ("https://ghcr.io", "ghcr.io"),
        ("https://GHCR.io:443/", "ghcr.io"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("http://localhost:80", "localhost"),
        ("https://registry.example.com:8443", "registry.example.com:8443"),
        ("localhost:5000", "localhost:5000"),
        ("https://registry-1.docker.io", "docker.io"),
        ("https://index.docker.io", "docker.io"),
        ("http://[::1]:5000", "[::1]:5000"),
    ],
)
def test_registry_of_url_names_it_as_references_do(url: str, registry: str) -> None:
    assert registry_of_url(url) == registry
    if "://" in url and "docker.io" not in url:
        assert parse_reference(f"{registry}/team/app:v1").registry == registry
