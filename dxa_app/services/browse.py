"""Use cases for looking at an archive: counts, patient list, study list."""

from __future__ import annotations

from pathlib import Path

from dxa_app.archive import open_archive
from dxa_app.archive.queries import counts, list_patients, list_studies
from dxa_app.domain import ArchiveCounts, PatientSummary, StudySummary


def archive_counts(archive: str | Path) -> ArchiveCounts:
    """Return the counts of an existing archive.

    Parameters
    ----------
    archive : str or Path
        The archive file; it must exist.
    """
    db = open_archive(archive, create=False)
    try:
        return counts(db)
    finally:
        db.close()


def patients(archive: str | Path) -> list[PatientSummary]:
    """Return the patient list of an existing archive."""
    db = open_archive(archive, create=False)
    try:
        return list_patients(db)
    finally:
        db.close()


def studies(archive: str | Path, patient_id: int | None = None) -> list[StudySummary]:
    """Return the study list (of one patient, or all) of an existing archive."""
    db = open_archive(archive, create=False)
    try:
        return list_studies(db, patient_id)
    finally:
        db.close()
