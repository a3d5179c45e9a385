"""Readers for the three on-disk formats of the rpm package database, and for the rpm
header blobs they store.

* `sqlite`: `rpmdb.sqlite` (rpm >= 4.16; Fedora 33+, RHEL 9), table `Packages(hnum, blob)`;
* `bdb`: `Packages`, a Berkeley DB hash database (RHEL/CentOS <= 8, Amazon Linux 2);
* `ndb`: `Packages.db`, rpm's own "new database" blob store (SUSE).

Each reader yields `(header number, blob)` pairs, or `BadRecord` for a record it could not
read while the rest of the database is fine; it raises `RpmDbError` when the database as a
whole is unreadable. `header.parse_header` turns a blob into a `Header`.
"""

from shoal.catalog.rpmdb.errors import BadRecord, HeaderError, RpmDbError

__all__ = ["BadRecord", "HeaderError", "RpmDbError"]
