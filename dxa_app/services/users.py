"""User administration (administrator): add, list, deactivate, reactivate, reset, change role.

No user is ever deleted (a deactivated user stays in the audit history), and the last active
administrator can be neither deactivated nor given another role.
"""

from __future__ import annotations

from pathlib import Path

from dxa_app.archive import write_transaction
from dxa_app.archive.users import (
    active_admins,
    count_users,
    insert_user,
    set_password_hash,
    set_user_active,
    set_user_role,
    user_row,
    user_rows,
)
from dxa_app.domain import Role
from dxa_app.errors import NotFoundError, UsageError
from dxa_app.i18n import _
from dxa_app.services.auth import (
    Permission,
    Session,
    User,
    acting,
    check_new_user,
    create_first_user,
    hash_password,
    opened,
    record,
)


def _user(row_username: str, display: str, role: str, active: bool) -> User:
    return User(row_username, display, Role(role), active)


def add_user(
    session: Session, username: str, role: Role, password: str, *, display_name: str = ""
) -> User:
    """Create a user with a role and a password (administrator only).

    Parameters
    ----------
    session : Session
        The acting administrator.
    username : str
        The new log-in name.
    role : Role
        The new user's role.
    password : str
        At least 8 characters.
    display_name : str, optional
        The name shown in the window and on reports (default the user name).

    Returns
    -------
    User
        The new user.

    Raises
    ------
    PermissionDeniedError
        Unless the acting user is an administrator.
    UsageError
        When the name is empty or taken, or the password too short.
    """
    name = check_new_user(username, password)
    with acting(session, Permission.USERS) as db, write_transaction(db):
        if user_row(db, name) is not None:
            raise UsageError(_("The user {name} already exists.").format(name=name), "")
        insert_user(db, name, display_name or name, str(Role(role)), hash_password(password))
        record(db, session, "user_add", entity="user", entity_id=name, details={"role": str(role)})
    return User(name, display_name or name, Role(role), True)


def add_first_or_next_user(
    archive: str | Path,
    session: Session | None,
    username: str,
    role: Role,
    password: str,
    *,
    display_name: str = "",
) -> User:
    """Add a user: the first user of an empty archive (an administrator), else as ``session``.

    Parameters
    ----------
    archive : str or Path
        The archive file.
    session : Session or None
        The acting administrator; None only works on an archive without users.
    username, role, password, display_name
        As for :func:`add_user`.

    Returns
    -------
    User
        The new user.

    Raises
    ------
    UsageError
        When the first user is not an administrator.
    PermissionDeniedError
        When the archive has users and no administrator acts.
    """
    with opened(archive, create=True) as db:
        empty = count_users(db) == 0
    if empty:
        if Role(role) is not Role.ADMIN:
            raise UsageError(
                _("The first user of an archive must be an administrator."),
                _("Add the administrator first (--role admin), then the others."),
            )
        return create_first_user(archive, username, password, display_name=display_name).user
    if session is None:
        from dxa_app.errors import PermissionDeniedError

        raise PermissionDeniedError(
            _("Only an administrator adds users."), _("Log in as an administrator (--user).")
        )
    return add_user(session, username, role, password, display_name=display_name)


def list_users(session: Session) -> list[User]:
    """Return every user, by name (administrator only).

    Parameters
    ----------
    session : Session
        The acting administrator.

    Returns
    -------
    list of User
        The users.
    """
    with acting(session, Permission.USERS) as db:
        return [_user(r.username, r.display_name, r.role, r.active) for r in user_rows(db)]


def set_active(session: Session, username: str, active: bool) -> User:
    """Deactivate or reactivate a user (administrator only); a deactivated user cannot act.

    Parameters
    ----------
    session : Session
        The acting administrator.
    username : str
        The user.
    active : bool
        The new state.

    Returns
    -------
    User
        The user afterwards.

    Raises
    ------
    NotFoundError
        When there is no such user.
    UsageError
        When administrators would deactivate themselves.
    """
    with acting(session, Permission.USERS) as db, write_transaction(db):
        row = user_row(db, username)
        if row is None:
            raise NotFoundError(_("No user named {name}.").format(name=username), "")
        if not active and username == session.username:
            raise UsageError(_("You cannot deactivate yourself."), "")
        if not active and active_admins(db) == [username]:
            raise _last_admin()
        set_user_active(db, username, active)
        record(
            db,
            session,
            "user_activate" if active else "user_deactivate",
            entity="user",
            entity_id=username,
        )
    return _user(row.username, row.display_name, row.role, active)


def _last_admin() -> UsageError:
    return UsageError(
        _("This is the last active administrator."),
        _("Make another user an administrator first, so the archive stays manageable."),
    )


def reset_password(session: Session, username: str, new_password: str) -> User:
    """Set a new password for a user (administrator); audited, the password never is.

    Parameters
    ----------
    session : Session
        The acting administrator.
    username : str
        The user.
    new_password : str
        At least 8 characters.

    Returns
    -------
    User
        The user.

    Raises
    ------
    NotFoundError
        When there is no such user.
    UsageError
        When the password is too short.
    """
    check_new_user(username, new_password)
    with acting(session, Permission.USERS) as db, write_transaction(db):
        row = user_row(db, username)
        if row is None:
            raise NotFoundError(_("No user named {name}.").format(name=username), "")
        set_password_hash(db, username, hash_password(new_password))
        record(db, session, "user_password_reset", entity="user", entity_id=username)
    return _user(row.username, row.display_name, row.role, row.active)


def change_role(session: Session, username: str, role: Role) -> User:
    """Give a user another role (administrator); audited with the old and new role.

    Parameters
    ----------
    session : Session
        The acting administrator.
    username : str
        The user.
    role : Role
        The new role.

    Returns
    -------
    User
        The user afterwards.

    Raises
    ------
    NotFoundError
        When there is no such user.
    UsageError
        When the last active administrator would lose the role.
    """
    with acting(session, Permission.USERS) as db, write_transaction(db):
        row = user_row(db, username)
        if row is None:
            raise NotFoundError(_("No user named {name}.").format(name=username), "")
        if Role(role) is not Role.ADMIN and active_admins(db) == [username]:
            raise _last_admin()
        set_user_role(db, username, str(Role(role)))
        record(
            db,
            session,
            "user_role",
            entity="user",
            entity_id=username,
            details={"from": row.role, "to": str(Role(role))},
        )
    return _user(row.username, row.display_name, str(Role(role)), row.active)
