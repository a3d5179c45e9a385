"""host_platform / select_manifests: containerd-style matching over real index shapes."""

from __future__ import annotations

import json
import platform as stdlib_platform
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shoal.errors import ConfigError, NotFound
from shoal.model import Platform, sha256_digest
from shoal.oci import platform as plat
from shoal.oci.manifest import parse_manifest
from shoal.oci.platform import host_platform, normalize, select_manifests
from shoal.oci.types import OCI_INDEX, OCI_MANIFEST, Descriptor, Index

SetMachine = Callable[[str], None]
DATA = Path(__file__).parent / "testdata" / "manifests"


def real_index(name: str) -> Index:
    data = (DATA / name).read_bytes()
    idx = parse_manifest(data, sha256_digest(data), None, where=name)
    assert isinstance(idx, Index)
    return idx


def make_index(*platforms: str | None, media: str = OCI_MANIFEST) -> Index:
    descs = tuple(
        Descriptor(
            media_type=media,
            digest=f"sha256:{i:064x}",
            size=1,
            platform=Platform.parse(p) if p else None,
        )
        for i, p in enumerate(platforms)
    )
    return Index(digest="sha256:" + "f" * 64, media_type=OCI_INDEX, manifests=descs)


def chosen(index: Index, selector: str | None) -> list[str]:
    return [str(d.platform) for d in select_manifests(index, selector)]


@pytest.fixture
def on_machine(monkeypatch: pytest.MonkeyPatch) -> SetMachine:
    def set_machine(name: str) -> None:
        monkeypatch.setattr(stdlib_platform, "machine", lambda: name)

    return set_machine


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", "linux/amd64"),
        ("AMD64", "linux/amd64"),
        ("aarch64", "linux/arm64/v8"),
        ("arm64", "linux/arm64/v8"),
        ("armv7l", "linux/arm/v7"),
        ("armv6l", "linux/arm/v6"),
        ("i686", "linux/386"),
        ("ppc64le", "linux/ppc64le"),
        ("s390x", "linux/s390x"),
        ("riscv64", "linux/riscv64"),
        ("loongarch64", "linux/loong64"),
    ],
)
def test_host_platform_uses_go_names(on_machine: SetMachine, machine: str, expected: str) -> None:
    on_machine(machine)
    assert str(host_platform()) == expected


def test_default_selects_host_from_docker_manifest_list(on_machine: SetMachine) -> None:
    idx = real_index("alpine-docker-list.json")
    on_machine("x86_64")
    assert chosen(idx, None) == ["linux/amd64"]
    on_machine("aarch64")
    assert chosen(idx, None) == ["linux/arm64/v8"]
    on_machine("armv7l")
    assert chosen(idx, None) == ["linux/arm/v7"]
    on_machine("armv6l")
    assert chosen(idx, None) == ["linux/arm/v6"]


def test_arm_v7_host_falls_back_to_v6_image() -> None:
    idx = make_index("linux/arm/v5", "linux/arm/v6", "linux/amd64")
    with pytest.raises(NotFound):  # an explicit variant is exact: v7 only
        select_manifests(idx, "linux/arm/v7")
    # without a variant the arm default (v7) host runs the newest older variant
    assert chosen(idx, "linux/arm") == ["linux/arm/v6"]


def test_arm64_without_variant_means_v8() -> None:
    idx = make_index("linux/amd64", "linux/arm64")
    assert chosen(idx, "linux/arm64/v8") == ["linux/arm64"]
    idx = make_index("linux/arm64/v8")
    assert chosen(idx, "linux/arm64") == ["linux/arm64/v8"]


def test_amd64_prefers_most_portable_level(on_machine: SetMachine) -> None:
    on_machine("x86_64")
    idx = make_index("linux/amd64/v3", "linux/amd64/v2", "linux/arm64")
    assert chosen(idx, None) == ["linux/amd64/v2"]
    idx = make_index("linux/amd64/v3", "linux/amd64")
    assert chosen(idx, "linux/amd64") == ["linux/amd64"]
    assert chosen(idx, "linux/amd64/v3") == ["linux/amd64/v3"]
    assert chosen(idx, "linux/amd64/v1") == ["linux/amd64"]


def test_attestations_are_never_selected(on_machine: SetMachine) -> None:
    idx = real_index("buildkit-oci-index-attestations.json")
    assert chosen(idx, "all") == ["linux/amd64", "linux/arm/v7", "linux/arm64"]
    on_machine("x86_64")
    assert chosen(idx, None) == ["linux/amd64"]
    on_machine("armv6l")  # an arm/v6 host cannot run the v7 image
    with pytest.raises(NotFound, match=r"available: linux/amd64, linux/arm/v7, linux/arm64$"):
        select_manifests(idx, None)
    with pytest.raises(NotFound):
        select_manifests(idx, "unknown/unknown")


