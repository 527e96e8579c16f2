"""Behaviour settings kept in the archive (every workstation sees them): the screen-lock time."""

from __future__ import annotations

from dxa_app.archive import get_setting, set_setting, write_transaction
from dxa_app.errors import UsageError
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting, record

#: The archive setting of the idle time, in minutes, after which the app locks its window.
LOCK_MINUTES_KEY = "gui.lock_minutes"
#: The idle time when none is set.
DEFAULT_LOCK_MINUTES = 10
#: The longest idle time an administrator may choose (a screen must not stay open all day).
MAX_LOCK_MINUTES = 120


def lock_minutes(session: Session) -> int:
    """Return the idle time, in minutes, after which the app locks (default 10).

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    int
        Minutes (1 to 120).
    """
    with acting(session, Permission.VIEW) as db:
        value = get_setting(db, LOCK_MINUTES_KEY, DEFAULT_LOCK_MINUTES)
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        return DEFAULT_LOCK_MINUTES
    return minutes if 1 <= minutes <= MAX_LOCK_MINUTES else DEFAULT_LOCK_MINUTES


def set_lock_minutes(session: Session, minutes: int) -> int:
    """Set the idle time after which the app locks (administrator); audited.

    Parameters
    ----------
    session : Session
        The acting administrator.
    minutes : int
        1 to 120.

    Returns
    -------
    int
        The stored value.

    Raises
    ------
    UsageError
        Outside 1 to 120 minutes.
    """
    if not 1 <= int(minutes) <= MAX_LOCK_MINUTES:
        raise UsageError(
            _("The lock time must be 1 to {max} minutes.").format(max=MAX_LOCK_MINUTES), ""
        )
    with acting(session, Permission.SETTINGS) as db, write_transaction(db):
        set_setting(db, LOCK_MINUTES_KEY, int(minutes))
        record(
            db,
            session,
            "setting_lock_minutes",
            entity="setting",
            entity_id=LOCK_MINUTES_KEY,
            details={"minutes": int(minutes)},
        )
    return int(minutes)
