"""npm/pnpm-lock: lockfile formats 5.4 (pnpm 7), 6.0 (pnpm 8) and 9.0 (pnpm 9)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.base import FileEntry, LayerFile
from shoal.catalog.pnpm_lock import NAME, PnpmLockCataloger, parse_pnpm_lock
from tests.unit.catalog.helpers import (
    NPM_APP,
    assert_one_line_reasons,
    one_unknown,
    packages_and_reasons,
)

DATA = Path(__file__).parent / "testdata" / "pnpm_lock"


def _catalog(case: str) -> tuple[dict[tuple[str, str], dict[str, str]], list[str]]:
    path = "/app/pnpm-lock.yaml"
    data = (DATA / case / "pnpm-lock.yaml").read_bytes()
    return packages_and_reasons(PnpmLockCataloger().catalog(LayerFile(path=path, data=data)), path)


@pytest.mark.parametrize(
    ("path", "wanted"),
    [("/app/pnpm-lock.yaml", True), ("/app/pnpm-workspace.yaml", False), ("/pnpm-lock.yml", False)],
)
def test_wants(path: str, wanted: bool) -> None:
    assert PnpmLockCataloger().wants(FileEntry(path=path, size=10, mode=0o644)) is wanted


@pytest.mark.parametrize("case", ["v5", "v6", "v9"])
def test_every_format_gives_the_same_packages(case: str) -> None:
    found, unknowns = _catalog(case)
    assert sorted(found) == NPM_APP  # react-dom's peer suffix is not part of its version
    assert unknowns == []
    assert found[("ms", "2.1.2")]["integrity"].startswith("sha512-sGkPx+VjMtmA6MX27oA4")


@pytest.mark.parametrize("case", ["v5", "v6"])
def test_dev_flag_of_formats_5_and_6(case: str) -> None:
    found, _ = _catalog(case)
    assert found[("is-number", "7.0.0")].get("dev") == "true"
    assert "dev" not in found[("react", "18.2.0")]


def test_dev_only_packages_of_format_9_follow_the_snapshot_graph() -> None:
    found, unknowns = _catalog("dev_v9")
    assert unknowns == []
    # ms is a production dependency that the dev-only debug also uses: not dev
    assert {nv: meta.get("dev") for nv, meta in found.items()} == {
        ("debug", "4.3.4"): "true",
        ("js-tokens", "4.0.0"): "true",
        ("loose-envify", "1.4.0"): "true",
        ("ms", "2.1.2"): None,
    }


def test_format_9_dev_of_the_fixture_app() -> None:
    found, _ = _catalog("v9")
    assert [nv for nv, meta in found.items() if meta.get("dev")] == [("is-number", "7.0.0")]


def test_format_9_cyclic_snapshots_terminate() -> None:
    text = (
        "lockfileVersion: '9.0'\n"
        "importers:\n  .:\n    devDependencies:\n      a: {specifier: '1', version: '1.0.0'}\n"
        "packages:\n  a@1.0.0: {}\n  b@1.0.0: {}\n"
        "snapshots:\n  a@1.0.0: {dependencies: {b: 1.0.0}}\n  b@1.0.0: {dependencies: {a: 1.0.0}}\n"
    )
    res = parse_pnpm_lock(text.encode(), "/p")
    assert [(p.name, p.meta("dev")) for p in res.packages] == [("a", "true"), ("b", "true")]


@pytest.mark.parametrize("case", ["file_v5", "file_v6", "file_v9"])
def test_local_file_packages_are_skipped(case: str) -> None:
    found, unknowns = _catalog(case)
    assert sorted(found) == [("@types/ms", "0.7.34"), ("ms", "2.0.0")]
    assert unknowns == []


def test_workspace_links_are_not_packages() -> None:
    found, _ = _catalog("workspace_v9")
    assert sorted(found) == [("left-pad", "1.3.0"), ("ms", "2.0.0")]


def test_scoped_purl() -> None:
    res = parse_pnpm_lock((DATA / "v6/pnpm-lock.yaml").read_bytes(), "/p")
    assert "pkg:npm/%40types/node@20.11.0" in {p.purl for p in res.packages}


def test_explicit_name_and_version_win_over_the_key() -> None:
    text = (
        "lockfileVersion: '6.0'\n"
        "packages:\n"
        "  github.com/sindresorhus/ky/2a5a2b1f:\n"
        "    resolution: {tarball: https://codeload.github.com/sindresorhus/ky/tar.gz/2a5a2b1f}\n"
        "    name: ky\n"
        "    version: 0.33.3\n"
    )
    res = parse_pnpm_lock(text.encode(), "/p")
    (pkg,) = res.packages
    assert (pkg.name, pkg.version) == ("ky", "0.33.3")
    assert pkg.meta("tarball") == "https://codeload.github.com/sindresorhus/ky/tar.gz/2a5a2b1f"


def test_version_1_10_is_not_a_float() -> None:
    text = "lockfileVersion: 5.4\npackages:\n  /x/1.10:\n    dev: false\n"
    (pkg,) = parse_pnpm_lock(text.encode(), "/p").packages
    assert pkg.version == "1.10"


def test_lockfile_without_packages_is_empty() -> None:
    res = parse_pnpm_lock(b"lockfileVersion: '9.0'\nimporters:\n  .: {}\n", "/p")
    assert res.packages == () and res.unknowns == ()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("packages: {}\n", "missing 'lockfileVersion'"),
        ("lockfileVersion: abc\n", "unreadable lockfileVersion 'abc'"),
        ("lockfileVersion: \u00b2\n", "unreadable lockfileVersion"),
        ("lockfileVersion: " + "9" * 5000 + "\n", "unreadable lockfileVersion"),
        ("lockfileVersion: '9.0'\npackages: [1]\n", "'packages' is not a mapping"),
        ("- 1\n", "top level is not a mapping"),
        ("lockfileVersion: '9.0'\npackages: {a: [\n", "invalid YAML:"),
        ("a: " + "[" * 3000, "invalid YAML"),
    ],
)
def test_malformed_lockfile_is_one_unknown(text: str, reason: str) -> None:
    u = one_unknown(parse_pnpm_lock(text.encode(), "/p"), NAME)
    assert u.reason.startswith(reason)


def test_bad_entries_are_unknown_and_the_rest_kept() -> None:
    text = "lockfileVersion: '9.0'\npackages:\n  ok@1.0.0: {}\n  noversion: {}\n  bad@2: 3\n"
    res = parse_pnpm_lock(text.encode(), "/p")
    assert [(p.name, p.version) for p in res.packages] == [("ok", "1.0.0")]
    assert [u.reason for u in res.unknowns] == [
        "packages['noversion']: cannot read a name and version",
        "packages['bad@2'] is not a mapping",
    ]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_bytes_never_raise(data: bytes) -> None:
    parse_pnpm_lock(data, "/p")


_KEY = st.sampled_from(["/a/1.0.0", "/a@1(b@2)", "@s/a@1", "file:x", "/@s/a/1_b@2", "x", "/"])


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["5.4", "'6.0'", "'9.0'", "5", "x"]),
    st.lists(
        st.tuples(_KEY, st.sampled_from(["{}", "3", "{name: n}", "{version: ''}"])), max_size=6
    ),
)
def test_fuzz_structure_never_raises(version: str, entries: list[tuple[str, str]]) -> None:
    body = "".join(f"  '{k}': {v}\n" for k, v in entries)
    assert_one_line_reasons(
        parse_pnpm_lock(f"lockfileVersion: {version}\npackages:\n{body}".encode(), "/p")
    )


@pytest.mark.parametrize(
    "nest",
    ["[" * 200_000 + "]" * 200_000, "[\n" * 200_000, "{a: " * 200_000, '[ "]", ' * 200_000],
)
def test_hostile_nesting_is_refused_without_crashing(nest: str) -> None:
    # libyaml recurses in C when composing: without the depth check this kills the process
    res = parse_pnpm_lock(f"lockfileVersion: '9.0'\npackages:\n  a@1: {{x: {nest}\n".encode(), "/p")
    assert res.packages == ()
    assert res.unknowns[0].reason == "invalid YAML: nested deeper than 64 levels"


def test_alias_expansion_is_not_a_bomb() -> None:
    lines = ["lockfileVersion: '9.0'", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    lines += ["packages:", "  ok@1.0.0: {}"]
    res = parse_pnpm_lock("\n".join(lines).encode(), "/p")
    assert [(p.name, p.version) for p in res.packages] == [("ok", "1.0.0")]


_node = st.recursive(
    st.none() | st.text(max_size=8) | st.sampled_from(["1.0.0", "a@1.0.0", "link:x"]),
    lambda inner: (
        st.dictionaries(
            st.sampled_from(["dependencies", "devDependencies", "version", "a", "a@1.0.0", "."]),
            inner,
            max_size=3,
        )
        | st.lists(inner, max_size=2)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_node, _node)
def test_fuzz_v9_dev_graph_never_raises(importers: object, snapshots: object) -> None:
    doc = {
        "lockfileVersion": "9.0",
        "importers": importers,
        "packages": {"a@1.0.0": {}},
        "snapshots": snapshots,
    }
    res = parse_pnpm_lock(yaml.safe_dump(doc).encode(), "/p")
    assert [(p.name, p.version) for p in res.packages] == [("a", "1.0.0")]


def test_env_lockfile_document_before_the_project_document() -> None:
    text = (
        "---\nlockfileVersion: '9.0'\nimporters:\n  .:\n    configDependencies: {}\n"
        "packageManagerDependencies:\n  pnpm:\n    specifier: 10.0.0\n    version: 10.0.0\n"
        "---\n" + (DATA / "v9/pnpm-lock.yaml").read_text()
    )
    res = parse_pnpm_lock(text.encode(), "/p")
    assert sorted((p.name, p.version) for p in res.packages) == NPM_APP


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "lockfileVersion: '9.0'\n? [a]\n: 1\n",
            "invalid YAML: a collection used as a mapping key",
        ),
        ("lockfileVersion: '9.0'\nx: *nope\n", "invalid YAML: undefined alias 'nope'"),
    ],
)
def test_yaml_the_builder_refuses(text: str, reason: str) -> None:
    res = parse_pnpm_lock(text.encode(), "/p")
    assert [u.reason for u in res.unknowns] == [reason]


def test_recursive_alias_does_not_loop() -> None:
    text = "lockfileVersion: '9.0'\nx: &r [*r]\npackages:\n  a@1.0.0: {}\n"
    res = parse_pnpm_lock(text.encode(), "/p")
    assert [(p.name, p.version) for p in res.packages] == [("a", "1.0.0")]
