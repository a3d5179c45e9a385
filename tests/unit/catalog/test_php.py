"""php/composer-installed: Composer 1 and 2 `vendor/composer/installed.json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.base import FileEntry, LayerFile
from shoal.catalog.php import NAME, PhpCataloger, parse_installed_json
from shoal.model import PackageType
from tests.unit.catalog.helpers import assert_one_line_reasons, json_values, one_unknown

DATA = Path(__file__).parent / "testdata" / "php"
INSTALLED = "vendor/composer/installed.json"


def _catalog(case: str) -> list[tuple[str, str, tuple[str, ...], str]]:
    path = f"/var/www/{INSTALLED}"
    res = PhpCataloger().catalog(LayerFile(path=path, data=(DATA / case / INSTALLED).read_bytes()))
    assert res.unknowns == ()
    for p in res.packages:
        assert p.type is PackageType.PHP
        assert p.locations[0].path == path
    return [(p.name, p.version, p.licenses, p.purl) for p in res.packages]


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/var/www/vendor/composer/installed.json", True),
        ("/var/www/composer.lock", False),
        ("/var/www/vendor/composer/installed.php", False),
        ("/var/www/installed.json", False),
    ],
)
def test_wants(path: str, wanted: bool) -> None:
    assert PhpCataloger().wants(FileEntry(path=path, size=10, mode=0o644)) is wanted


def test_composer_1_array() -> None:
    assert _catalog("composer1") == [
        ("doctrine/lexer", "v1.0.1", ("MIT",), "pkg:composer/doctrine/lexer@v1.0.1"),
        ("doctrine/annotations", "v1.2.3", ("MIT",), "pkg:composer/doctrine/annotations@v1.2.3"),
    ]


def test_composer_2_object() -> None:
    assert _catalog("composer2") == [
        ("doctrine/inflector", "1.4.4", ("MIT",), "pkg:composer/doctrine/inflector@1.4.4"),
        ("illuminate/container", "v5.8.36", ("MIT",), "pkg:composer/illuminate/container@v5.8.36"),
    ]


def test_source_reference_metadata() -> None:
    data = (DATA / "composer2" / INSTALLED).read_bytes()
    pkg = parse_installed_json(data, "/i").packages[0]
    assert pkg.meta("source.reference") == "4bd5c1cdfcd00e9e2d8c484f79150f67e5d355d9"
    assert pkg.meta("source.url") == "https://github.com/doctrine/inflector.git"
    assert pkg.meta("type") == "library"
    assert pkg.meta("dev") is None


def test_dev_package_names_mark_dev_packages() -> None:
    doc = json.loads((DATA / "composer2" / INSTALLED).read_text())
    doc["dev-package-names"] = ["illuminate/container"]
    res = parse_installed_json(json.dumps(doc).encode(), "/i")
    assert {p.name: p.meta("dev") for p in res.packages} == {
        "doctrine/inflector": None,
        "illuminate/container": "true",
    }


def test_license_as_a_single_string() -> None:
    doc = [{"name": "a/b", "version": "1.0.0", "license": "GPL-2.0-or-later"}]
    (pkg,) = parse_installed_json(json.dumps(doc).encode(), "/i").packages
    assert pkg.licenses == ("GPL-2.0-or-later",)


def test_bad_entries_are_unknown_and_the_rest_kept() -> None:
    doc = {
        "packages": [
            {"name": "ok/pkg", "version": "1.0.0"},
            {"name": "noslash", "version": "1.0.0"},
            {"name": "a/b"},
            "junk",
            {"version": "1"},
        ]
    }
    res = parse_installed_json(json.dumps(doc).encode(), "/i")
    assert [(p.name, p.version) for p in res.packages] == [("ok/pkg", "1.0.0")]
    assert [u.reason for u in res.unknowns] == [
        "packages[1]: invalid package name 'noslash' (want vendor/name)",
        "packages[2] (a/b) has no usable version",
        "packages[3] is not an object",
        "packages[4] has no name",
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "line 1 column 1: invalid JSON: Expecting value"),
        (b"3", "top level is neither an array nor an object"),
        (b'{"dev": true}', "'packages' is missing or not an array"),
        (b"[" * 50_000 + b"]" * 50_000, "invalid JSON:"),
    ],
)
def test_malformed_file_is_one_unknown(data: bytes, reason: str) -> None:
    u = one_unknown(parse_installed_json(data, "/i"), NAME)
    assert u.reason.startswith(reason)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_bytes_never_raise(data: bytes) -> None:
    parse_installed_json(data, "/i")


_json = json_values(
    st.sampled_from(["name", "version", "license", "source", "url", "reference"]),
    dict_size=4,
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(_json, max_size=4), st.fixed_dictionaries({"packages": st.lists(_json)})))
def test_fuzz_structure_never_raises(doc: object) -> None:
    assert_one_line_reasons(parse_installed_json(json.dumps(doc).encode(), "/i"))
