from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TESTDATA = Path(__file__).parent / "testdata"


def payload(name: str) -> bytes:
    return (TESTDATA / name).read_bytes()


def doc(name: str) -> Any:
    return json.loads(payload(name))


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()
