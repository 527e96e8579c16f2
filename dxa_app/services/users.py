"""Users and roles: scrypt password hashes, role checks for actions such as approving a step."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlite_utils

from dxa_app.archive import write_transaction
from dxa_app.archive.db import audit, now_iso
from dxa_app.domain import Role
from dxa_app.errors import NotFoundError, PermissionDeniedError, UsageError
from dxa_app.i18n import _

#: scrypt cost (n=2**15, r=8, p=1 takes about 0.1 s and 32 MiB: slow for an attacker).
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_MAXMEM = 64 * 1024 * 1024


@dataclass(frozen=True)
class User:
    """A user of the archive."""

    username: str
    display_name: str
    role: Role
    active: bool


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    """Return a salted scrypt hash in the form ``scrypt$n$r$p$salt$hash`` (base64 parts)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, maxmem=_MAXMEM
    )
    b64 = base64.b64encode
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Return True when ``password`` matches a hash made by :func:`hash_password`."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def add_user(
    db: sqlite_utils.Database,
    username: str,
    role: Role,
    password: str,
    *,
    display_name: str = "",
    by: str = "",
) -> User:
    """Create a user with a role and a password (at least 8 characters)."""
    if len(password) < 8:
        raise UsageError(_("The password is too short."), _("Use at least 8 characters."))
    if not username.strip():
        raise UsageError(_("A user needs a name."), "")
    with write_transaction(db):
        if list(db.query("SELECT 1 FROM users WHERE username = ?", [username])):
            raise UsageError(_("The user {name} already exists.").format(name=username), "")
        db.execute(
            "INSERT INTO users (username, display_name, role, password_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [username, display_name or username, str(role), hash_password(password), now_iso()],
        )
        audit(
            db,
            "user_add",
            username=by,
            entity="user",
            entity_id=username,
            details={"role": str(role)},
        )
    return User(username, display_name or username, role, True)


def list_users(db: sqlite_utils.Database) -> list[User]:
    """Return every user, by name."""
    return [
        User(r["username"], r["display_name"], Role(r["role"]), bool(r["active"]))
        for r in db.query("SELECT * FROM users ORDER BY username")
    ]


def authenticate(db: sqlite_utils.Database, username: str, password: str) -> User:
    """Return the user when the name and password match an active user.

    Raises
    ------
    PermissionDeniedError
        For an unknown user, a wrong password or an inactive user (one message for all,
        so the answer does not tell which names exist).
    """
    rows = list(db.query("SELECT * FROM users WHERE username = ?", [username]))
    if not rows or not rows[0]["active"] or not verify_password(password, rows[0]["password_hash"]):
        raise PermissionDeniedError(
            _("Wrong user name or password."), _("Check both and try again.")
        )
    r = rows[0]
    return User(r["username"], r["display_name"], Role(r["role"]), True)


def require_role(db: sqlite_utils.Database, username: str, password: str, *roles: Role) -> User:
    """Authenticate and check that the user has one of ``roles``.

    Raises
    ------
    PermissionDeniedError
        When the password is wrong or the role does not allow the action.
    """
    user = authenticate(db, username, password)
    if user.role not in roles:
        raise PermissionDeniedError(
            _("{name} ({role}) may not do this; it needs the role {needed}.").format(
                name=user.username, role=str(user.role), needed=" / ".join(map(str, roles))
            ),
            _("Ask a user with that role."),
        )
    return user


def get_user(db: sqlite_utils.Database, username: str) -> User:
    """Return one user or raise NotFoundError."""
    for u in list_users(db):
        if u.username == username:
            return u
    raise NotFoundError(_("No user named {name}.").format(name=username), "")
