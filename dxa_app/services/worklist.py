"""The physician's worklist: the studies waiting for a signed report, oldest first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dxa_app.archive.queries import count_pending, pending_studies
from dxa_app.domain import scanner_label
from dxa_app.services.auth import Permission, Session, acting

#: Report states shown in the worklist.
NO_DRAFT = "none"
DRAFT = "draft"
SIGNED = "signed"
AMENDED = "amended"


@dataclass(frozen=True)
class PendingReport:
    """One study on the worklist, with how long it has waited and its report state."""

    study_id: int
    study_uid: str
    study_date: dt.date
    patient_id: int
    patient_identifier: str
    patient_name: str
    site: str
    manufacturer: str
    model: str
    serial: str
    days_waiting: int
    report_status: str
    version_no: int | None

    @property
    def scanner(self) -> str:
        """Return the scanner as "manufacturer model"."""
        return scanner_label(self.manufacturer, self.model)

    @property
    def signed(self) -> bool:
        """Return whether the newest version is signed (or a signed amendment)."""
        return self.report_status in (SIGNED, AMENDED)


def pending_reports(
    session: Session,
    *,
    today: dt.date | None = None,
    include_signed: bool = False,
    sort: str = "date",
    descending: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> list[PendingReport]:
    """Return the studies that wait for a report, oldest first, or one page of them.

    A study waits while no version of its report is signed. Only studies with measured
    results are listed (a report needs results).

    Parameters
    ----------
    session : Session
        The logged-in user.
    today : datetime.date, optional
        The day the waiting time is counted to (default: today).
    include_signed : bool
        Also list studies whose report is signed (to read or amend them).
    sort : str
        What to sort by: ``date`` (the default), ``patient_identifier``, ``patient_name``,
        ``site``, ``scanner``, ``serial``, ``status`` or ``study``.
    descending : bool
        Reverse the order (newest first).
    offset, limit : int
        The page: skip ``offset`` studies, return at most ``limit`` (None: all).

    Returns
    -------
    list of PendingReport
        Oldest study first (then by study id), unless another order is asked for.
    """
    today = today or dt.date.today()
    with acting(session, Permission.VIEW) as db:
        rows = pending_studies(
            db,
            include_signed=include_signed,
            sort=sort,
            descending=descending,
            offset=offset,
            limit=limit,
        )
    out: list[PendingReport] = []
    for r in rows:
        date = dt.date.fromisoformat(str(r["study_date"])[:10])
        out.append(
            PendingReport(
                study_id=r["id"],
                study_uid=r["study_uid"],
                study_date=date,
                patient_id=r["patient_id"],
                patient_identifier=r["identifier"],
                patient_name=r["name"],
                site=r["site"],
                manufacturer=r["manufacturer"],
                model=r["model"],
                serial=r["serial"],
                days_waiting=max((today - date).days, 0),
                report_status=str(r["status"] or NO_DRAFT),
                version_no=r["version_no"],
            )
        )
    return out


def count_pending_reports(session: Session, *, include_signed: bool = False) -> int:
    """Return how many studies :func:`pending_reports` lists (all pages).

    Parameters
    ----------
    session : Session
        The logged-in user.
    include_signed : bool
        Also count studies whose report is signed.

    Returns
    -------
    int
        The number of studies on the worklist.
    """
    with acting(session, Permission.VIEW) as db:
        return count_pending(db, include_signed=include_signed)
