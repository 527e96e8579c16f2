"""The users table family: user rows by name, insert, list, activate; no rules (services decide)."""

from __future__ import annotations

from dataclasses import dataclass

from dxa_app.archive.database import Database
from dxa_app.archive.db import now_iso


@dataclass(frozen=True)
class UserRow:
    """One stored user, with the password hash (never shown to anyone)."""

    username: str
    display_name: str
    role: str
    active: bool
    password_hash: str


def _row(r: dict[str, object]) -> UserRow:
    return UserRow(
        str(r["username"]),
        str(r["display_name"]),
        str(r["role"]),
        bool(r["active"]),
        str(r["password_hash"]),
    )


def count_users(db: Database) -> int:
    """Return how many users the archive has (0 on first run).

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    int
        The number of users, active or not.
    """
    return int(db.execute("SELECT count(*) FROM users").fetchone()[0])


def user_row(db: Database, username: str) -> UserRow | None:
    """Return one user by log-in name, or None.

    Parameters
    ----------
    db : Database
        The open archive.
    username : str
        The log-in name (exact).

    Returns
    -------
    UserRow or None
        The user.
    """
    rows = list(db.query("SELECT * FROM users WHERE username = ?", [username]))
    return _row(rows[0]) if rows else None


def user_rows(db: Database) -> list[UserRow]:
    """Return every user, by log-in name.

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    list of UserRow
        The users.
    """
    return [_row(r) for r in db.query("SELECT * FROM users ORDER BY username")]


def insert_user(
    db: Database, username: str, display_name: str, role: str, password_hash: str
) -> None:
    """Insert a new, active user (the caller checks that the name is free).

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    username, display_name, role, password_hash : str
        The new user's columns.
    """
    db.execute(
        "INSERT INTO users (username, display_name, role, password_hash, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [username, display_name, role, password_hash, now_iso()],
    )


def set_user_active(db: Database, username: str, active: bool) -> None:
    """Activate or deactivate a user (a deactivated user cannot log in or act).

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    username : str
        The user.
    active : bool
        The new state.
    """
    db.execute("UPDATE users SET active = ? WHERE username = ?", [int(active), username])


def set_password_hash(db: Database, username: str, password_hash: str) -> None:
    """Replace a user's password hash.

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    username : str
        The user.
    password_hash : str
        The new hash.
    """
    db.execute("UPDATE users SET password_hash = ? WHERE username = ?", [password_hash, username])


def set_user_role(db: Database, username: str, role: str) -> None:
    """Give a user another role.

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    username : str
        The user.
    role : str
        The new role.
    """
    db.execute("UPDATE users SET role = ? WHERE username = ?", [role, username])


def active_admins(db: Database) -> list[str]:
    """Return the names of the active administrators.

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    list of str
        The user names.
    """
    return [
        str(r[0])
        for r in db.execute(
            "SELECT username FROM users WHERE role = 'admin' AND active = 1 ORDER BY username"
        ).fetchall()
    ]
