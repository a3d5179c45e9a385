"""bench/RESULTS.md, one `## ` section per benchmark: each bench run by itself replaces its
own section and leaves the others as they are."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def replace_section(heading: str, lines: list[str], path: Path = RESULTS) -> None:
    """Put `lines` (which start with the `heading` line, e.g. "## Findings query") where
    that section was, or at the end when there is none."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    body = "\n".join(lines).strip("\n") + "\n"
    start = text.find(f"\n{heading}\n")
    if start < 0:
        path.write_text(text.rstrip("\n") + "\n\n" + body)
        return
    nxt = text.find("\n## ", start + len(heading) + 2)
    tail = text[nxt:] if nxt >= 0 else ""
    path.write_text(text[: start + 1] + body + tail)
