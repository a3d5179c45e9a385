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
_TIMESTAMP = re.compile(r'"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\+00:00|Z))"')


def load_case(name: str) -> Sbom:
    return from_native_json((TESTDATA / f"{name}.json").read_bytes())


def redact(text: str) -> str:
    """Serial numbers, namespaces and generation times vary per run: mask them. Times
    inside the data (image creation) keep their fractional seconds and stay."""
    return _TIMESTAMP.sub('"<timestamp>"', _UUID.sub("<uuid>", text))


def check_golden(formatter: str, case: str, text: str) -> None:
    path = GOLDEN / formatter / f"{case}.golden"
    text = redact(text)
    if os.environ.get("SHOAL_UPDATE_GOLDEN") == "1":
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
