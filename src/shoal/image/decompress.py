"""Open a layer blob as a stream of tar bytes: gzip (ISA-L, inflated in a second thread),
zstd or plain tar, chosen by magic bytes rather than the (often wrong) media type, and
bounded: every byte is counted against the layer limit and hashed for the diff_id check."""

from __future__ import annotations

import hashlib
import io
import zlib
from typing import BinaryIO

import zstandard
from isal import igzip_threaded

from shoal.errors import LayerError, LimitExceeded

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# zstd frames may ask for windows of up to 2 GiB; 128 MiB is what zstd itself accepts by
# default without --long, and keeps a hostile frame from allocating gigabytes.
ZSTD_MAX_WINDOW = 1 << 27


class CountingReader(io.RawIOBase):
    """Counts, bounds and hashes the decompressed stream."""

    def __init__(self, inner: BinaryIO, *, limit: int, what: str) -> None:
        self._inner = inner
        self._limit = limit
        self._what = what
        self.count = 0
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(b))
        except (OSError, EOFError, zlib.error, zstandard.ZstdError) as e:
            raise LayerError(f"{self._what}: corrupt compressed data: {e}") from e
        n = len(data)
        if n:
            self.count += n
            if self.count > self._limit:
                raise LimitExceeded(
                    f"{self._what}: decompresses to more than {self._limit} bytes "
                    "(limits.layer_bytes); refusing a possible decompression bomb",
                    limit="layer_bytes",
                )
            self.sha256.update(data)
            b[:n] = data
        return n

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def detect(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "tar"


def open_layer(blob: BinaryIO, *, limit: int, what: str) -> CountingReader:
    """`blob` must be seekable (a spooled file)."""
    head = blob.read(4)
    blob.seek(0)
    kind = detect(head)
    inner: BinaryIO
    if kind == "gzip":
        inner = igzip_threaded.open(  # type: ignore[no-untyped-call]
            blob, "rb", threads=1, block_size=1 << 20
        )
    elif kind == "zstd":
        dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        inner = dctx.stream_reader(blob, read_size=1 << 20, read_across_frames=True)
    else:
        inner = blob
    return CountingReader(inner, limit=limit, what=what)
