"""Test users and real log-ins: every test acts through an authenticated services Session."""

from __future__ import annotations

from pathlib import Path

from dxa_app.archive import open_archive, write_transaction
from dxa_app.archive.users import count_users, insert_user, user_row
from dxa_app.domain import Role
from dxa_app.services.auth import Session, hash_password, log_in

#: The password of every test user (the demo users have their own, see services.demo).
PASSWORD = "test-password-1"
#: A cheap scrypt cost for test users only (the product always uses SCRYPT_N).
_TEST_N = 2**10


def ensure_user(
    archive: str | Path,
    username: str,
    role: Role,
    *,
    display_name: str = "",
    password: str = PASSWORD,
) -> None:
    """Create a user in an archive (created when missing) unless the name exists.

    The archive's first user is always an administrator named ``admin`` so that the archive
    looks like one a department set up (its first user is an administrator).
    """
    db = open_archive(archive)
    try:
        with write_transaction(db):
            if count_users(db) == 0 and username != "admin":
                insert_user(
                    db, "admin", "Admin", str(Role.ADMIN), hash_password(PASSWORD, n=_TEST_N)
                )
            if user_row(db, username) is None:
                insert_user(
                    db,
                    username,
                    display_name or username,
                    str(role),
                    hash_password(password, n=_TEST_N),
                )
    finally:
        db.close()


def session_as(
    archive: str | Path,
    role: Role,
    username: str | None = None,
    *,
    display_name: str = "",
    password: str = PASSWORD,
) -> Session:
    """Create (if needed) a user with ``role`` and log in as them, through the real log-in."""
    name = username or str(role)
    ensure_user(archive, name, role, display_name=display_name, password=password)
    return log_in(archive, name, password)
