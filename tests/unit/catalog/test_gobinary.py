"""go/binary: build info of real Go binaries (trimmed; see testdata/gobinary/trim.py)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.base import FileEntry, LayerFile
from shoal.catalog.elf import parse_elf
from shoal.catalog.gobinary import (
    GoBinaryCataloger,
    parse_go_binary,
    parse_modinfo,
    read_build_info,
)
from shoal.model import Package, PackageType
from tests.unit.catalog.helpers import xz_fixture


def _by_name(data: bytes, path: str = "/usr/local/bin/hello") -> dict[str, Package]:
    result = parse_go_binary(data, path)
    assert result.unknowns == ()
    return {p.name: p for p in result.packages}


# --- wants / accepts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "size", "mode", "wanted"),
    [
        ("/usr/local/bin/app", 5_000_000, 0o755, True),
        ("/app/server", 5_000_000, 0o700, True),
        ("/usr/bin/shfmt", 5_000_000, 0o644, True),  # in a bin dir, mode lost
        ("/usr/libexec/helper", 5_000_000, 0o644, True),
        ("/srv/tool.exe", 5_000_000, 0o644, True),
        ("/etc/passwd", 2_000, 0o644, False),
        ("/usr/local/bin/tiny", 512, 0o755, False),
        ("/usr/share/doc/readme", 9_000, 0o644, False),
    ],
)
def test_wants_executables_and_bin_dirs(path: str, size: int, mode: int, wanted: bool) -> None:
    assert GoBinaryCataloger().wants(FileEntry(path=path, size=size, mode=mode)) is wanted


def test_accepts_executable_magics_only() -> None:
    c = GoBinaryCataloger()
    assert c.head_size == 4
    assert c.accepts(xz_fixture("gobinary", "hello-amd64.xz")[:4])
    assert c.accepts(xz_fixture("gobinary", "hello-windows.exe.xz")[:4])
    assert c.accepts(xz_fixture("gobinary", "hello-darwin-arm64.xz")[:4])
    assert not c.accepts(b"#!/b")
    assert not c.accepts(b"PK\x03\x04")


# --- real binaries ---------------------------------------------------------------------


def test_inline_format_amd64_modules_stdlib_and_settings() -> None:
    pkgs = _by_name(xz_fixture("gobinary", "hello-amd64.xz"))
    assert sorted(pkgs) == [
        "example.com/shoal/gofixture",
        "github.com/google/uuid",
        "golang.org/x/text",
        "stdlib",
    ]
    main = pkgs["example.com/shoal/gofixture"]
    assert main.version == "(devel)"
    assert main.type is PackageType.GO
    assert main.cataloger == "go/binary"
    assert main.arch == "amd64"
    assert main.meta("go.toolchain") == "go1.19.8"
    assert main.meta("go.build.GOOS") == "linux"
    assert main.meta("go.build.-trimpath") == "true"
    assert main.locations[0].path == "/usr/local/bin/hello"

    text = pkgs["golang.org/x/text"]
    assert text.version == "v0.7.0"
    assert text.meta("go.h1") == "h1:SvnmxFjOFpM58HhWhhkpF6r6f8ONsT7qQ3ETI6RsMYA="
    assert text.meta("go.main_module") == "example.com/shoal/gofixture"
    assert text.purl == "pkg:golang/golang.org/x/text@v0.7.0"

    std = pkgs["stdlib"]
    assert std.version == "go1.19.8"


def test_directory_replacement_keeps_the_replaced_module_identity() -> None:
    uuid = _by_name(xz_fixture("gobinary", "hello-amd64.xz"))["github.com/google/uuid"]
    assert uuid.version == "v1.3.0"
    assert uuid.meta("go.replace_dir") == "./third_party/uuid"
    assert uuid.purl == "pkg:golang/github.com/google/uuid@v1.3.0"


@pytest.mark.parametrize(
    ("fixture", "arch", "goos"),
    [
        ("hello-arm.xz", "arm", "linux"),  # 32-bit little-endian, inline
        ("hello-s390x.xz", "s390x", "linux"),  # big-endian, inline
        ("hello-amd64-pointer.xz", "amd64", "linux"),  # pre-1.18 pointer layout, 64-bit LE
        ("hello-386-pointer.xz", "386", "linux"),  # pointer layout, 32-bit
        ("hello-ppc64-pointer.xz", "ppc64", "linux"),  # pointer layout, big-endian
        ("hello-windows.exe.xz", "amd64", "windows"),  # PE: magic at the start of .data
        ("hello-darwin-arm64.xz", "arm64", "darwin"),  # Mach-O: __go_buildinfo section
        ("hello-windows-pointer.exe.xz", "amd64", "windows"),  # pointers through PE sections
        ("hello-darwin-amd64-pointer.xz", "amd64", "darwin"),  # through Mach-O segments
    ],
)
def test_every_layout_gives_the_same_modules(fixture: str, arch: str, goos: str) -> None:
    pkgs = _by_name(xz_fixture("gobinary", fixture))
    assert {n: p.version for n, p in pkgs.items()} == {
        "example.com/shoal/gofixture": "(devel)",
        "github.com/google/uuid": "v1.3.0",
        "golang.org/x/text": "v0.7.0",
        "stdlib": "go1.19.8",
    }
    main = pkgs["example.com/shoal/gofixture"]
    assert main.arch == arch
    assert main.meta("go.build.GOOS") == goos


@pytest.mark.parametrize("fixture", ["hello-amd64.xz", "hello-s390x.xz"])
def test_stripped_section_headers_found_in_the_data_segment(fixture: str) -> None:
    data = bytearray(xz_fixture("gobinary", fixture))
    elf = parse_elf(bytes(data))
    fmt = "<" if elf.little_endian else ">"
    struct.pack_into(fmt + "Q", data, 40, 0)  # e_shoff
    struct.pack_into(fmt + "HHH", data, 58, 0, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
    assert parse_elf(bytes(data)).sections == ()
    pkgs = _by_name(bytes(data))
    assert pkgs["golang.org/x/text"].version == "v0.7.0"


def test_magic_outside_data_segments_is_not_build_info() -> None:
    # a C binary that merely contains the magic as text (in its code) is not a Go binary
    data = bytearray(xz_fixture("gobinary", "hello-amd64.xz"))
    struct.pack_into("<Q", data, 40, 0)
    struct.pack_into("<HHH", data, 58, 0, 0, 0)
    at = data.find(b"\xff Go buildinf:")
    data[at : at + 14] = bytes(14)
    data[4096 : 4096 + 14] = b"\xff Go buildinf:"  # inside the text segment
    assert parse_go_binary(bytes(data), "/usr/bin/c-tool") == parse_go_binary(b"", "/x")


def test_debian_gopath_build_has_only_stdlib() -> None:
    # Debian builds shfmt in GOPATH mode: `path` but no `mod` line, so no main module
    result = parse_go_binary(xz_fixture("gobinary", "debian-shfmt.xz"), "/usr/bin/shfmt")
    assert result.unknowns == ()
    assert [(p.name, p.version, p.arch) for p in result.packages] == [
        ("stdlib", "go1.19.8", "amd64")
    ]


def test_read_build_info_returns_raw_version_and_text() -> None:
    raw = read_build_info(xz_fixture("gobinary", "hello-amd64-pointer.xz"))
    assert raw is not None
    version, text = raw
    assert version == "go1.19.8"
    assert text.startswith("path\texample.com/shoal/gofixture\nmod\t")
    assert text.endswith("build\tGOAMD64=v1\n")


def test_non_go_elf_is_not_an_unknown() -> None:
    data = bytearray(xz_fixture("gobinary", "hello-amd64.xz"))
    at = data.find(b"\xff Go buildinf:")
    data[at : at + 14] = bytes(14)
    # the section is still called .go.buildinfo but lost its magic: that is malformed
    assert "does not start with the magic" in parse_go_binary(bytes(data), "/x").unknowns[0].reason
    assert parse_go_binary(b"\x7fELF" + bytes(60), "/bin/true").packages == ()
    assert parse_go_binary(b"MZ" + bytes(5000), "/a.exe") == parse_go_binary(b"", "/a.exe")


def test_catalog_wires_the_parser() -> None:
    f = LayerFile(path="/usr/bin/hello", data=xz_fixture("gobinary", "hello-arm.xz"), mode=0o755)
    result = GoBinaryCataloger().catalog(f)
    assert len(result.packages) == 4
    assert {p.locations[0].path for p in result.packages} == {"/usr/bin/hello"}


# --- broken binaries -------------------------------------------------------------------


def _patched(fixture: str, at_from_magic: int, patch: bytes) -> bytes:
    data = bytearray(xz_fixture("gobinary", fixture))
    at = data.find(b"\xff Go buildinf:")
    data[at + at_from_magic : at + at_from_magic + len(patch)] = patch
    return bytes(data)


def test_inline_length_past_the_section_is_unknown() -> None:
    data = _patched("hello-amd64.xz", 32, b"\xff\xff\x03")  # version length 65535
    result = parse_go_binary(data, "/bin/app")
    assert result.packages == ()
    (u,) = result.unknowns
    assert u.cataloger == "go/binary"
    assert u.path == "/bin/app"
    assert u.reason == "Go build info: toolchain version: 65535 bytes run past the end of the data"


def test_pointer_to_nowhere_is_unknown() -> None:
    data = _patched("hello-amd64-pointer.xz", 16, struct.pack("<Q", 0xDEAD0000))
    (u,) = parse_go_binary(data, "/bin/app").unknowns
    assert u.reason == (
        "Go build info: toolchain version: address 0xdead0000 is not in any loadable segment"
    )


def test_section_outside_the_file_is_unknown() -> None:
    data = bytearray(xz_fixture("gobinary", "hello-amd64.xz"))
    elf = parse_elf(bytes(data))
    index = [s.name for s in elf.sections].index(".go.buildinfo")
    shoff = struct.unpack_from("<Q", data, 40)[0]
    struct.pack_into("<Q", data, shoff + index * 64 + 24, len(data) + 4096)  # sh_offset
    (u,) = parse_go_binary(bytes(data), "/bin/app").unknowns
    assert u.reason.startswith("Go build info: section '.go.buildinfo': 416 bytes at offset ")


def test_unprintable_toolchain_version_is_unknown() -> None:
    data = _patched("hello-amd64.xz", 33, b"go1\n19.8")
    (u,) = parse_go_binary(data, "/bin/app").unknowns
    assert u.reason == "Go build info: implausible toolchain version 'go1\\n19.8'"


def test_bad_pointer_size_is_unknown() -> None:
    data = _patched("hello-amd64-pointer.xz", 14, b"\x05")
    (u,) = parse_go_binary(data, "/bin/app").unknowns
    assert u.reason == "Go build info: pointer size 5 is neither 4 nor 8"


def test_pointer_layout_needs_readable_headers() -> None:
    data = bytearray(xz_fixture("gobinary", "hello-windows-pointer.exe.xz"))
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    data[pe : pe + 4] = b"XX\0\0"  # PE signature gone: the magic scan still finds the header
    (u,) = parse_go_binary(bytes(data), "/app.exe").unknowns
    assert u.reason == (
        "Go build info: pre-Go-1.18 pointer layout needs executable headers "
        f"(PE signature missing at offset {pe})"
    )


def test_inline_layout_survives_broken_headers() -> None:
    data = bytearray(xz_fixture("gobinary", "hello-windows.exe.xz"))
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    data[pe : pe + 4] = b"XX\0\0"
    assert _by_name(bytes(data))["golang.org/x/text"].version == "v0.7.0"


# --- module text -----------------------------------------------------------------------

MODINFO = (
    "path\tgithub.com/acme/tool/cmd/tool\n"
    "mod\tgithub.com/acme/tool\tv1.4.2\th1:AAAA\n"
    "dep\tgithub.com/pkg/errors\tv0.9.1\th1:BBBB\n"
    "dep\tgolang.org/x/net\tv0.0.0-20210226172049-e18ecbb05110\n"
    "=>\tgithub.com/acme/net-fork\tv0.1.0\th1:CCCC\n"
    "dep\tgolang.org/x/sys\n"
    'build\t"-ldflags=x"="-s -w -X \\"main.v=1\\""\n'
    "build\tvcs.revision=0123abc\n"
    "build\tnoequals\n"
)


def test_parse_modinfo_replacements_quoting_and_bad_lines() -> None:
    info, problems = parse_modinfo("go1.22.1", MODINFO)
    assert info.path == "github.com/acme/tool/cmd/tool"
    assert info.main is not None and info.main.version == "v1.4.2"
    assert [d.path for d in info.deps] == ["github.com/pkg/errors", "golang.org/x/net"]
    assert info.deps[1].replace is not None
    assert info.deps[1].replace.path == "github.com/acme/net-fork"
    assert info.settings == (("-ldflags=x", '-s -w -X "main.v=1"'), ("vcs.revision", "0123abc"))
    assert problems == [
        "line 6: expected 2 or 3 tab-separated columns",
        "line 9: build setting without '='",
    ]


def test_module_replacement_wins_and_records_the_original() -> None:
    from shoal.catalog.gobinary import packages_from

    info, _ = parse_modinfo("go1.22.1", MODINFO)
    pkgs = {p.name: p for p in packages_from(info, "/usr/bin/tool", "arm64")}
    fork = pkgs["github.com/acme/net-fork"]
    assert fork.version == "v0.1.0"
    assert fork.meta("go.replaces") == "golang.org/x/net@v0.0.0-20210226172049-e18ecbb05110"
    assert fork.meta("go.h1") == "h1:CCCC"
    assert "golang.org/x/net" not in pkgs
    assert pkgs["github.com/acme/tool"].version == "v1.4.2"
    assert pkgs["stdlib"].version == "go1.22.1"


def test_replacement_without_a_module_is_reported() -> None:
    _, problems = parse_modinfo("go1.20", "path\tx\n=>\ty\tv1.0.0\t\n")
    assert problems == ["line 2: replacement without a module before it"]


def test_bad_lines_become_unknowns_beside_the_good_packages() -> None:
    data = bytearray(xz_fixture("gobinary", "hello-amd64.xz"))
    i = data.find(b"build\tGOOS=linux")
    data[i : i + 16] = b"build\tGOOS_linux"  # same length: the varint stays right
    result = parse_go_binary(bytes(data), "/bin/app")
    assert len(result.packages) == 4
    assert [u.reason for u in result.unknowns] == [
        "Go build info: line 11: build setting without '='"
    ]


# --- fuzzing ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_fuzz_modinfo_text_never_crashes(text: str) -> None:
    info, problems = parse_modinfo("go1.21.0", text)
    assert all(p.isprintable() for p in problems)
    assert all(d.path for d in info.deps)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.binary(min_size=1, max_size=16))
def test_fuzz_corrupted_build_info_is_data_not_a_crash(at: int, patch: bytes) -> None:
    for fixture in ("hello-amd64.xz", "hello-386-pointer.xz"):
        result = parse_go_binary(_patched(fixture, at, patch), "/bin/app")
        assert all(u.reason.isprintable() for u in result.unknowns)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_random_blocks_after_the_magic(tail: bytes) -> None:
    data = b"\x7fELF" + bytes(12) + b"\xff Go buildinf:" + tail
    result = parse_go_binary(data, "/bin/app")
    assert all(u.reason.isprintable() for u in result.unknowns)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=64 * 24), st.binary(min_size=1, max_size=8))
def test_fuzz_corrupted_elf_headers_are_data_not_a_crash(at: int, patch: bytes) -> None:
    data = bytearray(xz_fixture("gobinary", "hello-amd64-pointer.xz"))
    shoff = struct.unpack_from("<Q", data, 40)[0]
    for base in (0, shoff):  # the ELF/program headers, then the section headers
        mutated = bytearray(data)
        mutated[base + at : base + at + len(patch)] = patch
        result = parse_go_binary(bytes(mutated), "/bin/app")
        assert all(u.reason.isprintable() for u in result.unknowns)
