"""Log-in and first-run accounts: check a password, create the first user, audit every log-in."""

from __future__ import annotations

import sqlite_utils

from dxa_app.archive import write_transaction
from dxa_app.archive.db import audit
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError, UsageError
from dxa_app.i18n import _
from dxa_app.services.users import User, add_user, authenticate


def has_users(db: sqlite_utils.Database) -> bool:
    """Return whether the archive has at least one user (False: first run).

    Parameters
    ----------
    db : sqlite_utils.Database
        The open archive.

    Returns
    -------
    bool
        True when a user exists.
    """
    row = db.execute("SELECT count(*) FROM users").fetchone()
    return bool(row[0])


def create_first_user(
    db: sqlite_utils.Database,
    username: str,
    role: Role,
    password: str,
    *,
    display_name: str = "",
) -> User:
    """Create the first user of an archive that has none (the first-run dialog).

    Parameters
    ----------
    db : sqlite_utils.Database
        The open archive.
    username : str
        The new user's log-in name.
    role : Role
        The role; normally admin, so that user can add the others.
    password : str
        At least 8 characters.
    display_name : str, optional
        The name shown in the window and in reports (default the user name).

    Returns
    -------
    User
        The new user.

    Raises
    ------
    PermissionDeniedError
        When the archive already has users (they must be added by an admin).
    UsageError
        When the name is empty or the password too short.
    """
    with write_transaction(db):
        if has_users(db):
            raise PermissionDeniedError(
                _("The archive already has users."),
                _("Log in, and ask an administrator to add new users."),
            )
        user = add_user(
            db, username.strip(), role, password, display_name=display_name, by=username.strip()
        )
        audit(db, "first_user", username=user.username, entity="user", entity_id=user.username)
    return user


def log_in(db: sqlite_utils.Database, username: str, password: str) -> User:
    """Check a user name and password and write the attempt to the audit log.

    Parameters
    ----------
    db : sqlite_utils.Database
        The open archive.
    username : str
        The log-in name.
    password : str
        The password.

    Returns
    -------
    User
        The logged-in user.

    Raises
    ------
    PermissionDeniedError
        For an unknown user, a wrong password or an inactive user (the failed attempt is
        audited too).
    UsageError
        When the user name is empty.
    """
    name = username.strip()
    if not name:
        raise UsageError(_("Enter your user name."), "")
    try:
        user = authenticate(db, name, password)
    except PermissionDeniedError:
        audit(db, "login_failed", username=name, entity="user", entity_id=name)
        raise
    audit(
        db,
        "login",
        username=user.username,
        entity="user",
        entity_id=user.username,
        details={"role": str(user.role)},
    )
    return user


def log_out(db: sqlite_utils.Database, username: str) -> None:
    """Write a log-out entry to the audit log.

    Parameters
    ----------
    db : sqlite_utils.Database
        The open archive.
    username : str
        The user who logs out.
    """
    audit(db, "logout", username=username, entity="user", entity_id=username)
