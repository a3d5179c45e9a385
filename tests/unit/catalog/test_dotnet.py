"""dotnet/deps-json: `.deps.json` libraries (fixture: pythonnet 3.0.3's Python.Runtime.deps.json,
trimmed to six of its libraries)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.base import FileEntry, LayerFile
from shoal.catalog.dotnet import NAME, DotnetCataloger, parse_deps_json
from shoal.model import PackageType
from tests.unit.catalog.helpers import assert_one_line_reasons, one_unknown

DEPS = Path(__file__).parent / "testdata" / "dotnet" / "pythonnet" / "Python.Runtime.deps.json"
IMAGE_PATH = "/usr/lib/python3/site-packages/pythonnet/runtime/Python.Runtime.deps.json"


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        (IMAGE_PATH, True),
        ("/app/MyApp.deps.json", True),
        ("/app/MyApp.runtimeconfig.json", False),
        ("/app/deps.json.bak", False),
    ],
)
def test_wants(path: str, wanted: bool) -> None:
    assert DotnetCataloger().wants(FileEntry(path=path, size=10, mode=0o644)) is wanted


def test_real_deps_json() -> None:
    res = DotnetCataloger().catalog(LayerFile(path=IMAGE_PATH, data=DEPS.read_bytes()))
    assert res.unknowns == ()
    got = {(p.name, p.version): p.meta("type") for p in res.packages}
    assert got == {
        ("Python.Runtime", "3.0.3"): "project",
        ("Lost.Compat.NullabilityAttributes", "0.0.4"): "package",
        ("Microsoft.CSharp", "4.7.0"): "package",
        ("Microsoft.NETCore.Platforms", "1.1.0"): "package",
        ("NETStandard.Library", "2.0.3"): "package",
        ("System.Reflection.Emit", "4.3.0"): "package",
    }
    csharp = next(p for p in res.packages if p.name == "Microsoft.CSharp")
    assert csharp.type is PackageType.DOTNET
    assert csharp.purl == "pkg:nuget/Microsoft.CSharp@4.7.0"
    assert csharp.meta("sha512", "").startswith("sha512-pTj+D3uJWyN3M")
    assert csharp.meta("path") == "microsoft.csharp/4.7.0"
    assert csharp.meta("hashPath") == "microsoft.csharp.4.7.0.nupkg.sha512"
    assert csharp.locations[0].path == IMAGE_PATH


def test_references_are_skipped_runtime_packs_kept() -> None:
    doc = {
        "libraries": {
            "System.Xml/4.0.0.0": {"type": "reference", "serviceable": False, "sha512": ""},
            "Microsoft.NETCore.App.Runtime.linux-x64/8.0.1": {
                "type": "runtimepack",
                "serviceable": False,
                "sha512": "",
            },
        }
    }
    res = parse_deps_json(json.dumps(doc).encode(), "/d")
    assert [(p.name, p.version) for p in res.packages] == [
        ("Microsoft.NETCore.App.Runtime.linux-x64", "8.0.1")
    ]


def test_bom_is_accepted() -> None:
    data = b"\xef\xbb\xbf" + json.dumps({"libraries": {"A/1.0.0": {"type": "package"}}}).encode()
    (pkg,) = parse_deps_json(data, "/d").packages
    assert (pkg.name, pkg.version) == ("A", "1.0.0")


def test_bad_libraries_are_unknown_and_the_rest_kept() -> None:
    doc = {
        "libraries": {
            "Good/1.0.0": {"type": "package"},
            "NoVersion": {"type": "package"},
            "Weird/1.0.0": [],
        }
    }
    res = parse_deps_json(json.dumps(doc).encode(), "/d")
    assert [(p.name, p.version) for p in res.packages] == [("Good", "1.0.0")]
    assert [u.reason for u in res.unknowns] == [
        "libraries['NoVersion']: key is not 'Name/Version'",
        "libraries['Weird/1.0.0'] is not an object",
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{", "line 1 column 2: invalid JSON"),
        (b"[]", "top level is not an object"),
        (b'{"targets": {}}', "'libraries' is missing or not an object"),
        (b"\xff\xfe", "invalid JSON:"),
        (b"[" * 50_000, "invalid JSON:"),
    ],
)
def test_malformed_file_is_one_unknown(data: bytes, reason: str) -> None:
    u = one_unknown(parse_deps_json(data, "/d"), NAME)
    assert u.reason.startswith(reason)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_bytes_never_raise(data: bytes) -> None:
    parse_deps_json(data, "/d")


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=12),
        st.one_of(
            st.none(),
            st.integers(),
            st.fixed_dictionaries(
                {"type": st.sampled_from(["package", "project", "reference", "runtimepack", 3])},
                optional={"sha512": st.one_of(st.text(max_size=5), st.integers())},
            ),
        ),
        max_size=6,
    )
)
def test_fuzz_libraries_never_raise(libraries: dict[str, object]) -> None:
    assert_one_line_reasons(parse_deps_json(json.dumps({"libraries": libraries}).encode(), "/d"))
