"""How the jars here were made (run by hand, never by the tests).

Each is a real jar from a Debian bookworm package (libcommons-lang3-java 3.12.0-2+deb12u1,
liblog4j2-java 2.19.0-2, libasm-java 9.4-1, libjakarta-activation-java 2.0.0-1,
libxz-java 1.9-1, libhamcrest-java 2.2-1, libjsr305-java 0.1~+svn49-11) with its class
files dropped: every META-INF/ entry is copied byte for byte, nothing else.

    python trim.py IN.jar OUT.jar
"""

from __future__ import annotations

import sys
import zipfile


def main() -> None:
    src, dst = sys.argv[1:]
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename.startswith("META-INF/"):
                zout.writestr(info, zin.read(info), compress_type=zipfile.ZIP_DEFLATED)


if __name__ == "__main__":
    main()
