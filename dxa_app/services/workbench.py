"""The technician's study view and scanner choices (what the workspace shows, audited access)."""

from __future__ import annotations

from dataclasses import dataclass

from dxa_app.archive.scanners import scanner_rows
from dxa_app.archive.studies import (
    ImageRow,
    MeasurementRow,
    ScanRow,
    study_id_for,
    study_images,
    study_measurements,
    study_scans,
)
from dxa_app.services.auth import Permission, Session, acting, record
from dxa_app.services.scoring import StudyScores, compute_study_scores
from dxa_app.services.vfa import VfaIndication, indication_of

#: One stored image of a study (id, SOP Instance UID, kind, size, file, note).
StudyImage = ImageRow
#: A further measurement of a scan (hip structure, body composition...): shown, never diagnostic.
StudyMeasurement = MeasurementRow
#: One scan of a study with the patient's height and weight then, and its software version.
StudyScan = ScanRow


@dataclass(frozen=True)
class ScannerChoice:
    """A scanner to pick in a form."""

    id: int
    serial: str
    manufacturer: str
    model: str
    site: str


@dataclass(frozen=True)
class StudyDetail:
    """What the study view shows: scores per region, images, VFA indication, scans, measurements.

    ``measurements`` are the scanner's further values (hip structure analysis, body
    composition, lateral spine) stored raw; they are shown, never used for a diagnosis.
    """

    scores: StudyScores
    images: tuple[StudyImage, ...]
    indication: VfaIndication
    scans: tuple[StudyScan, ...] = ()
    measurements: tuple[StudyMeasurement, ...] = ()


def scanner_choices(session: Session) -> list[ScannerChoice]:
    """Return every scanner of the archive, by site and serial.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    list of ScannerChoice
        The scanners.
    """
    with acting(session, Permission.VIEW) as db:
        return [
            ScannerChoice(r.id, r.serial, r.manufacturer, r.model, r.site_code)
            for r in scanner_rows(db)
        ]


def study_detail(session: Session, study: str | int) -> StudyDetail:
    """Return a study's scores, images, VFA indication, scans and measurements (audited access).

    Parameters
    ----------
    session : Session
        The user who opens the study (patient data access is logged).
    study : str or int
        The study's archive id or Study Instance UID.

    Returns
    -------
    StudyDetail
        The study view's data.

    Raises
    ------
    NotFoundError
        When the study does not exist.
    """
    with acting(session, Permission.VIEW) as db:
        study_id = study_id_for(db, study)
        scores = compute_study_scores(db, study_id)
        detail = StudyDetail(
            scores,
            tuple(study_images(db, study_id)),
            indication_of(db, study_id),
            tuple(study_scans(db, study_id)),
            tuple(study_measurements(db, study_id)),
        )
        record(db, session, "study_open", entity="study", entity_id=study_id, wait=False)
    return detail


def study_id_by_uid(session: Session, study_uid: str) -> int:
    """Return the archive id of a study by its UID.

    Parameters
    ----------
    session : Session
        The logged-in user.
    study_uid : str
        The Study Instance UID.

    Returns
    -------
    int
        The archive id.

    Raises
    ------
    NotFoundError
        When no study has that UID.
    """
    with acting(session, Permission.VIEW) as db:
        return study_id_for(db, study_uid)
