"""Text hygiene, output ordering, and the formatter registry."""

from __future__ import annotations

import io
from typing import BinaryIO

import pytest
from hypothesis import given, settings

from shoal.errors import ExportError
from shoal.export import ALL, get_formatter
from shoal.export.base import clean_sbom, clean_text, dump_json, sorted_packages
from shoal.model import Location, Package, PackageType, Sbom

from .conftest import load_case
from .strategies import sboms, weird


def test_registry_lists_each_format_once() -> None:
    assert [cls.id for cls in ALL] == ["cyclonedx-json", "spdx-json", "json"]
    for cls in ALL:
        assert cls.media_type and cls.spec_version
        assert isinstance(get_formatter(cls.id), cls)


def test_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(
        ExportError,
        match=r"unknown SBOM format 'xml': expected one of cyclonedx-json, spdx-json, json",
    ):
        get_formatter("xml")


def test_lone_surrogates_become_replacement_characters() -> None:
    assert clean_text("ok") == "ok"
    assert clean_text("é\x00\n") == "é\x00\n"  # control characters are JSON's to escape
    assert clean_text("a\udcffb\ud800") == "a\ufffdb\ufffd"


def test_clean_sbom_returns_the_same_object_when_nothing_changes() -> None:
    sbom = load_case("alpine-3.14")
    assert clean_sbom(sbom) is sbom


def test_clean_sbom_reaches_nested_fields_and_keeps_enums() -> None:
    sbom = load_case("oci-layout-static")
    bad = Package(
        name="n\udc80",
        version="1",
        type=PackageType.GO,
        cataloger="go/binary",
        locations=(Location("/bin/\udcff"),),
        metadata=(("k", "v\udc00"),),
    )
    cleaned = clean_sbom(Sbom(image=sbom.image, distro=None, packages=(bad,)))
    (pkg,) = cleaned.packages
    assert pkg.name == "n\ufffd"
    assert pkg.locations[0].path == "/bin/\ufffd"
    assert pkg.metadata == (("k", "v\ufffd"),)
    assert pkg.type is PackageType.GO


def test_packages_sort_by_type_name_version_purl() -> None:
    sbom = load_case("debian-bookworm-app")
    ordered = sorted_packages(sbom.packages)
    keys = [(p.type.value, p.name, p.version) for p in ordered]
    assert keys == sorted(keys)
    assert sorted_packages(reversed(sbom.packages)) == ordered


class _Broken(io.RawIOBase):
    def write(self, b: object) -> int:
        raise OSError(28, "No space left on device")


def test_write_failures_raise_export_error_naming_the_format() -> None:
    out: BinaryIO = _Broken()  # type: ignore[assignment]
    with pytest.raises(
        ExportError, match=r"^writing spdx-json SBOM: \[Errno 28\] No space left on device$"
    ):
        dump_json({}, out, what="spdx-json")
    closed = io.BytesIO()
    closed.close()
    with pytest.raises(ExportError, match=r"^writing json SBOM: "):
        get_formatter("json").write(load_case("alpine-3.14"), closed)


@settings(max_examples=200, deadline=None)
@given(weird)
def test_cleaned_text_always_encodes(text: str) -> None:
    clean_text(text).encode("utf-8")


@settings(max_examples=50, deadline=None)
@given(sboms)
def test_every_formatter_writes_utf8_for_any_sbom(sbom: Sbom) -> None:
    for cls in ALL:
        buf = io.BytesIO()
        cls().write(sbom, buf)
        buf.getvalue().decode("utf-8")
