"""Candidate versions and comparison pairs for the fixture generators.

Three sources per scheme: versions taken from real package metadata (listed here, or
read from this machine's dpkg database), hand-picked edge cases from each ecosystem's
documentation, and seeded random strings assembled from the tokens that make version
orders interesting (leading zeros, ``~``, ``^``, pre-release words, separators). Pairs
are random pairs plus "near" pairs (a version against a small mutation of itself), since
those exercise the rules that random pairs rarely reach.
"""

from __future__ import annotations

import random
import subprocess
from collections.abc import Iterable

NUMBERS = ["0", "1", "2", "3", "9", "10", "11", "01", "00", "007", "100", "2024", "20240101"]


def _words(text: str) -> list[str]:
    """Whitespace-separated items (no version here contains whitespace)."""
    return text.split()


WORDS = _words(
    """
    a b c m p r rc alpha beta pre dev post git svn cvs hg final ga release sp snapshot
    SNAPSHOT RC Beta cr milestone patch pl stable ubuntu deb el fc x z
    """
)
REAL: dict[str, list[str]] = {
    "deb": _words(
        """
        1:2.38.1-5+deb12u3 2.36.1-8+deb12u1 7.88.1-10+deb12u8 3.0.15-1~deb12u1 1.2.13.dfsg-1
        2:8.2+93 1:9.2p1-2+deb12u3 252.33-1~deb12u1 0.8.2-1 2.9.14+dfsg-1.3~deb12u1
        1.22.0-1ubuntu1 1.22.0-1ubuntu1.1 5.15.0-91.101 2.35-0ubuntu3.6
        1:1.2.11.dfsg-2ubuntu9.2 3.0.2-0ubuntu1.12 9.4p1-1 1.0~rc1-1 1.0~~ 1.0~ 1.0 1.0-0
        1.0+b1 1.0-1~bpo11+1 0.0.0
        """
    ),
    "rpm": _words(
        """
        1:2.38.1-5.el9 0:1.2.3-4.el8_9.1 3.0.7-27.el9 2.9.13-6.el9_4 1.1.1k-12.el8_9
        4.18.0-513.24.1.el8_9 1.0~rc1-1 1.0^20240101git1a2b3c-1 5.2.15-5.fc40
        2.12.0-150400.3.3 1.0.2p-3.33.1 6.4-150500.8.1 3.11.7-1.mga9 1.0-1
        """
    ),
    "pep440": _words(
        """
        1.0 1.0.0 2.31.0 1!2.0 1.0a1 1.0b2 1.0rc1 1.0.post1 1.0.dev0 1.0a1.dev1
        1.0.post1.dev2 1.0+local.1 1.0+abc 24.0 0.0.1 v1.0 2.0.0.0 1.0c1 1.0-1 1.0_r2 1.0pre1
        1.0alpha2 3.12.0b4 1.0.0rc1 20240101 0.9.6-r1 2.4.0.dev20240101 1.0.post0 1.0+ubuntu1
        """
    ),
    "semver": _words(
        """
        1.0.0 1.0.0-alpha 1.0.0-alpha.1 1.0.0-alpha.beta 1.0.0-beta 1.0.0-beta.2
        1.0.0-beta.11 1.0.0-rc.1 2.0.0 1.0.0+build.1 1.0.0-0.3.7 1.0.0-x.7.z.92
        1.0.0-x-y-z.-- 4.17.21 0.0.0-20191109021931-daa7c04131f5 10.2.3-canary.0 1.2.3-DEV
        1.2.3-dev 1.2.3-1 1.2.3-a1 0.1.0 18.3.1
        """
    ),
    "go": _words(
        """
        v1.0.0 v1.2 v1 v2.0.0+incompatible v0.0.0-20191109021931-daa7c04131f5
        v1.2.4-0.20191109021931-daa7c04131f5 v1.2.3-pre v1.2.3-pre.0.20200101-abc v0.31.0
        v1.9.0-rc.1 v1.21.0 1.2.3 v1.02.3 v1.2.3-01 v1.2.3.4
        """
    ),
    "maven": _words(
        """
        1 1.0 1.0.0 1-ga 1-final 1.0.RELEASE 1-alpha 1-alpha-1 1a1 1-beta 1b1 1-milestone-1
        1m1 1-rc 1-cr 1-SNAPSHOT 1.0-SNAPSHOT 1-sp 1-sp1 1-foo 1-1 1.1 1-0.5 2.17.1 5.3.31
        31.1-jre 3.0.0-M9 1.0.0.Final 2.0.0.Beta1 6.0.0.CR2 1.2.3-20240101.123456-7
        1.0-alpha-1-SNAPSHOT 2.0b3 1.0.0.RC1 1..1 1- -1 .1
        """
    ),
    "gem": _words(
        """
        1.0 1.0.0 1.0.a 1.0.a1 1.0.b1 1.0.rc1 1.0.pre 1.0-1 7.1.3.4 2.5.0.beta3 1.15.5 0.0.1
        1.a 1.0.a.2 3.0.0.rc.1 1.0.0.pre.beta.1
        """
    ),
    "composer": _words(
        """
        1.0 1.0.0 v1.0.0 1.0.0-alpha 1.0.0-alpha2 1.0.0-beta1 1.0.0-RC1 1.0.0-rc2
        1.0.0-patch1 1.0.0-pl2 1.0.0-p3 1.0.0-dev 1.0.0-RC1-dev 1.0.0-stable 1.0.0.1
        2010-01-02 2010.01.02 1.0.x-dev 1.x-dev dev-master master 1.0.0+build5 1.0@beta 6.4.3
        10.48.4 1.0.0a1
        """
    ),
}

