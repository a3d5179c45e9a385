"""Finding each feed's input for an update: `--from` path, upstream URL, or bundled copy.

A resolver is called once per feed with the fingerprint stored by the previous update
and answers a `FeedInput` (a local path `parse` can read, plus provenance) or None when
upstream says nothing changed (a conditional request answered 304).

- `local(root, n)`: air-gapped sites; `root` is one feed's input, or a directory with
  an entry per feed (see `inputs.locate`).
- `online(http, downloads)`: the feed's upstream URLs, conditional on the stored
  ETag/Last-Modified. Downloads are kept in `downloads/<feed>` between runs because a 304
  only means something if the previous file is still there to parse.
- `bundled()`: the snapshots shipped inside shoal (`shoal/data/feeds`), the default
  when no network source is configured: `make demo` and first runs work offline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import httpx

from shoal.feeds.base import Fetched, Fingerprint, Validator
from shoal.model.advisory import Advisory, CveEnrichment, FeedProblem
from shoal.vulndb import inputs
from shoal.vulndb.errors import VulnDbError


class UpdatableFeed(Protocol):
    """What an update needs of a feed (`shoal.feeds.base.Feed` fits it)."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def license(self) -> str: ...

    def parse(self, path: Path) -> Iterator[Advisory | CveEnrichment | FeedProblem]: ...


class FetchableFeed(UpdatableFeed, Protocol):
    @property
    def default_url(self) -> str: ...

    def fetch(
        self, http: httpx.Client, dest: Path, prior: Fingerprint | None = None
    ) -> Fetched | object: ...


@dataclass(frozen=True, slots=True)
class FeedInput:
    """A feed's input, once found or fetched, and where it came from."""

    path: Path
    origin: str  # "bundled" | "url" | "path"
    location: str  # the --from path, upstream URL or bundled file, for `db status`
    upstream: str | None = None  # upstream timestamp: Last-Modified, snapshot date
    fingerprint: str | None = None  # JSON of the feed's Fingerprint, for the next fetch


class InputResolver(Protocol):
    def __call__(self, feed: UpdatableFeed, prior_fingerprint: str | None) -> FeedInput | None: ...


def local(root: Path, n_feeds: int) -> InputResolver:
    """Inputs under a `--from` path (air-gapped)."""

    def resolve(feed: UpdatableFeed, prior_fingerprint: str | None) -> FeedInput | None:
        path = inputs.locate(root, feed.name, n_feeds)
        return FeedInput(path, "path", str(path))

    return resolve


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def fingerprint_to_json(fp: Fingerprint) -> str:
    return json.dumps(asdict(fp), separators=(",", ":"), sort_keys=True)


def fingerprint_from_json(text: str | None) -> Fingerprint | None:
    """The stored fingerprint, or None when absent or unreadable (then fetch fully)."""
    if not text:
        return None
    try:
        d = json.loads(text)
        return Fingerprint(
            files=tuple(Validator(**v) for v in d.get("files", ())), cursor=d.get("cursor")
        )
    except (ValueError, TypeError, AttributeError):
        return None


def online(http: httpx.Client, downloads: Path) -> InputResolver:
    """Inputs fetched from each feed's upstream URL into `downloads/<feed>`."""

    def resolve(feed: UpdatableFeed, prior_fingerprint: str | None) -> FeedInput | None:
        fetch = getattr(feed, "fetch", None)
        if fetch is None:
            raise VulnDbError(f"source {feed.name!r} cannot be fetched; use --from")
        dest = downloads / _safe(feed.name)
        got = fetch(http, dest, fingerprint_from_json(prior_fingerprint))
        if not isinstance(got, Fetched):
            return None  # upstream unchanged
        stamps = [v.last_modified for v in got.fingerprint.files if v.last_modified]
        return FeedInput(
            got.path,
            "url",
            str(getattr(feed, "default_url", "")),
            upstream=max(stamps) if stamps else None,
            fingerprint=fingerprint_to_json(got.fingerprint),
        )

    return resolve


def bundled_root() -> Path:
    return Path(str(resources.files("shoal"))) / "data" / "feeds"


def bundled_path(feed_name: str, root: Path | None = None) -> Path | None:
    """The bundled input of `feed_name`, or None when shoal ships none for it (layout:
    see `inputs.find_entry`)."""
    return inputs.find_entry(root or bundled_root(), feed_name)


_README_ROW = re.compile(
    r"^\|\s*`[^`]+`\s*\|\s*`(?P<feed>[^`]+)`\s*\|[^|]*\|\s*(?P<date>\d{4}-\d{2}-\d{2})\s*\|",
    re.MULTILINE,
)


def snapshot_date(root: Path, feed_name: str) -> str | None:
    """The snapshot date of a bundled feed, from the table in the bundled README.md
    (| file | feed | upstream | snapshot | ...), if it gives one."""
    try:
        text = (root / "README.md").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for m in _README_ROW.finditer(text):
        if m.group("feed") == feed_name:
            return m.group("date")
    return None


def bundled(root: Path | None = None) -> InputResolver:
    """Inputs from the snapshots bundled with shoal."""
    base = root or bundled_root()

    def resolve(feed: UpdatableFeed, prior_fingerprint: str | None) -> FeedInput | None:
        path = bundled_path(feed.name, base)
        if path is None:
            raise VulnDbError(
                f"shoal bundles no data for source {feed.name!r}; "
                "use --from PATH, or --online (setting SHOAL_VULNDB__ONLINE=1)"
            )
        return FeedInput(
            path,
            "bundled",
            path.relative_to(base).as_posix(),
            upstream=snapshot_date(base, feed.name),
        )

    return resolve
