"""One streaming pass over one layer tar: record whiteouts and symlinks, read only the
files some cataloger wants, and run the catalogers on them.

Nothing is extracted to disk and nothing on the host is touched: paths are normalised
inside the image root, and an entry whose path climbs out of it (`../../etc/passwd`) is
rejected as the hostile input it is.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.config import Limits
from shoal.errors import LayerError, LimitExceeded
from shoal.image.decompress import open_layer
from shoal.image.layerscan import FileResult, LayerScan
from shoal.image.osrelease import OS_RELEASE_PATHS
from shoal.image.tar import HARDLINK, REGULAR, SYMLINK, TarReader
from shoal.model import CatalogResult, Unknown

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_OS_FILES = frozenset(OS_RELEASE_PATHS)
_OS_FILE_MAX = 64 * 1024
_BUF = 1 << 20


def clean_path(name: str, *, what: str) -> str:
    """Absolute, normalised path of a tar member; LayerError if it escapes the root."""
    depth = 0
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if depth == 0:
                raise LayerError(f"{what}: tar entry {name[:200]!r} escapes the image root")
            depth -= 1
            parts.pop()
        else:
            depth += 1
            parts.append(part)
    return "/" + "/".join(parts)


@dataclass
class _Pending:
    """A hard link some cataloger wants; its content is the target's."""

    path: str
    target: str
    catalogers: list[Cataloger]


