"""Reads "a<TAB>b" lines; prints packaging 21.3's parse(a) vs parse(b) (-1/0/1).

packaging 21.3 is the last release with LegacyVersion, the order OSV uses for PyPI
versions that are not PEP 440; the generator runs this with it on PYTHONPATH.
"""

import sys

import packaging
from packaging.version import parse

assert packaging.__version__ == "21.3", packaging.__version__
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t", 1)
    va, vb = parse(a), parse(b)
    print((va > vb) - (va < vb))
