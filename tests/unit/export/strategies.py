"""Hypothesis strategies for SBOMs full of hostile strings."""

from __future__ import annotations

from typing import TypeVar

from hypothesis import strategies as st

from shoal.model import (
    Distro,
    ImageInfo,
    LayerInfo,
    Location,
    Package,
    PackageType,
    Platform,
    Sbom,
    Unknown,
)

DIGEST = st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: "sha256:" + h)

# Anything a Python str can hold: control characters, NUL, lone surrogates, astral planes,
# plus the occasional very long string.
weird = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.sampled_from(["", " ", "\x00", "\n", "\ud800", "a\udcff", "é", "💥", "../..", "?&#@%"]),
    st.integers(min_value=1000, max_value=20000).map(lambda n: "x" * n),
)
name = st.one_of(st.from_regex(r"[a-z][a-z0-9.+-]{0,20}", fullmatch=True), weird)
version = st.one_of(st.from_regex(r"[0-9][0-9a-z.+~:-]{0,15}", fullmatch=True), weird)
license_ = st.one_of(
    st.sampled_from(
        [
            "MIT",
            "mit",
            "GPL-2.0+",
            "Apache-2.0 OR MIT",
            "ISC AND (BSD-3-Clause OR MIT)",
            "GPL-2.0-only WITH Classpath-exception-2.0",
            "MIT BSD GPL2+",
            "public-domain",
            "LicenseRef-custom",
            "MIT AND",
            "(((",
        ]
    ),
    weird,
)
T = TypeVar("T")


def opt(s: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | s


locations = st.lists(st.builds(Location, path=weird, layer=opt(DIGEST | weird)), max_size=3)
distro = st.builds(
    Distro,
    id=name,
    version_id=opt(version),
    version_codename=opt(weird),
    name=opt(weird),
    pretty_name=opt(weird),
    id_like=st.lists(weird, max_size=2).map(tuple),
)
package = st.builds(
    Package,
    name=name,
    version=version,
    type=st.sampled_from(PackageType),
    cataloger=st.sampled_from(["os/dpkg", "os/apk", "python/dist-info"]) | weird,
    locations=locations.map(tuple),
    licenses=st.lists(license_, max_size=4).map(tuple),
    arch=opt(name),
    source_name=opt(name),
    source_version=opt(version),
    namespace=opt(name),
    metadata=st.lists(st.tuples(weird, weird), max_size=3).map(tuple),
    layer=opt(DIGEST),
    layer_created_by=opt(weird),
    distro=opt(distro),
)
layer = st.builds(
    LayerInfo,
    digest=DIGEST,
    diff_id=DIGEST,
    media_type=st.just("application/vnd.oci.image.layer.v1.tar+gzip") | weird,
    size=st.integers(min_value=0, max_value=2**40),
    created_by=opt(weird),
)
reference = st.one_of(
    st.sampled_from(
        [
            "docker.io/library/alpine:3.19",
            "localhost:5000/a/b:1",
            "ghcr.io/x/y@sha256:" + "a" * 64,
            "oci:/tmp/layout:v1",
            "docker-archive:/tmp/img.tar",
        ]
    ),
    weird,
)
image = st.builds(
    ImageInfo,
    reference=reference,
    manifest_digest=opt(DIGEST),
    config_digest=opt(DIGEST),
    platform=opt(st.builds(Platform, os=name, architecture=name, variant=opt(name))),
    layers=st.lists(layer, max_size=3).map(tuple),
    repo_digests=st.lists(weird, max_size=2).map(tuple),
    tags=st.lists(weird, max_size=2).map(tuple),
    created=opt(weird),
    index_digest=opt(DIGEST),
)
unknown = st.builds(Unknown, path=weird, cataloger=weird, reason=weird, layer=opt(DIGEST))
sboms = st.builds(
    Sbom,
    image=image,
    distro=opt(distro),
    packages=st.lists(package, max_size=6).map(tuple),
    unknowns=st.lists(unknown, max_size=3).map(tuple),
)
