"""Docker config credentials: auths, credHelpers, credsStore, Docker Hub aliases, secrecy."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.errors import AuthError, ConfigError
from shoal.oci.credentials import (
    ANONYMOUS,
    CredentialStore,
    config_key,
    default_config_path,
    explicit,
    server_url,
)

SECRET = "s3cr3t-Pa55"


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _config(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    return path


def _helper(bin_dir: Path, name: str, body: str) -> Path:
    """A real docker-credential-<name> executable: a shell script answering `get`."""
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / f"docker-credential-{name}"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", f"{d}{os.pathsep}{os.environ.get('PATH', '')}")
    return d


def test_auths_base64_auth(tmp_path: Path) -> None:
    cfg = _config(tmp_path, {"auths": {"ghcr.io": {"auth": _b64(f"bob:{SECRET}")}}})
    creds = CredentialStore(cfg).get("ghcr.io")
    assert creds.username == "bob"
    assert creds.password is not None and creds.password.get_secret_value() == SECRET
    assert creds.has_basic and not creds.anonymous


def test_password_with_colons_splits_on_the_first(tmp_path: Path) -> None:
    cfg = _config(tmp_path, {"auths": {"r.io": {"auth": _b64("u:a:b:c")}}})
    creds = CredentialStore(cfg).get("r.io")
    assert creds.username == "u"
    assert creds.password is not None and creds.password.get_secret_value() == "a:b:c"


def test_auths_username_password_and_tokens(tmp_path: Path) -> None:
    cfg = _config(
        tmp_path,
        {
            "auths": {
                "https://r1.example.com": {"username": "u1", "password": "p1"},
                "r2.example.com:5000": {"identitytoken": "refresh-xyz", "auth": ""},
                "r3.example.com": {"registrytoken": "bearer-abc"},
            }
        },
    )
    store = CredentialStore(cfg)
    r1 = store.get("r1.example.com")
    assert (r1.username, r1.password and r1.password.get_secret_value()) == ("u1", "p1")
    r2 = store.get("r2.example.com:5000")
    assert r2.identity_token is not None
    assert r2.identity_token.get_secret_value() == "refresh-xyz"
    r3 = store.get("r3.example.com")
    assert r3.registry_token is not None
    assert r3.registry_token.get_secret_value() == "bearer-abc"
    assert store.get("other.example.com") is ANONYMOUS


@pytest.mark.parametrize("name", ["docker.io", "index.docker.io", "registry-1.docker.io"])
def test_docker_hub_legacy_key(tmp_path: Path, name: str) -> None:
    cfg = _config(tmp_path, {"auths": {"https://index.docker.io/v1/": {"auth": _b64("hub:pw")}}})
    assert CredentialStore(cfg).get(name).username == "hub"


def test_config_key_normalisation() -> None:
    assert config_key("https://index.docker.io/v1/") == "docker.io"
    assert config_key("http://GHCR.io/v2/") == "ghcr.io"
    assert config_key("127.0.0.1:5000") == "127.0.0.1:5000"
    assert server_url("docker.io") == "https://index.docker.io/v1/"
    assert server_url("ghcr.io") == "ghcr.io"


def test_missing_config_is_anonymous(tmp_path: Path) -> None:
    assert CredentialStore(tmp_path / "nope.json").get("ghcr.io") is ANONYMOUS


def test_default_path_honours_docker_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    assert default_config_path() == tmp_path / "dc" / "config.json"
    assert default_config_path(tmp_path) == tmp_path / "config.json"  # a directory
    assert default_config_path(tmp_path / "x.json") == tmp_path / "x.json"
    monkeypatch.delenv("DOCKER_CONFIG")
    assert default_config_path() == Path.home() / ".docker" / "config.json"


def test_cred_helper_per_host(tmp_path: Path, bin_dir: Path) -> None:
    log = tmp_path / "helper.log"
    _helper(
        bin_dir,
        "fake",
        f'echo "$1" >> {log}\ncat >> {log}\necho >> {log}\n'
        f'echo \'{{"ServerURL":"ghcr.io","Username":"helped","Secret":"{SECRET}"}}\'\n',
    )
    cfg = _config(
        tmp_path,
        {"credHelpers": {"ghcr.io": "fake"}, "auths": {"ghcr.io": {"auth": _b64("file:pw")}}},
    )
    creds = CredentialStore(cfg).get("ghcr.io")
    assert creds.username == "helped"
    assert creds.password is not None and creds.password.get_secret_value() == SECRET
    assert creds.source == "helper fake"
    assert log.read_text() == "get\nghcr.io\n"


def test_creds_store_asks_with_the_docker_hub_url(tmp_path: Path, bin_dir: Path) -> None:
    log = tmp_path / "helper.log"
    _helper(
        bin_dir,
        "store",
        f'cat > {log}\necho \'{{"Username":"<token>","Secret":"refresh-123"}}\'\n',
    )
    cfg = _config(tmp_path, {"credsStore": "store"})
    creds = CredentialStore(cfg).get("docker.io")
    assert log.read_text() == "https://index.docker.io/v1/"
    assert creds.username is None
    assert creds.identity_token is not None
    assert creds.identity_token.get_secret_value() == "refresh-123"


def test_helper_not_found_falls_back_to_auths(tmp_path: Path, bin_dir: Path) -> None:
    _helper(bin_dir, "empty", "echo 'credentials not found in native keychain'\nexit 1\n")
    cfg = _config(tmp_path, {"credsStore": "empty", "auths": {"r.io": {"auth": _b64("a:b")}}})
    store = CredentialStore(cfg)
    assert store.get("r.io").username == "a"
    assert store.get("elsewhere.io") is ANONYMOUS


def test_helper_failure_does_not_leak_output(tmp_path: Path, bin_dir: Path) -> None:
    _helper(bin_dir, "broken", f"echo 'oops {SECRET}'\nexit 3\n")
    cfg = _config(tmp_path, {"credHelpers": {"r.io": "broken"}})
    with pytest.raises(AuthError, match="exit code 3") as e:
        CredentialStore(cfg).get("r.io")
    assert SECRET not in str(e.value)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("echo not-json\n", "not JSON"),
        ("echo '[1]'\n", "not a JSON object"),
        ("echo '{\"Username\": 1}'\n", "Username"),
    ],
)
def test_helper_bad_output(tmp_path: Path, bin_dir: Path, body: str, reason: str) -> None:
    _helper(bin_dir, "bad", body)
    cfg = _config(tmp_path, {"credHelpers": {"r.io": "bad"}})
    with pytest.raises(AuthError, match=reason):
        CredentialStore(cfg).get("r.io")


def test_helper_missing_from_path(tmp_path: Path, bin_dir: Path) -> None:
    cfg = _config(tmp_path, {"credHelpers": {"r.io": "nonexistent-helper"}})
    with pytest.raises(AuthError, match=r"docker-credential-nonexistent-helper.*not on PATH"):
        CredentialStore(cfg).get("r.io")


def test_helper_timeout(tmp_path: Path, bin_dir: Path) -> None:
    _helper(bin_dir, "slow", "exec sleep 30\n")
    cfg = _config(tmp_path, {"credHelpers": {"r.io": "slow"}})
    with pytest.raises(AuthError, match="no answer"):
        CredentialStore(cfg, helper_timeout=0.2).get("r.io")


def test_explicit_credentials_override_the_config(tmp_path: Path) -> None:
    cfg = _config(tmp_path, {"auths": {"r.io": {"auth": _b64("file:pw")}}})
    mine = explicit("me", SECRET)
    assert mine is not None
    store = CredentialStore(cfg, overrides={"r.io": mine})
    assert store.get("r.io").username == "me"
    assert explicit(None, None) is None
    with pytest.raises(ConfigError, match="both"):
        explicit("me", None)


def test_secrets_never_in_repr(tmp_path: Path) -> None:
    cfg = _config(
        tmp_path, {"auths": {"r.io": {"auth": _b64(f"u:{SECRET}"), "identitytoken": SECRET}}}
    )
    store = CredentialStore(cfg)
    creds = store.get("r.io")
    assert SECRET not in repr(creds)
    assert SECRET not in str(creds)
    assert SECRET not in repr(store)


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "not an object"),
        ('{"auths": []}', "'auths' is not an object"),
        ('{"auths": {"r.io": "x"}}', "is not an object"),
        ('{"auths": {"r.io": {"auth": "!!!"}}}', "not base64"),
        ('{"auths": {"r.io": {"auth": "' + _b64("nocolon") + '"}}}', "not base64"),
        ('{"auths": {"r.io": {"username": 5}}}', "not a string"),
        ('{"credsStore": 7}', "bad helper name"),
    ],
)
def test_malformed_config(tmp_path: Path, doc: str, reason: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(doc)
    with pytest.raises(ConfigError, match=reason) as e:
        CredentialStore(path).get("r.io")
    assert "\n" not in str(e.value)


def test_bad_auth_does_not_echo_the_value(tmp_path: Path) -> None:
    path = _config(tmp_path, {"auths": {"r.io": {"auth": SECRET + "!"}}})
    with pytest.raises(ConfigError) as e:
        CredentialStore(path).get("r.io")
    assert SECRET not in str(e.value)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(data=st.binary(max_size=400))
def test_fuzz_config_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.json"
    path.write_bytes(data)
    try:
        creds = CredentialStore(path).get("r.io")
    except ConfigError as e:
        assert "\n" not in str(e)
    else:
        assert creds is not None


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=10), kids, max_size=3)
    ),
    max_leaves=10,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(entry=_json)
def test_fuzz_auth_entries(tmp_path: Path, entry: object) -> None:
    path = _config(tmp_path, {"auths": {"r.io": entry}})
    try:
        CredentialStore(path).get("r.io")
    except ConfigError as e:
        assert "\n" not in str(e)
