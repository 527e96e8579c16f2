"""A terminal's log-in ticket: after one password log-in, the next commands there act as that user.

``dxa login`` checks the password once (the slow scrypt hash) and leaves a ticket; the commands
run afterwards from the same terminal act as that user without asking again, until the ticket
is idle for :data:`IDLE_MINUTES`, is :data:`MAX_HOURS` old, or ``dxa logout`` ends it. Signing
and approving still ask for the password (they confirm it for themselves).

Where a ticket lives, and why it is safe there:

- In the per-user key folder (:mod:`dxa_app.keystore`: owner-only, outside the archive), named
  after the archive's id and the terminal. Someone who can edit the archive file cannot make
  or change a ticket; a ticket is worth nothing on another archive or in another terminal.
- It is signed (HMAC-SHA-256) with a random key of the same folder, so a ticket edited to name
  another user, or to last longer, is refused.
- It names a fingerprint of the user's password hash: a new password (or a reset) ends every
  ticket of that user. The user is read from the archive on each use, so a user deactivated
  or given another role loses the old rights at once, as with a password log-in.
- The terminal is the process the command was started from (the shell), with its start time
  where the system tells it: a new terminal window needs a new log-in, as ``sudo`` does.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dxa_app import keystore
from dxa_app.archive.database import Database
from dxa_app.archive.db import audit
from dxa_app.archive.seal import archive_id
from dxa_app.archive.users import user_row
from dxa_app.domain import Role
from dxa_app.errors import UsageError
from dxa_app.i18n import _
from dxa_app.services.auth import Session, User, _session, log_in, opened

#: A ticket not used for this long ends.
IDLE_MINUTES = 15
#: A ticket ends this long after its log-in, used or not.
MAX_HOURS = 8
#: The key file that signs this user's tickets of one archive.
TICKET_KEY = "ticket-key"
_PREFIX = "ticket-"
_TERMINAL = re.compile(r"^[0-9A-Za-z_-]{1,60}$")


@dataclass(frozen=True)
class Ticket:
    """What a ticket says: who, since when, until when.

    Attributes
    ----------
    username : str
        The user the ticket acts as.
    issued_at, expires_at, idle_until : datetime
        The log-in (UTC), when the ticket ends regardless, and when it ends unless used.
    """

    username: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    idle_until: dt.datetime

    def ends_at(self) -> dt.datetime:
        """Return when the ticket ends if it is not used again."""
        return min(self.expires_at, self.idle_until)


def current_terminal() -> str:
    """Return an id of the terminal this process was started from (its parent and start time).

    Returns
    -------
    str
        ``<parent pid>`` and, on Linux, ``-<its start time in clock ticks>`` (a reused pid is
        then another terminal).
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{parent}/stat").read_text(encoding="ascii")
            start = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime
            return f"{parent}-{start}"
    return str(parent)


def _name(terminal: str) -> str:
    if not _TERMINAL.match(terminal):
        raise UsageError(_("Invalid terminal id {terminal}.").format(terminal=terminal), "")
    return _PREFIX + terminal


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:32]


def _mac(key: str, body: str) -> str:
    return hmac.new(key.encode("ascii"), body.encode("ascii"), hashlib.sha256).hexdigest()


def _key(ident: str) -> str:
    return keystore.write_secret_once(ident, TICKET_KEY, secrets.token_hex(32))


def _write(ident: str, terminal: str, ticket: Ticket, fingerprint: str) -> None:
    body = base64.b64encode(
        json.dumps(
            {
                "user": ticket.username,
                "issued": ticket.issued_at.isoformat(),
                "expires": ticket.expires_at.isoformat(),
                "idle": ticket.idle_until.isoformat(),
                "hash": fingerprint,
            },
            sort_keys=True,
        ).encode("utf-8")
    ).decode("ascii")
    keystore.replace_secret(ident, _name(terminal), f"{body}.{_mac(_key(ident), body)}")


def _read(ident: str, terminal: str) -> tuple[Ticket, str] | None:
    """The ticket of this terminal and its password fingerprint, if one is there and signed."""
    text = keystore.read_secret(ident, _name(terminal))
    key = keystore.read_secret(ident, TICKET_KEY)
    if not text or not key or "." not in text:
        return None
    body, mac = text.rsplit(".", 1)
    if not hmac.compare_digest(mac, _mac(key, body)):
        return None
    try:
        data = json.loads(base64.b64decode(body, validate=True))
        ticket = Ticket(
            str(data["user"]),
            dt.datetime.fromisoformat(data["issued"]),
            dt.datetime.fromisoformat(data["expires"]),
            dt.datetime.fromisoformat(data["idle"]),
        )
        return ticket, str(data["hash"])
    except (ValueError, KeyError, TypeError):
        return None


_Held = tuple[Database, str, tuple[Ticket, str] | None]


