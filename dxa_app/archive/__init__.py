"""The local SQLite archive: open, migrate, store, and one home per table family's queries.

Modules
-------
db
    open_archive (WAL, foreign keys, busy timeout), migrations, write transactions, the
    hash-chained audit log, settings.
store
    Storing parsed sources (one transaction per source; re-import is a no-op).
queries, studies, scanners, users, reports, precision, steps
    Typed queries by table family: counts and lists; studies and their parts; scanners and
    sites; users; report versions (compare-and-set signing); precision studies (one rule for
    "latest"); calibration steps and the approved chain.
"""

from dxa_app.archive.db import audit, get_setting, open_archive, set_setting, write_transaction

__all__ = ["audit", "get_setting", "open_archive", "set_setting", "write_transaction"]
