"""Who acts: log-in, the authenticated Session every service takes, and the one role table.

Every user action in :mod:`dxa_app.services` takes a :class:`Session`. A session is made only
by :func:`log_in` (name and password checked against the archive), by
:func:`create_first_user` on an archive without users, or from a terminal's signed ticket that
a password log-in left (:func:`dxa_app.services.tickets.resume`); it cannot be built from a
bare name.
A service opens the archive with :func:`acting`, which checks, at the moment of the action,
that the user still exists, is active and has a role that allows the action (one table,
:data:`ROLE_PERMISSIONS`), and writes the audit entry with :func:`record`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from dxa_app.archive import open_archive, write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.db import audit
from dxa_app.archive.users import count_users, insert_user, user_row
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError, UsageError
from dxa_app.i18n import _

#: scrypt cost (n=2**15, r=8, p=1 takes about 0.1 s and 32 MiB: slow for an attacker).
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_MAXMEM = 64 * 1024 * 1024

#: Shortest password accepted.
MIN_PASSWORD = 8


class Permission(StrEnum):
    """What a user action needs; :data:`ROLE_PERMISSIONS` says which roles have it."""

    VIEW = "view"  # patients, studies, scores, reports, QC, steps (identifiable data)
    IMPORT = "import"  # import files and folders, receive from scanners
    QC_ACK = "qc_ack"  # acknowledge QC alarms
    QC_BASELINE = "qc_baseline"  # start a new QC baseline (service visit, on demand)
    VFA_ENTRY = "vfa_entry"  # enter a VFA reading
    RISK_ENTRY = "risk_entry"  # enter the risk-factor questionnaire and an external FRAX
    PRECISION = "precision"  # record a precision study
    CALIBRATE = "calibrate"  # run the fits that propose calibration steps
    RESCORE = "rescore"  # re-express studies on the current calibration
    DRAFT = "draft"  # make or refresh a report draft (no physician text)
    DRAFT_EDIT = "draft_edit"  # write the physician's conclusion and recommendation
    SIGN = "sign"  # sign and amend reports
    SEND = "send"  # send a signed report to PACS
    APPROVE = "approve"  # approve or retire calibration steps
    USERS = "users"  # add, deactivate users; reset passwords
    SETTINGS = "settings"  # site mapping, PACS address, trusted centre key
    SITE_EXCHANGE = "site_exchange"  # export the site bundle, install published corrections
    CENTRE = "centre"  # centre: register sites, import bundles, national fit, publish, stats
    REFERENCE_INSTALL = "reference_install"  # install a versioned T or Z reference table
    BACKUP = "backup"  # copy the archive (it holds every patient: not for every role)
    RESTORE = "restore"  # replace the archive with a backup
    PATIENT_MERGE = "patient_merge"  # merge and un-merge patients (one person), audited


#: The one role table: which role may do what. Administrators manage users and settings but
#: neither read and sign reports nor approve calibration (separation of duties).
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.TECHNICIAN: frozenset(
        {
            Permission.VIEW,
            Permission.IMPORT,
            Permission.QC_ACK,
            Permission.QC_BASELINE,
            Permission.VFA_ENTRY,
            Permission.RISK_ENTRY,
            Permission.PRECISION,
            Permission.RESCORE,
            Permission.DRAFT,
            Permission.SITE_EXCHANGE,
            Permission.BACKUP,
        }
    ),
    Role.PHYSICIAN: frozenset(
        {
            Permission.VIEW,
            Permission.VFA_ENTRY,
            Permission.RISK_ENTRY,
            Permission.RESCORE,
            Permission.DRAFT,
            Permission.DRAFT_EDIT,
            Permission.SIGN,
            Permission.SEND,
        }
    ),
    Role.CENTRE_ANALYST: frozenset(
        {
            Permission.VIEW,
            Permission.QC_BASELINE,
            Permission.CALIBRATE,
            Permission.RESCORE,
            Permission.APPROVE,
            Permission.CENTRE,
            Permission.REFERENCE_INSTALL,
        }
    ),
    Role.ADMIN: frozenset(
        {
            Permission.VIEW,
            Permission.IMPORT,
            Permission.RESCORE,
            Permission.USERS,
            Permission.SETTINGS,
            Permission.SITE_EXCHANGE,
            Permission.BACKUP,
            Permission.RESTORE,
            Permission.REFERENCE_INSTALL,
            Permission.PATIENT_MERGE,
        }
    ),
}


def roles_with(permission: Permission) -> tuple[Role, ...]:
    """Return the roles that have ``permission``, in the order of :class:`Role`.

    Parameters
    ----------
    permission : Permission
        The permission.

    Returns
    -------
    tuple of Role
        The roles.
    """
    return tuple(r for r in Role if permission in ROLE_PERMISSIONS[r])


@dataclass(frozen=True)
class User:
    """A user of the archive (never with the password hash)."""

    username: str
    display_name: str
    role: Role
    active: bool

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": str(self.role),
            "active": self.active,
        }


_PROOF = object()


@dataclass(frozen=True)
class Session:
    """A user who has logged in to one archive: what every service takes as the actor.

    Made only by :func:`log_in`, :func:`create_first_user` and a terminal's ticket
    (:func:`dxa_app.services.tickets.resume`); constructing it directly raises TypeError.
    """

    archive: Path
    user: User
    _proof: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._proof is not _PROOF:
            raise TypeError("a Session is made by services.auth.log_in, not by hand")

    @property
    def username(self) -> str:
        """Return the log-in name."""
        return self.user.username

    @property
    def display_name(self) -> str:
        """Return the name shown in the window and on reports."""
        return self.user.display_name or self.user.username

    @property
    def role(self) -> Role:
        """Return the user's role at log-in."""
        return self.user.role

    def may(self, permission: Permission) -> bool:
        """Return whether the user's role has ``permission`` (for showing or greying out).

        Parameters
        ----------
        permission : Permission
            The permission.

        Returns
        -------
        bool
            True when the role table allows it.
        """
        return permission in ROLE_PERMISSIONS[self.role]


