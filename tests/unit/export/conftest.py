"""Fixtures for the export tests: input SBOMs from testdata/, golden-file comparison."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from shoal.export import from_native_json
from shoal.model import Sbom

HERE = Path(__file__).parent
TESTDATA = HERE / "testdata"
GOLDEN = HERE / "golden"
CASES = sorted(p.stem for p in TESTDATA.glob("*.json"))

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Generation times only: the keys formatters write "now" under.
_TIMESTAMP = re.compile(
    r'"(timestamp|created|annotationDate)": "\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\+00:00|Z)"'
)


def load_case(name: str) -> Sbom:
    return from_native_json((TESTDATA / f"{name}.json").read_bytes())


def redact(text: str) -> str:
    """Serial numbers, namespaces and generation times vary per run: mask them."""
    return _TIMESTAMP.sub(r'"\1": "<timestamp>"', _UUID.sub("<uuid>", text))


def updating_golden() -> bool:
    return os.environ.get("SHOAL_UPDATE_GOLDEN") == "1"


def check_golden(formatter: str, case: str, text: str, *, redacted: bool = True) -> None:
    """Compare with golden/<formatter>/<case>.golden (rewrite it under SHOAL_UPDATE_GOLDEN=1).

    `redacted=False` for formats with no serial numbers or generation times, where the
    whole output must be identical.
    """
    path = GOLDEN / formatter / f"{case}.golden"
    if redacted:
        text = redact(text)
    if updating_golden():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no golden file {path}: run with SHOAL_UPDATE_GOLDEN=1 and review it")
    assert text == path.read_text(encoding="utf-8"), (
        f"{formatter} output for {case} differs from {path}; if the change is intended, "
        "regenerate with SHOAL_UPDATE_GOLDEN=1 and review the diff"
    )


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> tuple[str, Sbom]:
    name: str = request.param
    return name, load_case(name)
