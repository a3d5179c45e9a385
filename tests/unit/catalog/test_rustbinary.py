"""rust/cargo-auditable: the `.dep-v0` section of a real Rust executable."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.base import FileEntry, LayerFile
from shoal.catalog.elf import parse_elf
from shoal.catalog.rustbinary import (
    MAX_JSON,
    RustBinaryCataloger,
    parse_audit_data,
    parse_rust_binary,
)
from shoal.model import PackageType
from tests.unit.catalog.helpers import json_values, xz_fixture

DATA = Path(__file__).parent / "testdata" / "rustbinary"


def _z(doc: Any) -> bytes:
    return zlib.compress(json.dumps(doc).encode())


def test_wants_executables_and_bin_dirs() -> None:
    c = RustBinaryCataloger()
    assert c.wants(FileEntry("/usr/local/bin/rg", 4_000_000, 0o755))
    assert c.wants(FileEntry("/usr/bin/rg", 4_000_000, 0o644))
    assert c.wants(FileEntry("/app/server", 4_000_000, 0o700))
    assert c.wants(FileEntry("/Files/app/tool.exe", 4_000_000, 0o644))
    assert not c.wants(FileEntry("/usr/share/doc/x", 4_000, 0o644))
    assert not c.wants(FileEntry("/usr/bin/tiny", 100, 0o755))


def test_accepts_executables_only() -> None:
    c = RustBinaryCataloger()
    assert c.head_size == 4
    assert c.accepts(xz_fixture("rustbinary", "hello-auditable.xz")[:4])
    assert c.accepts(b"MZ\x90\x00")
    assert c.accepts(b"\xcf\xfa\xed\xfe")
    assert not c.accepts(b"#!/b")
    assert not c.accepts(b"PK\x03\x04")


def test_fixture_section_holds_the_committed_json() -> None:
    elf = parse_elf(xz_fixture("rustbinary", "hello-auditable.xz"))
    sec = elf.section(".dep-v0")
    assert sec is not None
    assert json.loads(zlib.decompress(elf.section_data(sec))) == json.loads(
        (DATA / "dep-v0.json").read_text()
    )


def test_runtime_crates_become_packages_build_crates_do_not() -> None:
    result = parse_rust_binary(
        xz_fixture("rustbinary", "hello-auditable.xz"), "/usr/local/bin/hello-auditable"
    )
    assert result.unknowns == ()
    got = [(p.name, p.version) for p in result.packages]
    assert got == [
        ("hello-auditable", "0.1.0"),
        ("itoa", "1.0.9"),
        ("ryu", "1.0.15"),
        ("serde", "1.0.190"),
        ("serde_json", "1.0.108"),
    ]  # proc-macro2, quote, serde_derive, syn, unicode-ident are build-only
    root, itoa = result.packages[0], result.packages[1]
    assert root.meta("rust.root") == "true"
    assert root.meta("rust.source") == "local"
    assert itoa.meta("rust.root") is None
    assert itoa.meta("rust.source") == "crates.io"
    assert itoa.meta("rust.audit_format") == "1"
    assert itoa.type is PackageType.RUST
    assert itoa.cataloger == "rust/cargo-auditable"
    assert itoa.locations[0].path == "/usr/local/bin/hello-auditable"
    assert itoa.purl == "pkg:cargo/itoa@1.0.9"


def test_pe_executable_section_is_read_the_same_way() -> None:
    data = xz_fixture("rustbinary", "hello-auditable.exe.xz")
    assert RustBinaryCataloger().accepts(data[:4])
    result = parse_rust_binary(data, "C:/app/hello.exe")
    assert result.unknowns == ()
    assert [p.name for p in result.packages] == [
        "hello-auditable",
        "itoa",
        "ryu",
        "serde",
        "serde_json",
    ]


def test_catalog_wires_the_parser() -> None:
    result = RustBinaryCataloger().catalog(
        LayerFile("/bin/hello", xz_fixture("rustbinary", "hello-auditable.xz"), 0o755)
    )
    assert len(result.packages) == 5


def test_binaries_without_the_section_give_nothing() -> None:
    go = xz_fixture("gobinary", "hello-amd64.xz")
    assert parse_rust_binary(go, "/bin/go-thing") == parse_rust_binary(b"", "/x")
    assert parse_rust_binary(b"\x7fELF\x02\x01" + bytes(10), "/x").packages == ()


def test_section_outside_the_file_is_unknown() -> None:
    data = bytearray(xz_fixture("rustbinary", "hello-auditable.xz"))
    elf = parse_elf(bytes(data))
    index = [s.name for s in elf.sections].index(".dep-v0")
    shoff = int.from_bytes(data[40:48], "little")
    at = shoff + index * 64 + 24  # sh_offset
    data[at : at + 8] = (len(data) + 10).to_bytes(8, "little")
    (u,) = parse_rust_binary(bytes(data), "/bin/x").unknowns
    assert u.reason.startswith(".dep-v0: section '.dep-v0': 254 bytes at offset ")


def test_format_zero_git_and_other_sources() -> None:
    doc = {
        "packages": [
            {
                "name": "tool",
                "version": "0.3.0",
                "source": "local",
                "root": True,
                "dependencies": [1, 2],
            },
            {"name": "forked", "version": "1.2.0", "source": "git"},
            {"name": "internal", "version": "2.0.0", "source": {"Other": "sparse+https://r/"}},
        ]
    }
    result = parse_audit_data(_z(doc), "/bin/tool")
    assert result.unknowns == ()
    assert [(p.name, p.meta("rust.source")) for p in result.packages] == [
        ("tool", "local"),
        ("forked", "git"),
        ("internal", "sparse+https://r/"),
    ]
    assert result.packages[0].meta("rust.audit_format") == "0"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("x", "not an object"),
        ({"version": "1.0.0", "source": "crates.io"}, "missing or non-string 'name'"),
        ({"name": "a", "version": 1, "source": "crates.io"}, "missing or non-string 'version'"),
        ({"name": "a", "version": "1.0.0"}, "missing or malformed 'source'"),
        ({"name": "a", "version": "1", "source": "git", "kind": "dev"}, "unknown kind 'dev'"),
        (
            {"name": "a", "version": "1", "source": "git", "dependencies": [7]},
            "'dependencies' must be indices into 'packages'",
        ),
    ],
)
def test_bad_entries_are_unknowns_beside_good_ones(entry: Any, problem: str) -> None:
    good = {"name": "libc", "version": "0.2.150", "source": "crates.io"}
    result = parse_audit_data(_z({"packages": [good, entry]}), "/bin/x")
    assert [p.name for p in result.packages] == ["libc"]
    (u,) = result.unknowns
    assert u.reason == f".dep-v0: packages[1]: {problem}"
    assert u.cataloger == "rust/cargo-auditable"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (
            b"not zlib at all",
            ".dep-v0: bad zlib data (Error -3 while decompressing data: incorrect header check)",
        ),
        (zlib.compress(b'{"packages": []}')[:-6], ".dep-v0: zlib data is truncated"),
        (zlib.compress(b"\xff\xfe"), ".dep-v0: audit data is not UTF-8"),
        (
            zlib.compress(b'{"packages": [}'),
            ".dep-v0: bad JSON at line 1 column 15: Expecting value",
        ),
        (zlib.compress(b'{"pkgs": []}'), ".dep-v0: JSON has no 'packages' list"),
        (zlib.compress(b"[" * 100_000 + b"]" * 100_000), ".dep-v0: JSON nested too deeply"),
    ],
)
def test_malformed_sections_are_one_line_unknowns(raw: bytes, reason: str) -> None:
    result = parse_audit_data(raw, "/bin/x")
    assert result.packages == ()
    assert [u.reason for u in result.unknowns] == [reason]


def test_zlib_bomb_is_refused_without_inflating_it_all() -> None:
    bomb = zlib.compress(b" " * (MAX_JSON * 4), 9)  # 32 MiB of blanks in ~32 KiB
    assert len(bomb) < 100_000
    (u,) = parse_audit_data(bomb, "/bin/x").unknowns
    assert u.reason == f".dep-v0: audit data inflates past {MAX_JSON} bytes"


_json = json_values(text_size=8, list_size=4, dict_size=4, max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "name": _json | st.text(max_size=8),
                "version": _json | st.text(max_size=8),
                "source": _json | st.sampled_from(["crates.io", "git"]),
                "kind": _json | st.sampled_from(["build", "runtime"]),
                "dependencies": _json | st.lists(st.integers(-2, 6), max_size=3),
                "root": _json,
            },
        )
        | _json,
        max_size=6,
    )
)
def test_fuzz_package_lists_never_crash(entries: list[Any]) -> None:
    result = parse_audit_data(_z({"packages": entries}), "/bin/x")
    assert len(result.packages) + len(result.unknowns) <= len(entries)
    assert all(isinstance(p.name, str) and p.name for p in result.packages)
    assert all(u.reason.isprintable() for u in result.unknowns)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_raw_section_bytes_never_crash(raw: bytes) -> None:
    result = parse_audit_data(raw, "/bin/x")
    assert all(u.reason.isprintable() for u in result.unknowns)