def _session(archive: str | Path, user: User) -> Session:
    return Session(Path(archive), user, _PROOF)


def _denied(user: User, permission: Permission) -> PermissionDeniedError:
    return PermissionDeniedError(
        _("{name} ({role}) may not do this; it needs the role {needed}.").format(
            name=user.username,
            role=str(user.role),
            needed=" / ".join(map(str, roles_with(permission))),
        ),
        _("Ask a user with that role."),
    )


# --- passwords ------------------------------------------------------------------------------


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    """Return a salted scrypt hash in the form ``scrypt$n$r$p$salt$hash`` (base64 parts).

    Parameters
    ----------
    password : str
        The password.
    n : int
        The scrypt cost (a power of two).

    Returns
    -------
    str
        The hash to store.
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, maxmem=_MAXMEM
    )
    b64 = base64.b64encode
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Return True when ``password`` matches a hash made by :func:`hash_password`.

    Parameters
    ----------
    password : str
        The password given.
    stored : str
        The stored hash.

    Returns
    -------
    bool
        Whether they match (False for a malformed hash).
    """
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


def _wrong() -> PermissionDeniedError:
    # One message for every failure, so the answer does not tell which names exist.
    return PermissionDeniedError(_("Wrong user name or password."), _("Check both and try again."))


def _authenticate(db: Database, username: str, password: str) -> User:
    row = user_row(db, username)
    if row is None or not row.active or not verify_password(password, row.password_hash):
        raise _wrong()
    return User(row.username, row.display_name, Role(row.role), True)


def check_new_user(username: str, password: str) -> str:
    """Check a new user's name and password; return the trimmed name.

    Parameters
    ----------
    username : str
        The log-in name.
    password : str
        The password.

    Returns
    -------
    str
        The trimmed name.

    Raises
    ------
    UsageError
        When the name is empty or the password shorter than :data:`MIN_PASSWORD`.
    """
    name = username.strip()
    if not name:
        raise UsageError(_("A user needs a name."), "")
    if len(password) < MIN_PASSWORD:
        raise UsageError(_("The password is too short."), _("Use at least 8 characters."))
    return name


# --- archive access for services ------------------------------------------------------------


@contextlib.contextmanager
def opened(archive: str | Path, *, create: bool = False) -> Iterator[Database]:
    """Open an archive for one call and close it afterwards (no user check; see acting).

    Parameters
    ----------
    archive : str or Path
        The archive file.
    create : bool
        Create it when missing.

    Yields
    ------
    Database
        The open archive.
    """
    db = open_archive(archive, create=create)
    try:
        yield db
    finally:
        db.close()


def check(db: Database, session: Session, permission: Permission) -> User:
    """Check, now, that the session's user still exists, is active and may do ``permission``.

    The role is read again from the archive, so a user deactivated or given another role
    since logging in loses the old rights at once.

    Parameters
    ----------
    db : Database
        The session's open archive.
    session : Session
        The acting user.
    permission : Permission
        What the action needs.

    Returns
    -------
    User
        The user as stored now.

    Raises
    ------
    PermissionDeniedError
        When the user is gone, inactive or lacks the permission.
    """
    if not isinstance(session, Session):
        raise PermissionDeniedError(_("Nobody is logged in."), _("Log in first."))
    row = user_row(db, session.username)
    if row is None or not row.active:
        raise PermissionDeniedError(
            _("The user {name} is no longer active.").format(name=session.username),
            _("Log in again, or ask an administrator."),
        )
    user = User(row.username, row.display_name, Role(row.role), True)
    if permission not in ROLE_PERMISSIONS[user.role]:
        raise _denied(user, permission)
    return user


