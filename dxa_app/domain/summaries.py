"""The archive lists' rows: frozen dataclasses of a patient, a study and the archive's counts.

Reached as ``dxa_app.domain.X`` (see :mod:`dxa_app.domain`), built when first asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dxa_app.domain import Sex


@dataclass(frozen=True, slots=True)
class PatientSummary:
    """One row of the patient list.

    ``possible_duplicate``: this record shares its identifier with an earlier patient but
    not the birth date or sex, so it was kept apart until an administrator decides (merge).
    """

    id: int
    identifier: str
    name: str
    birth_date: dt.date | None
    sex: Sex | None
    n_studies: int
    last_study: dt.date | None
    possible_duplicate: bool = False


@dataclass(frozen=True, slots=True)
class StudySummary:
    """One row of the study list."""

    id: int
    study_uid: str
    patient_id: int
    patient_identifier: str
    patient_name: str
    study_date: dt.date
    site: str
    manufacturer: str
    model: str
    serial: str
    scan_types: tuple[str, ...]
    n_results: int


@dataclass(frozen=True, slots=True)
class ArchiveCounts:
    """How many of each thing the archive holds."""

    sites: int
    scanners: int
    patients: int
    studies: int
    scans: int
    region_results: int
    phantom_scans: int
    vfa_readings: int
    images: int
