"""Reading CycloneDX and SPDX SBOMs written by Syft (and by shoal itself)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.errors import LimitExceeded
from shoal.export.cyclonedx import CycloneDxJsonFormatter
from shoal.export.spdx import SpdxJsonFormatter
from shoal.model.package import Distro, PackageType
from shoal.scan.sbom_input import (
    SbomInputError,
    package_from_purl,
    parse_sbom,
    read_sbom,
    split_distro,
)
from tests.unit.scan.conftest import SYFT_CDX, SYFT_SPDX

EXPECTED = {
    # purl name, type, version, source name, source version
    ("bash", PackageType.DEB, "5.2.15-2+b8", "bash", "5.2.15-2"),
    ("libc6", PackageType.DEB, "2.36-9+deb12u14", "glibc", "2.36-9+deb12u14"),
    ("libexpat1", PackageType.DEB, "2.5.0-1+deb12u1", "expat", "2.5.0-1+deb12u1"),
    ("libssl3", PackageType.DEB, "3.0.19-1~deb12u2", "openssl", "3.0.19-1~deb12u2"),
    ("openssl", PackageType.DEB, "3.0.19-1~deb12u2", None, None),
    ("perl-base", PackageType.DEB, "5.36.0-7+deb12u4", "perl", "5.36.0-7+deb12u4"),
    ("tar", PackageType.DEB, "1.34+dfsg-1.2+deb12u1", None, None),
    ("zlib1g", PackageType.DEB, "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1"),
    ("django", PackageType.PYTHON, "3.2", None, None),
    ("pyyaml", PackageType.PYTHON, "5.3.1", None, None),
    ("urllib3", PackageType.PYTHON, "1.26.4", None, None),
}


@pytest.mark.parametrize("path", [SYFT_CDX, SYFT_SPDX], ids=["cyclonedx", "spdx"])
def test_syft_sboms(path: Path) -> None:
    sbom = read_sbom(path)
    got = {(p.name, p.type, p.version, p.source_name, p.source_version) for p in sbom.packages}
    assert got == EXPECTED
    assert sbom.unknowns == ()
    assert sbom.distro is not None and (sbom.distro.id, sbom.distro.version_id) == ("debian", "12")
    for p in sbom.packages:
        if p.type is PackageType.DEB:
            assert p.distro is not None and p.distro.purl_qualifier == "debian-12"
            assert p.arch == "amd64"
        else:
            assert p.distro is None


def test_syft_cyclonedx_keeps_layer_codename_and_paths() -> None:
    sbom = read_sbom(SYFT_CDX)
    assert sbom.distro == Distro(
        id="debian",
        version_id="12",
        version_codename="bookworm",
        pretty_name="Debian GNU/Linux 12 (bookworm)",
    )
    django = next(p for p in sbom.packages if p.name == "django")
    assert django.layer == "sha256:195155bb35e6483c08cc7cff2df8678de8a6cc78aba600fb4eaebff2f8c7c89a"
    assert [loc.path for loc in django.locations] == [
        "/usr/local/lib/python3.11/site-packages/Django-3.2.dist-info/METADATA"
    ]
    assert sbom.tool == "syft"


def test_shoal_cyclonedx_and_spdx_round_trip() -> None:
    original = read_sbom(SYFT_CDX)
    for fmt in (CycloneDxJsonFormatter(), SpdxJsonFormatter()):
        buf = io.BytesIO()
        fmt.write(original, buf)
        again = parse_sbom(buf.getvalue(), fmt.id)
        assert {p.purl for p in again.packages} == {p.purl for p in original.packages}, fmt.id
        assert again.distro is not None and again.distro.version_id == "12"


@pytest.mark.parametrize(
    ("purl", "fields"),
    [
        ("pkg:npm/%40babel/core@7.0.0", ("@babel/core", PackageType.NPM, None, "7.0.0")),
        (
            "pkg:golang/golang.org/x/net@v0.22.0",
            ("golang.org/x/net", PackageType.GO, None, "v0.22.0"),
        ),
        ("pkg:golang/stdlib@1.22.1", ("stdlib", PackageType.GO, None, "1.22.1")),
        (
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            ("log4j-core", PackageType.JAVA, "org.apache.logging.log4j", "2.14.1"),
        ),
        (
            "pkg:composer/symfony/http-kernel@5.0.0",
            ("symfony/http-kernel", PackageType.PHP, None, "5.0.0"),
        ),
        (
            "pkg:nuget/Newtonsoft.Json@12.0.1",
            ("Newtonsoft.Json", PackageType.DOTNET, None, "12.0.1"),
        ),
        ("pkg:cargo/regex@1.5.4", ("regex", PackageType.RUST, None, "1.5.4")),
        ("pkg:gem/rails@6.0.0", ("rails", PackageType.GEM, None, "6.0.0")),
    ],
)
def test_language_purls(purl: str, fields: tuple[str, PackageType, str | None, str]) -> None:
    p = package_from_purl(purl)
    assert not isinstance(p, str)
    assert (p.name, p.type, p.namespace, p.version) == fields


def test_os_purls() -> None:
    apk = package_from_purl(
        "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&upstream=openssl&distro=alpine-3.19.1"
    )
    assert not isinstance(apk, str)
    assert (apk.source_name, apk.distro) == ("openssl", Distro(id="alpine", version_id="3.19.1"))
    rpm = package_from_purl(
        "pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?arch=x86_64&epoch=1&upstream=openssl-3.0.7-24.el9.src.rpm&distro=rhel-9.3"
    )
    assert not isinstance(rpm, str)
    assert rpm.version == "1:3.0.7-24.el9"
    assert rpm.meta("sourcerpm") == "openssl-3.0.7-24.el9.src.rpm"
    assert split_distro("ubuntu-22.04") == Distro(id="ubuntu", version_id="22.04")
    assert split_distro("wolfi") == Distro(id="wolfi")


@pytest.mark.parametrize(
    ("purl", "reason"),
    [
        ("pkg:github/actions/checkout@v4", "purl type 'github' has no advisories in shoal"),
        ("pkg:pypi/django", "purl 'pkg:pypi/django' has no version"),
        ("not a purl", "purl 'not a purl' does not parse: "),
    ],
)
def test_unusable_purls_are_reasons(purl: str, reason: str) -> None:
    got = package_from_purl(purl)
    assert isinstance(got, str) and got.startswith(reason)


def test_bad_components_become_unknowns() -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "components": [
            {"type": "library", "name": "x"},
            {"type": "library", "name": "y", "purl": "pkg:pypi/y@1.0", "components": [
                {"type": "library", "name": "z", "purl": "pkg:bogus/z@1"},
            ]},
            "not an object",
        ],
    }  # fmt: skip
    sbom = parse_sbom(json.dumps(doc).encode(), "t.json")
    assert [p.name for p in sbom.packages] == ["y"]
    assert [u.reason for u in sbom.unknowns] == [
        "components[0] ('x'): no purl",
        "components[1].components[0]: purl type 'bogus' has no advisories in shoal",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"{",
            "SBOM 'f': not JSON (line 1, column 2: Expecting property name enclosed in double quotes)",
        ),
        (b"[]", "SBOM 'f': expected a JSON object, got list"),
        (
            b'{"spdxVersion": "SPDX-3.0"}',
            "SBOM 'f': unsupported 'SPDX-3.0' (SPDX 2.x JSON is read)",
        ),
        (b'{"hello": 1}', "SBOM 'f': neither CycloneDX (bomFormat) nor SPDX (spdxVersion) JSON"),
        (b'{"spdxVersion": "SPDX-2.3", "packages": {}}', "SBOM 'f': 'packages' is not a list"),
        (b'{"a": "\x80"}', "SBOM 'f': not UTF-8 (byte 7)"),
        (b"[" * 100_000, "SBOM 'f': JSON nested too deeply"),
    ],
)
def test_not_an_sbom_is_one_line_error(data: bytes, message: str) -> None:
    with pytest.raises(SbomInputError) as e:
        parse_sbom(data, "f")
    assert str(e.value) == message


def test_nested_components_are_bounded() -> None:
    comp: dict[str, object] = {"type": "library", "name": "leaf", "purl": "pkg:pypi/a@1"}
    for _ in range(40):
        comp = {"type": "library", "name": "n", "purl": "pkg:pypi/a@1", "components": [comp]}
    doc = {"bomFormat": "CycloneDX", "components": [comp]}
    with pytest.raises(SbomInputError, match=r"components nested deeper than 32$"):
        parse_sbom(json.dumps(doc).encode(), "f")


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SbomInputError, match=r"No such file or directory$"):
        read_sbom(tmp_path / "missing.json")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 101)
    with pytest.raises(LimitExceeded, match="larger than 100 bytes"):
        read_sbom(big, max_bytes=100)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=4),
    max_leaves=20,
)
_component = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["library", "operating-system", "application", "x"]) | _json,
        "name": st.text(max_size=20) | _json,
        "version": st.text(max_size=20) | _json,
        "purl": st.sampled_from(
            ["pkg:deb/debian/a@1?distro=debian-12&upstream=b", "pkg:pypi/x@1", "pkg:"]
        )
        | st.text(max_size=40)
        | _json,
        "properties": _json,
        "components": _json,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_component, max_size=6), st.booleans())
def test_fuzz_cyclonedx_and_spdx_structures(
    components: list[dict[str, object]], spdx: bool
) -> None:
    if spdx:
        doc: dict[str, object] = {
            "spdxVersion": "SPDX-2.3",
            "packages": [
                {"name": c.get("name"), "versionInfo": c.get("version"), "externalRefs": [
                    {"referenceType": "purl", "referenceLocator": c.get("purl")}
                ], "primaryPackagePurpose": c.get("type")}
                for c in components
            ],
        }  # fmt: skip
    else:
        doc = {"bomFormat": "CycloneDX", "components": components, "metadata": components[:1]}
    try:
        sbom = parse_sbom(json.dumps(doc).encode(), "fuzz")
    except SbomInputError as e:
        assert "\n" not in str(e)
        return
    for p in sbom.packages:
        assert p.name and p.version
    for u in sbom.unknowns:
        assert "\n" not in u.reason or "\n" in json.dumps(doc)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_fuzz_bytes(data: bytes) -> None:
    try:
        parse_sbom(data, "fuzz")
    except SbomInputError as e:
        assert "\n" not in str(e)
