"""OSV advisories (https://ossf.github.io/osv-schema/) from `<Ecosystem>/all.zip` and local copies.

`parse(path)` reads the bucket's `all.zip` as served, a directory of `.json`/`.yaml`
records (compressed or not, archives inside it included), or one record file.

Mapping to `Advisory` (what the matcher relies on):
- `id`, `aliases`, `related`, `summary`, `details`, `published`, `modified`,
  `withdrawn` as given; the Go database's placeholder time ``0001-01-01T00:00:00Z`` means
  "not set" and becomes None. `references[].url` in order. Withdrawn records are still
  yielded (with `withdrawn` set); consumers skip them.
- `affected[].package.ecosystem` is split at the first ``:`` into ecosystem and release:
  ``Debian:12`` -> ("Debian", "12"), ``Alpine:v3.19`` -> ("Alpine", "v3.19"); a trailing
  ``:LTS`` is dropped, so ``Ubuntu:22.04:LTS`` -> ("Ubuntu", "22.04") while
  ``Ubuntu:Pro:18.04:LTS`` -> ("Ubuntu", "Pro:18.04") stays apart from the free release.
- Package names are normalised per ecosystem: PyPI per PEP 503 (lower case, runs of
  ``-_.`` to ``-``); every other ecosystem is case-sensitive and kept as written.
- `ranges` of type ECOSYSTEM and SEMVER keep their events in order (`introduced`,
  `fixed`, `last_affected`, `limit`); GIT ranges name commits, not versions, and are
  dropped. Explicit `versions` are kept. An affected entry whose only ranges were GIT
  and that lists no versions, or that names no package because its ranges are all GIT,
  is dropped (it cannot match a package version).
- Fix state: FIXED when any range has a `fixed` event, else NOT_FIXED.
- `severity[]` CVSS_V2/V3/V4 vectors are scored with the `cvss` library; type
  ``Ubuntu`` carries a word. The top-level `database_specific.severity` (GHSA's
  "MODERATE", ...) becomes a vendor severity. All come from source "ghsa" for GHSA ids,
  else "osv:<Ecosystem>". Per package, `ecosystem_specific.severity` or
  `database_specific.severity` becomes `AffectedPackage.severity`.
- `database_specific.cwe_ids` (GHSA) become `cwes`.

A record that is not a valid OSV object becomes a `FeedProblem` naming the file and the
field; a CVSS vector that does not parse is dropped with a `FeedProblem` of its own while
the advisory still imports.
"""

from __future__ import annotations

import functools
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from shoal.feeds.base import (
    Feed,
    FeedError,
    Fields,
    RecordError,
    base_name,
    iter_files,
    load_json,
    load_yaml,
    one_line,
    problem,
    read_file,
    read_limited,
)
from shoal.feeds.scoring import CVSS_TYPES, score_vector
from shoal.model.advisory import (
    Advisory,
    AffectedPackage,
    AffectedRange,
    FeedProblem,
    FixState,
    Rating,
    Severity,
)
from shoal.versions.base import MAX_LENGTH
from shoal.versions.ranges import parse_events

_RECORD_SUFFIXES = (".json", ".yaml", ".yml")
_ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's vulndb writes it where a time is not set
_PEP503 = re.compile(r"[-_.]+")
_MAX_ID = 256


def split_ecosystem(raw: str) -> tuple[str, str]:
    """OSV ecosystem string to (ecosystem, release): ``Ubuntu:22.04:LTS`` -> ("Ubuntu", "22.04")."""
    base, _, release = raw.partition(":")
    if release.endswith(":LTS"):
        release = release[: -len(":LTS")]
    return base.strip(), release.strip()


def normalize_name(ecosystem: str, name: str) -> str:
    if ecosystem == "PyPI":
        return _PEP503.sub("-", name).lower()
    return name


def _time(value: str | None) -> str | None:
    return None if value in (None, "", _ZERO_TIME) else value


