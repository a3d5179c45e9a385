from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.config import Limits
from shoal.errors import LayerError, LimitExceeded
from shoal.image.tarwalk import LayerWalker, clean_path
from tests.support.images import Entry
from tests.unit.image.fakes import BrokenCataloger, ElfCataloger, ListCataloger, scan_layer


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_reads_wanted_files_in_every_compression(compression: str) -> None:
    scan = scan_layer(
        {"/app/a.pkglist": b"left-pad 1.0.0\nlodash 4.17.21\n", "/etc/motd": b"hi"},
        compression=compression,
    )
    assert [r.path for r in scan.results] == ["/app/a.pkglist"]
    names = [p.name for p in scan.results[0].result.packages]
    assert names == ["left-pad", "lodash"]
    assert scan.wanted == {"/app/a.pkglist"}
    assert scan.entries == 2


def test_records_whiteouts_opaque_dirs_and_symlinks() -> None:
    scan = scan_layer(
        [
            Entry("usr/lib/.wh.old.pkglist", b""),
            Entry("opt/app/.wh..wh..opq", b""),
            Entry("etc/os-release", type="symlink", target="../usr/lib/os-release"),
        ]
    )
    assert scan.whiteouts == {"/usr/lib/old.pkglist"}
    assert scan.opaque == {"/opt/app"}
    assert scan.symlinks == {"/etc/os-release": "../usr/lib/os-release"}


def test_captures_os_release_files() -> None:
    scan = scan_layer({"/usr/lib/os-release": b"ID=debian\nVERSION_ID=12\n"})
    assert scan.os_files["/usr/lib/os-release"].startswith(b"ID=debian")


def test_hard_link_to_an_unwanted_file_is_read_in_a_second_pass() -> None:
    scan = scan_layer(
        [
            Entry("data/blob", b"react 18.2.0\n"),
            Entry("app/deps.pkglist", type="hardlink", target="data/blob"),
        ]
    )
    assert [(r.path, r.result.packages[0].name) for r in scan.results] == [
        ("/app/deps.pkglist", "react")
    ]


def test_head_filter_skips_non_elf_executables() -> None:
    elf = ElfCataloger()
    scan_layer(
        [
            Entry("bin/tool", b"\x7fELF" + b"\0" * 100, mode=0o755),
            Entry("bin/script", b"#!/bin/sh\necho\n", mode=0o755),
        ],
        catalogers=[elf],
    )
    assert elf.seen == ["/bin/tool"]


def test_a_crashing_cataloger_becomes_an_unknown() -> None:
    scan = scan_layer({"/x.boom": b"1"}, catalogers=[BrokenCataloger()])
    (res,) = scan.results
    assert res.result.unknowns[0].reason == "cataloger failed: RuntimeError: kaboom"


def test_malformed_lines_are_unknowns_not_errors() -> None:
    scan = scan_layer({"/a.pkglist": b"ok 1\nbroken\n"})
    assert [u.reason for u in scan.results[0].result.unknowns] == ["line 2: want 'name version'"]


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/../../x", "./../y"])
def test_entries_escaping_the_root_are_rejected(name: str) -> None:
    with pytest.raises(LayerError, match="escapes the image root"):
        scan_layer([Entry(name, b"x")])


def test_absolute_and_dotted_paths_are_normalised() -> None:
    assert clean_path("/usr/./lib//x/../y", what="t") == "/usr/lib/y"
    assert clean_path("./etc/os-release", what="t") == "/etc/os-release"


def test_gzip_bomb_stops_at_the_layer_limit() -> None:
    # 200 MB of zeros in a tar compresses to ~200 KB; the limit is 20 MB.
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as gz,
        tarfile.open(fileobj=gz, mode="w|") as tf,
    ):
        ti = tarfile.TarInfo("zeros")
        ti.size = 200_000_000

        class Zeros(io.RawIOBase):
            left = ti.size

            def readinto(self, b):  # type: ignore[no-untyped-def]
                n = min(len(b), self.left)
                b[:n] = bytes(n)
                self.left -= n
                return n

        tf.addfile(ti, Zeros())
    blob = buf.getvalue()
    assert len(blob) < 1_000_000
    walker = LayerWalker([ListCataloger()], Limits(layer_bytes=20_000_000))
    with pytest.raises(LimitExceeded, match=r"limits\.layer_bytes"):
        walker.walk(lambda: io.BytesIO(blob), "", what="layer bomb")


def test_entry_count_limit() -> None:
    with pytest.raises(LimitExceeded, match=r"limits\.layer_entries"):
        scan_layer({f"/f{i}": b"" for i in range(20)}, limits=Limits(layer_entries=10))


def test_oversized_wanted_file_is_reported_not_read() -> None:
    scan = scan_layer({"/big.pkglist": b"x 1\n" * 100}, limits=Limits(file_bytes=50))
    assert scan.results == []
    assert "over limits.file_bytes" in scan.problems[0].reason


def test_diff_id_mismatch_rejects_the_layer() -> None:
    with pytest.raises(LayerError, match="diff_id"):
        scan_layer({"/a.pkglist": b"a 1\n"}, diff_id="sha256:" + "0" * 64)


def test_truncated_blob_is_a_clear_error() -> None:
    from tests.support.images import make_tar

    full = gzip.compress(make_tar({"/a.pkglist": b"a 1\n" * 1000, "/r": os.urandom(5000)}))
    blob = full[: len(full) // 2]
    walker = LayerWalker([ListCataloger()], Limits())
    with pytest.raises(LayerError, match="layer t"):
        walker.walk(lambda: io.BytesIO(blob), "", what="layer t")


def test_not_a_tar_is_a_clear_error() -> None:
    walker = LayerWalker([ListCataloger()], Limits())
    with pytest.raises(LayerError, match="not a valid tar stream"):
        walker.walk(lambda: io.BytesIO(gzip.compress(b"hello" * 300)), "", what="layer t")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    walker = LayerWalker([ListCataloger()], Limits(layer_bytes=1 << 20))
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    try:
        walker.walk(lambda: io.BytesIO(data), digest, what="layer fuzz")
    except (LayerError, LimitExceeded) as e:
        assert "\n" not in str(e)
