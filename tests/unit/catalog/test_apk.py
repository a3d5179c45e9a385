"""The apk cataloger against real Alpine installed databases (see testdata/apk/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.apk import (
    MAX_UNKNOWNS,
    ApkCataloger,
    is_spdx_expression,
    parse_apk_installed,
    split_license,
)
from shoal.catalog.base import FileEntry, LayerFile
from shoal.model import CatalogResult, PackageType
from tests.unit.catalog.helpers import by_name

DATA = Path(__file__).parent / "testdata" / "apk"
DB = "/lib/apk/db/installed"


def catalog(case: str) -> CatalogResult:
    data = (DATA / case / DB.lstrip("/")).read_bytes()
    return ApkCataloger().catalog(LayerFile(path=DB, data=data))


def text_of(case: str) -> str:
    return (DATA / case / DB.lstrip("/")).read_text()


# --- wants ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [DB, "/usr/lib/apk/db/installed", "/chroot/lib/apk/db/installed"])
def test_wants_the_installed_database(path: str) -> None:
    assert ApkCataloger().wants(FileEntry(path=path, size=1, mode=0o644))


@pytest.mark.parametrize(
    "path",
    [
        "/lib/apk/db/installed.old",
        "/lib/apk/db/scripts.tar",
        "/lib/apk/db/triggers",
        "/etc/apk/world",
        "/var/cache/apk/APKINDEX.66df3a6d.tar.gz",
        "/lib/apk/db/installed/x",
    ],
)
def test_wants_nothing_else(path: str) -> None:
    assert not ApkCataloger().wants(FileEntry(path=path, size=1, mode=0o644))


# --- catalog --------------------------------------------------------------------------------


def test_catalog_alpine_3_20() -> None:
    result = catalog("alpine-3.20-x86_64")

    assert result.unknowns == ()
    assert [p.name for p in result.packages] == [
        "alpine-baselayout-data",
        "apk-tools",
        "brotli-libs",
        "busybox",
        "busybox-binsh",
        "c-ares",
        "ca-certificates",
    ]
    assert all(p.type is PackageType.APK and p.cataloger == "os/apk" for p in result.packages)
    assert all(p.locations[0].path == DB and p.arch == "x86_64" for p in result.packages)


def test_package_fields() -> None:
    data = by_name(catalog("alpine-3.20-x86_64"))["alpine-baselayout-data"]

    assert data.version == "3.6.5-r0"
    assert (data.source_name, data.source_version) == ("alpine-baselayout", "3.6.5-r0")
    assert data.licenses == ("GPL-2.0-only",)
    assert data.metadata == (
        ("build_time", "1714981135"),
        ("commit", "66187892e05b03a41d08e9acabd19b7576a1c875"),
        ("maintainer", "Natanael Copa <ncopa@alpinelinux.org>"),
        ("installed_size", "77824"),
    )
    assert data.purl == (
        "pkg:apk/alpine/alpine-baselayout-data@3.6.5-r0?arch=x86_64&upstream=alpine-baselayout"
    )


def test_dependencies_provides_and_utf8_maintainer() -> None:
    pkgs = by_name(catalog("alpine-3.20-x86_64"))

    assert pkgs["apk-tools"].meta("depends", "").startswith("musl>=1.2.3_git20230424 ")
    assert pkgs["apk-tools"].meta("provides") == "so:libapk.so.2.14.0=2.14.0 cmd:apk=2.14.4-r0"
    assert pkgs["busybox"].meta("maintainer") == "Sören Tempel <soeren+alpine@soeren-tempel.net>"


def test_origin_equal_to_name_gives_no_upstream() -> None:
    busybox = by_name(catalog("alpine-3.20-x86_64"))["busybox"]

    assert busybox.source_name == "busybox"
    assert busybox.purl == "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64"


def test_licences_keep_spdx_expressions_and_split_old_lists() -> None:
    pkgs = by_name(catalog("alpine-3.14-armv7"))

    assert pkgs["libretls"].licenses == ("ISC AND (BSD-3-Clause OR MIT)",)
    assert pkgs["ca-certificates-bundle"].licenses == ("MPL-2.0 AND MIT",)
    assert pkgs["musl-utils"].licenses == ("MIT", "BSD", "GPL2+")
    assert pkgs["libcrypto1.1"].licenses == ("OpenSSL",)


def test_package_without_files_and_other_fields() -> None:
    result = catalog("alpine-3.14-armv7")
    pkgs = by_name(result)

    assert result.unknowns == ()
    assert len(result.packages) == 11
    assert pkgs["libc-utils"].meta("depends") == "musl-utils"
    assert pkgs["libcrypto1.1"].source_name == "openssl"
    assert pkgs["ssl_client"].arch == "armv7"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("MIT", True),
        ("GPL-2.0-or-later WITH Classpath-exception-2.0", True),
        ("ISC AND (BSD-3-Clause OR MIT)", True),
        ("LicenseRef-scancode-public-domain OR MIT", True),
        ("mit and bsd", True),
        ("MIT BSD GPL2+", False),
        ("(MIT", False),
        ("MIT)", False),
        ("MIT AND", False),
        ("AND MIT", False),
        ("MIT, BSD", False),
        ("", False),
    ],
)
def test_is_spdx_expression(value: str, expected: bool) -> None:
    assert is_spdx_expression(value) is expected


def test_split_license_of_blank_value() -> None:
    assert split_license("   ") == ()


BLOCK = text_of("alpine-3.14-armv7").split("\n\n")[4]  # zlib, 22 lines


def test_crlf_and_missing_final_blank_line() -> None:
    result = parse_apk_installed(BLOCK.replace("\n", "\r\n"), DB)

    assert [(p.name, p.version) for p in result.packages] == [("zlib", "1.2.11-r3")]
    assert result.unknowns == ()


def test_problems_are_reported_by_line_and_the_rest_is_kept() -> None:
    text = "\n".join(
        [
            BLOCK.replace("V:1.2.11-r3", "V:1.2.11-r3\nV:1.2.12-r0"),  # lines 1-23, dup at 4
            "",
            "F:usr",  # line 25: a block without P
            "R:orphan",
            "",
            "P:noversion",  # line 28
            "A:x86_64",
            "",
            "P:bad name",  # line 31
            "V:1",
            "",
            "P:ok",  # line 34
            "V:1.0-r0",
            "t:yesterday",  # line 36
            "this is not a field",  # line 37
            "PV:1",  # line 38
            ":",  # line 39
        ]
    )
    result = parse_apk_installed(text, DB)

    assert [(p.name, p.version) for p in result.packages] == [
        ("zlib", "1.2.11-r3"),
        ("ok", "1.0-r0"),
    ]
    assert result.packages[1].meta("build_time") is None
    assert [u.reason for u in result.unknowns] == [
        "line 4: repeated field 'V:'",
        "line 25: package block without 'P:' (name)",
        "line 28: package 'noversion' has no 'V:' (version)",
        "line 31: invalid package name 'bad name'",
        "line 36: package 'ok': 't:' 'yesterday' is not a number",
        "line 37: expected 'X:value', got 'this is not a field'",
        "line 38: expected 'X:value', got 'PV:1'",
        "line 39: expected 'X:value', got ':'",
    ]
    assert all(u.path == DB and u.cataloger == "os/apk" for u in result.unknowns)


def test_a_hostile_file_gives_a_bounded_number_of_unknowns() -> None:
    result = parse_apk_installed("nonsense\n" * 5_000, DB)

    assert result.packages == ()
    assert len(result.unknowns) == MAX_UNKNOWNS + 1
    assert result.unknowns[-1].reason == f"{5_000 - MAX_UNKNOWNS} more problems not listed"


def test_an_overlong_licence_is_reported_and_dropped() -> None:
    text = "P:x\nV:1-r0\nL:" + "MIT " * 5000 + "\n"
    result = parse_apk_installed(text, DB)

    assert [(p.name, p.licenses) for p in result.packages] == [("x", ())]
    assert [u.reason for u in result.unknowns] == [
        "line 3: package 'x': 'L:' is 20000 characters long"
    ]


def test_empty_database() -> None:
    assert parse_apk_installed("", DB) == CatalogResult()


# --- fuzzing --------------------------------------------------------------------------------

apkish = st.lists(
    st.one_of(
        st.sampled_from(
            ["", "P:p", "V:1-r0", "o:q", "L:MIT AND (", "L:(A OR B)", "t:12", "t:x", "F:a", "R:b"]
        ),
        st.text(max_size=30),
    ),
    max_size=40,
).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(apkish)
def test_fuzz_parse_never_raises(text: str) -> None:
    result = parse_apk_installed(text, DB)

    for pkg in result.packages:
        assert pkg.name and pkg.version and not any(c.isspace() for c in pkg.version)
    assert all(u.reason and "\n" not in u.reason for u in result.unknowns)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_catalog_bytes_never_raises(data: bytes) -> None:
    result = ApkCataloger().catalog(LayerFile(path=DB, data=data))

    assert all("\n" not in u.reason for u in result.unknowns)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_split_license(value: str) -> None:
    assert all(name.strip() for name in split_license(value))