def parse_record(obj: Any, source: str, where: str) -> tuple[Advisory, list[str]]:
    """One OSV object as an Advisory, plus one-line notes on dropped severities.

    Raises RecordError naming `where` and the field for anything not OSV-shaped.
    """
    rec = Fields.of(obj, where)
    vid = rec.text("id", required=True) or ""
    if not vid or len(vid) > _MAX_ID or any(c.isspace() for c in vid):
        raise RecordError(f"{where}: invalid id {vid[:80]!r}")
    where = f"{where}:{vid}"
    rec.where = where
    affected: list[AffectedPackage] = []
    first_ecosystem = ""
    for i, raw in enumerate(rec.items("affected")):
        aff = _affected(raw, f"{where}.affected[{i}]")
        first_ecosystem = first_ecosystem or aff[0]
        if aff[1] is not None:
            affected.append(aff[1])
    sev_source = "ghsa" if vid.startswith("GHSA-") else f"osv:{first_ecosystem or source[4:]}"
    severities, notes = _severities(rec, sev_source)
    refs = []
    for i, r in enumerate(rec.items("references")):
        url = Fields.of(r, f"{where}.references[{i}]").text("url")
        if url:
            refs.append(url)
    db = rec.mapping("database_specific")
    cwes = Fields.of(db, f"{where}.database_specific").strings("cwe_ids") if db else ()
    adv = Advisory(
        id=vid,
        source=source,
        aliases=rec.strings("aliases"),
        related=rec.strings("related"),
        summary=rec.text("summary") or "",
        details=rec.text("details") or "",
        published=_time(rec.text("published")),
        modified=_time(rec.text("modified")),
        withdrawn=_time(rec.text("withdrawn")),
        references=tuple(refs),
        severities=tuple(severities),
        affected=tuple(affected),
        cwes=cwes,
    )
    return adv, notes


def _affected(obj: Any, where: str) -> tuple[str, AffectedPackage | None]:
    aff = Fields.of(obj, where)
    if aff.obj.get("package") is None and all(
        isinstance(r, dict) and r.get("type") == "GIT" for r in aff.items("ranges")
    ):
        return "", None  # the schema lets a GIT-only entry name no package
    pkg = Fields.of(aff.obj.get("package"), f"{where}.package")
    eco_raw = pkg.text("ecosystem", required=True) or ""
    name = pkg.text("name", required=True) or ""
    ecosystem, release = split_ecosystem(eco_raw)
    if not ecosystem or not name:
        raise RecordError(f"{where}.package: empty ecosystem or name")
    ranges: list[AffectedRange] = []
    had_ranges = False
    for j, r in enumerate(aff.items("ranges")):
        rng = Fields.of(r, f"{where}.ranges[{j}]")
        rtype = rng.text("type", required=True)
        had_ranges = True
        if rtype == "GIT":
            continue
        if rtype not in ("ECOSYSTEM", "SEMVER"):
            raise RecordError(f"{rng.where}: unknown range type {rtype!r:.40}")
        try:
            events = parse_events(rng.items("events"))
        except ValueError as e:
            raise RecordError(f"{rng.where}.events: {e}") from None
        if not events:
            raise RecordError(f"{rng.where}: no events")
        for ev in events:
            if len(ev.version) > MAX_LENGTH:
                raise RecordError(f"{rng.where}: event version longer than {MAX_LENGTH}")
        ranges.append(AffectedRange(rtype, tuple((e.kind, e.version) for e in events)))
    versions = aff.strings("versions")
    if not ranges and not versions and had_ranges:
        return ecosystem, None  # GIT-only: nothing a package version can be matched against
    fixed = any(k == "fixed" for r in ranges for k, _ in r.events)
    return ecosystem, AffectedPackage(
        ecosystem=ecosystem,
        name=normalize_name(ecosystem, name),
        release=release,
        ranges=tuple(ranges),
        versions=versions,
        fix_state=FixState.FIXED if fixed else FixState.NOT_FIXED,
        severity=_package_severity(aff),
        purl=pkg.text("purl"),
    )


def _package_severity(aff: Fields) -> Rating | None:
    for key in ("ecosystem_specific", "database_specific"):
        word = aff.mapping(key).get("severity")
        if isinstance(word, str) and Rating.parse(word) is not Rating.UNKNOWN:
            return Rating.parse(word)
    return None


def _severities(rec: Fields, source: str) -> tuple[list[Severity], list[str]]:
    out: list[Severity] = []
    notes: list[str] = []
    for i, s in enumerate(rec.items("severity")):
        sev = Fields.of(s, f"{rec.where}.severity[{i}]")
        kind = sev.text("type", required=True) or ""
        score = sev.text("score", required=True) or ""
        if kind in CVSS_TYPES:
            try:
                value, rating = score_vector(kind, score)
            except ValueError as e:
                notes.append(f"{sev.where}: {e}")
                continue
            out.append(Severity(source, rating, kind, score, value))
        elif kind == "Ubuntu":
            out.append(Severity(source, Rating.parse(score), "vendor"))
        else:
            notes.append(f"{sev.where}: unknown severity type {kind[:40]!r}, dropped")
    word = rec.mapping("database_specific").get("severity")
    if isinstance(word, str) and word.strip():
        out.append(Severity(source, Rating.parse(word), "vendor"))
    return out, notes


