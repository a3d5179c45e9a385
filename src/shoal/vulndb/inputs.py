"""Where a source's input comes from, and its fingerprint.

An update reads each source from one of three places: a local file or directory given
with `--from` (air-gapped sites), the feed's upstream URL (when network sources are
configured), or the copy bundled with shoal. Whatever the place, the input is hashed
(`input_sha256`) so an unchanged input is recognised and skipped.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from shoal.vulndb.errors import VulnDbError

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def input_sha256(path: Path) -> str:
    """sha256 of a file, or of a directory tree: every regular file's relative path and
    content hash, in sorted order (symlinks are not followed, so a tree cannot loop)."""
    if path.is_file():
        return file_sha256(path)
    if not path.is_dir():
        raise VulnDbError(f"feed input {str(path)!r} is neither a file nor a directory")
    h = hashlib.sha256(b"shoal-dir-v1\n")
    entries: list[tuple[str, Path]] = []
    for root, dirs, files in os.walk(path, followlinks=False):
        dirs.sort()
        for name in files:
            full = Path(root, name)
            if full.is_file() and not full.is_symlink():
                entries.append((full.relative_to(path).as_posix(), full))
    for rel, full in sorted(entries):
        h.update(f"{rel}\0{file_sha256(full)}\n".encode())
    return h.hexdigest()


def _find(parent: Path, leaf: str) -> list[Path]:
    """Entries of `parent` named `leaf`, `leaf.*` or `leaf-*`, ignoring case."""
    if not parent.is_dir():
        return []
    low = leaf.lower()
    return sorted(
        p
        for p in parent.iterdir()
        if not p.name.endswith(".md")
        and (p.name.lower() == low or p.name.lower().startswith((f"{low}.", f"{low}-")))
    )


def find_entry(root: Path, feed_name: str) -> Path | None:
    """The entry for feed `feed_name` in a tree holding one entry per feed, or None.

    Entries are named after the feed, with "/" as a directory or as "-", ignoring case
    and allowing a suffix: `osv/PyPI-all.zip` for "osv/PyPI", `alpine-secdb/` for
    "alpine/secdb", `debian/DSA/` for "debian/dsa". Shoal's bundled data uses this
    layout, and so can a `--from` directory.
    """
    for parts in (feed_name.split("/"), [feed_name.replace("/", "-")]):
        here = [root]
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            here = [
                p
                for d in here
                for p in (_find(d, part) if last else [x for x in _find(d, part) if x.is_dir()])
            ]
        if here:
            return here[0]
    return None


def locate(root: Path, feed_name: str, n_feeds: int) -> Path:
    """The input of feed `feed_name` under a `--from` path.

    With one feed, `root` is its input (a file or directory, whatever the feed reads).
    With several, `root` is a directory holding one entry per feed (`find_entry`).
    """
    if not root.exists():
        raise VulnDbError(f"--from {str(root)!r} does not exist")
    if n_feeds == 1:
        return root
    if not root.is_dir():
        raise VulnDbError(
            f"--from {str(root)!r} is a file but {n_feeds} sources were asked for; "
            "give one --source, or a directory with one entry per source"
        )
    found = find_entry(root, feed_name)
    if found is None:
        raise VulnDbError(f"--from {str(root)!r} has no input for source {feed_name!r}")
    return found