class LayerWalker:
    def __init__(self, catalogers: Sequence[Cataloger], limits: Limits) -> None:
        self.catalogers = list(catalogers)
        self.limits = limits

    def walk(self, open_blob: Callable[[], BinaryIO], diff_id: str, *, what: str) -> LayerScan:
        """Scan one layer. `open_blob` opens the (verified, spooled) blob; it is called a
        second time only when a wanted file is a hard link to an earlier, unread entry."""
        scan = LayerScan(diff_id=diff_id)
        pending: list[_Pending] = []
        with open_blob() as blob:
            reader = open_layer(blob, limit=self.limits.layer_bytes, what=what)
            buffered = io.BufferedReader(reader, buffer_size=_BUF)
            try:
                self._pass(buffered, scan, pending, what)
                while buffered.read(_BUF):  # tar padding after the end marker is hashed too
                    pass
            finally:
                buffered.close()
            scan.bytes_read = reader.count
            got = "sha256:" + reader.sha256.hexdigest()
        if diff_id and got != diff_id:
            raise LayerError(
                f"{what}: uncompressed content hashes to {got}, but the image config "
                f"says diff_id {diff_id}; the layer is not used"
            )
        if pending:
            self._resolve_hardlinks(open_blob, scan, pending, what)
        return scan

    # -- the single pass -------------------------------------------------------------------
    def _pass(
        self, reader: io.BufferedReader[Any], scan: LayerScan, pending: list[_Pending], what: str
    ) -> None:
        limits = self.limits
        files: dict[str, tuple[int, int]] = {}  # regular file -> (size, mode), for hard links
        tar = TarReader(reader, what=what)
        for member in tar:
            scan.entries += 1
            if scan.entries > limits.layer_entries:
                raise LimitExceeded(
                    f"{what}: more than {limits.layer_entries} tar entries (limits.layer_entries)",
                    limit="layer_entries",
                )
            if len(member.name) > limits.path_length:
                raise LimitExceeded(
                    f"{what}: tar entry path of {len(member.name)} bytes is longer than "
                    f"{limits.path_length} (limits.path_length)",
                    limit="path_length",
                )
            path = clean_path(member.name, what=what)
            base = posixpath.basename(path)
            if base.startswith(WHITEOUT):
                parent = posixpath.dirname(path)
                if base == OPAQUE:
                    scan.opaque.add(parent)
                else:
                    scan.whiteouts.add(posixpath.join(parent, base[len(WHITEOUT) :]))
                continue
            if member.type == SYMLINK:
                scan.symlinks[path] = member.linkname
                continue
            if member.type == HARDLINK:
                target = clean_path(member.linkname, what=what)
                size, mode = files.get(target, (0, member.mode))
                entry = FileEntry(path=path, size=size, mode=mode)
                wanted = [c for c in self.catalogers if c.wants(entry)]
                if wanted:
                    scan.wanted.add(path)
                    pending.append(_Pending(path, target, wanted))
                continue
            if member.type != REGULAR:
                continue
            files[path] = (member.size, member.mode)
            entry = FileEntry(path=path, size=member.size, mode=member.mode)
            wanted = [c for c in self.catalogers if c.wants(entry)]
            is_os = path in _OS_FILES and member.size <= _OS_FILE_MAX
            if not wanted and not is_os:
                continue
            if wanted:
                scan.wanted.add(path)
            if is_os:
                data = tar.read_data()
                scan.os_files[path] = data
                if wanted:
                    self._run(scan, wanted, LayerFile(path, data, member.mode))
                continue
            self._read_and_run(scan, wanted, tar, entry)

    def _read_and_run(
        self, scan: LayerScan, wanted: list[Cataloger], tar: TarReader, entry: FileEntry
    ) -> None:
        if entry.size > self.limits.file_bytes:
            for c in wanted:
                scan.problems.append(
                    Unknown(
                        path=entry.path,
                        cataloger=c.name,
                        reason=f"file of {entry.size} bytes is over limits.file_bytes "
                        f"({self.limits.file_bytes}); not read",
                        layer=scan.diff_id,
                    )
                )
            return
        head_size = max((c.head_size for c in wanted), default=0)
        head = b""
        if head_size:
            head = tar.read_data(head_size)
            wanted = [c for c in wanted if not c.head_size or c.accepts(head)]
            if not wanted:
                return
        data = head + tar.read_data()
        self._run(scan, wanted, LayerFile(entry.path, data, entry.mode))

    def _run(self, scan: LayerScan, wanted: list[Cataloger], f: LayerFile) -> None:
        for c in wanted:
            if c.head_size and not c.accepts(f.data[: c.head_size]):
                continue
            try:
                result = c.catalog(f)
            except Exception as e:  # a cataloger bug must not hide the rest of the image
                result = CatalogResult.failed(
                    f.path, c.name, f"cataloger failed: {type(e).__name__}: {str(e)[:200]}"
                )
            if result.packages or result.unknowns or result.licenses:
                scan.results.append(FileResult(f.path, c.name, result))

    # -- hard links: a second pass, only when needed ---------------------------------------
    def _resolve_hardlinks(
        self,
        open_blob: Callable[[], BinaryIO],
        scan: LayerScan,
        pending: list[_Pending],
        what: str,
    ) -> None:
        by_target: dict[str, list[_Pending]] = {}
        for p in pending:
            by_target.setdefault(p.target, []).append(p)
        with open_blob() as blob:
            reader = open_layer(blob, limit=self.limits.layer_bytes, what=what)
            buffered = io.BufferedReader(reader, buffer_size=_BUF)
            try:
                tar = TarReader(buffered, what=what)
                for member in tar:
                    if member.type != REGULAR:
                        continue
                    path = clean_path(member.name, what=what)
                    links = by_target.pop(path, None)
                    if not links or member.size > self.limits.file_bytes:
                        continue
                    data = tar.read_data()
                    for link in links:
                        self._run(scan, link.catalogers, LayerFile(link.path, data, member.mode))
                    if not by_target:
                        break
            finally:
                buffered.close()
        for links in by_target.values():
            for link in links:
                scan.problems.append(
                    Unknown(
                        path=link.path,
                        cataloger=link.catalogers[0].name,
                        reason=f"hard link to {link.target!r}, which is not in this layer",
                        layer=scan.diff_id,
                    )
                )
