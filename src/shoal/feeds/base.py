"""The feed extension point: fetch upstream files (I/O), then parse them (pure).

A feed is a small class with a stable `name` ("osv/PyPI", "alpine/secdb", "nvd"), a
`version` (bump whenever `parse` output changes for the same input), an SPDX `license`
for the data, and a `default_url`. `fetch(http, dest, prior)` downloads the upstream
file(s) into `dest` with conditional requests (ETag / Last-Modified from `prior`) and
returns `Fetched` or `Unchanged`; it is the only method that touches the network.
`parse(path)` reads what `fetch` wrote, or the same files copied by hand for air-gapped
use (`--from`), and yields records and `FeedProblem`s.

Failure model: a record that cannot be read becomes a `FeedProblem` (one line, naming
the record) and the rest of the feed imports. Only an unusable input as a whole (a
missing path, a corrupt archive, a bound crossed) raises `FeedError`. Every read is
bounded by `FeedLimits`.

This module also holds the bounded readers every feed shares: compressed files by magic
(gzip, xz, zstd, bzip2), JSON that reports its error position, and alias-free YAML.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import os
import re
import tempfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar, Generic, Literal, TypeVar

import httpx
import yaml
import zstandard

from shoal.errors import FeedError as FeedError  # noqa: PLC0414 - re-exported for the feeds
from shoal.model.advisory import Advisory, CveEnrichment, FeedProblem

MiB = 1024 * 1024
GiB = 1024 * MiB


class FeedHttpError(FeedError):
    """Upstream answered with an HTTP status other than 200/304."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class RecordError(ValueError):
    """One record is malformed; the message is one line. Feeds turn it into a FeedProblem."""


@dataclass(frozen=True, slots=True)
class FeedLimits:
    """Bounds on what reading one feed may cost."""

    file_bytes: int = 1 * GiB  # one feed file, after decompression (the tracker JSON is ~80 MiB)
    record_bytes: int = 16 * MiB  # one record file or archive member
    archive_members: int = 1_000_000  # OSV's largest all.zip has ~250k members
    archive_bytes: int = 8 * GiB  # all members of one archive, decompressed
    download_bytes: int = 2 * GiB  # one downloaded file
    yaml_bytes: int = 64 * MiB  # one YAML document


DEFAULT_LIMITS = FeedLimits()


# --- fetch -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Validator:
    """What was downloaded from one URL, to make the next request conditional."""

    url: str
    file: str  # name of the file inside `dest`
    sha256: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Everything a feed needs to ask upstream "has this changed?" next time."""

    files: tuple[Validator, ...] = ()
    cursor: str | None = None  # feed-defined resume point (NVD: last modification time)


@dataclass(frozen=True, slots=True)
class Fetched:
    path: Path  # directory holding the downloaded files; pass it to `parse`
    fingerprint: Fingerprint


@dataclass(frozen=True, slots=True)
class Unchanged:
    fingerprint: Fingerprint


T = TypeVar("T", Advisory, CveEnrichment)


class Feed(Generic[T]):
    """Base class of every feed. Subclasses set the class attributes and `parse`."""

    name: ClassVar[str]  # "osv/PyPI": persisted as the advisory source, never renamed
    version: ClassVar[int] = 1
    license: ClassVar[str]  # SPDX id (or LicenseRef-*) of the data
    default_url: ClassVar[str]
    kind: ClassVar[Literal["advisories", "enrichment"]] = "advisories"

    def __init__(self, *, limits: FeedLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits

    def downloads(self) -> Sequence[tuple[str, str]]:
        """(url, file name in dest) pairs that `fetch` downloads."""
        return ((self.default_url, self.default_url.rstrip("/").rsplit("/", 1)[-1]),)

    def fetch(
        self, http: httpx.Client, dest: Path, prior: Fingerprint | None = None
    ) -> Fetched | Unchanged:
        """Download every file of `downloads()` into `dest`, conditionally on `prior`."""
        return fetch_files(http, self.downloads(), dest, prior, self.limits)

    def parse(self, path: Path) -> Iterator[T | FeedProblem]:
        raise NotImplementedError

    @classmethod
    def id(cls) -> str:
        return f"{cls.name}@{cls.version}"


def fetch_files(
    http: httpx.Client,
    downloads: Sequence[tuple[str, str]],
    dest: Path,
    prior: Fingerprint | None,
    limits: FeedLimits,
    *,
    cursor: str | None = None,
) -> Fetched | Unchanged:
    """Conditional GET of each URL into `dest`; `Unchanged` when nothing differs."""
    dest.mkdir(parents=True, exist_ok=True)
    known = {v.url: v for v in prior.files} if prior else {}
    out: list[Validator] = []
    changed = False
    for url, name in downloads:
        before = known.get(url)
        ask = before
        if before is not None and not (dest / before.file).is_file():
            ask = None  # a 304 would leave nothing to parse: ask unconditionally
        got = download(http, url, dest / name, ask, limits.download_bytes)
        changed = changed or before is None or got.sha256 != before.sha256
        out.append(got)
    fp = Fingerprint(
        tuple(out), cursor if cursor is not None else (prior.cursor if prior else None)
    )
    return Fetched(dest, fp) if changed else Unchanged(fp)


def download(
    http: httpx.Client,
    url: str,
    target: Path,
    prior: Validator | None,
    max_bytes: int,
    extra_headers: Mapping[str, str] | None = None,
) -> Validator:
    """GET `url` into `target` (atomically), conditional on `prior`; returns `prior` on 304."""
    headers = dict(extra_headers or {})
    if prior is not None and prior.etag:
        headers["If-None-Match"] = prior.etag
    if prior is not None and prior.last_modified:
        headers["If-Modified-Since"] = prior.last_modified
    try:
        with http.stream("GET", url, headers=headers, follow_redirects=True) as resp:
            if resp.status_code == 304 and prior is not None:
                return prior
            if resp.status_code != 200:
                raise FeedHttpError(f"GET {url}: HTTP {resp.status_code}", status=resp.status_code)
            digest = hashlib.sha256()
            size = 0
            fd, tmp = tempfile.mkstemp(prefix=".part-", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    for chunk in resp.iter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise FeedError(
                                f"GET {url}: larger than the {max_bytes}-byte download limit"
                            )
                        digest.update(chunk)
                        f.write(chunk)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return Validator(
                url=url,
                file=target.name,
                sha256=digest.hexdigest(),
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
            )
    except httpx.HTTPError as e:
        raise FeedError(f"GET {url}: {type(e).__name__}: {one_line(str(e))}") from e


# --- bounded readers ---------------------------------------------------------------

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
)
COMPRESSED_SUFFIXES = (".gz", ".xz", ".zst", ".bz2")


def one_line(text: str, limit: int = 200) -> str:
    """`text` on one line, cut to `limit` characters (messages quote hostile input)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def base_name(path: Path | str) -> str:
    """File name without a compression suffix: "main.yaml.zst" -> "main.yaml"."""
    name = path.name if isinstance(path, Path) else path.rsplit("/", 1)[-1]
    for suf in COMPRESSED_SUFFIXES:
        if name.endswith(suf):
            return name[: -len(suf)]
    return name


