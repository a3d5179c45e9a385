"""The registry client and RegistrySource against the real CNCF Distribution registry:
anonymous, htpasswd Basic auth and Docker token auth (with tests/support/tokenserver.py)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shoal.config import Settings
from shoal.errors import AuthError, DigestMismatch, NotFound
from shoal.oci.client import RegistryClient
from shoal.oci.credentials import explicit
from shoal.oci.platform import host_platform
from shoal.oci.registry_source import RegistrySource
from shoal.oci.types import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from tests.support.images import BuiltImage, OciLayoutBuilder, push
from tests.support.registry import Registry, start_registry
from tests.support.tokenserver import TokenServer

pytestmark = pytest.mark.integration

USER, PASSWORD = "alice", "wonderland-42"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build(tmp: Path, tag: str, *, salt: str, **kw: object) -> tuple[OciLayoutBuilder, BuiltImage]:
    """An image with two layers whose content is unique to `salt` (blobs are shared by
    digest across the session's registry, and some tests corrupt theirs)."""
    layout = OciLayoutBuilder(tmp / f"layout-{salt}")
    img = layout.add_image(
        [
            {"/etc/os-release": b"ID=debian\nVERSION_ID=12\n", "/salt": salt.encode()},
            {"/usr/share/doc/x": os.urandom(64) + salt.encode()},
        ],
        tag=tag,
        **kw,
    )
    return layout, img


def blob_data(layout: OciLayoutBuilder, digest: str) -> bytes:
    return (layout.path / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


# -- anonymous registry ---------------------------------------------------------------------


def test_resolve_and_fetch_single_manifest(registry: Registry, tmp_path: Path) -> None:
    layout, img = build(tmp_path, "v1", salt="single")
    push(layout.path, "v1", f"{registry.host}/ocinet/single:v1")
    src = RegistrySource(f"{registry.host}/ocinet/single:v1", Settings())
    try:
        assert src.reference == f"{registry.host}/ocinet/single:v1"
        (res,) = src.resolve(None)
        assert res.manifest.digest == img.manifest_digest
        assert res.manifest.media_type == OCI_MANIFEST
        assert res.index_digest is None
        assert res.config.diff_ids == tuple(img.diff_ids)
        assert [layer.digest for layer in res.manifest.layers] == img.layer_digests
        for layer in res.manifest.layers:
            dest = tmp_path / layer.digest.replace(":", "_")
            src.fetch_blob(layer, dest)
            assert dest.read_bytes() == blob_data(layout, layer.digest)
    finally:
        src.close()


def test_resolve_by_digest(registry: Registry, tmp_path: Path) -> None:
    layout, img = build(tmp_path, "v1", salt="bydigest")
    push(layout.path, "v1", f"{registry.host}/ocinet/bydigest:v1")
    src = RegistrySource(f"{registry.host}/ocinet/bydigest@{img.manifest_digest}", Settings())
    with src.client:
        (res,) = src.resolve(None)
    assert res.manifest.digest == img.manifest_digest
    assert res.config.digest == img.manifest["config"]["digest"]


def test_docker_schema2_manifest(registry: Registry, tmp_path: Path) -> None:
    layout, img = build(tmp_path, "v1", salt="v2s2")
    push(layout.path, "v1", f"{registry.host}/ocinet/v2s2:v1", fmt="v2s2")
    src = RegistrySource(f"{registry.host}/ocinet/v2s2:v1", Settings())
    with src.client:
        (res,) = src.resolve(None)
        data, media_type, digest = src.client.get_manifest("ocinet/v2s2", "v1")
        head = src.client.head_manifest("ocinet/v2s2", "v1")
    assert head == (digest, DOCKER_MANIFEST, len(data))
    assert media_type == DOCKER_MANIFEST
    assert res.manifest.media_type == DOCKER_MANIFEST
    assert res.manifest.digest == digest == sha(data)
    assert res.config.diff_ids == tuple(img.diff_ids)


def test_index_platform_selection(registry: Registry, tmp_path: Path) -> None:
    layout = OciLayoutBuilder(tmp_path / "multi")
    amd = layout.build_image([{"/arch": b"amd64"}], architecture="amd64")
    arm = layout.build_image([{"/arch": b"arm64"}], architecture="arm64", variant="v8")
    index_digest = layout.add_index([amd, arm], tag="multi")
    push(layout.path, "multi", f"{registry.host}/ocinet/multi:1", all_platforms=True)

    src = RegistrySource(f"{registry.host}/ocinet/multi:1", Settings())
    with src.client:
        _, media_type, digest = src.client.get_manifest("ocinet/multi", "1")
        assert (media_type, digest) == (OCI_INDEX, index_digest)

        (arm_res,) = src.resolve("linux/arm64")
        assert arm_res.manifest.digest == arm.manifest_digest
        assert arm_res.index_digest == index_digest
        assert arm_res.config.platform is not None
        assert arm_res.config.platform.architecture == "arm64"

        both = src.resolve("all")
        assert {r.manifest.digest for r in both} == {amd.manifest_digest, arm.manifest_digest}

        if host_platform().architecture in ("amd64", "arm64"):
            (default,) = src.resolve(None)
            want = amd if host_platform().architecture == "amd64" else arm
            assert default.manifest.digest == want.manifest_digest

        with pytest.raises(NotFound, match="linux/s390x"):
            src.resolve("linux/s390x")


def test_single_platform_image_for_another_platform(registry: Registry, tmp_path: Path) -> None:
    layout, _ = build(tmp_path, "v1", salt="plat", architecture="arm64", variant="v8")
    push(layout.path, "v1", f"{registry.host}/ocinet/plat:v1")
    src = RegistrySource(f"{registry.host}/ocinet/plat:v1", Settings())
    with src.client:
        assert len(src.resolve("linux/arm64")) == 1
        assert len(src.resolve(None)) == 1  # no selector: the image as it is
        with pytest.raises(NotFound, match="image is for linux/arm64/v8, not linux/amd64"):
            src.resolve("linux/amd64")


def test_not_found_names_the_registry_error(registry: Registry, tmp_path: Path) -> None:
    layout, _ = build(tmp_path, "v1", salt="nf")
    push(layout.path, "v1", f"{registry.host}/ocinet/nf:v1")
    with RegistryClient(registry.host) as c:
        with pytest.raises(NotFound, match=r"ocinet/nf:nope: not found \(MANIFEST_UNKNOWN"):
            c.get_manifest("ocinet/nf", "nope")
        with pytest.raises(NotFound, match=r"ocinet/absent: not found \(NAME_UNKNOWN"):
            list(c.tags("ocinet/absent"))


def test_tags_and_catalog_pagination(registry: Registry, tmp_path: Path) -> None:
    layout, _ = build(tmp_path, "t0", salt="tags")
    tags = [f"t{i}" for i in range(5)]
    for t in tags:
        push(layout.path, "t0", f"{registry.host}/ocinet/tags:{t}")
    with RegistryClient(registry.host) as c:
        c.ping()
        paged = list(c.tags("ocinet/tags", page_size=2))
        # Distribution 2.8 lists in storage order, not sorted; every tag comes exactly once
        assert sorted(paged) == tags
        assert list(c.tags("ocinet/tags")) == paged
        repos = list(c.catalog(page_size=1))
    assert "ocinet/tags" in repos
    assert repos == sorted(set(repos))


def test_corrupted_blob_is_rejected(registry: Registry, tmp_path: Path) -> None:
    layout, img = build(tmp_path, "v1", salt="corrupt")
    push(layout.path, "v1", f"{registry.host}/ocinet/corrupt:v1")
    victim = img.layer_digests[1]
    hexd = victim.split(":")[1]
    stored = registry.root / "data/docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content: only the digest can tell
    stored.write_bytes(bytes(data))

    src = RegistrySource(f"{registry.host}/ocinet/corrupt:v1", Settings())
    with src.client:
        (res,) = src.resolve(None)
        dest = tmp_path / "layer"
        with pytest.raises(DigestMismatch, match=f"ocinet/corrupt@{victim}: content hashes to"):
            src.fetch_blob(res.manifest.layers[1], dest)
    assert not dest.exists()


# -- htpasswd (Basic) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def basic_image(auth_registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    layout, img = build(tmp_path_factory.mktemp("basic"), "v1", salt="basic")
    push(layout.path, "v1", f"{auth_registry.host}/ocinet/basic:v1", creds=f"{USER}:{PASSWORD}")
    return img


def test_basic_auth_with_explicit_credentials(
    auth_registry: Registry, basic_image: BuiltImage
) -> None:
    src = RegistrySource(
        f"{auth_registry.host}/ocinet/basic:v1", Settings(), username=USER, password=PASSWORD
    )
    with src.client:
        (res,) = src.resolve(None)
        src.client.ping()
    assert res.manifest.digest == basic_image.manifest_digest


def test_basic_auth_refusals(auth_registry: Registry, basic_image: BuiltImage) -> None:
    anon = RegistrySource(f"{auth_registry.host}/ocinet/basic:v1", Settings())
    with anon.client, pytest.raises(AuthError, match="authentication required, no credentials"):
        anon.resolve(None)
    bad = RegistrySource(
        f"{auth_registry.host}/ocinet/basic:v1", Settings(), username=USER, password="wrong-pw"
    )
    with bad.client, pytest.raises(AuthError, match=r"access denied \(HTTP 401\)") as e:
        bad.resolve(None)
    assert "wrong-pw" not in str(e.value)


def _write_docker_config(doc: dict[str, object]) -> Path:
    path = Path(os.environ["DOCKER_CONFIG"]) / "config.json"  # set per test by conftest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def test_basic_auth_from_docker_config(auth_registry: Registry, basic_image: BuiltImage) -> None:
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    _write_docker_config({"auths": {f"http://{auth_registry.host}": {"auth": auth}}})
    src = RegistrySource(f"{auth_registry.host}/ocinet/basic:v1", Settings())
    with src.client:
        (res,) = src.resolve(None)
    assert res.manifest.digest == basic_image.manifest_digest


def test_basic_auth_from_credential_helper(
    auth_registry: Registry,
    basic_image: BuiltImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-shoaltest"
    helper.write_text(
        "#!/bin/sh\n"
        f'[ "$(cat)" = "{auth_registry.host}" ] || {{ echo "credentials not found"; exit 1; }}\n'
        f'echo \'{{"Username":"{USER}","Secret":"{PASSWORD}"}}\'\n'
    )
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    _write_docker_config({"credHelpers": {auth_registry.host: "shoaltest"}})
    src = RegistrySource(f"{auth_registry.host}/ocinet/basic:v1", Settings())
    with src.client:
        (res,) = src.resolve(None)
    assert res.manifest.digest == basic_image.manifest_digest


# -- Docker token auth ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def token_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TokenServer, Registry]]:
    root = tmp_path_factory.mktemp("token-registry")
    ts = TokenServer.start(root / "tokens", users={USER: PASSWORD})
    reg = start_registry(root / "registry", token=ts.registry_config())
    try:
        yield ts, reg
    finally:
        reg.stop()
        ts.stop()


@pytest.fixture(scope="module")
def token_image(
    token_setup: tuple[TokenServer, Registry], tmp_path_factory: pytest.TempPathFactory
) -> tuple[OciLayoutBuilder, BuiltImage]:
    _, reg = token_setup
    layout, img = build(tmp_path_factory.mktemp("tok"), "v1", salt="token")
    push(layout.path, "v1", f"{reg.host}/ocinet/tok:v1", creds=f"{USER}:{PASSWORD}")
    return layout, img


def test_token_flow_pull(
    token_setup: tuple[TokenServer, Registry],
    token_image: tuple[OciLayoutBuilder, BuiltImage],
    tmp_path: Path,
) -> None:
    ts, reg = token_setup
    layout, img = token_image
    assert httpx.get(f"{reg.url}/v2/").status_code == 401
    before = len(ts.grants)
    src = RegistrySource(f"{reg.host}/ocinet/tok:v1", Settings(), username=USER, password=PASSWORD)
    with src.client:
        (res,) = src.resolve(None)
        for layer in res.manifest.layers:
            dest = tmp_path / layer.digest.split(":")[1]
            src.fetch_blob(layer, dest)
            assert dest.read_bytes() == blob_data(layout, layer.digest)
    assert res.manifest.digest == img.manifest_digest
    mine = ts.grants[before:]
    # one token for the repository, reused for the manifest, the config and both layers
    assert [(g.method, g.account, g.scopes) for g in mine] == [
        ("GET", USER, ["repository:ocinet/tok:pull"])
    ]


def test_token_flow_catalog_and_tags(
    token_setup: tuple[TokenServer, Registry], token_image: tuple[OciLayoutBuilder, BuiltImage]
) -> None:
    _, reg = token_setup
    creds = explicit(USER, PASSWORD)
    assert creds is not None
    with RegistryClient(reg.host, credentials=creds) as c:
        c.ping()
        assert "ocinet/tok" in list(c.catalog())
        assert list(c.tags("ocinet/tok")) == ["v1"]


def test_token_flow_refusals(
    token_setup: tuple[TokenServer, Registry], token_image: tuple[OciLayoutBuilder, BuiltImage]
) -> None:
    _, reg = token_setup
    anon = RegistrySource(f"{reg.host}/ocinet/tok:v1", Settings())
    # anonymous: the token server hands out a token without access; the registry refuses it
    with anon.client, pytest.raises(AuthError, match=r"ocinet/tok:v1: access denied \(HTTP 401\)"):
        anon.resolve(None)
    bad = RegistrySource(f"{reg.host}/ocinet/tok:v1", Settings(), username=USER, password="nope-x")
    with (
        bad.client,
        pytest.raises(
            AuthError, match=r"token endpoint '127.0.0.1:\d+' refused the credentials"
        ) as e,
    ):
        bad.resolve(None)
    assert "nope-x" not in str(e.value)


def test_token_flow_anonymous_pull(
    token_setup: tuple[TokenServer, Registry], token_image: tuple[OciLayoutBuilder, BuiltImage]
) -> None:
    ts, reg = token_setup
    ts.anonymous_pull = True
    try:
        src = RegistrySource(f"{reg.host}/ocinet/tok:v1", Settings())
        with src.client:
            (res,) = src.resolve(None)
    finally:
        ts.anonymous_pull = False
    assert res.manifest.digest == token_image[1].manifest_digest
    assert ts.grants[-1].account is None


def test_token_flow_with_identity_token(
    token_setup: tuple[TokenServer, Registry], token_image: tuple[OciLayoutBuilder, BuiltImage]
) -> None:
    ts, reg = token_setup
    # what `docker login` stores for a registry that hands out refresh tokens
    resp = httpx.post(
        ts.realm,
        data={
            "grant_type": "password",
            "username": USER,
            "password": PASSWORD,
            "service": "shoal-test-registry",
            "client_id": "docker",
            "access_type": "offline",
        },
    )
    refresh = resp.json()["refresh_token"]
    _write_docker_config({"auths": {reg.host: {"auth": "", "identitytoken": refresh}}})
    src = RegistrySource(f"{reg.host}/ocinet/tok:v1", Settings())
    with src.client:
        (res,) = src.resolve(None)
    assert res.manifest.digest == token_image[1].manifest_digest
    last = ts.grants[-1]
    assert (last.method, last.grant_type, last.account) == ("POST", "refresh_token", USER)
    assert last.scopes == ["repository:ocinet/tok:pull"]


# -- a dropped download, resumed against the real registry ------------------------------------


class CuttingProxy:
    """A TCP proxy to the registry that drops its first connection after `cut` bytes of the
    response, the way a flaky network does; later connections pass through untouched."""

    def __init__(self, upstream_port: int, cut: int) -> None:
        self.upstream_port, self.cut = upstream_port, cut
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            limit = self.cut if self.connections == 1 else None
            threading.Thread(target=self._handle, args=(client, limit), daemon=True).start()

    def _handle(self, client: socket.socket, limit: int | None) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))

        def pump_requests() -> None:
            try:
                while data := client.recv(65536):
                    self.requests.append(data)
                    upstream.sendall(data)
            except OSError:
                pass

        threading.Thread(target=pump_requests, daemon=True).start()
        sent = 0
        try:
            while data := upstream.recv(65536):
                if limit is not None and sent + len(data) >= limit:
                    client.sendall(data[: limit - sent])
                    break
                client.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for s in (client, upstream):
                # shutdown, not just close: the request pump is blocked in recv on them
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self.sock.close()


def test_dropped_blob_download_resumes_with_range(registry: Registry, tmp_path: Path) -> None:
    layout = OciLayoutBuilder(tmp_path / "big")
    payload = os.urandom(300_000)  # incompressible, so the blob is about this big
    img = layout.add_image([{"/big.bin": payload}], tag="v1")
    push(layout.path, "v1", f"{registry.host}/ocinet/resume:v1")
    src = RegistrySource(f"{registry.host}/ocinet/resume:v1", Settings())
    with src.client:
        (res,) = src.resolve(None)
    layer = res.manifest.layers[0]
    assert layer.digest == img.layer_digests[0]

    proxy = CuttingProxy(registry.port, cut=100_000)
    try:
        with RegistryClient(f"127.0.0.1:{proxy.port}") as c:
            dest = tmp_path / "layer.tar"
            c.get_blob_to("ocinet/resume", layer, dest)
    finally:
        proxy.close()
    assert dest.read_bytes() == blob_data(layout, layer.digest)
    assert proxy.connections == 2
    resumed = b"".join(proxy.requests).decode("latin-1").lower()
    assert resumed.count(f"get /v2/ocinet/resume/blobs/{layer.digest}") == 2
    assert "range: bytes=" in resumed
