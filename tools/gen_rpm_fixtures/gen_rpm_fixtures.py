#!/usr/bin/env python3
"""Regenerate the rpm database fixtures in tests/unit/catalog/testdata/rpm/.

Needs Debian's `rpm`, `rpmbuild`, `db5.3-util` and `gnupg` (`apt-get install rpm db5.3-util
gnupg`). Run from anywhere: `python3 tools/gen_rpm_fixtures/gen_rpm_fixtures.py`.

What comes from which tool:

* tiny real rpms are built with `rpmbuild` from the specs below (epochs, a modularity label,
  sub-packages whose source rpm has another name, noarch, several licences), and a real
  `gpg-pubkey` pseudo package is added with `rpm --import`;
* `sqlite/rpmdb.sqlite` is written by rpm itself (`rpm --justdb -i`, the sqlite backend,
  left in WAL mode as rpm leaves it);
* `bdb/Packages` (little-endian, 4 KiB pages, every header on overflow pages),
  `bdb-be/Packages` (big-endian, 512-byte pages) and `bdb-bigpage/Packages` (16 KiB pages,
  headers stored on the hash pages themselves) are Berkeley DB hash databases written by
  `db5.3_load` from the header blobs rpm stored, keyed by header number in the writer's
  byte order, with the key-0 "next instance" record rpm's bdb backend keeps. Each is
  read back with rpm's own `bdb_ro` backend and must list the same packages;
* `ndb/Packages.db`: Debian's rpm is built without the ndb backend, so this script writes
  the file itself following rpm's lib/backend/ndb/rpmpkg.c layout (header, slot pages,
  blobs with adler32 trailers), including a deleted package (zeroed blob, free slot) as
  rpm leaves one. Its blobs are the ones rpm stored.

`expected.txt` is `rpm -qa` of the sqlite database in a fixed query format; the tests
check every format against the same list.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "tests" / "unit" / "catalog" / "testdata" / "rpm"

SPECS: dict[str, str] = {
    "hello": """
Name: hello
Version: 2.12
Release: 1.fc40
Summary: Prints a familiar, friendly greeting
License: GPL-3.0-or-later
Vendor: Fedora Project
%description
The GNU Hello program produces a familiar, friendly greeting.
%install
mkdir -p %{buildroot}/usr/share/doc/hello
echo 'Hello, world!' > %{buildroot}/usr/share/doc/hello/README
%files
/usr/share/doc/hello/README
""",
    "bind": """
Name: bind
Epoch: 32
Version: 9.16.23
Release: 14.el9_3
Summary: The Berkeley Internet Name Domain (BIND) DNS server
License: MPL-2.0 AND ISC AND BSD-3-Clause
Vendor: Red Hat, Inc.
%description
BIND.
%package libs
Summary: Libraries used by the BIND DNS packages
%description libs
Libraries.
%files
%files libs
""",
    "nodejs": """
Name: nodejs
Epoch: 1
Version: 18.14.2
Release: 2.module+el8.8.0+18257+ab32e5c7
Summary: JavaScript runtime
License: MIT and ASL 2.0 and ISC and BSD
Vendor: Red Hat, Inc.
%description
Node.js.
%files
""",
    "tzdata": """
Name: tzdata
Version: 2024a
Release: 1.el9
Summary: Timezone data
License: Public Domain
Vendor: Red Hat, Inc.
BuildArch: noarch
%description
Timezone data.
%files
""",
    "crypto-policies": """
Name: crypto-policies
Epoch: 0
Version: 20230731
Release: 1.git5ed06e0.el9
Summary: System-wide crypto policies
License: LGPL-2.1-or-later
Vendor: Red Hat, Inc.
BuildArch: noarch
%description
Crypto policies.
%files
""",
    "zypper": """
Name: zypper
Version: 1.14.64
Release: 150400.3.32.1
Summary: Command line software manager using libzypp
License: GPL-2.0-or-later
Vendor: SUSE LLC <https://www.suse.com/>
%description
Zypper.
%files
""",
}

# the rpm files to install (bind itself is built but only bind-libs is installed, so one
# package's source rpm carries another name)
INSTALL = ("hello", "bind-libs", "nodejs", "tzdata", "crypto-policies", "zypper")

QF = (
    "%{NAME}|%{EPOCH}|%{VERSION}|%{RELEASE}|%{ARCH}|%{SOURCERPM}|%{LICENSE}|%{VENDOR}"
    "|%{MODULARITYLABEL}\\n"
)


def run(*args: str, **kw: object) -> str:
    r = subprocess.run(args, check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    return str(r.stdout)


def build_rpms(work: Path) -> list[Path]:
    top = work / "top"
    for name, body in SPECS.items():
        spec = work / f"{name}.spec"
        spec.write_text("%global debug_package %{nil}\n" + body.lstrip())
        defines = ["--define", f"_topdir {top}"]
        if name == "nodejs":
            defines += ["--define", "modularitylabel nodejs:18:8080020230213100225:a75119d5"]
        run("rpmbuild", *defines, "--nodeps", "--target", "x86_64", "-bb", str(spec))
    rpms = sorted((top / "RPMS").rglob("*.rpm"))
    wanted = [p for p in rpms if p.name.rsplit("-", 2)[0] in INSTALL]
    assert len(wanted) == len(INSTALL), wanted
    return wanted


def make_gpg_key(work: Path) -> Path:
    home = work / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    run(
        "gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
        "--quick-gen-key", "Shoal Fixture Signing Key <fixtures@shoal.invalid>",
        "rsa2048", "sign", "never", env=env,
    )  # fmt: skip
    key = work / "key.asc"
    key.write_text(run("gpg", "--armor", "--export", env=env))
    return key


def make_sqlite(work: Path, rpms: list[Path], key: Path) -> Path:
    db = work / "db"
    db.mkdir()
    base = ["rpm", "--dbpath", str(db)]
    run(*base, "--initdb")
    run(*base, "--import", str(key))
    run(
        *base, "--justdb", "--nodeps", "--noscripts", "--notriggers", "--nosignature",
        "--ignorearch", "--ignoreos", "-i", *map(str, rpms),
    )  # fmt: skip
    return db / "rpmdb.sqlite"


def blobs_of(sqlite_path: Path) -> list[tuple[int, bytes]]:
    con = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        return [
            (int(h), bytes(b))
            for h, b in con.execute("SELECT hnum, blob FROM Packages ORDER BY hnum")
        ]
    finally:
        con.close()


def make_bdb(
    dest: Path, blobs: list[tuple[int, bytes]], *, big_endian: bool, pagesize: int
) -> None:
    """A Berkeley DB hash `Packages` written by db5.3_load, keyed like rpm's bdb backend."""
    order = ">" if big_endian else "<"
    records = [
        (struct.pack(order + "I", 0), struct.pack(order + "I", max(h for h, _ in blobs) + 1))
    ]
    records += [(struct.pack(order + "I", h), b) for h, b in blobs]
    lines = [
        "VERSION=3",
        "format=bytevalue",
        "type=hash",
        f"db_pagesize={pagesize}",
        f"db_lorder={4321 if big_endian else 1234}",
        "HEADER=END",
    ]
    for k, v in records:
        lines += [" " + k.hex(), " " + v.hex()]
    lines.append("DATA=END")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    run("db5.3_load", "-f", "/dev/stdin", str(dest), input="\n".join(lines) + "\n")