def compression_of(head: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


def read_limited(stream: IO[bytes], limit: int, what: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise FeedError(f"{what}: larger than the {limit}-byte limit")
    return data


def read_file(path: Path, limit: int) -> bytes:
    """The bytes of `path`, decompressed if its magic says so, at most `limit` of them."""
    what = str(path)
    try:
        with path.open("rb") as f:
            kind = compression_of(f.read(6))
            f.seek(0)
            if kind is None:
                return read_limited(f, limit, what)
            stream = _decompressing(kind, f)
            with stream:
                return read_limited(stream, limit, f"{what} ({kind})")
    except FeedError:
        raise
    except (OSError, EOFError, lzma.LZMAError, zlib.error, zstandard.ZstdError) as e:
        raise FeedError(f"{what}: cannot read: {one_line(str(e)) or type(e).__name__}") from e


def _decompressing(kind: str, f: IO[bytes]) -> Any:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=f)
    if kind == "xz":
        return lzma.LZMAFile(f)
    if kind == "bzip2":
        return bz2.BZ2File(f)
    # max_window_size bounds the decoder's own memory, whatever the frame header claims
    reader = zstandard.ZstdDecompressor(max_window_size=1 << 27).stream_reader(f)
    return reader


def decode_text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RecordError(f"{what}: not UTF-8 (byte {e.start})") from None


def load_json(data: bytes | str, what: str) -> Any:
    """Parsed JSON; RecordError with the position on malformed or absurdly nested input."""
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        raise RecordError(
            f"{what}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
        ) from None
    except UnicodeDecodeError as e:
        raise RecordError(f"{what}: not UTF-8 (byte {e.start})") from None
    except RecursionError:
        raise RecordError(f"{what}: JSON nested too deeply") from None


_YAML_LOADER: type[yaml.BaseLoader] = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
MAX_YAML_DEPTH = 64  # feeds nest 6 levels deep at most
_NO_KEY = object()
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))


