"""npm/yarn-lock: yarn classic (v1) text format and yarn berry YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.base import FileEntry, LayerFile
from shoal.catalog.yarn_lock import NAME, YarnLockCataloger, parse_yarn_lock
from tests.unit.catalog.helpers import (
    NPM_APP,
    assert_one_line_reasons,
    one_unknown,
    packages_and_reasons,
)

DATA = Path(__file__).parent / "testdata" / "yarn_lock"


def _catalog(case: str) -> tuple[dict[tuple[str, str], dict[str, str]], list[str]]:
    path = "/app/yarn.lock"
    data = (DATA / case / "yarn.lock").read_bytes()
    return packages_and_reasons(YarnLockCataloger().catalog(LayerFile(path=path, data=data)), path)


@pytest.mark.parametrize(
    ("path", "wanted"),
    [("/app/yarn.lock", True), ("/app/yarn.lock.bak", False), ("/app/package-lock.json", False)],
)
def test_wants(path: str, wanted: bool) -> None:
    assert YarnLockCataloger().wants(FileEntry(path=path, size=10, mode=0o644)) is wanted


def test_classic_lockfile() -> None:
    found, unknowns = _catalog("v1")
    assert sorted(found) == NPM_APP
    assert unknowns == []
    meta = found[("@types/node", "20.11.0")]
    assert meta["resolved"].startswith(
        "https://registry.yarnpkg.com/@types/node/-/node-20.11.0.tgz"
    )
    assert meta["integrity"].startswith("sha512-o9bjXmDNcF7GbM4")


def test_classic_alias_resolves_to_the_real_package_once() -> None:
    found, unknowns = _catalog("alias_v1")
    # `my-ms@npm:ms@2.1.3` and `ms@^2.1.0` install the same ms 2.1.3: one package
    assert sorted(found) == [("debug", "4.3.4"), ("ms", "2.1.2"), ("ms", "2.1.3")]
    assert unknowns == []


def test_berry_lockfile_skips_workspace_and_folds_patches() -> None:
    found, unknowns = _catalog("berry")
    assert unknowns == []
    assert ("fixture-app", "0.0.0-use.local") not in found
    assert set(NPM_APP) <= set(found)
    assert ("resolve", "1.22.8") in found
    assert found[("resolve", "1.22.8")]["patched"] == "true"
    assert found[("react", "18.2.0")]["resolution"] == "react@npm:18.2.0"
    assert found[("react", "18.2.0")]["checksum"].startswith("10c0/b562d9b5")
    assert "patched" not in found[("react", "18.2.0")]
    assert len(found) == 16


def test_berry_scoped_purl() -> None:
    res = parse_yarn_lock((DATA / "berry/yarn.lock").read_text(), "/y")
    purls = {p.purl for p in res.packages}
    assert "pkg:npm/%40types/node@20.11.0" in purls


def test_classic_multi_pattern_header_and_local_protocols() -> None:
    text = (
        "# yarn lockfile v1\n\n\n"
        '"left-pad@^1.0.0", left-pad@^1.3.0:\n'
        '  version "1.3.0"\n'
        '  resolved "https://registry.yarnpkg.com/left-pad/-/left-pad-1.3.0.tgz#5b8a3a7765"\n\n'
        '"mylib@file:./libs/mylib":\n'
        '  version "0.0.1"\n'
    )
    res = parse_yarn_lock(text, "/y")
    assert [(p.name, p.version) for p in res.packages] == [("left-pad", "1.3.0")]
    assert res.unknowns == ()


def test_classic_entry_without_version_is_unknown() -> None:
    text = 'a@^1:\n  version "1.0.0"\n\nb@^2:\n  resolved "https://x"\n'
    res = parse_yarn_lock(text, "/y")
    assert [(p.name, p.version) for p in res.packages] == [("a", "1.0.0")]
    assert [u.reason for u in res.unknowns] == ["line 4: entry 'b@^2' has no version"]


def test_classic_garbage_lines_are_reported_with_line_numbers() -> None:
    text = '  version "1"\nnot a header\nok@1:\n  version "1"\n'
    res = parse_yarn_lock(text, "/y")
    assert [(p.name, p.version) for p in res.packages] == [("ok", "1")]
    assert [u.reason for u in res.unknowns] == [
        "line 1: indented line outside an entry",
        "line 2: expected an entry header ending in ':'",
    ]


def test_berry_version_stays_a_string() -> None:
    text = (
        '__metadata:\n  version: 6\n\n"x@npm:1.10":\n  version: 1.10\n  resolution: "x@npm:1.10"\n'
    )
    (pkg,) = parse_yarn_lock(text, "/y").packages
    assert pkg.version == "1.10"


def test_berry_malformed_entries_are_unknown() -> None:
    text = (
        "__metadata:\n  version: 8\n\n"
        '"a@npm:1.0.0":\n  version: 1.0.0\n\n'
        '"b@npm:1.0.0":\n  resolution: "b@npm:1.0.0"\n\n'
        '"c@npm:1.0.0": 3\n'
    )
    res = parse_yarn_lock(text, "/y")
    assert res.packages == ()
    assert [u.reason for u in res.unknowns] == [
        "entry 'a@npm:1.0.0' has no resolution",
        "entry 'b@npm:1.0.0' has no version",
        "entry 'c@npm:1.0.0' is not a mapping",
    ]


def test_berry_invalid_yaml_is_one_unknown() -> None:
    u = one_unknown(parse_yarn_lock('__metadata:\n  version: 8\n"a": [\n', "/y"), NAME)
    assert u.reason.startswith("invalid YAML:")


def test_berry_deep_nesting_is_refused_cleanly() -> None:
    res = parse_yarn_lock("__metadata:\n  x: " + "[" * 5000 + "]" * 5000 + "\n", "/y")
    assert res.packages == ()
    assert res.unknowns[0].reason.startswith("invalid YAML")


def test_not_utf8_is_unknown() -> None:
    res = YarnLockCataloger().catalog(
        LayerFile(path="/y/yarn.lock", data=b"a@1:\n  version \xff\n")
    )
    assert res.unknowns[0].reason == "not UTF-8 at byte 15"


_TOKENS = st.sampled_from(
    ["a", "@b", "@", ":", '"', " ", "\n", ",", "#", "^1.0", "npm:", "  version ", "file:"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS, max_size=60).map("".join))
def test_fuzz_classic_never_raises(text: str) -> None:
    assert_one_line_reasons(parse_yarn_lock(text, "/y"))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_berry_never_raises(text: str) -> None:
    assert_one_line_reasons(parse_yarn_lock("__metadata:\n  version: 8\n" + text, "/y"))


def test_berry_hostile_nesting_is_refused_without_crashing() -> None:
    res = parse_yarn_lock("__metadata:\n  version: 8\nx: " + "[" * 200_000 + "\n", "/y")
    assert res.packages == ()
    assert res.unknowns[0].reason == "invalid YAML: nested deeper than 64 levels"


def test_byte_order_mark_is_tolerated() -> None:
    data = b"\xef\xbb\xbf" + (DATA / "v1/yarn.lock").read_bytes()
    res = YarnLockCataloger().catalog(LayerFile(path="/y/yarn.lock", data=data))
    assert res.unknowns == ()
    assert len(res.packages) == 10


def test_berry_with_two_documents_is_unknown() -> None:
    res = parse_yarn_lock("__metadata:\n  version: 8\n---\na: 1\n", "/y")
    assert [u.reason for u in res.unknowns] == ["expected one YAML document, found 2"]
