"""Debian Security Advisories and LTS advisories: the tracker's ``data/DSA/list`` and ``data/DLA/list``.

The files (security-tracker-team/security-tracker on salsa.debian.org) look like::

    [27 Feb 2023] DSA-5365-1 curl - security update
        {CVE-2023-23916}
        [bullseye] - curl 7.74.0-1.3+deb11u7
        NOTE: free text

Mapping (what the matcher relies on):
- One Advisory per DSA/DLA id (source "debian/dsa" or "debian/dla"); the CVEs in
  ``{...}`` are its aliases, the title after the id its summary, the date in brackets
  its publication time (midnight UTC), its tracker page the reference.
- One AffectedPackage per ``[codename] - srcpkg VERSION`` line: ecosystem "Debian",
  the source package name, release = the Debian version number ("11" for bullseye;
  "sid" for unstable), ECOSYSTEM range ``introduced 0, fixed VERSION``, fix state FIXED.
  A note in parentheses after the version is ignored.
- ``<not-affected>``: the release never had the flaw; no entry.
- ``<unfixed>``: the release is affected and the advisory shipped no fix for it: range
  ``introduced 0`` only, fix state NOT_FIXED.
- ``<end-of-life>``: the release is affected but its security support has ended, so no
  fix will come: range ``introduced 0`` only, fix state WONT_FIX.
- ``NOTE:`` lines are comments. Entries without any package line or CVE (release
  announcements such as "DSA-4205-1 jessie end-of-life") are not advisories and are
  not yielded.
- A line that fits none of these forms, or names an unknown release, is reported as a
  FeedProblem and skipped; the rest of its advisory imports. A version dpkg would reject
  (real data has ``kernel-image-2.4.17-ia64`` in a version column) is kept as written and
  reported: matches against it come out Unknown, never "not affected".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from shoal.feeds.base import CVE_RE, Feed, FeedError, decode_text, iter_files, problem, read_file
from shoal.feeds.debian_releases import release_of
from shoal.model.advisory import Advisory, AffectedPackage, AffectedRange, FeedProblem, FixState
from shoal.versions import MAX_LENGTH, InvalidVersion, scheme_for

_HEADER = re.compile(
    r"\[(?P<date>\d{1,2} [A-Z][a-z]{2} \d{4})\]\s+(?P<id>D[SL]A-\d+(?:-\d+)?)\s*(?P<title>.*)"
)
_PACKAGE = re.compile(r"\[(?P<rel>[a-z-]+)\]\s+-\s+(?P<pkg>[a-z0-9][a-z0-9+.-]*)\s+(?P<rest>.+)")
_CVES = re.compile(r"\{(?P<ids>[^}]*)\}")
_DEB = scheme_for("Debian")
_MAX_LINE = 64 * 1024


@dataclass(slots=True)
class _Entry:
    id: str
    title: str
    published: str | None
    line: int
    cves: list[str] = field(default_factory=list)
    affected: list[AffectedPackage] = field(default_factory=list)


def _date(text: str) -> str | None:
    try:
        return datetime.strptime(text, "%d %b %Y").strftime("%Y-%m-%dT00:00:00Z")
    except ValueError:
        return None


class DebianListFeed(Feed[Advisory]):
    """Base of the DSA and DLA list feeds; subclasses set `prefix` and the names."""

    prefix: str  # "DSA" or "DLA"
    version = 1
    license = "LicenseRef-Debian-security-tracker"

    def downloads(self) -> tuple[tuple[str, str], ...]:
        return ((self.default_url, "list"),)

    def parse(self, path: Path) -> Iterator[Advisory | FeedProblem]:
        for f in iter_files(path, ("list",)):
            data = read_file(f, self.limits.file_bytes)
            try:
                text = decode_text(data, str(f))
            except ValueError as e:
                raise FeedError(str(e)) from None
            yield from self.parse_text(text, f.name)

    def parse_text(self, text: str, where: str) -> Iterator[Advisory | FeedProblem]:
        """The advisories of one list file's text (pure)."""
        entry: _Entry | None = None
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line:
                continue
            record = f"{where}:{n}"
            if len(line) > _MAX_LINE:
                yield problem(self.name, record, f"line longer than {_MAX_LINE} characters")
                continue
            if not raw[0].isspace():
                if entry is not None:
                    yield from self._finish(entry, where)
                entry = None
                m = _HEADER.fullmatch(line)
                if m is None:
                    yield problem(self.name, record, f"not an advisory header: {line[:80]!r}")
                    continue
                if not m["id"].startswith(self.prefix + "-"):
                    yield problem(self.name, record, f"{m['id']} in a {self.prefix} list")
                    continue
                entry = _Entry(m["id"], m["title"].strip(), _date(m["date"]), n)
                if entry.published is None:
                    yield problem(self.name, record, f"{m['id']}: invalid date {m['date']!r}")
                continue
            if entry is None:
                yield problem(self.name, record, "indented line outside any advisory")
                continue
            if line.startswith("NOTE:"):
                continue
            if m := _CVES.fullmatch(line):
                ids = m["ids"].split()
                bad = [i for i in ids if not CVE_RE.fullmatch(i)]
                if bad:
                    yield problem(self.name, record, f"{entry.id}: not a CVE id: {bad[0][:60]!r}")
                entry.cves.extend(i for i in ids if CVE_RE.fullmatch(i))
                continue
            if m := _PACKAGE.fullmatch(line):
                yield from self._package(entry, m, record)
                continue
            yield problem(self.name, record, f"{entry.id}: unrecognised line {line[:80]!r}")
        if entry is not None:
            yield from self._finish(entry, where)

    def _package(self, entry: _Entry, m: re.Match[str], record: str) -> Iterator[FeedProblem]:
        release = release_of(m["rel"])
        if release is None:
            yield problem(self.name, record, f"{entry.id}: unknown Debian release {m['rel']!r}")
            return
        word = m["rest"].split()[0]
        if word == "<not-affected>":
            return
        if word in ("<unfixed>", "<end-of-life>"):
            events: tuple[tuple[str, str], ...] = (("introduced", "0"),)
            state = FixState.NOT_FIXED if word == "<unfixed>" else FixState.WONT_FIX
        elif word.startswith("<"):
            yield problem(self.name, record, f"{entry.id}: unknown status {word[:40]!r}")
            return
        elif len(word) > MAX_LENGTH:
            yield problem(self.name, record, f"{entry.id}: version longer than {MAX_LENGTH}")
            return
        else:
            try:
                _DEB.parse(word)
            except InvalidVersion as e:
                yield problem(self.name, record, f"{entry.id}: {e}; kept as written")
            events = (("introduced", "0"), ("fixed", word))
            state = FixState.FIXED
        entry.affected.append(
            AffectedPackage(
                ecosystem="Debian",
                name=m["pkg"],
                release=release,
                ranges=(AffectedRange("ECOSYSTEM", events),),
                fix_state=state,
            )
        )

    def _finish(self, entry: _Entry, where: str) -> Iterator[Advisory]:
        if not entry.affected and not entry.cves:
            return  # an announcement, not an advisory
        yield Advisory(
            id=entry.id,
            source=self.name,
            aliases=tuple(dict.fromkeys(entry.cves)),
            summary=entry.title.lstrip("- ").strip(),
            published=entry.published,
            references=(f"https://security-tracker.debian.org/tracker/{entry.id}",),
            affected=tuple(entry.affected),
        )


_RAW = "https://salsa.debian.org/security-tracker-team/security-tracker/-/raw/master/data"


class DebianDsaFeed(DebianListFeed):
    name = "debian/dsa"
    prefix = "DSA"
    default_url = f"{_RAW}/DSA/list"


class DebianDlaFeed(DebianListFeed):
    name = "debian/dla"
    prefix = "DLA"
    default_url = f"{_RAW}/DLA/list"
