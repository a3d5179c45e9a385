"""CVSS vectors to base scores and qualitative ratings, with the `cvss` library.

Feeds carry CVSS as vectors (OSV `severity[].score`) or as vector plus score (NVD). The
score is what users sort by, so it is computed by a maintained implementation of the
FIRST specifications (v2, v3.0/3.1, v4.0) rather than by hand. Ratings follow the bands
of each version: v3 and v4 use FIRST's (critical >= 9.0), v2 has no "critical" and uses
NVD's bands (high >= 7.0).
"""

from __future__ import annotations

from functools import lru_cache

import cvss  # type: ignore[import-untyped, unused-ignore]

from shoal.model.advisory import Rating

CVSS_TYPES = ("CVSS_V2", "CVSS_V3", "CVSS_V4")
_MAX_VECTOR = 512  # real vectors are under 200 characters


def v2_rating(score: float) -> Rating:
    if score >= 7.0:
        return Rating.HIGH
    if score >= 4.0:
        return Rating.MEDIUM
    if score > 0.0:
        return Rating.LOW
    return Rating.NEGLIGIBLE


def cvss_type_of(vector: str) -> str:
    """OSV severity type of a vector string by its prefix (v2 vectors carry none)."""
    if vector.startswith("CVSS:4."):
        return "CVSS_V4"
    if vector.startswith("CVSS:3."):
        return "CVSS_V3"
    return "CVSS_V2"


@lru_cache(maxsize=4096)
def score_vector(kind: str, vector: str) -> tuple[float, Rating]:
    """Base score and rating of a CVSS vector; ValueError (one line) if it is invalid.

    `kind` is "CVSS_V2", "CVSS_V3" or "CVSS_V4" and must agree with the vector.
    """
    if len(vector) > _MAX_VECTOR:
        raise ValueError(f"{kind} vector longer than {_MAX_VECTOR} characters")
    if kind not in CVSS_TYPES:
        raise ValueError(f"unknown CVSS type {kind[:40]!r}")
    if cvss_type_of(vector) != kind:
        raise ValueError(f"{kind} vector {vector[:100]!r} is not a {kind} vector")
    try:
        if kind == "CVSS_V2":
            score = float(cvss.CVSS2(vector).base_score)
            return score, v2_rating(score)
        if kind == "CVSS_V3":
            score = float(cvss.CVSS3(vector).base_score)
        else:
            score = float(cvss.CVSS4(vector).base_score)
    except cvss.CVSSError as e:
        raise ValueError(f"invalid {kind} vector {vector[:100]!r}: {str(e)[:100]}") from None
    except (KeyError, IndexError, ValueError, TypeError, AttributeError) as e:
        # the library validates most input but not every malformed component
        raise ValueError(f"invalid {kind} vector {vector[:100]!r}: {type(e).__name__}") from None
    return score, Rating.from_score(score)
