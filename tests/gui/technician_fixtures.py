"""Helpers for the GUI tests: users with real log-ins (tests.sessions), archive queries."""

from __future__ import annotations

from pathlib import Path

from dxa_app.archive import open_archive
from dxa_app.domain import Role
from dxa_app.services.auth import Session
from tests.sessions import PASSWORD, session_as

__all__ = ["PASSWORD", "add_test_user", "query"]


def add_test_user(archive: Path, username: str, role: Role) -> Session:
    """Create a user (display name: the user name in title case) and log in as them."""
    return session_as(archive, role, username, display_name=username.title())


def query(archive: Path, sql: str, params: list[object] | None = None) -> list[dict[str, object]]:
    """Run a query on an archive and return the rows as dicts (tests read the archive)."""
    db = open_archive(archive, create=False)
    try:
        return [dict(r) for r in db.query(sql, params or [])]
    finally:
        db.close()
