"""Read files out of an image on disk, a directory or a tar, without trusting it.

Both readers answer the same three questions (does a file exist, read it whole with a bound,
stream it) for slash-separated paths relative to the image root. Neither ever touches a path
outside the root: a directory reader resolves symlinks and refuses ones that leave the root;
the tar reader indexes the members once (names checked, `..` and absolute names refused),
follows symlinks and hard links only between members, and reads members by their offset
instead of extracting anything. Every failure is a one-line `SourceError` naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import posixpath
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import zstandard

from shoal.config import Settings
from shoal.errors import DigestMismatch, LimitExceeded, SourceError
from shoal.model.digest import hasher_for

CHUNK = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MAX_LINK_HOPS = 40
# An image archive holds a handful of files per layer; this bounds the member index (and
# tarfile's own list of members) far below `limits.layer_entries`, which is sized for layers.
MAX_ARCHIVE_MEMBERS = 100_000


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class FileTree(Protocol):
    """Read-only view of an image's files; paths are relative and slash-separated."""

    label: str  # the on-disk path, for messages

    def exists(self, name: str) -> bool: ...

    def size(self, name: str) -> int: ...

    def read(self, name: str, max_bytes: int) -> bytes: ...

    @contextmanager
    def open(self, name: str) -> Iterator[Readable]: ...

    def close(self) -> None: ...


def clean_name(name: str, where: str) -> str:
    """Normalise a member name (``./a//b`` -> ``a/b``); refuse absolute and ``..`` names."""
    if "\x00" in name:
        raise SourceError(f"{where}: NUL byte in name {name[:100]!r}")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":" and name[0].isalpha()):
        raise SourceError(f"{where}: absolute path {name[:100]!r} refused")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SourceError(f"{where}: path {name[:100]!r} escapes the image root")
    return "/".join(parts)


class DirTree:
    """An image laid out in a directory (OCI layout, extracted `docker save`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root.absolute())
        try:
            self._real = root.resolve(strict=True)
        except OSError as e:
            raise SourceError(f"{root}: {e.strerror or e}") from e
        if not self._real.is_dir():
            raise SourceError(f"{root}: not a directory")

    def _path(self, name: str) -> Path:
        rel = clean_name(name, self.label)
        path = self._real / rel
        real = Path(os.path.realpath(path))
        # A symlinked blob may point anywhere on the host (/etc/shadow, /dev/zero).
        if real != self._real and self._real not in real.parents:
            raise SourceError(f"{self.root / rel}: symlink leads outside {self.root}")
        return real

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def size(self, name: str) -> int:
        return self._stat(name).st_size

    def _stat(self, name: str) -> os.stat_result:
        path = self._path(name)
        try:
            st = path.stat()
        except OSError as e:
            raise SourceError(f"{self.root / name}: {e.strerror or e}") from e
        if not stat.S_ISREG(st.st_mode):
            raise SourceError(f"{self.root / name}: not a regular file")
        return st

    def read(self, name: str, max_bytes: int) -> bytes:
        with self.open(name) as f:
            return read_bounded(f, max_bytes, f"{self.root / name}")

    @contextmanager
    def open(self, name: str) -> Iterator[Readable]:
        path = self._path(name)
        try:
            # O_NONBLOCK: a FIFO swapped in after the checks must not hang the open;
            # fstat on the descriptor then checks the file actually opened.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as e:
            raise SourceError(f"{self.root / name}: {e.strerror or e}") from e
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise SourceError(f"{self.root / name}: not a regular file")
        with os.fdopen(fd, "rb") as f:
            yield f

    def close(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class _Member:
    offset: int
    size: int


class TarTree:
    """An image packed in a tar (OCI archive, `docker save`), read in place by offset.

    A gzip- or zstd-compressed archive (`docker save | gzip`) is first decompressed to a
    temporary file, bounded by `max_bytes`, because compressed streams cannot seek.
    """

    def __init__(self, path: Path, *, max_bytes: int, max_entries: int) -> None:
        self.label = str(path.absolute())
        self._tmp: Path | None = None
        self._members: dict[str, _Member] = {}
        self._links: dict[str, str] = {}
        try:
            with path.open("rb") as f:
                magic = f.read(4)
        except OSError as e:
            raise SourceError(f"{path}: {e.strerror or e}") from e
        self.path = path
        if magic.startswith(GZIP_MAGIC) or magic == ZSTD_MAGIC:
            self.path = self._decompress(path, magic, max_bytes)
        try:
            self._index(max_entries)
        except BaseException:
            self.close()
            raise

    def _decompress(self, path: Path, magic: bytes, max_bytes: int) -> Path:
        fd, tmp = tempfile.mkstemp(prefix="shoal-archive-", suffix=".tar")
        self._tmp = Path(tmp)
        try:
            with path.open("rb") as raw, os.fdopen(fd, "wb") as out:
                stream: BinaryIO
                if magic.startswith(GZIP_MAGIC):
                    stream = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
                else:
                    stream = zstandard.ZstdDecompressor().stream_reader(raw)
                written = 0
                while chunk := stream.read(CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        raise LimitExceeded(
                            f"{path}: decompresses to more than {max_bytes} bytes",
                            limit="limits.image_bytes",
                        )
                    out.write(chunk)
        except (OSError, EOFError, zstandard.ZstdError) as e:
            self.close()
            raise SourceError(f"{path}: corrupt compressed archive: {e}") from e
        except BaseException:
            self.close()
            raise
        return self._tmp

    def _index(self, max_entries: int) -> None:
        count = 0
        try:
            with tarfile.open(self.path, mode="r:") as tf:
                for ti in tf:
                    count += 1
                    if count > max_entries:
                        raise LimitExceeded(
                            f"{self.label}: more than {max_entries} tar members",
                            limit="limits.layer_entries",
                        )
                    self._add(ti)
        except tarfile.TarError as e:
            raise SourceError(f"{self.label}: not a readable tar archive: {e}") from e
        except OSError as e:
            raise SourceError(f"{self.label}: {e.strerror or e}") from e

    def _add(self, ti: tarfile.TarInfo) -> None:
        name = clean_name(ti.name, self.label)
        if ti.isdir() or not name:
            return
        self._members.pop(name, None)
        self._links.pop(name, None)
        if ti.isreg():
            if ti.issparse():
                raise SourceError(f"{self.label}: sparse member {name!r} is unsupported")
            self._members[name] = _Member(ti.offset_data, ti.size)
        elif ti.issym():
            # relative to the member's directory, like the filesystem would resolve it
            target = posixpath.join(posixpath.dirname(name), ti.linkname)
            if ti.linkname.startswith("/"):
                raise SourceError(f"{self.label}: {name!r} links to absolute {ti.linkname!r}")
            self._links[name] = clean_name(posixpath.normpath(target), self.label)
        elif ti.islnk():
            self._links[name] = clean_name(ti.linkname, self.label)
        # devices, FIFOs: never image content; ignore

    def _member(self, name: str) -> _Member:
        current = clean_name(name, self.label)
        for _ in range(MAX_LINK_HOPS):
            member = self._members.get(current)
            if member is not None:
                return member
            target = self._links.get(current)
            if target is None:
                raise SourceError(f"{self.label}: {name!r} not found in archive")
            current = target
        raise SourceError(f"{self.label}: {name!r}: too many levels of links")

    def exists(self, name: str) -> bool:
        try:
            self._member(name)
        except SourceError:
            return False
        return True

    def size(self, name: str) -> int:
        return self._member(name).size

    def read(self, name: str, max_bytes: int) -> bytes:
        with self.open(name) as f:
            return read_bounded(f, max_bytes, f"{self.label}:{name}")

    @contextmanager
    def open(self, name: str) -> Iterator[Readable]:
        member = self._member(name)
        # A fresh handle per read keeps concurrent fetches (parallel downloads) independent.
        with self.path.open("rb") as f:
            f.seek(member.offset)
            yield _Window(f, member.size)

    def close(self) -> None:
        if self._tmp is not None:
            with suppress(OSError):
                self._tmp.unlink()
            self._tmp = None


class _Window:
    """`size` bytes of an open file from its current position, read-only."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f = f
        self._left = size

    def read(self, n: int = -1, /) -> bytes:
        if n < 0 or n > self._left:
            n = self._left
        data = self._f.read(n)
        self._left -= len(data)
        return data


