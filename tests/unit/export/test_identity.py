"""Stable ids for packages, and how images are named."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.export.identity import id_fragment, image_name, image_purl, package_ids
from shoal.model import ImageInfo, Location, Package, PackageType, Platform

from .strategies import image, package, weird

MUSL = Package(
    name="musl",
    version="1.2.2-r3",
    type=PackageType.APK,
    cataloger="os/apk",
    locations=(Location("/lib/apk/db/installed", "sha256:" + "1" * 64),),
)


def test_ids_are_stable_hex_and_depend_on_location() -> None:
    (a,) = package_ids([MUSL])
    assert package_ids([MUSL]) == [a]
    assert len(a) == 16 and int(a, 16) >= 0
    moved = dataclasses.replace(
        MUSL, locations=(Location("/lib/apk/db/installed", "sha256:" + "2" * 64),)
    )
    assert package_ids([moved]) != [a]


def test_the_same_package_twice_gets_a_counter() -> None:
    a, b, c = package_ids([MUSL, MUSL, MUSL])
    assert b == f"{a}-2" and c == f"{a}-3"


def test_a_package_without_a_purl_still_gets_an_id() -> None:
    nameless = dataclasses.replace(MUSL, name="")
    (a,) = package_ids([nameless])
    assert len(a) == 16


@pytest.mark.parametrize(
    ("reference", "repository", "name", "tag", "in_registry"),
    [
        ("docker.io/library/alpine:3.19", "docker.io/library/alpine", "alpine", "3.19", True),
        ("localhost:5000/team/app:1", "localhost:5000/team/app", "app", "1", True),
        ("127.0.0.1:5000/app", "127.0.0.1:5000/app", "app", None, True),
        ("ghcr.io/o/r:v1@sha256:" + "a" * 64, "ghcr.io/o/r", "r", "v1", True),
        ("ghcr.io/o/r@sha256:" + "a" * 64, "ghcr.io/o/r", "r", None, True),
        ("oci:/srv/layouts/agent:v2", "/srv/layouts/agent", "agent", "v2", False),
        ("oci-archive:/tmp/img.tar", "/tmp/img.tar", "img.tar", None, False),
        ("docker-archive:/tmp/img.tar:app:1", "/tmp/img.tar:app", "img.tar:app", "1", False),
        ("docker://quay.io/x/y:2", "quay.io/x/y", "y", "2", True),
    ],
)
def test_image_names(
    reference: str, repository: str, name: str, tag: str | None, in_registry: bool
) -> None:
    assert image_name(reference) == (
        image_name(reference).__class__(repository, name, tag, in_registry)
    )


def test_image_purl_follows_the_oci_purl_type() -> None:
    img = ImageInfo(
        reference="docker.io/library/Debian:12",
        manifest_digest="sha256:" + "a" * 64,
        config_digest=None,
        platform=Platform("linux", "arm64", "v8"),
    )
    assert image_purl(img) == (
        "pkg:oci/debian@sha256:"
        + "a" * 64
        + "?arch=arm64&repository_url=docker.io/library/Debian&tag=12"
    )
    assert image_purl(dataclasses.replace(img, manifest_digest=None)) is None


def test_image_purl_from_a_local_layout_has_no_repository_url() -> None:
    img = ImageInfo(
        reference="oci:/srv/l:v1",
        manifest_digest="sha256:" + "b" * 64,
        config_digest=None,
        platform=None,
    )
    assert image_purl(img) == "pkg:oci/l@sha256:" + "b" * 64 + "?tag=v1"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("docker.io/library/alpine", "docker.io-library-alpine"),
        ("@scope/pkg", "scope-pkg"),
        ("üñí", "x"),
        ("", "x"),
    ],
)
def test_id_fragments_use_only_spdx_id_characters(text: str, fragment: str) -> None:
    assert id_fragment(text) == fragment


@settings(max_examples=200, deadline=None)
@given(weird)
def test_any_text_gives_a_bounded_id_fragment(text: str) -> None:
    out = id_fragment(text)
    assert 0 < len(out) <= 64
    assert all(c.isascii() and (c.isalnum() or c in ".-") for c in out)


@settings(max_examples=200, deadline=None)
@given(weird)
def test_image_name_never_fails(reference: str) -> None:
    n = image_name(reference)
    assert n.repository and n.name


@settings(max_examples=100, deadline=None)
@given(image)
def test_image_purl_never_fails(img: ImageInfo) -> None:
    purl = image_purl(img)
    assert purl is None or purl.startswith("pkg:oci/")


@settings(max_examples=100, deadline=None)
@given(st.lists(package, max_size=8))
def test_ids_are_unique_for_any_packages(pkgs: list[Package]) -> None:
    ids = package_ids(pkgs)
    assert len(set(ids)) == len(ids) == len(pkgs)
