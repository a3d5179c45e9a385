from __future__ import annotations

import re
from pathlib import Path

import pytest

_STANZA = re.compile(rb"\n\n(?=Package: )")


def real_dpkg_status(first: int, count: int) -> bytes:
    """`count` real stanzas of this machine's dpkg status, starting at stanza `first`."""
    stanzas = _STANZA.split(Path("/var/lib/dpkg/status").read_bytes().strip())
    return b"\n\n".join(stanzas[first : first + count]) + b"\n"


def real_dist_info(*names: str) -> dict[str, bytes]:
    """METADATA of real wheels installed in the test venv, as site-packages files."""
    import importlib.metadata as md

    out: dict[str, bytes] = {}
    for name in names:
        dist = md.distribution(name)
        text = dist.read_text("METADATA")
        assert text, name
        folder = f"{dist.metadata['Name'].replace('-', '_')}-{dist.version}.dist-info"
        out[f"/usr/local/lib/python3.11/site-packages/{folder}/METADATA"] = text.encode()
    return out


@pytest.fixture
def debian_os_release() -> bytes:
    return Path("/usr/lib/os-release").read_bytes()
