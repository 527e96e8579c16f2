"""Looking at an archive (any logged-in user): counts, the patient list, the study list."""

from __future__ import annotations

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


def patients(session: Session) -> list[PatientSummary]:
    """Return the patient list.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    list of PatientSummary
        Every patient, by name.
    """
    with acting(session, Permission.VIEW) as db:
        return list_patients(db)


def studies(session: Session, patient_id: int | None = None) -> list[StudySummary]:
    """Return the study list of one patient, or of everyone, newest first.

    Parameters
    ----------
    session : Session
        The logged-in user.
    patient_id : int, optional
        The patient (default: all studies).

    Returns
    -------
    list of StudySummary
        The studies.
    """
    with acting(session, Permission.VIEW) as db:
        return list_studies(db, patient_id)
