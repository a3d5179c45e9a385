"""Alpine secdb (https://secdb.alpinelinux.org/): fixed versions per branch and origin package.

Reads the JSON that secdb publishes per branch and repository (``v3.19/main.json``) and
the YAML it is generated from (alpinelinux/alpine-secdb), compressed or not, one file or
a directory of them. Both have the shape ``{"distroversion": "v3.11", "reponame":
"main", "packages": [{"pkg": {"name": ORIGIN, "secfixes": {FIXED_VERSION: [IDS]}}}]}``.

Mapping (what the matcher relies on):
- One Advisory per vulnerability id (source "alpine/secdb"), merged across packages,
  repositories and branches, with one AffectedPackage per (branch, origin):
  ecosystem "Alpine", release = the branch ("v3.11"), one ECOSYSTEM range
  ``introduced 0, fixed V``, fix state FIXED. Names are origin (source) packages, which
  apk's installed database records as ``o:``.
- A fixed version of ``"0"`` means "never affected on this branch" (secdb's way of
  whitelisting an id): no entry is made for it.
- If one id is listed under several fixed versions of the same package and branch (an
  incomplete first fix), the highest fixed version wins: anything below it is affected.
- An id entry may carry notes: ``CVE-2017-15590 XSA-237``, ``CVE-2019-1234 (BGP)``. The
  first CVE id is the advisory id and the other real ids (XSA-, TALOS-, GHSA-, Zabbix
  ZBX-, Wireshark wnpa-sec-) become aliases; an entry with no CVE uses its first real
  id. ``CVE_2019-2426`` and ``CVE 2018-16859`` are read as the CVE they obviously name.
  An entry with no usable id is reported as a FeedProblem and skipped.
- A fixed version that apk's grammar rejects (real typos: ``4.8.0.-r1``, ``2.7.16-33``)
  is kept as written, because dropping it would hide the vulnerability, and reported as
  a FeedProblem; the version schemes order such strings as apk-tools does, or make the
  match Unknown, never "not affected".
- A CVE's security.alpinelinux.org page is the reference.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from shoal.feeds.base import (
    DEFAULT_LIMITS,
    Feed,
    FeedLimits,
    Fields,
    RecordError,
    base_name,
    iter_files,
    load_json,
    load_yaml,
    problem,
    read_file,
)
from shoal.model.advisory import Advisory, AffectedPackage, AffectedRange, FeedProblem, FixState
from shoal.versions import MAX_LENGTH, InvalidVersion, scheme_for

_ID = re.compile(
    r"(?:CVE-\d{4}-\d{4,}|XSA-\d+|TALOS-\d{4}-\d+|GHSA(?:-[0-9a-z]{4}){3}"
    r"|ZBX-\d+|wnpa-sec-\d{4}-\d+)"
)
_CVE_TYPO = re.compile(r"\bCVE[_ ](\d{4}-\d{4,})\b")
_BRANCH = re.compile(r"v\d+\.\d+|edge")
_ORIGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
_APK = scheme_for("Alpine")
DEFAULT_BRANCHES = ("v3.18", "v3.19", "v3.20", "v3.21", "v3.22", "edge")


def parse_ids(entry: str) -> tuple[str, tuple[str, ...]]:
    """(advisory id, aliases) of one secfixes entry; RecordError when it names no id."""
    text = _CVE_TYPO.sub(r"CVE-\1", entry)
    ids = list(dict.fromkeys(m.group(0) for m in _ID.finditer(text)))
    if not ids:
        raise RecordError(f"no vulnerability id in {entry[:80]!r}")
    cves = [i for i in ids if i.startswith("CVE-")]
    main = cves[0] if cves else ids[0]
    return main, tuple(i for i in ids if i != main)


@dataclass(slots=True)
class _Acc:
    aliases: dict[str, None] = field(default_factory=dict)
    fixed: dict[tuple[str, str], str] = field(default_factory=dict)  # (branch, origin) -> ver


class AlpineSecdbFeed(Feed[Advisory]):
    name = "alpine/secdb"
    version = 1
    license = "LicenseRef-alpine-secdb"  # upstream states no licence; see data/feeds/README
    default_url = "https://secdb.alpinelinux.org/"

    def __init__(
        self, *, branches: tuple[str, ...] = DEFAULT_BRANCHES, limits: FeedLimits = DEFAULT_LIMITS
    ) -> None:
        super().__init__(limits=limits)
        self.branches = branches

    def downloads(self) -> list[tuple[str, str]]:
        return [
            (f"{self.default_url}{b}/{repo}.json", f"{b}-{repo}.json")
            for b in self.branches
            for repo in ("main", "community")
        ]

    def parse(self, path: Path) -> Iterator[Advisory | FeedProblem]:
        acc: dict[str, _Acc] = {}
        for f in iter_files(path, (".json", ".yaml", ".yml")):
            record = str(f.relative_to(path)) if f != path else f.name
            try:
                data = read_file(f, self.limits.yaml_bytes)
                if base_name(f).endswith(".json"):
                    doc = load_json(data, record)
                else:
                    doc = load_yaml(data, record, self.limits.yaml_bytes)
                yield from self._read_doc(doc, record, acc)
            except RecordError as e:
                yield problem(self.name, record, str(e))
        for vid in sorted(acc):
            a = acc[vid]
            affected = tuple(
                AffectedPackage(
                    ecosystem="Alpine",
                    name=origin,
                    release=branch,
                    ranges=(AffectedRange("ECOSYSTEM", (("introduced", "0"), ("fixed", ver))),),
                    fix_state=FixState.FIXED,
                )
                for (branch, origin), ver in sorted(a.fixed.items())
            )
            yield Advisory(
                id=vid,
                source=self.name,
                aliases=tuple(a.aliases),
                # the tracker has a page per CVE only
                references=(
                    (f"https://security.alpinelinux.org/vuln/{vid}",)
                    if vid.startswith("CVE-")
                    else ()
                ),
                affected=affected,
            )

    def _read_doc(self, doc: object, record: str, acc: dict[str, _Acc]) -> Iterator[FeedProblem]:
        top = Fields.of(doc, record)
        branch = top.text("distroversion", required=True) or ""
        if not _BRANCH.fullmatch(branch):
            raise RecordError(
                f"{record}: distroversion {branch[:40]!r} is not a branch like 'v3.19'"
            )
        for i, item in enumerate(top.items("packages")):
            where = f"{record}:packages[{i}]"
            try:
                pkg = Fields.of(Fields.of(item, where).obj.get("pkg"), f"{where}.pkg")
                origin = pkg.text("name", required=True) or ""
                if not _ORIGIN.fullmatch(origin):
                    raise RecordError(f"{where}: {origin[:60]!r} is not an Alpine package name")
                where = f"{record}:{origin[:100]}"
                secfixes = pkg.mapping("secfixes")
            except RecordError as e:
                yield problem(self.name, where, str(e))
                continue
            for ver, entries in secfixes.items():
                yield from self._read_fix(branch, origin, ver, entries, f"{where}@{ver[:60]}", acc)

    def _read_fix(
        self, branch: str, origin: str, ver: str, entries: object, where: str, acc: dict[str, _Acc]
    ) -> Iterator[FeedProblem]:
        if ver == "0":
            return  # never affected on this branch
        if not ver.strip() or len(ver) > MAX_LENGTH:
            yield problem(self.name, where, f"fixed version {ver[:60]!r} is empty or too long")
            return
        if entries is None:  # `VERSION:` with nothing under it
            yield problem(self.name, where, "no ids listed under this fixed version")
            return
        if not isinstance(entries, list):
            yield problem(self.name, where, f"expected a list of ids, got {type(entries).__name__}")
            return
        try:
            _APK.parse(ver)
        except InvalidVersion as e:
            yield problem(self.name, where, f"{e}; kept as written")
        for entry in entries:
            if not isinstance(entry, str):
                yield problem(self.name, where, f"id entry is {type(entry).__name__}, not text")
                continue
            try:
                vid, aliases = parse_ids(entry)
            except RecordError as e:
                yield problem(self.name, where, str(e))
                continue
            a = acc.setdefault(vid, _Acc())
            a.aliases.update(dict.fromkeys(aliases))
            key = (branch, origin)
            old = a.fixed.get(key)
            if old is None or _APK.compare(ver, old) > 0:
                a.fixed[key] = ver