@contextlib.contextmanager
def _held(archive: str | Path, terminal: str) -> Iterator[_Held | None]:
    """The open archive, its id and this terminal's signed ticket; None without an archive id."""
    if not Path(archive).is_file() or not keystore.any_archive_has(_name(terminal)):
        yield None  # no ticket of this terminal for any archive: the archive is not opened
        return
    with opened(archive) as db:
        ident = archive_id(db, create=False)
        yield None if ident is None else (db, ident, _read(ident, terminal))


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def open_ticket(
    archive: str | Path,
    username: str,
    password: str,
    terminal: str,
    *,
    now: dt.datetime | None = None,
) -> tuple[Session, Ticket]:
    """Log in with the password and leave a ticket for the next commands of ``terminal``.

    Parameters
    ----------
    archive : str or Path
        The archive file.
    username, password : str
        The log-in, checked as :func:`~dxa_app.services.auth.log_in` does (and audited).
    terminal : str
        The terminal's id (:func:`current_terminal`).
    now : datetime, optional
        The time (UTC) of the log-in (tests).

    Returns
    -------
    tuple of (Session, Ticket)
        The session and the ticket left.

    Raises
    ------
    PermissionDeniedError
        For a wrong user name or password (no ticket is left).
    """
    session = log_in(archive, username, password)
    issued = _now(now)
    ticket = Ticket(
        session.username,
        issued,
        issued + dt.timedelta(hours=MAX_HOURS),
        issued + dt.timedelta(minutes=IDLE_MINUTES),
    )
    with opened(archive) as db:
        row = user_row(db, session.username)
        assert row is not None  # it logged in just now
        ident = archive_id(db)
        assert ident is not None
        _write(ident, terminal, ticket, _fingerprint(row.password_hash))
        audit(
            db,
            "ticket_opened",
            username=session.username,
            entity="user",
            entity_id=session.username,
            details={"terminal": terminal, "expires_at": ticket.expires_at.isoformat()},
            wait=False,
        )
    return session, ticket


def resume(
    archive: str | Path,
    terminal: str,
    username: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> Session | None:
    """Return the session of this terminal's ticket, or None when there is no valid one.

    A ticket that has ended, names another user than ``username``, no longer matches the
    user's password, or whose user is gone or inactive is removed, and None is returned:
    the caller then asks for the password. A valid ticket's idle time starts again.

    Parameters
    ----------
    archive : str or Path
        The archive file (it must exist).
    terminal : str
        The terminal's id (:func:`current_terminal`).
    username : str, optional
        The user the command names (``--user``/``DXA_USER``); a ticket of another is not used.
    now : datetime, optional
        The time (UTC) of this use (tests).

    Returns
    -------
    Session or None
        The ticket's user's session.
    """
    with _held(archive, terminal) as held:
        if held is None:
            return None
        db, ident, found = held
        if found is None:
            return None
        ticket, fingerprint = found
        if username and username.strip() != ticket.username:
            return None  # the command names someone else: their password is asked for
        at = _now(now)
        user = _ticket_user(db, ticket, fingerprint, at)
        if user is None:
            keystore.remove_secret(ident, _name(terminal))
            return None
        idle = min(at + dt.timedelta(minutes=IDLE_MINUTES), ticket.expires_at)
        try:
            _write(
                ident,
                terminal,
                Ticket(ticket.username, ticket.issued_at, ticket.expires_at, idle),
                fingerprint,
            )
        except OSError as exc:  # the ticket holds; it only ends when last refreshed + idle
            import logging  # loaded only for this warning

            logging.getLogger(__name__).warning("the log-in ticket could not be refreshed: %s", exc)
    return _session(archive, user)


def _ticket_user(db: Database, ticket: Ticket, fingerprint: str, at: dt.datetime) -> User | None:
    """The ticket's user when the ticket still holds at ``at``, else None."""
    if not ticket.issued_at <= at < ticket.ends_at():
        return None
    row = user_row(db, ticket.username)
    if row is None or not row.active:
        return None
    if not hmac.compare_digest(fingerprint, _fingerprint(row.password_hash)):
        return None  # the password changed since the log-in
    return User(row.username, row.display_name, Role(row.role), True)


def close_ticket(archive: str | Path, terminal: str) -> str | None:
    """End this terminal's ticket (``dxa logout``); return whose it was, or None if none.

    Parameters
    ----------
    archive : str or Path
        The archive file.
    terminal : str
        The terminal's id (:func:`current_terminal`).

    Returns
    -------
    str or None
        The user the ended ticket acted as (audited), or None when there was no ticket.
    """
    with _held(archive, terminal) as held:
        if held is None:
            return None
        db, ident, found = held
        if not keystore.remove_secret(ident, _name(terminal)):
            return None
        name = found[0].username if found is not None else ""
        audit(
            db,
            "ticket_closed",
            username=name,
            entity="user",
            entity_id=name,
            details={"terminal": terminal},
            wait=False,
        )
        return name
