"""The streaming tar reader against archives written by Python's tarfile in every format
it writes (ustar, GNU, pax), compared entry by entry, plus hostile headers."""

from __future__ import annotations

import io
import tarfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.errors import LayerError, LimitExceeded
from shoal.image.tar import DIRECTORY, HARDLINK, REGULAR, SYMLINK, TarReader

FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}


def build(members: list[tuple[str, str, bytes, str]], fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, kind, data, link in members:
            ti = tarfile.TarInfo(name)
            ti.mode = 0o640
            if kind == REGULAR:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
                continue
            ti.type = {
                DIRECTORY: tarfile.DIRTYPE,
                SYMLINK: tarfile.SYMTYPE,
                HARDLINK: tarfile.LNKTYPE,
            }[kind]
            ti.linkname = link
            tf.addfile(ti)
    return buf.getvalue()


def read_all(blob: bytes) -> list[tuple[str, str, int, str, bytes]]:
    out = []
    tar = TarReader(io.BufferedReader(io.BytesIO(blob)), what="t")  # type: ignore[arg-type]
    for e in tar:
        data = tar.read_data() if e.type == REGULAR and e.size < 100 else b""
        out.append((e.name, e.type, e.size, e.linkname, data))
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_long_names_links_and_data_in_every_format(fmt: str) -> None:
    long_dir = "usr/lib/" + "d" * 90 + "/" + "e" * 60
    members = [
        ("etc/", DIRECTORY, b"", ""),
        ("etc/hostname", REGULAR, b"box\n", ""),
        (f"{long_dir}/METADATA", REGULAR, b"Name: x\n", ""),
        ("etc/os-release", SYMLINK, b"", "../usr/lib/os-release"),
        ("bin/sh2", HARDLINK, b"", "etc/hostname"),
        ("big", REGULAR, bytes(70_000), ""),
    ]
    if fmt == "ustar":  # ustar cannot hold names over 255 bytes or long links
        members = [m for m in members if len(m[0]) < 255]
    got = read_all(build(members, FORMATS[fmt]))
    want = [
        (n, k, len(d) if k == REGULAR else 0, link, d if len(d) < 100 else b"")
        for n, k, d, link in members
    ]
    assert got == want


def test_pax_path_with_non_ascii_and_utf8() -> None:
    blob = build([("srv/ünïcode/ファイル", REGULAR, b"x", "")], tarfile.PAX_FORMAT)
    assert read_all(blob)[0][0] == "srv/ünïcode/ファイル"


def test_base256_size() -> None:
    blob = bytearray(build([("f", REGULAR, b"abc", "")], tarfile.GNU_FORMAT))
    blob[124:136] = b"\x80" + (3).to_bytes(11, "big")
    _fix_checksum(blob, 0)
    assert read_all(bytes(blob))[0][2] == 3


def test_bad_checksum() -> None:
    blob = bytearray(build([("f", REGULAR, b"abc", "")], tarfile.GNU_FORMAT))
    blob[0] = ord("g")
    with pytest.raises(LayerError, match="bad checksum in tar header 1"):
        read_all(bytes(blob))


def test_truncated_data() -> None:
    blob = build([("f", REGULAR, bytes(5000), "")], tarfile.GNU_FORMAT)
    with pytest.raises(LayerError, match="ends inside"):
        read_all(blob[:2048])


def test_huge_pax_header_is_refused_before_it_is_read() -> None:
    header = bytearray(512)
    header[0:9] = b"PaxHeader"
    header[100:108] = b"0000644\0"
    header[124:136] = b"%011o\0" % (1 << 30)
    header[156:157] = b"x"
    header[257:263] = b"ustar\0"
    header[263:265] = b"00"
    _fix_checksum(header, 0)
    with pytest.raises(LimitExceeded, match="pax header"):
        read_all(bytes(header) + bytes(1024))


def test_missing_end_marker_is_accepted() -> None:
    blob = build([("f", REGULAR, b"abc", "")], tarfile.GNU_FORMAT)
    assert read_all(blob[:1024])[0][0] == "f"


def _fix_checksum(block: bytearray, off: int) -> None:
    block[off + 148 : off + 156] = b" " * 8
    block[off + 148 : off + 156] = b"%06o\0 " % sum(block[off : off + 512])


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0/"),
    min_size=1,
    max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(names, min_size=1, max_size=8), st.binary(max_size=600)), max_size=6
    ),
    st.sampled_from(list(FORMATS.values())[1:]),
)
def test_matches_tarfile_for_generated_archives(files: list, fmt: int) -> None:  # type: ignore[type-arg]
    members = [("/".join(parts), REGULAR, data, "") for parts, data in files]
    blob = build(members, fmt)
    with tarfile.open(fileobj=io.BytesIO(blob)) as tf:
        want = [(m.name, m.size) for m in tf.getmembers()]
    assert [(n, s) for n, _, s, _, _ in read_all(blob)] == want
