"""The local SQLite archive: open_archive(), migrations, storing parsed sources, queries."""

from dxa_app.archive.db import audit, get_setting, open_archive, set_setting, write_transaction

__all__ = ["audit", "get_setting", "open_archive", "set_setting", "write_transaction"]