def test_all_skips_nested_indexes_and_artifacts() -> None:
    idx = make_index("linux/amd64", "linux/arm64")
    extra = Descriptor(OCI_INDEX, "sha256:" + "e" * 64, 1, Platform("linux", "amd64"))
    idx = Index(idx.digest, idx.media_type, (*idx.manifests, extra))
    assert chosen(idx, "ALL") == ["linux/amd64", "linux/arm64"]


def test_all_with_only_attestations_is_not_found() -> None:
    idx = make_index("unknown/unknown")
    with pytest.raises(NotFound, match="no image manifests"):
        select_manifests(idx, "all")


def test_no_match_lists_available_platforms() -> None:
    idx = real_index("alpine-docker-list.json")
    with pytest.raises(NotFound) as exc:
        select_manifests(idx, "windows/amd64")
    msg = str(exc.value)
    assert "no manifest for platform windows/amd64" in msg
    assert "available: linux/386, linux/amd64, linux/arm/v6, linux/arm/v7" in msg
    assert "\n" not in msg


def test_descriptor_without_platform_is_a_last_resort() -> None:
    idx = make_index(None, "linux/arm64")
    assert select_manifests(idx, "linux/arm64")[0].platform == Platform("linux", "arm64")
    assert select_manifests(idx, "linux/amd64")[0].platform is None


def test_windows_os_version_must_match_when_asked() -> None:
    descs = (
        Descriptor(
            OCI_MANIFEST,
            "sha256:" + "1" * 64,
            1,
            Platform("windows", "amd64", None, "10.0.17763.1"),
        ),
        Descriptor(
            OCI_MANIFEST,
            "sha256:" + "2" * 64,
            1,
            Platform("windows", "amd64", None, "10.0.20348.1"),
        ),
    )
    idx = Index("sha256:" + "3" * 64, OCI_INDEX, descs)
    assert select_manifests(idx, "windows/amd64")[0].digest == descs[0].digest


@pytest.mark.parametrize("bad", ["linux", "linux/", "/amd64", "a/b/c/d", ""])
def test_invalid_selector(bad: str) -> None:
    with pytest.raises(ConfigError, match="invalid platform"):
        select_manifests(make_index("linux/amd64"), bad)


def test_normalize_aliases() -> None:
    assert normalize(Platform("Linux", "x86_64")) == Platform("linux", "amd64")
    assert normalize(Platform("linux", "armhf")) == Platform("linux", "arm", "v7")
    assert normalize(Platform("linux", "arm", "7")) == Platform("linux", "arm", "v7")
    assert normalize(Platform("linux", "aarch64", "8")) == Platform("linux", "arm64", "v8")


def test_real_index_roundtrip_json_keys() -> None:
    # The same index serialised without mediaType (allowed by OCI) selects the same.
    data = json.loads((DATA / "alpine-docker-list.json").read_text())
    del data["mediaType"]
    body = json.dumps(data).encode()
    idx = parse_manifest(body, sha256_digest(body), None, where="x")
    assert isinstance(idx, Index)
    assert chosen(idx, "linux/s390x") == ["linux/s390x"]


platforms = st.builds(
    Platform,
    os=st.sampled_from(["linux", "windows", "unknown", "Linux"]),
    architecture=st.sampled_from(["amd64", "arm64", "arm", "386", "unknown", "x86_64", "armhf"]),
    variant=st.sampled_from([None, "v5", "v6", "v7", "v8", "v2", "v3", "7", "weird"]),
)


@given(
    entries=st.lists(platforms | st.none(), max_size=8),
    selector=st.none() | st.just("all") | platforms.map(str),
)
def test_fuzz_selection_returns_members_or_not_found(
    entries: list[Platform | None], selector: str | None
) -> None:
    descs = tuple(Descriptor(OCI_MANIFEST, f"sha256:{i:064x}", 1, p) for i, p in enumerate(entries))
    idx = Index("sha256:" + "f" * 64, OCI_INDEX, descs)
    try:
        got = select_manifests(idx, selector)
    except NotFound as e:
        assert "\n" not in str(e)
    else:
        assert got
        assert all(d in descs and not plat.is_attestation(d) for d in got)
        if selector != "all":
            assert len(got) == 1
