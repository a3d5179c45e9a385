"""The Debian security tracker's JSON export (https://security-tracker.debian.org/tracker/data/json).

Shape: ``{SOURCE_PACKAGE: {CVE_ID: {"description", "scope", "debianbug", "releases":
{CODENAME: {"status", "fixed_version", "urgency", "nodsa", "nodsa_reason",
"repositories": {SUITE: VERSION}}}}}}``. ``releases`` is ``[]`` when empty.

Mapping (what the matcher relies on):
- One Advisory per id (source "debian/tracker"), merged across source packages; ids are
  CVEs or the tracker's ``TEMP-NNNNNNN-XXXXXX`` placeholders. `details` is the
  description, the tracker page the reference.
- One AffectedPackage per (source package, release): ecosystem "Debian", release = the
  Debian version ("12"; "sid" for unstable), severity = the urgency through
  `Rating.parse` (the ``**`` the tracker appends to urgencies taken from NVD is dropped;
  "unimportant" is NEGLIGIBLE; "not yet assigned" and "end-of-life" are UNKNOWN).
- ``resolved`` with a ``fixed_version``: range ``introduced 0, fixed V``, FIXED.
  ``fixed_version`` ``"0"`` means the release was never affected: no entry.
- ``open``: range ``introduced 0``. Fix state WONT_FIX when the security team decided
  not to fix it (``nodsa_reason`` "ignored") or the release's support ended (urgency
  "end-of-life"); otherwise NOT_FIXED (including ``nodsa_reason`` "postponed": a fix
  will come with a point release).
- ``undetermined``: the team has not decided whether the release is affected: range
  ``introduced 0`` with fix state UNKNOWN, so the matcher can say "possibly affected".
- ``resolved`` without a fixed version, an unknown status or release, or a malformed
  entry is a FeedProblem naming package, id and release; the rest imports.
- An id with no affected release (all "not affected") yields no advisory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shoal.feeds.base import Feed, FeedError, Fields, RecordError, load_json, problem, read_file
from shoal.feeds.debian_releases import release_of
from shoal.model.advisory import (
    Advisory,
    AffectedPackage,
    AffectedRange,
    FeedProblem,
    FixState,
    Rating,
)
from shoal.versions import MAX_LENGTH

_ID = re.compile(r"CVE-\d{4}-\d{4,}|TEMP-\d{7}-[0-9A-F]{6}")
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]*")


@dataclass(slots=True)
class _Acc:
    description: str = ""
    affected: list[AffectedPackage] = field(default_factory=list)


def urgency_rating(urgency: str | None) -> Rating | None:
    """Tracker urgency to a rating; None when there is no urgency at all."""
    if not urgency:
        return None
    return Rating.parse(urgency.rstrip("*"))


class DebianTrackerFeed(Feed[Advisory]):
    name = "debian/tracker"
    version = 1
    license = "LicenseRef-Debian-security-tracker"
    default_url = "https://security-tracker.debian.org/tracker/data/json"

    def downloads(self) -> tuple[tuple[str, str], ...]:
        return ((self.default_url, "tracker.json"),)

    def parse(self, path: Path) -> Iterator[Advisory | FeedProblem]:
        if path.is_dir():
            path = path / "tracker.json"
        data = read_file(path, self.limits.file_bytes)
        try:
            doc = load_json(data, path.name)
        except RecordError as e:
            raise FeedError(str(e)) from None
        if not isinstance(doc, dict):
            raise FeedError(f"{path.name}: expected an object of source packages")
        yield from self.parse_doc(doc)

    def parse_doc(self, doc: dict[str, Any]) -> Iterator[Advisory | FeedProblem]:
        """The advisories of a parsed export (pure)."""
        acc: dict[str, _Acc] = {}
        for pkg, cves in doc.items():
            if not _PACKAGE.fullmatch(pkg):
                yield problem(self.name, pkg[:100], "not a Debian source package name")
                continue
            if not isinstance(cves, dict):
                yield problem(self.name, pkg, "expected an object of vulnerability ids")
                continue
            for vid, entry in cves.items():
                record = f"{pkg}/{vid[:100]}"
                if not _ID.fullmatch(vid):
                    yield problem(self.name, record, "not a CVE or TEMP- id")
                    continue
                try:
                    yield from self._entry(pkg, vid, entry, record, acc)
                except RecordError as e:
                    yield problem(self.name, record, str(e))
        for vid in sorted(acc):
            a = acc[vid]
            if not a.affected:
                continue
            yield Advisory(
                id=vid,
                source=self.name,
                details=a.description,
                references=(f"https://security-tracker.debian.org/tracker/{vid}",),
                affected=tuple(a.affected),
            )

    def _entry(
        self, pkg: str, vid: str, entry: Any, record: str, acc: dict[str, _Acc]
    ) -> Iterator[FeedProblem]:
        e = Fields.of(entry, record)
        a = acc.setdefault(vid, _Acc())
        a.description = a.description or (e.text("description") or "")
        releases = e.obj.get("releases")
        if releases in (None, []):
            return
        if not isinstance(releases, dict):
            raise RecordError(f"{record}.releases: expected an object")
        for codename, rel in releases.items():
            where = f"{record}/{codename[:40]}"
            try:
                aff = self._release(pkg, codename, rel, where)
            except RecordError as err:
                yield problem(self.name, where, str(err))
                continue
            if aff is not None:
                a.affected.append(aff)

    def _release(self, pkg: str, codename: str, rel: Any, where: str) -> AffectedPackage | None:
        r = Fields.of(rel, where)
        release = release_of(codename)
        if release is None:
            raise RecordError(f"{where}: unknown Debian release {codename[:40]!r}")
        status = r.text("status", required=True)
        fixed = r.text("fixed_version")
        urgency = r.text("urgency")
        events: tuple[tuple[str, str], ...] = (("introduced", "0"),)
        if status == "resolved":
            if fixed == "0":
                return None  # never affected in this release
            if not fixed:
                raise RecordError(f"{where}: resolved without a fixed_version")
            if len(fixed) > MAX_LENGTH:
                raise RecordError(f"{where}: fixed_version longer than {MAX_LENGTH}")
            events = (("introduced", "0"), ("fixed", fixed))
            state = FixState.FIXED
        elif status == "open":
            wont = r.text("nodsa_reason") == "ignored" or (urgency or "") == "end-of-life"
            state = FixState.WONT_FIX if wont else FixState.NOT_FIXED
        elif status == "undetermined":
            state = FixState.UNKNOWN
        else:
            raise RecordError(f"{where}: unknown status {status!r:.40}")
        return AffectedPackage(
            ecosystem="Debian",
            name=pkg,
            release=release,
            ranges=(AffectedRange("ECOSYSTEM", events),),
            fix_state=state,
            severity=urgency_rating(urgency),
        )
