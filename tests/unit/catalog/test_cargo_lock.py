"""rust/cargo-lock: Cargo.lock formats 1 to 4."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.base import FileEntry, LayerFile
from shoal.catalog.cargo_lock import NAME, CargoLockCataloger, parse_cargo_lock
from shoal.model import PackageType
from tests.unit.catalog.helpers import assert_one_line_reasons, one_unknown

DATA = Path(__file__).parent / "testdata" / "cargo_lock"
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"
CFG_IF_SUM = "baf1de4339761588bc0619e3cbc0120ee582ebb74b53b4efbf79117bd2da40fd"
AUTOCFG_SUM = "cdb031dd78e28731d87d56cc8ffef4a8f36ca26c38fe2de700543e627f8a464a"


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/src/app/Cargo.lock", True),
        ("/src/app/Cargo.toml", False),
        ("/src/app/cargo.lock", False),
        ("/src/app/Cargo.lock.orig", False),
    ],
)
def test_wants(path: str, wanted: bool) -> None:
    assert CargoLockCataloger().wants(FileEntry(path=path, size=10, mode=0o644)) is wanted


@pytest.mark.parametrize("fmt", ["v1", "v2", "v3", "v4"])
def test_every_format(fmt: str) -> None:
    path = "/src/app/Cargo.lock"
    data = (DATA / fmt / "Cargo.lock").read_bytes()
    res = CargoLockCataloger().catalog(LayerFile(path=path, data=data))
    assert res.unknowns == ()
    got = {(p.name, p.version): dict(p.metadata) for p in res.packages}
    assert got == {
        ("app", "0.2.0"): {"source": "local"},
        ("autocfg", "1.0.1"): {"source": CRATES_IO, "checksum": AUTOCFG_SUM},
        ("cfg-if", "1.0.0"): {"source": CRATES_IO, "checksum": CFG_IF_SUM},
        ("util", "0.1.1"): {"source": "local"},
    }
    for p in res.packages:
        assert p.type is PackageType.RUST
        assert p.locations[0].path == path


def test_purl() -> None:
    res = parse_cargo_lock((DATA / "v4/Cargo.lock").read_text(), "/c")
    assert "pkg:cargo/cfg-if@1.0.0" in {p.purl for p in res.packages}


def test_git_source_and_none_checksum() -> None:
    text = (
        "[[package]]\n"
        'name = "serde"\n'
        'version = "1.0.0"\n'
        'source = "git+https://github.com/serde-rs/serde?rev=abc#abcdef0123"\n'
        "\n[metadata]\n"
        '"checksum serde 1.0.0 (git+https://github.com/serde-rs/serde?rev=abc#abcdef0123)"'
        ' = "<none>"\n'
    )
    (pkg,) = parse_cargo_lock(text, "/c").packages
    assert pkg.meta("source") == "git+https://github.com/serde-rs/serde?rev=abc#abcdef0123"
    assert pkg.meta("checksum") is None


def test_old_root_table_is_a_package() -> None:
    text = (
        '[root]\nname = "foo"\nversion = "0.0.1"\n\n[[package]]\nname = "bar"\nversion = "0.1.0"\n'
    )
    res = parse_cargo_lock(text, "/c")
    assert [(p.name, p.version) for p in res.packages] == [("foo", "0.0.1"), ("bar", "0.1.0")]


def test_bad_tables_are_unknown_and_the_rest_kept() -> None:
    text = (
        '[[package]]\nname = "ok"\nversion = "1.0.0"\n\n'
        '[[package]]\nname = "no version"\n\n'
        '[[package]]\nname = "x"\nversion = 3\n'
    )
    res = parse_cargo_lock(text, "/c")
    assert [(p.name, p.version) for p in res.packages] == [("ok", "1.0.0")]
    assert [u.reason for u in res.unknowns] == [
        "package[1]: invalid crate name 'no version'",
        "package[2] (x): invalid version '3'",
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[package]\n", "invalid TOML:"),
        ("version = 'x'\n", "invalid lockfile version 'x'"),
        ("package = 3\n", "'package' is not an array of tables"),
        ("a = " + "[" * 50_000, "invalid TOML"),
        ("version = " + "9" * 5000 + "\n", "invalid TOML: Exceeds the limit"),
    ],
)
def test_malformed_file_is_one_unknown(text: str, reason: str) -> None:
    u = one_unknown(parse_cargo_lock(text, "/c"), NAME)
    assert u.reason.startswith(reason)


def test_not_utf8_is_unknown() -> None:
    res = CargoLockCataloger().catalog(LayerFile(path="/c/Cargo.lock", data=b"\xff"))
    assert res.unknowns[0].reason == "not UTF-8 at byte 0"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_text_never_raises(text: str) -> None:
    parse_cargo_lock(text, "/c")


_VAL = st.one_of(
    st.integers(), st.text(max_size=8), st.booleans(), st.lists(st.integers(), max_size=2)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["name", "version", "source", "checksum"]), _VAL)))
def test_fuzz_tables_never_raise(tables: list[dict[str, object]]) -> None:
    def toml(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.encode("unicode_escape").decode().replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(map(str, v)) + "]"
        return str(v)

    text = "".join(
        "[[package]]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in t.items()) for t in tables
    )
    assert_one_line_reasons(parse_cargo_lock(text, "/c"))


def test_byte_order_mark_is_tolerated() -> None:
    data = b"\xef\xbb\xbf" + (DATA / "v3/Cargo.lock").read_bytes()
    res = CargoLockCataloger().catalog(LayerFile(path="/c/Cargo.lock", data=data))
    assert res.unknowns == ()
    assert len(res.packages) == 4