def load_yaml(data: bytes, what: str, limit: int, max_depth: int = MAX_YAML_DEPTH) -> Any:
    """One YAML document, at most `limit` bytes and `max_depth` levels, built from parser
    events: every scalar but null stays a string (secdb version keys like ``1.10`` must not become
    floats), and aliases are refused (feeds never use them, and a few aliases to big
    nodes make a small file expensive to walk). Building from events rather than with
    a PyYAML loader matters: libyaml's composer recurses in C and crashes the process
    on a deeply nested document long before Python's recursion limit."""
    if len(data) > limit:
        raise RecordError(f"{what}: YAML larger than the {limit}-byte limit")
    text = decode_text(data, what)
    try:
        return _build(yaml.parse(text, Loader=_YAML_LOADER), what, max_depth)
    except yaml.MarkedYAMLError as e:
        if "maximum nesting depth" in str(e.problem):
            # PyYAML >= 6.0.3 refuses deep flow nesting in its scanner, before our events
            raise RecordError(f"{what}: YAML nested deeper than {max_depth} levels") from None
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise RecordError(f"{what}: invalid YAML{where}: {one_line(str(e.problem))}") from None
    except yaml.YAMLError as e:
        raise RecordError(f"{what}: invalid YAML: {one_line(str(e))}") from None


def _build(events: Iterator[yaml.Event], what: str, max_depth: int) -> Any:
    root: Any = None
    stack: list[Any] = []  # open lists and dicts, innermost last
    keys: list[Any] = []  # per open container: the mapping key waiting for its value
    documents = 0
    for ev in events:
        if isinstance(ev, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise RecordError(f"{what}: more than one YAML document")
            continue
        if isinstance(ev, yaml.AliasEvent):
            line = ev.start_mark.line + 1 if ev.start_mark else 0
            raise RecordError(f"{what}: YAML aliases are not allowed in feed data (line {line})")
        if isinstance(ev, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            stack.pop()
            keys.pop()
            continue
        value: Any
        if isinstance(ev, yaml.ScalarEvent):
            # a plain `null`, `~` or nothing is YAML's null; every other scalar stays text
            value = None if not ev.style and ev.value in _NULLS else ev.value
        elif isinstance(ev, yaml.SequenceStartEvent):
            value = []
        elif isinstance(ev, yaml.MappingStartEvent):
            value = {}
        else:
            continue  # stream and document boundaries
        if not stack:
            root = value
        elif isinstance(stack[-1], list):
            stack[-1].append(value)
        elif keys[-1] is _NO_KEY:
            if not isinstance(value, str):
                raise RecordError(f"{what}: YAML mapping key is not a scalar")
            keys[-1] = value
        else:
            stack[-1][keys[-1]] = value
            keys[-1] = _NO_KEY
        if isinstance(value, list | dict):
            if len(stack) >= max_depth:
                raise RecordError(f"{what}: YAML nested deeper than {max_depth} levels")
            stack.append(value)
            keys.append(_NO_KEY)
    return root


def iter_files(path: Path, suffixes: tuple[str, ...]) -> Iterator[Path]:
    """`path` itself, or the files under it whose name (without compression suffix) ends
    in one of `suffixes`, in a stable order. Raises FeedError for a missing path."""
    if path.is_file():
        yield path
        return
    if not path.is_dir():
        raise FeedError(f"{path}: no such file or directory")
    found = [
        p
        for p in path.rglob("*")
        if p.is_file() and not p.name.startswith(".") and base_name(p).endswith(suffixes)
    ]
    yield from sorted(found)


# --- small typed accessors for untrusted JSON/YAML ----------------------------------


@dataclass(slots=True)
class Fields:
    """Typed reads from one untrusted mapping, naming `where` in every error."""

    obj: dict[str, Any]
    where: str

    @classmethod
    def of(cls, obj: Any, where: str) -> Fields:
        if not isinstance(obj, dict):
            raise RecordError(f"{where}: expected an object, got {type(obj).__name__}")
        return cls(obj, where)

    def text(self, key: str, *, required: bool = False) -> str | None:
        v = self.obj.get(key)
        if v is None:
            if required:
                raise RecordError(f"{self.where}: missing {key!r}")
            return None
        if not isinstance(v, str):
            raise RecordError(f"{self.where}.{key}: expected a string, got {type(v).__name__}")
        return v

    def items(self, key: str) -> list[Any]:
        v = self.obj.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise RecordError(f"{self.where}.{key}: expected a list, got {type(v).__name__}")
        return v

    def mapping(self, key: str) -> dict[str, Any]:
        v = self.obj.get(key)
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise RecordError(f"{self.where}.{key}: expected an object, got {type(v).__name__}")
        return v

    def strings(self, key: str) -> tuple[str, ...]:
        items = self.items(key)
        for i, s in enumerate(items):
            if not isinstance(s, str):
                raise RecordError(f"{self.where}.{key}[{i}]: expected a string")
        return tuple(items)


CVE_RE = re.compile(r"CVE-\d{4}-\d{4,}")


def problem(source: str, record: str, reason: str) -> FeedProblem:
    return FeedProblem(source=source, record=record, reason=one_line(reason, 300))
