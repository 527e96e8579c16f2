"""The studies table family: find a study, its header, priors, areas, images and VFA reading."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dxa_app.archive.database import Database
from dxa_app.archive.patients import person_members
from dxa_app.archive.scores import newest_diagnoses
from dxa_app.errors import NotFoundError
from dxa_app.i18n import _

if TYPE_CHECKING:
    from dxa_app.domain import SourceIdentity


def _no_study(key: object) -> NotFoundError:
    return NotFoundError(_("No study {id}.").format(id=key), _("See 'studies' for the study ids."))


def study_id_for(db: Database, key: str | int) -> int:
    """Return a study's archive id from its id or its Study Instance UID.

    Parameters
    ----------
    db : Database
        The open archive.
    key : str or int
        An archive id (digits) or a Study Instance UID.

    Returns
    -------
    int
        The study's archive id.

    Raises
    ------
    NotFoundError
        When no such study exists.
    """
    text = str(key).strip()
    if text.isdigit():
        row = db.execute("SELECT id FROM studies WHERE id = ?", [int(text)]).fetchone()
    else:
        row = db.execute("SELECT id FROM studies WHERE study_uid = ?", [text]).fetchone()
    if row is None:
        raise _no_study(text)
    return int(row[0])


def study_ids(db: Database) -> list[int]:
    """Return every study id, in order.

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    list of int
        The ids.
    """
    return [int(r[0]) for r in db.execute("SELECT id FROM studies ORDER BY id").fetchall()]


def study_header(db: Database, study_id: int) -> dict[str, Any]:
    """Return a study with its patient, scanner and site columns (what a report heads with).

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    dict
        The study's columns plus ``name, identifier, birth_date, sex, manufacturer, model,
        serial, software_version, site_name``.

    Raises
    ------
    NotFoundError
        When the study does not exist.
    """
    rows = list(
        db.query(
            "SELECT st.*, p.name, p.identifier, p.birth_date, p.sex, sc.manufacturer, sc.model,"
            " sc.serial, sc.software_version, coalesce(si.name, si.code, '') AS site_name"
            " FROM studies st JOIN patients p ON p.id = st.patient_id"
            " JOIN scanners sc ON sc.id = st.scanner_id LEFT JOIN sites si ON si.id = sc.site_id"
            " WHERE st.id = ?",
            [study_id],
        )
    )
    if not rows:
        raise _no_study(study_id)
    return rows[0]


def prior_studies(db: Database, patient_id: int, before: str) -> list[dict[str, Any]]:
    """Return one person's studies before a date, newest first (id, study_date, scanner_id).

    The person is the patient row and the rows an administrator merged with it (see
    :mod:`dxa_app.archive.patients`), never another patient that only shares an identifier,
    so a comparison or a trend stays within one person.

    Parameters
    ----------
    db : Database
        The open archive.
    patient_id : int
        The patient row of the study being reported.
    before : str
        ISO date; studies strictly before it.

    Returns
    -------
    list of dict
        The prior studies.
    """
    members = person_members(db, patient_id)
    marks = ",".join("?" * len(members))
    return list(
        db.query(
            f"SELECT id, study_date, scanner_id FROM studies WHERE patient_id IN ({marks})"
            " AND study_date < ? ORDER BY study_date DESC, id DESC",
            [*members, before],
        )
    )


def region_areas(db: Database, study_id: int) -> dict[str, float]:
    """Return the bone area (cm²) per region of a study, where the source gave one.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    dict of str to float
        Area by region.
    """
    return {
        r["region"]: r["area_cm2"]
        for r in db.query(
            "SELECT rr.region, rr.area_cm2 FROM region_results rr JOIN scans s ON s.id = rr.scan_id"
            " WHERE s.study_id = ? AND rr.area_cm2 IS NOT NULL",
            [study_id],
        )
    }


def first_scan_text(db: Database, study_id: int, column: str) -> str:
    """Return the first non-empty ``operator`` or ``scan_mode`` of a study's scans.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.
    column : str
        ``operator`` or ``scan_mode``.

    Returns
    -------
    str
        The value, or "" when no scan has one.
    """
    if column not in ("operator", "scan_mode"):
        raise ValueError(column)
    row = db.execute(
        f"SELECT {column} FROM scans WHERE study_id = ? AND {column} <> '' ORDER BY id LIMIT 1",
        [study_id],
    ).fetchone()
    return str(row[0]) if row else ""


@dataclass(frozen=True)
class ImageRow:
    """One stored image of a study.

    ``file_path`` is where the file was imported from; ``stored_path`` its copy in the image
    store beside the archive (relative to the store; empty for an image imported before
    the store existed). ``exposure`` holds the exposure and dose attributes as
    ``(keyword, value)`` pairs; ``analysis`` is ``read``, ``none``, ``not_understood`` or ""
    (imported before this was recorded), with ``analysis_detail`` naming the private
    creator and element that was not understood.
    """

    id: int
    sop_instance_uid: str
    kind: str
    rows: int | None
    columns: int | None
    file_path: str
    note: str
    stored_path: str = ""
    sha256: str = ""
    side: str | None = None
    body_part: str = ""
    protocol: str = ""
    software_version: str = ""
    exposure: tuple[tuple[str, str], ...] = ()
    analysis: str = ""
    analysis_detail: str = ""


def _exposure(text: str | None) -> tuple[tuple[str, str], ...]:
    try:
        pairs = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple((str(k), str(v)) for k, v in pairs)


def study_images(db: Database, study_id: int) -> list[ImageRow]:
    """Return the stored images of a study, in import order.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    list of ImageRow
        The images.
    """
    return [
        ImageRow(
            r["id"],
            r["sop_instance_uid"],
            r["kind"],
            r["rows"],
            r["columns"],
            r["file_path"],
            r["note"],
            r["stored_path"],
            r["sha256"],
            r["side"],
            r["body_part"],
            r["protocol"],
            r["software_version"],
            _exposure(r["exposure"]),
            r["analysis"] or "",
            r["analysis_detail"],
        )
        for r in db.query("SELECT * FROM images WHERE study_id = ? ORDER BY id", [study_id])
    ]


def received_identity(db: Database, study_id: int) -> SourceIdentity | None:
    """Return the identity of a study exactly as its source sent it, or None.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    SourceIdentity or None
        None for a study imported before the identity was kept, or from a source that
        gave none.
    """
    from dxa_app.domain import SourceIdentity  # the records load when first used

    rows = list(db.query("SELECT * FROM study_identity WHERE study_id = ?", [study_id]))
    if not rows:
        return None
    r = rows[0]
    return SourceIdentity(
        source=r["source"],
        patient_id=r["patient_id"],
        study_uid=r["study_uid"],
        issuer_of_patient_id=r["issuer_of_patient_id"],
        patient_name=r["patient_name"],
        character_set=r["character_set"],
        birth_date=r["birth_date"],
        sex=r["sex"],
        accession=r["accession"],
        study_id=r["dicom_study_id"],
        study_date=r["study_date"],
        study_time=r["study_time"],
        referring_physician=r["referring_physician"],
    )


def first_acquisition(db: Database, study_id: int) -> str | None:
    """Return the earliest acquisition time (ISO) of a study's scans, or None."""
    row = db.execute("SELECT min(acquired_at) FROM scans WHERE study_id = ?", [study_id]).fetchone()
    return str(row[0]) if row and row[0] else None