class OsvFeed(Feed[Advisory]):
    """Base of the per-ecosystem OSV feeds; subclasses set `ecosystem`."""

    ecosystem: ClassVar[str]
    license = "CC-BY-4.0"
    version = 1

    def downloads(self) -> tuple[tuple[str, str], ...]:
        return ((self.default_url, "all.zip"),)

    def parse(self, path: Path) -> Iterator[Advisory | FeedProblem]:
        for f in iter_files(path, (*_RECORD_SUFFIXES, ".zip")):
            if f.suffix == ".zip":
                yield from self._parse_zip(f)
            else:
                yield from self._parse_blob(
                    f.name, functools.partial(read_file, f, self.limits.record_bytes)
                )

    def _parse_zip(self, path: Path) -> Iterator[Advisory | FeedProblem]:
        try:
            zf = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as e:
            raise FeedError(f"{path}: not a readable zip archive: {one_line(str(e))}") from e
        with zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if len(infos) > self.limits.archive_members:
                raise FeedError(
                    f"{path}: {len(infos)} members, over the limit of {self.limits.archive_members}"
                )
            total = 0
            for info in infos:
                record = f"{path.name}:{info.filename[:200]}"
                if not base_name(info.filename).endswith(_RECORD_SUFFIXES):
                    continue
                if info.file_size > self.limits.record_bytes:
                    yield problem(
                        self.name, record, f"{info.file_size} bytes, over the record limit"
                    )
                    continue
                total += info.file_size
                if total > self.limits.archive_bytes:
                    raise FeedError(
                        f"{path}: members add up to more than {self.limits.archive_bytes} bytes"
                    )

                def read(info: zipfile.ZipInfo = info) -> bytes:
                    with zf.open(info) as m:
                        # the declared size may lie: bound what is actually inflated
                        return read_limited(m, self.limits.record_bytes, info.filename[:200])

                yield from self._parse_blob(record, read)

    def _parse_blob(
        self, record: str, read: Callable[[], bytes]
    ) -> Iterator[Advisory | FeedProblem]:
        try:
            data: bytes = read()
            if base_name(record).endswith(".json"):
                obj = load_json(data, record)
            else:
                obj = load_yaml(data, record, self.limits.yaml_bytes)
            adv, notes = parse_record(obj, self.name, record)
        except (RecordError, FeedError, zipfile.BadZipFile, OSError, EOFError) as e:
            yield problem(self.name, record, str(e))
            return
        for note in notes:
            yield problem(self.name, record, note)
        yield adv


def _osv_url(ecosystem: str) -> str:
    return f"https://osv-vulnerabilities.storage.googleapis.com/{ecosystem}/all.zip"


class OsvPyPIFeed(OsvFeed):
    name = "osv/PyPI"
    ecosystem = "PyPI"
    default_url = _osv_url("PyPI")


class OsvGoFeed(OsvFeed):
    name = "osv/Go"
    ecosystem = "Go"
    default_url = _osv_url("Go")


class OsvNpmFeed(OsvFeed):
    name = "osv/npm"
    ecosystem = "npm"
    default_url = _osv_url("npm")


class OsvCratesIoFeed(OsvFeed):
    name = "osv/crates.io"
    ecosystem = "crates.io"
    default_url = _osv_url("crates.io")


class OsvMavenFeed(OsvFeed):
    name = "osv/Maven"
    ecosystem = "Maven"
    default_url = _osv_url("Maven")


class OsvRubyGemsFeed(OsvFeed):
    name = "osv/RubyGems"
    ecosystem = "RubyGems"
    default_url = _osv_url("RubyGems")


class OsvNuGetFeed(OsvFeed):
    name = "osv/NuGet"
    ecosystem = "NuGet"
    default_url = _osv_url("NuGet")


class OsvPackagistFeed(OsvFeed):
    name = "osv/Packagist"
    ecosystem = "Packagist"
    default_url = _osv_url("Packagist")