SEPARATORS: dict[str, list[str]] = {
    "deb": [".", ".", ".", "-", "+", "~", ":"],
    "rpm": [".", ".", ".", "-", "_", "+", "~", "^", ":"],
    "pep440": [".", ".", ".", "-", "_", "+", "!"],
    "semver": [".", ".", ".", "-", "+"],
    "go": [".", ".", ".", "-", "+"],
    "maven": [".", ".", ".", "-", "-", "_"],
    "gem": [".", ".", ".", "-"],
    "composer": [".", ".", ".", "-", "_", "+", "@"],
}


def installed_deb_versions() -> list[str]:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}\\n"], capture_output=True, text=True, check=True
    ).stdout
    return sorted({v for v in out.split() if v})


def random_semver(rng: random.Random) -> str:
    """A mostly well-formed SemVer string: the strict parsers reject most random text."""
    nums = ["0", "1", "2", "10", "3"]
    v = ".".join(rng.choice(nums) for _ in range(3))
    if rng.random() < 0.6:
        ids = ["alpha", "beta", "rc", "0", "1", "2", "11", "x-y", "DEV", "dev", "a1", "01", "-"]
        v += "-" + ".".join(rng.choice(ids) for _ in range(rng.randint(1, 3)))
    if rng.random() < 0.2:
        v += "+" + rng.choice(["build", "001", "sha.5114f85", "incompatible"])
    return v


def random_version(rng: random.Random, scheme: str) -> str:
    if scheme in ("semver", "go") and rng.random() < 0.7:
        return ("v" if scheme == "go" else "") + random_semver(rng)
    seps = SEPARATORS[scheme]
    parts = [rng.choice(NUMBERS)]
    for _ in range(rng.randint(0, 5)):
        token = rng.choice(NUMBERS) if rng.random() < 0.6 else rng.choice(WORDS)
        glue = rng.choice(seps) if rng.random() < 0.75 else ""
        parts.append(glue + token)
    if scheme == "go" and rng.random() < 0.9:
        parts[0] = "v" + parts[0]
    return "".join(parts)


def mutate(rng: random.Random, v: str, scheme: str) -> str:
    roll = rng.random()
    seps = SEPARATORS[scheme]
    if roll < 0.3:
        tail = rng.choice(NUMBERS) if rng.random() < 0.5 else rng.choice(WORDS)
        return v + rng.choice(seps) + tail
    if roll < 0.5:
        return v + rng.choice(WORDS + NUMBERS)
    if roll < 0.7 and len(v) > 1:
        i = rng.randrange(len(v))
        return v[:i] + v[i + 1 :]
    if roll < 0.85:
        i = rng.randrange(len(v) + 1)
        return v[:i] + rng.choice([*seps, "0", "1", "a"]) + v[i:]
    return v.upper() if v.islower() else v.lower()


def pairs(scheme: str, versions: Iterable[str], n: int, seed: int = 440) -> list[tuple[str, str]]:
    rng = random.Random(f"{scheme}-{seed}")
    pool = sorted(set(versions))
    pool += [random_version(rng, scheme) for _ in range(n)]
    out: set[tuple[str, str]] = set()
    real = REAL.get(scheme, [])
    for a in real:  # every pair of the hand-picked set
        for b in real:
            if a < b:
                out.add((a, b))
    while len(out) < n + len(real) * (len(real) - 1) // 2:
        a = rng.choice(pool)
        b = mutate(rng, a, scheme) if rng.random() < 0.5 else rng.choice(pool)
        if a != b and not any(c.isspace() for c in a + b):
            out.add((a, b))
    return sorted(out)
