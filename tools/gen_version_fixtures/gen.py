"""Generate `<scheme>-versions-generated.txt` tables with each ecosystem's own tool.

    .venv/bin/python tools/gen_version_fixtures/gen.py [scheme ...]
    .venv/bin/python tools/gen_version_fixtures/gen.py --check [scheme ...]

The second form checks the hand-written `<scheme>-versions.txt` tables against the tool.

Each table line is one comparison the reference tool made, ``a < b`` or ``a == b``
(``a > b`` is written as ``b < a``). Pairs the tool refuses to compare are left out.
Tools (none is needed by the tests, which only read the committed tables):

- deb: ``dpkg --compare-versions``
- rpm: rpm's Lua ``rpm.ver`` objects (rpm 4.18 ``rpmverCmp``)
- pep440: packaging 21.3 (``pip install --target /tmp/pkg21 packaging==21.3``)
- npm: node-semver (``npm install semver`` in /tmp/semvertool)
- semver (crates.io, Hex): node-semver on strings without npm's tolerated extras
- go: golang.org/x/mod/semver as vendored in the Go toolchain's source
- maven: ``org.apache.maven.artifact.versioning.ComparableVersion`` from Maven's jar
- gem: ``Gem::Version`` (Debian's ruby)
- composer: composer/semver's ``VersionParser::normalize`` + PHP ``version_compare``
  (Debian's php-cli and php-composer-semver)

No tool here covers apk (Debian has no apk-tools) or NuGet (no .NET): their tables are
hand-written from apk-tools' own test data and version.c, and from NuGet's documentation.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from corpus import REAL, installed_deb_versions, pairs

HERE = Path(__file__).parent
OUT = HERE.parents[1] / "tests" / "unit" / "versions" / "testdata"
Pairs = Sequence[tuple[str, str]]
Results = list[int | None]


def _tsv(ps: Pairs) -> str:
    return "".join(f"{a}\t{b}\n" for a, b in ps)


def _lines_to_results(out: str) -> Results:
    return [None if x == "x" else int(x) for x in out.split()]


def cmp_dpkg(ps: Pairs) -> Results:
    # Exit status 1 is an answer (false), 2 means dpkg refused a version.
    res: Results = []
    for a, b in ps:
        lt = subprocess.run(
            ["dpkg", "--compare-versions", a, "lt", b], capture_output=True, check=False
        )
        if lt.returncode == 2:
            res.append(None)
            continue
        if lt.returncode == 0:
            res.append(-1)
            continue
        eq = subprocess.run(
            ["dpkg", "--compare-versions", a, "eq", b], capture_output=True, check=False
        )
        res.append(0 if eq.returncode == 0 else 1)
    return res


def cmp_rpm(ps: Pairs) -> Results:
    # rpmverCmp skips the release when one side has none; shoal documents a total order
    # instead, so only pairs that both have, or both lack, a release are tabled.
    res: Results = []
    lua = []
    for a, b in ps:
        lua.append(
            f"ok, r = pcall(function() local x, y = rpm.ver({_lua(a)}), rpm.ver({_lua(b)}) "
            "if x < y then return -1 elseif x == y then return 0 else return 1 end end) "
            'print(tostring(ok and r or "x") .. " ")'
        )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("\n".join(lua))
    out = subprocess.run(
        ["rpm", "--eval", f"%{{lua: dofile({_lua(f.name)})}}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    os.unlink(f.name)
    for (a, b), r in zip(ps, out.split(), strict=True):
        has_a, has_b = "-" in a.split(":", 1)[-1], "-" in b.split(":", 1)[-1]
        res.append(None if r == "x" or has_a != has_b else int(r))
    return res


def _lua(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cmp_legacy_packaging(ps: Pairs) -> Results:
    env = dict(os.environ, PYTHONPATH="/tmp/pkg21", PYTHONWARNINGS="ignore")
    out = subprocess.run(
        [sys.executable, str(HERE / "legacy_compare.py")],
        input=_tsv(ps), capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip
    return _lines_to_results(out)


def cmp_node_semver(ps: Pairs) -> Results:
    out = subprocess.run(
        ["node", str(HERE / "semver_compare.js"), "/tmp/semvertool/node_modules/semver"],
        input=_tsv(ps), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return _lines_to_results(out)


def cmp_strict_semver(ps: Pairs) -> Results:
    # node-semver's strict parser is SemVer 2.0.0 plus a tolerated "v" prefix and
    # whitespace; without those, its answers are SemVer precedence (the semver crate's
    # `cmp_precedence`), which no tool on this machine offers directly.
    def plain(v: str) -> bool:
        return v[:1] not in ("v", "=") and v == v.strip()

    return [
        r if plain(a) and plain(b) else None
        for (a, b), r in zip(ps, cmp_node_semver(ps), strict=True)
    ]


def cmp_go(ps: Pairs) -> Results:
    goroot = subprocess.run(
        ["go", "env", "GOROOT"], capture_output=True, text=True, check=True
    ).stdout
    src = Path(goroot.strip()) / "src/cmd/vendor/golang.org/x/mod/semver/semver.go"
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "semver").mkdir()
        shutil.copy(src, Path(d) / "semver" / "semver.go")
        shutil.copy(HERE / "go_compare.go", Path(d) / "main.go")
        (Path(d) / "go.mod").write_text("module gencompare\n\ngo 1.19\n")
        env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off")
        out = subprocess.run(
            ["go", "run", "."], cwd=d, input=_tsv(ps), capture_output=True, text=True,
            check=True, env=env,
        ).stdout  # fmt: skip
    # OSV writes Go versions without "v" and shoal adds it; Go itself would call them
    # invalid, so only pairs that carry the prefix on both sides are tabled.
    return [
        int(r) if a.startswith("v") and b.startswith("v") else None
        for (a, b), r in zip(ps, out.split(), strict=True)
    ]


def cmp_maven(ps: Pairs) -> Results:
    jar = glob.glob("/usr/share/maven/lib/maven-artifact-*.jar")[0]
    res: Results = []
    for i in range(0, len(ps), 200):
        chunk = ps[i : i + 200]
        args = [v for p in chunk for v in p]
        out = subprocess.run(
            ["java", "-cp", jar, "org.apache.maven.artifact.versioning.ComparableVersion", *args],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        # Output compares every argument with the next; keep the (a, b) ones.
        lines = [ln.strip() for ln in out.splitlines() if ln.startswith("   ")]
        for j in range(len(chunk)):
            op = lines[2 * j].split(" ")[-2]  # versions contain no spaces
            res.append({"<": -1, "==": 0, ">": 1}[op])
    return res


def cmp_gem(ps: Pairs) -> Results:
    out = subprocess.run(
        ["ruby", str(HERE / "gem_compare.rb")],
        input=_tsv(ps), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return _lines_to_results(out)


def cmp_composer(ps: Pairs) -> Results:
    out = subprocess.run(
        ["php", str(HERE / "composer_compare.php")],
        input=_tsv(ps), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return _lines_to_results(out)


GENERATORS: dict[str, tuple[str, str, Callable[[Pairs], Results], int]] = {
    # table name: (corpus, tool description, comparator, random pairs)
    "deb": ("deb", "dpkg --compare-versions (dpkg 1.21)", cmp_dpkg, 2000),
    "rpm": ("rpm", "rpm 4.18 Lua rpm.ver comparison (rpmverCmp)", cmp_rpm, 2500),
    "pep440": ("pep440", "packaging 21.3 parse() incl. LegacyVersion", cmp_legacy_packaging, 2500),
    "npm": ("semver", "node-semver 7 compare(), strict parsing", cmp_node_semver, 1500),
    "semver": ("semver", "node-semver 7 compare() on strict SemVer 2.0.0 strings",
               cmp_strict_semver, 1500),
    "go": ("go", "golang.org/x/mod/semver.Compare (Go 1.19 toolchain copy)", cmp_go, 2000),
    "maven": ("maven", "Maven 3.8.7 ComparableVersion", cmp_maven, 3000),
    "gem": ("gem", "RubyGems Gem::Version <=> (Ruby 3.1)", cmp_gem, 2500),
    "composer": ("composer", "composer/semver 3.3 normalize + PHP 8.2 version_compare",
                 cmp_composer, 3000),
}  # fmt: skip


def generate(name: str) -> Path:
    corpus, tool, cmp, n = GENERATORS[name]
    versions = list(REAL.get(corpus, []))
    if corpus == "deb":
        versions += installed_deb_versions()
    ps = pairs(corpus, versions, n)
    results = cmp(ps)
    lines = [f"# Generated by tools/gen_version_fixtures/gen.py with {tool}. Do not edit."]
    for (a, b), r in zip(ps, results, strict=True):
        if r is None:
            continue
        lines.append(f"{a} == {b}" if r == 0 else (f"{a} < {b}" if r < 0 else f"{b} < {a}"))
    path = OUT / f"{name}-versions-generated.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def check(name: str) -> int:
    """Ask the tool about the hand-written `<name>-versions.txt` up to its "# fallback:"
    section (shoal's documented order for what the tool refuses); print and count the
    lines the tool disagrees with or refuses."""
    cmp = GENERATORS[name][2]
    path = OUT / f"{name}-versions.txt"
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("# fallback:"):
            break  # what follows is shoal's own documented order, not the tool's
        m = re.match(r"^(.*?) (<|==|>) (.*)$", line)
        if m and not line.startswith("#"):
            rows.append((m.group(1), m.group(3), {"<": -1, "==": 0, ">": 1}[m.group(2)]))
    results = cmp([(a, b) for a, b, _ in rows])
    bad = 0
    for (a, b, want), got in zip(rows, results, strict=True):
        if got != want:
            bad += 1
            print(f"{path.name}: {a!r} vs {b!r}: table says {want}, tool says {got}")
    return bad


def main(argv: list[str]) -> None:
    if argv[:1] == ["--check"]:
        sys.exit(1 if sum(check(name) for name in argv[1:] or list(GENERATORS)) else 0)
    OUT.mkdir(parents=True, exist_ok=True)
    for name in argv or list(GENERATORS):
        path = generate(name)
        count = sum(1 for ln in path.read_text().splitlines() if not ln.startswith("#"))
        print(f"{path}: {count} comparisons")


if __name__ == "__main__":
    main(sys.argv[1:])
