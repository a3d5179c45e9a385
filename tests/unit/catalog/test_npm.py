"""npm/package-json: installed package manifests under node_modules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.base import FileEntry, LayerFile
from shoal.catalog.npm import NAME, NpmCataloger, parse_package_json
from shoal.model import PackageType
from tests.unit.catalog.helpers import json_values, one_unknown

APP = Path(__file__).parent / "testdata" / "npm" / "app"


def _entry(path: str) -> FileEntry:
    return FileEntry(path=path, size=1000, mode=0o644)


@pytest.mark.parametrize(
    "path",
    [
        "/app/node_modules/debug/package.json",
        "/app/node_modules/@types/node/package.json",
        "/app/node_modules/debug/node_modules/ms/package.json",
        "/node_modules/ms/package.json",
        "/app/node_modules/.pnpm/ms@2.1.2/node_modules/ms/package.json",
    ],
)
def test_wants_installed_manifests(path: str) -> None:
    assert NpmCataloger().wants(_entry(path))


@pytest.mark.parametrize(
    "path",
    [
        "/app/package.json",  # the application itself
        "/app/node_modules/@babel/runtime/helpers/esm/package.json",  # a nested build artefact
        "/app/node_modules/@types/package.json",  # a scope directory is not a package
        "/app/node_modules/.bin/package.json",
        "/app/node_modules/debug/package.json.orig",
        "/package.json",
    ],
)
def test_wants_rejects_other_manifests(path: str) -> None:
    assert not NpmCataloger().wants(_entry(path))


def _catalog(rel: str) -> tuple[str, str, tuple[str, ...], str]:
    path = f"/app/{rel}"
    res = NpmCataloger().catalog(LayerFile(path=path, data=(APP / rel).read_bytes()))
    assert res.unknowns == ()
    (pkg,) = res.packages
    assert pkg.type is PackageType.NPM
    assert pkg.locations[0].path == path
    return pkg.name, pkg.version, pkg.licenses, pkg.purl


def test_plain_package_with_spdx_license() -> None:
    assert _catalog("node_modules/debug/package.json") == (
        "debug",
        "4.3.4",
        ("MIT",),
        "pkg:npm/debug@4.3.4",
    )


def test_nested_install_is_reported() -> None:
    assert _catalog("node_modules/debug/node_modules/ms/package.json")[:2] == ("ms", "2.1.2")


def test_scoped_package_purl_has_namespace() -> None:
    name, version, licenses, purl = _catalog("node_modules/@types/node/package.json")
    assert (name, version, licenses) == ("@types/node", "20.11.0", ("MIT",))
    assert purl == "pkg:npm/%40types/node@20.11.0"


def test_legacy_licenses_array() -> None:
    assert _catalog("node_modules/json-schema/package.json")[:3] == (
        "json-schema",
        "0.2.3",
        ("AFLv2.1", "BSD"),
    )


def test_legacy_license_object() -> None:
    # the pre-2015 form `"license": {"type": ..., "url": ...}`
    doc = {"name": "old", "version": "0.1.0", "license": {"type": "MIT", "url": "http://x"}}
    (pkg,) = parse_package_json(json.dumps(doc).encode(), "/p").packages
    assert pkg.licenses == ("MIT",)


def test_license_array_in_the_license_field() -> None:
    doc = {"name": "odd", "version": "1.0.0", "license": ["MIT", {"type": "ISC"}]}
    (pkg,) = parse_package_json(json.dumps(doc).encode(), "/p").packages
    assert pkg.licenses == ("MIT", "ISC")


def test_private_flag_is_kept() -> None:
    doc = {"name": "inner", "version": "1.0.0", "private": True}
    (pkg,) = parse_package_json(json.dumps(doc).encode(), "/p").packages
    assert pkg.meta("private") == "true"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"name": "x",', "line 1 column 14: invalid JSON: Expecting property name"),
        (b"[1, 2]", "top level is an array, not an object"),
        (b'{"version": "1.0.0"}', "missing or non-string 'name'"),
        (b'{"name": "x", "version": 3}', "missing or non-string 'version' of 'x'"),
        (b'{"name": "a b", "version": "1"}', "invalid package name 'a b'"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid JSON:"),
    ],
)
def test_malformed_manifest_is_unknown(data: bytes, reason: str) -> None:
    u = one_unknown(parse_package_json(data, "/app/node_modules/x/package.json"), NAME)
    assert u.reason.startswith(reason)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_bytes_never_raise(data: bytes) -> None:
    res = parse_package_json(data, "/p")
    assert len(res.packages) + len(res.unknowns) == 1


_json = json_values()


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "name": _json,
            "version": _json,
            "license": _json,
            "licenses": _json,
            "private": _json,
        },
    )
)
def test_fuzz_structure_never_raises(doc: dict[str, object]) -> None:
    res = parse_package_json(json.dumps(doc).encode(), "/p")
    assert len(res.packages) + len(res.unknowns) == 1
    for p in res.packages:
        assert all(isinstance(x, str) for x in p.licenses)
