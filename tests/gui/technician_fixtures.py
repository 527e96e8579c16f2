"""Helpers for the technician and log-in tests: users in an archive, sessions."""

from __future__ import annotations

from pathlib import Path

from dxa_app.archive import open_archive
from dxa_app.domain import Role
from dxa_app.gui.session import Session
from dxa_app.services.users import add_user

PASSWORD = "kodeord-123"


def add_test_user(archive: Path, username: str, role: Role) -> Session:
    """Add a user with :data:`PASSWORD` and return a session for it."""
    db = open_archive(archive)
    try:
        user = add_user(db, username, role, PASSWORD, display_name=username.title(), by="test")
    finally:
        db.close()
    return Session(archive, user.username, user.display_name, user.role)


def query(archive: Path, sql: str, params: list[object] | None = None) -> list[dict[str, object]]:
    """Run a query on an archive and return the rows as dicts."""
    db = open_archive(archive, create=False)
    try:
        return [dict(r) for r in db.query(sql, params or [])]
    finally:
        db.close()
