"""The dpkg cataloger against real Debian 12 files (see testdata/dpkg/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.base import FileEntry, LayerFile
from shoal.catalog.dpkg import (
    MAX_LICENSES,
    MAX_UNKNOWNS,
    DpkgCataloger,
    parse_copyright,
    parse_dpkg_status,
    parse_license_expression,
)
from shoal.model import CatalogResult, LicenseEvidence, PackageType
from tests.unit.catalog.helpers import by_name

DATA = Path(__file__).parent / "testdata" / "dpkg"
ROOT = DATA / "bookworm"
STATUS = "/var/lib/dpkg/status"


def read(rootfs: Path, path: str) -> str:
    return (rootfs / path.lstrip("/")).read_text()


def catalog(rootfs: Path, path: str) -> CatalogResult:
    data = (rootfs / path.lstrip("/")).read_bytes()
    return DpkgCataloger().catalog(LayerFile(path=path, data=data))


# --- wants ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/var/lib/dpkg/status",
        "/var/lib/dpkg/status.d/libssl3",
        "/var/lib/dpkg/status.d/tzdata",
        "/usr/share/doc/libc6/copyright",
        "/usr/share/doc/libstdc++6/copyright",
        # a chroot inside the image is catalogued too, as Syft's `**/lib/dpkg/status` does
        "/srv/chroot/var/lib/dpkg/status",
    ],
)
def test_wants_database_and_copyright_files(path: str) -> None:
    assert DpkgCataloger().wants(FileEntry(path=path, size=100, mode=0o644))


@pytest.mark.parametrize(
    "path",
    [
        "/var/lib/dpkg/status-old",
        "/var/lib/dpkg/available",
        "/var/lib/dpkg/status.d/libssl3.md5sums",
        "/var/lib/dpkg/status.d/.hidden",
        "/var/lib/dpkg/status.d/sub/libssl3",
        "/var/lib/dpkg/info/libssl3:amd64.list",
        "/usr/share/doc/libc6/copyright.gz",
        "/usr/share/doc/copyright",
        "/usr/share/doc/libc6/examples/copyright",
        "/usr/share/doc//copyright",
        "/etc/os-release",
    ],
)
def test_wants_nothing_else(path: str) -> None:
    assert not DpkgCataloger().wants(FileEntry(path=path, size=100, mode=0o644))


# --- status database ------------------------------------------------------------------------


def test_catalog_real_status_file() -> None:
    result = catalog(ROOT, STATUS)

    assert result.unknowns == ()
    assert len(result.packages) == 30
    assert all(p.type is PackageType.DEB and p.cataloger == "os/dpkg" for p in result.packages)
    assert all(p.locations[0].path == STATUS for p in result.packages)


def test_source_with_version_after_binnmu() -> None:
    bash = by_name(catalog(ROOT, STATUS))["bash"]

    assert bash.version == "5.2.15-2+b8"
    assert (bash.source_name, bash.source_version) == ("bash", "5.2.15-2")
    assert bash.arch == "amd64"
    assert bash.meta("essential") == "yes"
    assert bash.meta("installed_size") == "7164"


def test_source_without_version_takes_the_binary_version() -> None:
    libc6 = by_name(catalog(ROOT, STATUS))["libc6"]

    assert (libc6.source_name, libc6.source_version) == ("glibc", "2.36-9+deb12u14")
    assert libc6.meta("multi_arch") == "same"
    assert libc6.purl == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&upstream=glibc"


def test_no_source_field_means_no_source() -> None:
    tzdata = by_name(catalog(ROOT, STATUS))["tzdata"]

    assert tzdata.source_name is None and tzdata.source_version is None
    assert tzdata.arch == "all"
    assert tzdata.meta("provides") == "tzdata-bookworm"


def test_epoch_is_part_of_the_version() -> None:
    zlib = by_name(catalog(ROOT, STATUS))["zlib1g"]

    assert zlib.version == "1:1.2.13.dfsg-1"
    assert zlib.source_name == "zlib"
    assert zlib.purl == "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&upstream=zlib"


def test_continuation_lines_fold_into_the_field() -> None:
    perl = by_name(catalog(ROOT, STATUS))["perl-base"]

    assert perl.meta("provides", "").startswith("libfile-path-perl (= 2.18), ")
    assert perl.meta("provides", "").endswith("perlapi-5.36.0")


def test_distroless_status_d_files_have_no_status() -> None:
    rootfs = DATA / "distroless"
    ssl = catalog(rootfs, "/var/lib/dpkg/status.d/libssl3")
    sqlite = catalog(rootfs, "/var/lib/dpkg/status.d/libsqlite3-0")

    assert ssl.unknowns == () and sqlite.unknowns == ()
    (pkg,) = ssl.packages
    assert (pkg.name, pkg.version, pkg.arch) == ("libssl3", "3.0.22-1~deb12u2", "amd64")
    assert (pkg.source_name, pkg.source_version) == ("openssl", "3.0.22-1~deb12u2")
    assert pkg.meta("status") is None
    assert pkg.locations[0].path == "/var/lib/dpkg/status.d/libssl3"
    assert [p.name for p in sqlite.packages] == ["libsqlite3-0"]


STANZA = read(ROOT, STATUS).split("\n\n")[0]  # adduser, a real stanza


def with_status(status: str) -> str:
    return STANZA.replace("Status: install ok installed", f"Status: {status}")


@pytest.mark.parametrize(
    "status",
    ["install ok installed", "hold ok installed", "deinstall ok installed", "install ok unpacked"],
)
def test_packages_whose_files_are_on_disk_count(status: str) -> None:
    result = parse_dpkg_status(with_status(status), STATUS)

    assert [p.name for p in result.packages] == ["adduser"]
    assert result.packages[0].meta("status") == status


@pytest.mark.parametrize(
    "status",
    ["deinstall ok config-files", "purge ok not-installed", "install reinstreq half-installed"],
)
def test_removed_packages_are_left_out_without_complaint(status: str) -> None:
    assert parse_dpkg_status(with_status(status), STATUS) == CatalogResult()


def test_malformed_status_is_unknown() -> None:
    result = parse_dpkg_status(with_status("installed"), STATUS)

    assert result.packages == ()
    (unknown,) = result.unknowns
    assert (
        unknown.reason == "line 2: package 'adduser': Status 'installed' is not 'want flag state'"
    )
    assert unknown.cataloger == "os/dpkg" and unknown.path == STATUS


def test_stanza_problems_are_reported_by_line_and_the_rest_is_kept() -> None:
    text = "\n".join(
        [
            "Package: good",
            "Version: 1.0-1",
            "",
            "Architecture: amd64",  # line 4: a stanza without Package
            "Version: 2",
            "",
            "Package: noversion",  # line 7
            "",
            "Package: bad name",  # line 9
            "Version: 1",
            "",
            " orphan continuation",  # line 12
            "Package: twice",
            "Version: 1",
            "version: 2",  # line 15
            "Source: glibc (2.36",  # line 16
            "Installed-Size: lots",  # line 17
            "not a field",  # line 18
            "",
        ]
    )
    result = parse_dpkg_status(text, STATUS)

    assert [(p.name, p.version, p.source_name) for p in result.packages] == [
        ("good", "1.0-1", None),
        ("twice", "1", None),
    ]
    assert [u.reason for u in result.unknowns] == [
        "line 4: stanza without Package",
        "line 7: package 'noversion' has no Version",
        "line 9: invalid package name 'bad name'",
        "line 12: continuation line outside a field",
        "line 15: duplicate field 'version'",
        "line 16: package 'twice': invalid Source 'glibc (2.36'",
        "line 17: package 'twice': Installed-Size 'lots' is not a number",
        "line 18: expected 'Field: value', got 'not a field'",
    ]


def test_field_names_are_case_insensitive_and_tabs_continue() -> None:
    text = "PACKAGE: a\nversion: 1.0\nSOURCE: b (0.9)\nProvides: x,\n\ty\n"
    (pkg,) = parse_dpkg_status(text, STATUS).packages

    assert (pkg.name, pkg.version, pkg.source_name, pkg.source_version) == ("a", "1.0", "b", "0.9")
    assert pkg.meta("provides") == "x, y"


def test_crlf_line_endings_are_tolerated() -> None:
    result = parse_dpkg_status(STANZA.replace("\n", "\r\n"), STATUS)

    assert [p.name for p in result.packages] == ["adduser"]
    assert result.unknowns == ()


def test_a_hostile_file_gives_a_bounded_number_of_unknowns() -> None:
    result = parse_dpkg_status("garbage line\n" * 10_000, STATUS)

    assert len(result.unknowns) == MAX_UNKNOWNS + 1
    assert result.unknowns[-1].reason == f"{10_000 - MAX_UNKNOWNS} more problems not listed"


def test_a_huge_continued_field_is_capped() -> None:
    text = "Package: a\nVersion: 1\nProvides: x\n" + " y\n" * 200_000
    (pkg,) = parse_dpkg_status(text, STATUS).packages

    assert pkg.meta("provides", "").startswith("x y y")
    assert len(pkg.meta("provides", "")) <= 1003


def test_a_continued_version_is_not_a_version() -> None:
    result = parse_dpkg_status("Package: a\nVersion: 1\n 2\n", STATUS)

    assert result.packages == ()
    assert [u.reason for u in result.unknowns] == ["line 2: package 'a': invalid Version '1 2'"]


def test_undecodable_bytes_do_not_break_the_cataloger() -> None:
    data = STANZA.encode().replace(b"Description:", b"Description: \xff\xfe")
    result = DpkgCataloger().catalog(LayerFile(path=STATUS, data=data))

    assert [p.name for p in result.packages] == ["adduser"]


# --- copyright files ------------------------------------------------------------------------


def licenses_of(package: str) -> tuple[str, ...]:
    path = f"/usr/share/doc/{package}/copyright"
    result = catalog(ROOT, path)
    assert result.packages == () and result.unknowns == ()
    if not result.licenses:
        return ()
    (evidence,) = result.licenses
    assert evidence == LicenseEvidence(
        type=PackageType.DEB, package_name=package, licenses=evidence.licenses, path=path
    )
    return evidence.licenses


def test_dep5_license_fields() -> None:
    assert licenses_of("zlib1g") == ("Zlib",)
    assert licenses_of("tzdata") == ("public-domain",)
    assert licenses_of("dash") == (
        "BSD-3-Clause",
        "BSD-3-clause",
        "GPL-2",
        "GPL-2+",
        "public-domain",
    )


def test_dep5_expressions_are_split_and_exceptions_dropped() -> None:
    # "Artistic or GPL-1+" and ".../common-licenses/GPL-1" in the licence text
    assert licenses_of("libssl3") == ("Apache-2.0", "Artistic", "GPL-1", "GPL-1+")
    # "GPL-3+ with Bison exception", "BSD-4-clause-UC and MIT-like"
    assert licenses_of("bash") == (
        "BSD-4-clause-UC",
        "GFDL-1.3",
        "GFDL-NIV-1.3",
        "GPL-2",
        "GPL-2+",
        "GPL-3",
        "GPL-3+",
        "Latex2e",
        "MIT-like",
        "permissive",
    )


def test_free_form_files_use_common_licenses_references() -> None:
    assert licenses_of("libc6") == ("GPL-2", "LGPL-2.1")
    assert licenses_of("base-files") == ("GPL",)  # "`/usr/share/common-licenses/GPL'."


def test_free_form_files_fall_back_to_licence_titles() -> None:
    assert licenses_of("python3") == ("PSF-2.0",)


def test_a_file_that_names_no_licence_gives_nothing() -> None:
    assert licenses_of("libxau6") == ()


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("GPL-2+", ("GPL-2+",)),
        ("  BSD-3-Clause", ("BSD-3-Clause",)),
        ("(GPL-2 or GPL-3) and MIT", ("GPL-2", "GPL-3", "MIT")),
        ("BSD-3-clause, and GPL-2+", ("BSD-3-clause", "GPL-2+")),
        ("GPL-2+ with Autoconf exception", ("GPL-2+",)),
        ("LGPLv3+_or_GPLv2+", ("LGPLv3+_or_GPLv2+",)),
        ("MIT/X11", ("MIT/X11",)),
        ("none", ()),
        ("", ()),
        ("Permission to use, copy, modify, and distribute this software and its", ()),
        ("GPL-2 or", ()),
        ("GPL-2 with Autoconf", ()),
        ("or GPL-2", ()),
    ],
)
def test_parse_license_expression(expression: str, names: tuple[str, ...]) -> None:
    assert parse_license_expression(expression) == names


def test_licences_per_file_are_bounded() -> None:
    text = "".join(f"License: L-{i}\n" for i in range(5000))
    text += "see /usr/share/common-licenses/GPL-2\n"
    (evidence,) = parse_copyright(text, "/usr/share/doc/x/copyright").licenses

    assert len(evidence.licenses) == MAX_LICENSES


def test_overlong_license_line_is_prose() -> None:
    assert parse_license_expression("MIT or " * 1000 + "MIT") == ()


def test_copyright_outside_the_doc_layout_gives_nothing() -> None:
    assert parse_copyright("License: MIT\n", "/opt/copyright") == CatalogResult()


# --- fuzzing --------------------------------------------------------------------------------

deb822ish = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "",
                "Package: p",
                "Version: 1",
                "Status: install ok installed",
                "Status: deinstall ok config-files",
                "Source: s (2)",
                "Source: (",
                " continued",
                "\t.",
                "Installed-Size: 12",
                "Provides: a, b",
                "Description: x",
                "#comment",
                ":",
            ]
        ),
        st.text(max_size=40),
    ),
    max_size=40,
).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(deb822ish)
def test_fuzz_status_never_raises(text: str) -> None:
    result = parse_dpkg_status(text, STATUS)

    for pkg in result.packages:
        assert pkg.name and pkg.version and not any(c.isspace() for c in pkg.version)
    for unknown in result.unknowns:
        assert "\n" not in unknown.reason and unknown.reason


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_catalog_bytes_never_raises(data: bytes) -> None:
    for path in (STATUS, "/usr/share/doc/x/copyright"):
        result = DpkgCataloger().catalog(LayerFile(path=path, data=data))
        assert all("\n" not in u.reason for u in result.unknowns)


copyrightish = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
                "License: GPL-2+ or Artistic",
                "License: GPL-3+ with Bison exception",
                "License: (MIT",
                "License: with",
                "License:",
                " see /usr/share/common-licenses/GPL-2.",
                "/usr/share/common-licenses/",
                "Apache License, Version 2.0",
            ]
        ),
        st.text(max_size=40),
    ),
    max_size=30,
).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(copyrightish)
def test_fuzz_copyright_never_raises(text: str) -> None:
    result = parse_copyright(text, "/usr/share/doc/pkg/copyright")

    assert result.packages == () and result.unknowns == ()
    for evidence in result.licenses:
        assert evidence.package_name == "pkg" and evidence.licenses
        assert all(name and not any(c.isspace() for c in name) for name in evidence.licenses)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_license_expression_names_are_tokens(text: str) -> None:
    for name in parse_license_expression(text):
        assert name and not any(c.isspace() for c in name)
        assert name.lower() not in ("and", "or", "with", "none")