def open_tar(path: Path, settings: Settings) -> TarTree:
    """A `TarTree` bounded by the settings' image size and entry limits."""
    return TarTree(
        path,
        max_bytes=settings.limits.image_bytes,
        max_entries=min(settings.limits.layer_entries, MAX_ARCHIVE_MEMBERS),
    )


def read_bounded(f: Readable, max_bytes: int, where: str) -> bytes:
    data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SourceError(f"{where}: larger than the limit of {max_bytes} bytes")
    return data


def copy_verified(src: Readable, dest: Path, digest: str, size: int, where: str) -> None:
    """Stream `src` to `dest`, checking it is exactly `size` bytes hashing to `digest`.

    On any mismatch `dest` is removed and DigestMismatch raised, so a partial or forged
    blob can never be picked up later.
    """
    h = hasher_for(digest)
    written = 0
    try:
        with dest.open("wb") as out:
            while chunk := src.read(min(CHUNK, size + 1 - written)):
                written += len(chunk)
                if written > size:
                    break
                h.update(chunk)
                out.write(chunk)
    except BaseException:
        with suppress(OSError):
            dest.unlink()
        raise
    got = f"{h.name}:{h.hexdigest()}"
    if written != size or got != digest:
        with suppress(OSError):
            dest.unlink()
        what = f"{written} bytes, not {size}" if written != size else f"content hashes to {got}"
        raise DigestMismatch(f"{where}: blob {digest}: {what}")


def hash_stream(src: Readable, *, max_bytes: int, where: str) -> tuple[str, int]:
    """sha256 digest and length of a stream, refusing more than `max_bytes`."""
    algorithm = "sha256"
    h = hashlib.new(algorithm)
    total = 0
    while chunk := src.read(CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise LimitExceeded(f"{where}: more than {max_bytes} bytes", limit="limits.layer_bytes")
        h.update(chunk)
    return f"{algorithm}:{h.hexdigest()}", total
