"""Build the benchmark image: Debian bookworm with python3 and build-essential, made by
mmdebstrap from Debian's real packages, as a two-layer OCI image (minbase, then
everything the extra packages add or change), plus a third layer of real wheels from
PyPI unpacked into site-packages. Result: an OCI layout in bench/work/layout.

Run by bench/run.py; needs root (mmdebstrap --mode=root) and Debian's package mirror."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
sys.path.insert(0, str(HERE.parent))

from tests.support.images import Entry, OciLayoutBuilder  # noqa: E402

# python3 and build-essential as the issue asks; shfmt is a Go program and
# libcommons-lang3-java a jar, so the Go and Java catalogers have real work too.
EXTRA_DEBS = ["python3", "python3-pip", "build-essential", "shfmt", "libcommons-lang3-java"]
WHEELS = ["django==3.2", "urllib3==1.26.4", "PyYAML==5.3.1", "requests==2.25.1", "Jinja2==2.11.2"]


def mmdebstrap(dest: Path, include: list[str]) -> None:
    if (dest / "var/lib/dpkg/status").exists():
        return
    shutil.rmtree(dest, ignore_errors=True)
    cmd = ["mmdebstrap", "--variant=minbase", "--mode=root", "--quiet"]
    if include:
        cmd.append("--include=" + ",".join(include))
    cmd += ["bookworm", str(dest)]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def _entries(root: Path) -> dict[str, os.stat_result]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            out["/" + str(p.relative_to(root))] = p.lstat()
    return out


def _same(a: Path, b: Path, sa: os.stat_result, sb: os.stat_result) -> bool:
    if (sa.st_mode, sa.st_size) != (sb.st_mode, sb.st_size):
        return False
    if os.path.islink(a):
        return os.readlink(a) == os.readlink(b)
    if not os.path.isfile(a):
        return True
    return hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


def _entry(root: Path, path: str, st: os.stat_result) -> Entry:
    p = root / path.lstrip("/")
    mode = st.st_mode & 0o7777
    if os.path.islink(p):
        return Entry(path, type="symlink", target=os.readlink(p))
    if os.path.isdir(p):
        return Entry(path, type="dir", mode=mode)
    return Entry(path, p.read_bytes(), mode=mode)


def layers_from(base: Path, full: Path) -> tuple[list[Entry], list[Entry]]:
    eb, ef = _entries(base), _entries(full)
    skip = ("/dev/", "/proc/", "/sys/")
    layer1 = [_entry(base, p, st) for p, st in sorted(eb.items()) if not p.startswith(skip)]
    layer2 = []
    for p, st in sorted(ef.items()):
        if p.startswith(skip):
            continue
        if p not in eb or not _same(base / p.lstrip("/"), full / p.lstrip("/"), eb[p], st):
            layer2.append(_entry(full, p, st))
    deleted = set(eb) - set(ef)
    for p in sorted(deleted):
        parent, name = p.rsplit("/", 1)
        if parent not in deleted:  # a deleted directory's children go with it
            layer2.append(Entry(f"{parent}/.wh.{name}"))
    return layer1, layer2


def wheels_layer() -> list[Entry]:
    dl = WORK / "wheels"
    if not dl.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dl), *WHEELS],
            check=True,
        )
    site = "/usr/local/lib/python3.11/dist-packages"
    out: list[Entry] = []
    for f in sorted(dl.iterdir()):
        if f.suffix == ".whl":
            with zipfile.ZipFile(f) as z:
                for info in z.infolist():
                    if not info.is_dir():
                        out.append(Entry(f"{site}/{info.filename}", z.read(info)))
        elif f.name.endswith(".tar.gz"):  # sdist: install its PKG-INFO as an egg-info
            with tarfile.open(f) as t:
                for m in t.getmembers():
                    if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"):
                        data = t.extractfile(m).read()  # type: ignore[union-attr]
                        name = m.name.split("/")[0]
                        out.append(Entry(f"{site}/{name}.egg-info/PKG-INFO", data))
    return out


def node_layer() -> list[Entry]:
    """The npm that Debian's nodejs ships on this machine (its node_modules are real)."""
    src = Path("/usr/lib/node_modules/npm")
    out: list[Entry] = []
    if not src.is_dir():
        return out
    for p in sorted(src.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out.append(
                Entry(f"/usr/local/lib/node_modules/npm/{p.relative_to(src)}", p.read_bytes())
            )
    return out


def build() -> Path:
    WORK.mkdir(exist_ok=True)
    layout = WORK / "layout"
    if (layout / "index.json").exists():
        return layout
    base, full = WORK / "rootfs-base", WORK / "rootfs-full"
    mmdebstrap(base, [])
    mmdebstrap(full, EXTRA_DEBS)
    l1, l2 = layers_from(base, full)
    l3 = wheels_layer() + node_layer()
    tmp = WORK / "layout.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    b = OciLayoutBuilder(tmp)
    b.add_image(
        [l1, l2, l3],
        tag="bookworm-python",
        history=[
            "mmdebstrap --variant=minbase bookworm",
            "apt-get install " + " ".join(EXTRA_DEBS),
            "pip install " + " ".join(WHEELS) + " && npm install -g npm",
        ],
    )
    tmp.rename(layout)
    size = sum(f.stat().st_size for f in (layout / "blobs/sha256").iterdir())
    print(f"built {layout} ({size / 1e6:.0f} MB compressed)", flush=True)
    return layout


if __name__ == "__main__":
    build()
