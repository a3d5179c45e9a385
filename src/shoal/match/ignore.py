"""Ignore lists: vulnerabilities a team has decided to accept, with an expiry and reason.

Two formats, told apart by content:

Text (``.shoalignore``, like ``.trivyignore``), one rule per line::

    # comments and blank lines are skipped
    CVE-2021-33203                           # no expiry, no reason
    CVE-2022-28346 exp:2025-06-30 reason: only used offline
    GHSA-2gwj-7jmv-h26r pkg:pypi/django exp:2025-01-01

YAML::

    ignore:
      - id: CVE-2022-28346
        package: pkg:pypi/django   # optional purl; without a version it means any version
        expires: 2025-06-30        # optional; from this day on the rule no longer applies
        reason: only used offline  # optional

A rule matches a finding when its id is any of the finding's ids (CVE, GHSA, distro
advisory, ...) or the finding's stable id, and its package (if given) is the finding's
purl or that purl without version and qualifiers. An expired rule applies to nothing and
is reported so the list gets cleaned up.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shoal.errors import ShoalError
from shoal.model.finding import Finding, package_ref

MAX_BYTES = 4 * 1024 * 1024
MAX_RULES = 100_000
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,199}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors/aliases: an ignore list never needs them, and they are
    how a small file expands into an exponentially large document."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "YAML aliases are not allowed", mark)
        return super().compose_node(parent, index)


class IgnoreFileError(ShoalError):
    """An ignore file that cannot be read or is malformed; names the file and line."""


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    id: str
    package: str | None = None  # purl, with or without version
    expires: dt.date | None = None
    reason: str = ""
    origin: str = ""  # "FILE:LINE" or "FILE: ignore[3]"

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and today >= self.expires

    def matches(self, f: Finding) -> bool:
        # a rule names a vulnerability id, the finding's id, or its image-independent key
        if self.id not in (f.id, f.key) and self.id not in f.ids:
            return False
        if self.package is None:
            return True
        purl = package_ref(f.package)
        return self.package == purl or self.package == _base_purl(purl)


def _base_purl(purl: str) -> str:
    """The purl without version, qualifiers and subpath: ``pkg:pypi/django``."""
    return purl.split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[0]


def _date(text: str, where: str) -> dt.date:
    if not _DATE.match(text):
        raise IgnoreFileError(f"{where}: expiry {text[:40]!r} is not YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise IgnoreFileError(f"{where}: expiry {text!r}: {e}") from None


def _check_id(value: str, where: str) -> str:
    if not _ID.match(value):
        raise IgnoreFileError(f"{where}: {value[:60]!r} is not a vulnerability id")
    return value


def parse_ignore_text(text: str, name: str = "<ignore>") -> list[IgnoreRule]:
    rules: list[IgnoreRule] = []
    for n, line in enumerate(text.splitlines(), 1):
        where = f"{name}:{n}"
        body, _, comment = line.partition("#")
        fields = body.split()
        reason = comment.strip()
        if not fields:
            continue
        rule_id = _check_id(fields[0], where)
        expires: dt.date | None = None
        package: str | None = None
        rest: list[str] = []
        for i, tok in enumerate(fields[1:], 1):
            if tok.startswith("exp:"):
                expires = _date(tok[4:], where)
            elif tok.startswith("pkg:"):
                package = tok
            elif tok.startswith("reason:"):
                rest = [tok[7:], *fields[i + 1 :]]
                break
            else:
                raise IgnoreFileError(
                    f"{where}: unexpected {tok[:60]!r} (expected exp:YYYY-MM-DD, pkg:..., reason:)"
                )
        if rest:
            reason = " ".join(x for x in rest if x) + (f" # {reason}" if reason else "")
        rules.append(IgnoreRule(rule_id, package, expires, reason[:500], where))
        if len(rules) > MAX_RULES:
            raise IgnoreFileError(f"{where}: more than {MAX_RULES} rules")
    return rules


def parse_ignore_yaml(text: str, name: str = "<ignore>") -> list[IgnoreRule]:
    try:
        doc: Any = yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise IgnoreFileError(f"{name}{at}: {problem}") from None
    except RecursionError:
        raise IgnoreFileError(f"{name}: YAML nested too deeply") from None
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("ignore"), list):
        raise IgnoreFileError(f"{name}: expected a mapping with an 'ignore' list")
    items: list[Any] = doc["ignore"]
    if len(items) > MAX_RULES:
        raise IgnoreFileError(f"{name}: more than {MAX_RULES} rules")
    rules = []
    for i, raw in enumerate(items):
        where = f"{name}: ignore[{i}]"
        item = {"id": raw} if isinstance(raw, str) else raw
        if not isinstance(item, dict):
            raise IgnoreFileError(f"{where}: expected a mapping or an id")
        unknown = set(item) - {"id", "package", "expires", "reason"}
        if unknown:
            raise IgnoreFileError(f"{where}: unknown key {sorted(map(str, unknown))[0]!r}")
        rid = item.get("id")
        if not isinstance(rid, str):
            raise IgnoreFileError(f"{where}: 'id' must be a string")
        pkg = item.get("package")
        if pkg is not None and (not isinstance(pkg, str) or not pkg.startswith("pkg:")):
            raise IgnoreFileError(f"{where}: 'package' must be a purl (pkg:...)")
        exp = item.get("expires")
        expires: dt.date | None
        if exp is None:
            expires = None
        elif isinstance(exp, dt.date) and not isinstance(exp, dt.datetime):
            expires = exp  # YAML reads an unquoted 2025-01-01 as a date already
        elif isinstance(exp, str):
            expires = _date(exp, where)
        else:
            raise IgnoreFileError(f"{where}: 'expires' must be a YYYY-MM-DD date")
        reason = item.get("reason", "")
        if not isinstance(reason, str):
            raise IgnoreFileError(f"{where}: 'reason' must be a string")
        rules.append(IgnoreRule(_check_id(rid, where), pkg, expires, reason[:500], where))
    return rules


def parse_ignore(text: str, name: str = "<ignore>") -> list[IgnoreRule]:
    """Rules from either format: YAML when the document has an ``ignore:`` key."""
    if re.search(r"^ignore\s*:", text, re.MULTILINE):
        return parse_ignore_yaml(text, name)
    return parse_ignore_text(text, name)


def load_ignore_file(path: Path) -> list[IgnoreRule]:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise IgnoreFileError(f"ignore file {str(path)!r}: {e.strerror or e}") from e
    if len(data) > MAX_BYTES:
        raise IgnoreFileError(f"ignore file {str(path)!r}: larger than {MAX_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise IgnoreFileError(f"ignore file {str(path)!r}: not UTF-8 (byte {e.start})") from None
    return parse_ignore(text, str(path))