@dataclass(frozen=True)
class VfaReadingRow:
    """The newest VFA reading of a study and its findings (one dict per level)."""

    id: int
    reader: str
    read_at: str
    findings: tuple[dict[str, Any], ...]


def count_vfa_readings(db: Database, study_id: int) -> int:
    """Return how many VFA readings (versions) a study has.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    int
        The number of stored readings.
    """
    row = db.execute("SELECT count(*) FROM vfa_readings WHERE study_id = ?", [study_id]).fetchone()
    return int(row[0])


def latest_vfa_reading(db: Database, study_id: int) -> VfaReadingRow | None:
    """Return the newest VFA reading of a study (by reading time, then id), or None.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    VfaReadingRow or None
        The reading with its findings in stored order.
    """
    rows = list(
        db.query(
            "SELECT id, reader, read_at FROM vfa_readings WHERE study_id = ?"
            " ORDER BY read_at DESC, id DESC LIMIT 1",
            [study_id],
        )
    )
    if not rows:
        return None
    r = rows[0]
    findings = tuple(
        db.query("SELECT * FROM vfa_findings WHERE vfa_reading_id = ? ORDER BY id", [r["id"]])
    )
    return VfaReadingRow(int(r["id"]), str(r["reader"]), str(r["read_at"]), findings)


