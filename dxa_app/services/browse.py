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


def patients(session: Session, search: str = "") -> list[PatientSummary]:
    """Return the patient list, or the patients a search finds.

    Parameters
    ----------
    session : Session
        The logged-in user.
    search : str
        A CPR number (or at least four of its digits, hyphen optional) or words of the name,
        in any case; empty: every patient.

    Returns
    -------
    list of PatientSummary
        The patients, by name.
    """
    with acting(session, Permission.VIEW) as db:
        return list_patients(db, search)


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
