"""Looking at an archive (any logged-in user): counts, the patient list, the study list."""

from __future__ import annotations

from dxa_app.archive import queries
from dxa_app.archive.queries import counts, list_patients, list_studies
from dxa_app.domain import ArchiveCounts, PatientSummary, StudySummary
from dxa_app.services.auth import Permission, Session, acting


def archive_counts(session: Session) -> ArchiveCounts:
    """Return how many sites, scanners, patients, studies and scans the archive holds.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    ArchiveCounts
        The counts.
    """
    with acting(session, Permission.VIEW) as db:
        return counts(db)


def patients(
    session: Session,
    *,
    search: str = "",
    sort: str = "name",
    descending: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> list[PatientSummary]:
    """Return the patient list, or one page of it (sorted and searched in the archive).

    Parameters
    ----------
    session : Session
        The logged-in user.
    search : str
        Only people whose CPR/ID begins with it (dash optional) or whose name contains it.
    sort : str
        ``name`` (the default), ``identifier``, ``birth_date``, ``sex``, ``n_studies`` or
        ``last_study``.
    descending : bool
        Reverse the order.
    offset, limit : int
        The page: skip ``offset`` people, return at most ``limit`` (None: all).

    Returns
    -------
    list of PatientSummary
        The people, by name unless another order is asked for.
    """
    with acting(session, Permission.VIEW) as db:
        return list_patients(
            db, search=search, sort=sort, descending=descending, offset=offset, limit=limit
        )


def count_patients(session: Session, *, search: str = "") -> int:
    """Return how many people the patient list holds for a search (all pages).

    Parameters
    ----------
    session : Session
        The logged-in user.
    search : str
        As for :func:`patients`.

    Returns
    -------
    int
        The number of people.
    """
    with acting(session, Permission.VIEW) as db:
        return queries.count_patients(db, search=search)


def studies(
    session: Session,
    patient_id: int | None = None,
    *,
    search: str = "",
    sort: str = "date",
    descending: bool = True,
    offset: int = 0,
    limit: int | None = None,
    study_id: int | None = None,
) -> list[StudySummary]:
    """Return the study list of one patient, or of everyone, newest first (or one page).

    Parameters
    ----------
    session : Session
        The logged-in user.
    patient_id : int, optional
        The patient (default: all studies).
    search : str
        Only studies of patients whose CPR/ID begins with it or whose name contains it.
    sort : str
        ``date`` (the default), ``patient_identifier``, ``patient_name``, ``site``,
        ``scanner``, ``serial``, ``scan_types`` or ``n_results``.
    descending : bool
        Newest (largest) first (the default).
    offset, limit : int
        The page: skip ``offset`` studies, return at most ``limit`` (None: all).
    study_id : int, optional
        Only this study.

    Returns
    -------
    list of StudySummary
        The studies.
    """
    with acting(session, Permission.VIEW) as db:
        return list_studies(
            db,
            patient_id,
            search=search,
            sort=sort,
            descending=descending,
            offset=offset,
            limit=limit,
            study_id=study_id,
        )
