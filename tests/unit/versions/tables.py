"""Reading the comparison tables in testdata/: one ``a < b``, ``a == b`` or ``a > b`` a line.

Versions may contain spaces (the first `` < ``/`` == ``/`` > `` splits the line).
``#`` lines are comments; a ``# fallback:`` comment starts
the part of a hand table that records shoal's documented order for strings the
reference tool refuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

TESTDATA = Path(__file__).parent / "testdata"
_LINE = re.compile(r"^(.*?) (<|==|>) (.*)$")
_SIGN = {"<": -1, "==": 0, ">": 1}


@dataclass(frozen=True)
class Row:
    a: str
    b: str
    want: int
    where: str  # "apk-versions.txt:12"
    fallback: bool


def table_files() -> list[Path]:
    return sorted(TESTDATA.glob("*-versions*.txt"))


def scheme_of(path: Path) -> str:
    return path.name.split("-versions")[0]


def read_table(path: Path) -> list[Row]:
    rows: list[Row] = []
    fallback = False
    for n, line in enumerate(path.read_text().split("\n"), 1):
        if line.startswith("# fallback:"):
            fallback = True
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        assert m, f"{path.name}:{n}: not 'a < b', 'a == b' or 'a > b': {line!r}"
        a, op, b = m.groups()
        rows.append(Row(a, b, _SIGN[op], f"{path.name}:{n}", fallback))
    return rows
