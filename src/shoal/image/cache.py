"""Per-layer scan cache under the user cache dir, keyed by diff_id and the exact set of
catalogers (name@version) that produced it, bounded in size (least recently used go
first). Entries are written atomically and only after the layer's diff_id was verified,
so a lying image config cannot plant results for another image's layer."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import zstandard

from shoal.image.layerscan import LayerScan
from shoal.model.digest import parse_digest

log = logging.getLogger(__name__)


def catalogers_key(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]


class LayerCache:
    def __init__(self, root: Path, *, max_bytes: int, catalogers: Sequence[str]) -> None:
        self.root = root / "layers"
        self.max_bytes = max_bytes
        self.key = catalogers_key(catalogers)

    def _path(self, diff_id: str) -> Path:
        algo, hexpart = parse_digest(diff_id)
        return self.root / f"{algo}-{hexpart}-{self.key}.json.zst"

    def get(self, diff_id: str) -> LayerScan | None:
        path = self._path(diff_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            scan = LayerScan.from_json(zstandard.ZstdDecompressor().decompress(data))
        except (ValueError, KeyError, TypeError, zstandard.ZstdError) as e:
            log.warning("discarding unreadable cache entry %r: %s", str(path), e)
            path.unlink(missing_ok=True)
            return None
        if scan.diff_id != diff_id:
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recency for eviction
        return scan

    def put(self, scan: LayerScan) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = zstandard.ZstdCompressor(level=3).compress(scan.to_json())
        path = self._path(scan.diff_id)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.evict()

    def evict(self) -> None:
        entries = []
        total = 0
        for p in self.root.glob("*.json.zst"):
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            entries.append((st.st_mtime, st.st_size, p))
            total += st.st_size
        if total <= self.max_bytes:
            return
        for _, size, p in sorted(entries):
            p.unlink(missing_ok=True)
            total -= size
            if total <= self.max_bytes:
                break