def make_ndb(dest: Path, blobs: list[tuple[int, bytes]], deleted: bytes) -> None:
    """An NDB `Packages.db` in rpmpkg.c's layout; `deleted` is stored then removed."""
    page, blk = 4096, 16
    items = [(h, b) for h, b in blobs]
    items.insert(1, (max(h for h, _ in blobs) + 1, deleted))
    # 256 slots a page, the first two of them taken by the file header
    slotnpages = (len(items) + 2 + 255) // 256
    out = bytearray(page * slotnpages)
    slots: list[tuple[int, int, int]] = []
    for pkgidx, blob in items:
        blkoff = len(out) // blk
        head = struct.pack("<4sIII", b"BlbS", pkgidx, 1_700_000_000, len(blob))
        blkcnt = (16 + len(blob) + 12 + blk - 1) // blk
        pad = blkcnt * blk - (16 + len(blob) + 12)
        body = head + blob + b"\0" * pad
        out += body + struct.pack("<II4s", zlib.adler32(body), len(blob), b"BlbE")
        slots.append((pkgidx, blkoff, blkcnt))
    # delete the extra package the way rpm does: zero its blocks, free its slot
    pkgidx, blkoff, blkcnt = slots[1]
    out[blkoff * blk : (blkoff + blkcnt) * blk] = b"\0" * (blkcnt * blk)
    slots[1] = (0, 0, 0)
    struct.pack_into("<4sIIII", out, 0, b"RpmP", 0, 2 * len(items) + 1, slotnpages, pkgidx + 1)
    for i in range(2, page * slotnpages // 16):
        n = i - 2
        pkg, off, cnt = slots[n] if n < len(slots) else (0, 0, 0)
        struct.pack_into("<4sIII", out, i * 16, b"Slot", pkg, off, cnt)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(bytes(out))


def rpm_qa(dbpath: Path, backend: str) -> str:
    out = run(
        "rpm", "--dbpath", str(dbpath), "--define", f"_db_backend {backend}", "-qa", "--qf", QF
    )
    return "".join(sorted(out.splitlines(keepends=True)))


def main() -> int:
    for tool in ("rpm", "rpmbuild", "db5.3_load", "gpg"):
        if not shutil.which(tool):
            print(f"missing {tool}: apt-get install rpm db5.3-util gnupg", file=sys.stderr)
            return 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rpms = build_rpms(work)
        sqlite_path = make_sqlite(work, rpms, make_gpg_key(work))
        expected = rpm_qa(sqlite_path.parent, "sqlite")
        (OUT / "sqlite").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sqlite_path, OUT / "sqlite" / "rpmdb.sqlite")
        (OUT / "expected.txt").write_text(expected)
        blobs = blobs_of(sqlite_path)

        for case, big, pagesize in (
            ("bdb", False, 4096),
            ("bdb-be", True, 512),
            ("bdb-bigpage", False, 16384),
        ):
            dest = OUT / case / "Packages"
            make_bdb(dest, blobs, big_endian=big, pagesize=pagesize)
            got = rpm_qa(dest.parent, "bdb_ro")  # rpm's own reader must agree
            if got != expected:
                print(f"{case}: rpm bdb_ro disagrees:\n{got}", file=sys.stderr)
                return 1

        deleted = next(b for h, b in blobs if h == max(h for h, _ in blobs))
        make_ndb(OUT / "ndb" / "Packages.db", blobs, deleted)
        # single-package header blob for the header parser's own tests
        hello = next(b for _, b in blobs if b"hello" in b and b"GPL-3.0-or-later" in b)
        (OUT / "headers").mkdir(exist_ok=True)
        (OUT / "headers" / "hello.hdr").write_bytes(hello)
    for f in sorted(OUT.rglob("*")):
        if f.is_file():
            print(f"{f.relative_to(OUT)}: {f.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