def has_fragility_fracture(db: Database, study_id: int) -> bool:
    """Return whether any VFA reading of the study has a fracture of grade 2 or more.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    bool
        True when a grade 2-3 finding exists.
    """
    row = db.execute(
        "SELECT count(*) FROM vfa_findings f JOIN vfa_readings r ON r.id = f.vfa_reading_id"
        " WHERE r.study_id = ? AND f.grade >= 2",
        [study_id],
    ).fetchone()
    return bool(row[0])


def study_ids_on_scanners(db: Database, scanner_ids: set[int]) -> list[int]:
    """Return the studies made on any of ``scanner_ids`` (a study's scans share one scanner).

    Parameters
    ----------
    db : Database
        The open archive.
    scanner_ids : set of int
        The scanners.

    Returns
    -------
    list of int
        The study ids, in order.
    """
    if not scanner_ids:
        return []
    marks = ",".join("?" * len(scanner_ids))
    return [
        int(r[0])
        for r in db.execute(
            f"SELECT id FROM studies WHERE scanner_id IN ({marks}) ORDER BY id", sorted(scanner_ids)
        ).fetchall()
    ]


def stored_categories(db: Database, study_ids: list[int]) -> dict[int, str]:
    """Return the category of each study's newest stored diagnosis (studies without one left out).

    Parameters
    ----------
    db : Database
        The open archive.
    study_ids : list of int
        The studies.

    Returns
    -------
    dict of int to str
        Category by study id.
    """
    wanted = set(study_ids)
    return {sid: d.category for sid, d in newest_diagnoses(db).items() if sid in wanted}


@dataclass(frozen=True)
class ScanRow:
    """One scan of a study: type, side, time, the patient's height and weight, software."""

    id: int
    scan_type: str
    side: str | None
    acquired_at: str
    height_cm: float | None
    weight_kg: float | None
    software_version: str


def study_scans(db: Database, study_id: int) -> list[ScanRow]:
    """Return the scans of a study in acquisition order.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    list of ScanRow
        The scans.
    """
    return [
        ScanRow(
            int(r["id"]),
            str(r["scan_type"]),
            r["side"],
            str(r["acquired_at"]),
            r["height_cm"],
            r["weight_kg"],
            str(r["software_version"]),
        )
        for r in db.query(
            "SELECT id, scan_type, side, acquired_at, height_cm, weight_kg, software_version"
            " FROM scans WHERE study_id = ? ORDER BY acquired_at, id",
            [study_id],
        )
    ]


@dataclass(frozen=True)
class MeasurementRow:
    """A further measurement of a scan, stored raw (never used for a diagnosis)."""

    scan_id: int
    scan_type: str
    side: str | None
    source_table: str
    name: str
    label: str
    value: float
    unit: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "scan_id": self.scan_id,
            "scan_type": self.scan_type,
            "side": self.side,
            "table": self.source_table,
            "name": self.name,
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
        }


def study_measurements(db: Database, study_id: int) -> list[MeasurementRow]:
    """Return the additional measurements of a study's scans (hip structure, body composition).

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    list of MeasurementRow
        By scan, then as stored.
    """
    return [
        MeasurementRow(
            int(r["scan_id"]),
            str(r["scan_type"]),
            r["side"],
            str(r["source_table"]),
            str(r["name"]),
            str(r["label"]),
            float(r["value"]),
            str(r["unit"]),
        )
        for r in db.query(
            "SELECT m.*, s.scan_type, s.side FROM additional_measurements m"
            " JOIN scans s ON s.id = m.scan_id WHERE s.study_id = ? ORDER BY s.id, m.id",
            [study_id],
        )
    ]
