"""The physician's worklist: the studies waiting for a signed report, oldest first.

A :class:`WorklistFilter` narrows it to a period (the last N days; the screens start with the
last 30), a site and a scanner, all applied in the archive's query.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dxa_app.archive.queries import count_pending, pending_studies
from dxa_app.archive.scanners import scanner_rows
from dxa_app.domain import scanner_label
from dxa_app.errors import UsageError
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting

#: The periods a worklist offers, in days (None: every date); the screens start with 30.
PERIODS: tuple[int | None, ...] = (7, 30, 90, 365, None)
#: The period the worklist starts with (the last 30 days).
DEFAULT_DAYS = 30

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


@dataclass(frozen=True)
class WorklistFilter:
    """Which studies the worklist shows: a period, a site and a scanner (empty: all)."""

    #: The last N days up to today (None: every date).
    days: int | None = None
    #: A site code ('' : every site).
    site: str = ""
    #: A scanner's archive id (None: every scanner).
    scanner_id: int | None = None

    def since(self, today: dt.date) -> str | None:
        """Return the first day of the period as an ISO date (None without a period)."""
        if self.days is None:
            return None
        return (today - dt.timedelta(days=int(self.days))).isoformat()


@dataclass(frozen=True)
class ScannerChoice:
    """A scanner the worklist can be narrowed to."""

    id: int
    site: str
    serial: str
    label: str


@dataclass(frozen=True)
class WorklistChoices:
    """The sites and scanners the worklist's filters offer."""

    sites: tuple[str, ...]
    scanners: tuple[ScannerChoice, ...]


def worklist_choices(session: Session) -> WorklistChoices:
    """Return the site codes and scanners to narrow the worklist to.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    WorklistChoices
        Sites in code order; scanners by site and serial, labelled "model (serial)".
    """
    with acting(session, Permission.VIEW) as db:
        rows = scanner_rows(db)
    sites = tuple(sorted({r.site_code for r in rows if r.site_code}))
    scanners = tuple(
        ScannerChoice(
            r.id,
            r.site_code,
            r.serial,
            f"{scanner_label(r.manufacturer, r.model)} ({r.serial})".strip(),
        )
        for r in rows
    )
    return WorklistChoices(sites, scanners)


def worklist_filter(
    session: Session, *, days: int | None = None, site: str = "", scanner_serial: str = ""
) -> WorklistFilter:
    """Return the worklist filter a user named by words: a period, a site code, a serial.

    Parameters
    ----------
    session : Session
        The logged-in user.
    days : int, optional
        The last N days (None or 0: every date).
    site : str
        A site code ('': every site).
    scanner_serial : str
        A scanner's serial number ('': every scanner).

    Returns
    -------
    WorklistFilter
        The filter, with the scanner's archive id.

    Raises
    ------
    UsageError
        For a negative period, or a site or serial the archive does not know.
    """
    if days is not None and days < 0:
        raise UsageError(
            _("The period must be a number of days, 0 or more (0: every date)."),
            _("Give e.g. 30 for the last 30 days."),
        )
    choices = worklist_choices(session)
    site = site.strip()
    if site and site not in choices.sites:
        raise UsageError(
            _("No site has the code {site}.").format(site=site),
            _("See the sites with: dxa sites"),
        )
    scanner_id: int | None = None
    if scanner_serial:
        found = [c for c in choices.scanners if c.serial == scanner_serial]
        if not found:
            raise UsageError(
                _("No scanner has the serial number {serial}.").format(serial=scanner_serial),
                _("See the scanners with: dxa sites"),
            )
        scanner_id = found[0].id
    return WorklistFilter(days=days or None, site=site, scanner_id=scanner_id)


def pending_reports(
    session: Session,
    *,
    today: dt.date | None = None,
    include_signed: bool = False,
    where: WorklistFilter | None = None,
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
    where : WorklistFilter, optional
        The period (counted back from ``today``), site and scanner (default: every study).
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
    where = where or WorklistFilter()
    with acting(session, Permission.VIEW) as db:
        rows = pending_studies(
            db,
            include_signed=include_signed,
            since=where.since(today),
            site=where.site,
            scanner_id=where.scanner_id,
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


def count_pending_reports(
    session: Session,
    *,
    include_signed: bool = False,
    where: WorklistFilter | None = None,
    today: dt.date | None = None,
) -> int:
    """Return how many studies :func:`pending_reports` lists (all pages).

    Parameters
    ----------
    session : Session
        The logged-in user.
    include_signed : bool
        Also count studies whose report is signed.
    where : WorklistFilter, optional
        The period, site and scanner (default: every study).
    today : datetime.date, optional
        The day the period is counted back from (default: today).

    Returns
    -------
    int
        The number of studies on the worklist.
    """
    where = where or WorklistFilter()
    since = where.since(today or dt.date.today())
    with acting(session, Permission.VIEW) as db:
        return count_pending(
            db,
            include_signed=include_signed,
            since=since,
            site=where.site,
            scanner_id=where.scanner_id,
        )


def count_older_pending(
    session: Session,
    where: WorklistFilter,
    *,
    include_signed: bool = False,
    today: dt.date | None = None,
) -> int:
    """Return how many studies wait from before the filter's period (same site and scanner).

    The empty worklist says so: "none in the last 30 days, N older".

    Parameters
    ----------
    session : Session
        The logged-in user.
    where : WorklistFilter
        The period, site and scanner shown (no period: 0).
    include_signed : bool
        Also count studies whose report is signed.
    today : datetime.date, optional
        The day the period is counted back from (default: today).

    Returns
    -------
    int
        The studies older than the period.
    """
    before = where.since(today or dt.date.today())
    if before is None:
        return 0
    with acting(session, Permission.VIEW) as db:
        return count_pending(
            db,
            include_signed=include_signed,
            before=before,
            site=where.site,
            scanner_id=where.scanner_id,
        )
