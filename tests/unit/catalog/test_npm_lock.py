"""npm/package-lock: lockfileVersion 1, 2 and 3, workspaces and aliases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.base import FileEntry, LayerFile
from shoal.catalog.npm_lock import NpmLockCataloger, parse_package_lock
from tests.unit.catalog.helpers import NPM_APP, assert_one_line_reasons, json_values

DATA = Path(__file__).parent / "testdata" / "npm_lock"


def _parse(rel: str) -> tuple[list[tuple[str, str]], dict[str, str | None], list[str]]:
    res = NpmLockCataloger().catalog(LayerFile(path="/app/" + rel, data=(DATA / rel).read_bytes()))
    pairs = [(p.name, p.version) for p in res.packages]
    dev = {p.name: p.meta("dev") for p in res.packages}
    return pairs, dev, [u.reason for u in res.unknowns]


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/app/package-lock.json", True),
        ("/app/npm-shrinkwrap.json", True),
        ("/app/node_modules/.package-lock.json", False),  # hidden lockfile mirrors node_modules
        ("/app/package.json", False),
        ("/app/package-lock.json.bak", False),
    ],
)
def test_wants(path: str, wanted: bool) -> None:
    assert NpmLockCataloger().wants(FileEntry(path=path, size=10, mode=0o644)) is wanted


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_every_lockfile_version_gives_the_same_packages(version: str) -> None:
    pairs, dev, unknowns = _parse(f"{version}/package-lock.json")
    assert sorted(pairs) == NPM_APP
    assert len(pairs) == len(set(pairs))  # v2 keeps the v1 tree too: nothing twice
    assert dev["is-number"] == "true"
    assert dev["react"] is None
    assert unknowns == []


def test_v3_metadata_and_purls() -> None:
    res = parse_package_lock((DATA / "v3/package-lock.json").read_bytes(), "/app/package-lock.json")
    by_name = {p.name: p for p in res.packages}
    types_node = by_name["@types/node"]
    assert types_node.purl == "pkg:npm/%40types/node@20.11.0"
    assert types_node.licenses == ("MIT",)
    assert types_node.meta("integrity", "").startswith("sha512-o9bjXmDNcF7GbM4")
    assert types_node.meta("resolved") is None  # npm 11 omits it for the default registry
    assert types_node.locations[0].path == "/app/package-lock.json"


def test_workspace_links_and_root_are_skipped_nested_and_aliased_kept() -> None:
    pairs, _, unknowns = _parse("workspace_v3/package-lock.json")
    assert pairs == [
        ("debug", "4.3.4"),
        ("ms", "2.1.2"),  # node_modules/debug/node_modules/ms
        ("ms", "2.0.0"),
        ("ms", "2.1.3"),  # node_modules/my-ms is an alias of ms
    ]
    assert unknowns == []


def test_v1_alias_reports_the_real_package() -> None:
    pairs, _, _ = _parse("alias_v1/package-lock.json")
    assert sorted(pairs) == [("debug", "4.3.4"), ("ms", "2.0.0"), ("ms", "2.1.2"), ("ms", "2.1.3")]


def test_v1_local_folders_are_skipped() -> None:
    doc = {"lockfileVersion": 1, "dependencies": {"a": {"version": "file:packages/a"}}}
    res = parse_package_lock(json.dumps(doc).encode(), "/p")
    assert res.packages == () and res.unknowns == ()


def test_entries_without_version_are_unknown_but_others_kept() -> None:
    doc = {
        "lockfileVersion": 3,
        "packages": {
            "node_modules/ok": {"version": "1.0.0"},
            "node_modules/broken": {"resolved": "https://x"},
            "node_modules/weird": [],
        },
    }
    res = parse_package_lock(json.dumps(doc).encode(), "/p")
    assert [(p.name, p.version) for p in res.packages] == [("ok", "1.0.0")]
    assert [u.reason for u in res.unknowns] == [
        "packages['node_modules/broken'] has no version",
        "packages['node_modules/weird'] is not an object",
    ]


def test_many_problems_are_summarised() -> None:
    doc = {"packages": {f"node_modules/p{i}": {} for i in range(50)}}
    res = parse_package_lock(json.dumps(doc).encode(), "/p")
    assert len(res.unknowns) == 21
    assert res.unknowns[-1].reason == "30 more malformed entries"


def test_deep_v1_tree_is_bounded() -> None:
    tree: dict[str, object] = {"version": "1.0.0"}
    for _ in range(300):
        tree = {"version": "1.0.0", "dependencies": {"x": tree}}
    doc = {"lockfileVersion": 1, "dependencies": {"x": tree}}
    res = parse_package_lock(json.dumps(doc).encode(), "/p")
    assert [(p.name, p.version) for p in res.packages] == [("x", "1.0.0")]
    assert "nested deeper than 256" in res.unknowns[0].reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{", "line 1 column 2: invalid JSON"),
        (b'"x"', "top level is not an object"),
        (b'{"packages": []}', "'packages' is not an object"),
        (b'{"dependencies": 1}', "'dependencies' is not an object"),
    ],
)
def test_malformed_lockfile_is_unknown(data: bytes, reason: str) -> None:
    res = parse_package_lock(data, "/p")
    assert res.packages == ()
    assert res.unknowns[0].reason.startswith(reason)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_bytes_never_raise(data: bytes) -> None:
    parse_package_lock(data, "/p")


_json = json_values(
    st.sampled_from(["version", "dependencies", "name", "link", "dev", "node_modules/a", "x"]),
    text_size=12,
    dict_size=4,
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={"packages": _json, "dependencies": _json}))
def test_fuzz_structure_never_raises(doc: dict[str, object]) -> None:
    assert_one_line_reasons(parse_package_lock(json.dumps(doc).encode(), "/p"))