@contextlib.contextmanager
def acting(session: Session, permission: Permission) -> Iterator[Database]:
    """Open the session's archive for one action after checking the user (see :func:`check`).

    Parameters
    ----------
    session : Session
        The acting user.
    permission : Permission
        What the action needs.

    Yields
    ------
    Database
        The open archive.

    Raises
    ------
    PermissionDeniedError
        When the user may not do it.
    """
    with opened(session.archive) as db:
        check(db, session, permission)
        yield db


def record(
    db: Database,
    session: Session,
    action: str,
    *,
    entity: str = "",
    entity_id: str | int = "",
    details: dict[str, Any] | None = None,
    wait: bool = True,
) -> str:
    """Write the audit entry of an action done by the session's user.

    Parameters
    ----------
    db : Database
        The session's open archive.
    session : Session
        The acting user.
    action : str
        The action's audit name (e.g. ``report_sign``).
    entity, entity_id : str
        What it was done to.
    details : dict, optional
        JSON-ready details.
    wait : bool
        False for the entry of a read, which never waits behind a long write (it is spooled
        and appended by the next write; see :func:`dxa_app.archive.db.audit`).

    Returns
    -------
    str
        The entry's hash ("" when spooled).
    """
    return audit(
        db,
        action,
        username=session.username,
        entity=entity,
        entity_id=entity_id,
        details=details,
        wait=wait,
    )


# --- user actions: log in, log out, re-enter the password, first user ------------------------


def has_users(archive: str | Path) -> bool:
    """Return whether an archive has at least one user (False: first run).

    Parameters
    ----------
    archive : str or Path
        The archive file; it must exist.

    Returns
    -------
    bool
        True when a user exists.
    """
    with opened(archive) as db:
        return count_users(db) > 0


def log_in(archive: str | Path, username: str, password: str) -> Session:
    """Check a user name and password, audit the attempt, and return the session.

    Parameters
    ----------
    archive : str or Path
        The archive file; it must exist.
    username : str
        The log-in name.
    password : str
        The password.

    Returns
    -------
    Session
        The logged-in user's session.

    Raises
    ------
    PermissionDeniedError
        For an unknown user, a wrong password or an inactive user (the failed attempt is
        audited too, with one message for all three).
    UsageError
        When the user name is empty.
    """
    name = username.strip()
    if not name:
        raise UsageError(_("Enter your user name."), "")
    with opened(archive) as db:
        try:
            user = _authenticate(db, name, password)
        except PermissionDeniedError:
            audit(db, "login_failed", username=name, entity="user", entity_id=name, wait=False)
            raise
        audit(
            db,
            "login",
            username=user.username,
            entity="user",
            entity_id=user.username,
            details={"role": str(user.role)},
            wait=False,
        )
    return _session(archive, user)


def confirm_password(db: Database, session: Session, password: str) -> None:
    """Check the password re-entered for a privileged action (signing); audit a failure.

    Parameters
    ----------
    db : Database
        The session's open archive.
    session : Session
        The acting user.
    password : str
        The password typed again.

    Raises
    ------
    PermissionDeniedError
        When it does not match.
    """
    row = user_row(db, session.username)
    if row is None or not row.active or not verify_password(password, row.password_hash):
        audit(
            db,
            "password_confirm_failed",
            username=session.username,
            entity="user",
            entity_id=session.username,
        )
        raise PermissionDeniedError(
            _("Wrong password."), _("Type your own log-in password to confirm.")
        )


def log_out(session: Session) -> None:
    """Write the log-out entry to the audit log.

    Parameters
    ----------
    session : Session
        The user who logs out.
    """
    with opened(session.archive) as db:
        record(db, session, "logout", entity="user", entity_id=session.username)


def create_first_user(
    archive: str | Path,
    username: str,
    password: str,
    *,
    display_name: str = "",
) -> Session:
    """Create the first user, an administrator, of an archive that has none; log them in.

    Parameters
    ----------
    archive : str or Path
        The archive file (created when missing).
    username : str
        The new user's log-in name.
    password : str
        At least 8 characters.
    display_name : str, optional
        The name shown in the window (default the user name).

    Returns
    -------
    Session
        The new administrator's session.

    Raises
    ------
    PermissionDeniedError
        When the archive already has users (they must be added by an administrator).
    UsageError
        When the name is empty or the password too short.
    """
    name = check_new_user(username, password)
    with opened(archive, create=True) as db, write_transaction(db):
        if count_users(db):
            raise PermissionDeniedError(
                _("The archive already has users."),
                _("Log in, and ask an administrator to add new users."),
            )
        insert_user(db, name, display_name or name, str(Role.ADMIN), hash_password(password))
        audit(
            db,
            "first_user",
            username=name,
            entity="user",
            entity_id=name,
            details={"role": str(Role.ADMIN)},
        )
    return _session(archive, User(name, display_name or name, Role.ADMIN, True))
