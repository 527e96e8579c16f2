"""Store what the readers parsed: one transaction per source, idempotent by source key."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from dxa_app.archive.db import get_setting, now_iso, write_transaction
from dxa_app.archive.images import put, store_folder
from dxa_app.cpr import check_cpr
from dxa_app.domain import (
    IdType,
    ImageRecord,
    ImportNote,
    ImportOutcome,
    ParsedSource,
    PatientIdentity,
    PhantomCertificate,
    PhantomIdentity,
    PhantomScanRecord,
    ScannerIdentity,
    SourceIdentity,
    StudyRecord,
    VfaReadingRecord,
)
from dxa_app.i18n import _

SITE_MAPPING_KEY = "site_mapping"


@dataclass
class _Tally:
    notes: list[ImportNote] = field(default_factory=list)
    #: The image store beside the archive (None for an in-memory archive: files stay where
    #: they are).
    images: Path | None = None


def _one(db: sqlite_utils.Database, sql: str, params: list[object]) -> int | None:
    rows = list(db.execute(sql, params).fetchall())
    return int(rows[0][0]) if rows else None


def _insert(db: sqlite_utils.Database, sql: str, params: list[object]) -> int:
    cur = db.execute(sql, params)
    assert cur.lastrowid is not None
    return int(cur.lastrowid)


def site_code_for(db: sqlite_utils.Database, scanner: ScannerIdentity) -> str:
    """Return the site code of a scanner.

    The archive setting ``site_mapping`` maps a scanner serial, station name or
    institution name to a site code; without a mapping the institution name is the
    site (or ``"UNKNOWN"`` when the source gave none).
    """
    mapping: dict[str, str] = get_setting(db, SITE_MAPPING_KEY, {}) or {}
    for key in (scanner.serial, scanner.station_name, scanner.institution_name):
        if key and key in mapping:
            return mapping[key]
    return scanner.institution_name.strip() or "UNKNOWN"


def ensure_site(db: sqlite_utils.Database, code: str, name: str = "") -> int:
    """Return the id of the site with ``code``, creating it when new."""
    found = _one(db, "SELECT id FROM sites WHERE code = ?", [code])
    if found is not None:
        return found
    return _insert(db, "INSERT INTO sites (code, name) VALUES (?, ?)", [code, name or code])


def ensure_scanner(db: sqlite_utils.Database, scanner: ScannerIdentity) -> int:
    """Return the id of a scanner (manufacturer + model + serial), creating it when new."""
    found = _one(
        db,
        "SELECT id FROM scanners WHERE manufacturer = ? AND model = ? AND serial = ?",
        list(scanner.key),
    )
    if found is not None:
        if scanner.software_version:
            db.execute(
                "UPDATE scanners SET software_version = ? WHERE id = ? AND software_version = ''",
                [scanner.software_version, found],
            )
        return found
    site_id = ensure_site(db, site_code_for(db, scanner), scanner.institution_name)
    return _insert(
        db,
        "INSERT INTO scanners (manufacturer, model, serial, software_version, station_name,"
        " institution_name, site_id, first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            str(scanner.manufacturer),
            scanner.model,
            scanner.serial,
            scanner.software_version,
            scanner.station_name,
            scanner.institution_name,
            site_id,
            now_iso(),
        ],
    )


def ensure_patient(
    db: sqlite_utils.Database, patient: PatientIdentity, tally: _Tally | None = None
) -> int:
    """Return the id of a patient by (id type, identifier), creating them when new.

    A known identifier with a different birth date or sex is never merged silently:
    the stored person is kept and a warning goes to the import notes.
    """
    rows = list(
        db.query(
            "SELECT id, birth_date, sex, name FROM patients WHERE id_type = ? AND identifier = ?",
            [str(patient.id_type), patient.identifier],
        )
    )
    birth = patient.birth_date.isoformat() if patient.birth_date else None
    sex = str(patient.sex) if patient.sex else None
    if tally is not None and patient.id_type is IdType.CPR:
        for problem in check_cpr(patient.identifier, patient.birth_date, patient.sex):
            tally.notes.append(ImportNote(problem))
    if rows:
        r = rows[0]
        if tally is not None and (
            (birth and r["birth_date"] and birth != r["birth_date"])
            or (sex and r["sex"] and sex != r["sex"])
        ):
            tally.notes.append(
                ImportNote(
                    _(
                        "Patient {id} is already in the archive with another birth date or sex;"
                        " the stored person was kept."
                    ).format(id=patient.identifier)
                )
            )
        return int(r["id"])
    return _insert(
        db,
        "INSERT INTO patients (id_type, identifier, name, birth_date, sex, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [str(patient.id_type), patient.identifier, patient.name, birth, sex, now_iso()],
    )


def ensure_phantom(db: sqlite_utils.Database, phantom: PhantomIdentity) -> int:
    """Return the id of a phantom (kind + serial), creating it when new."""
    found = _one(
        db,
        "SELECT id FROM phantoms WHERE kind = ? AND serial = ?",
        [str(phantom.kind), phantom.serial],
    )
    if found is not None:
        return found
    return _insert(
        db,
        "INSERT INTO phantoms (kind, serial, description) VALUES (?, ?, ?)",
        [str(phantom.kind), phantom.serial, phantom.description],
    )


def _ensure_round(db: sqlite_utils.Database, name: str, kind: str, phantom_id: int | None) -> int:
    found = _one(db, "SELECT id FROM calibration_rounds WHERE name = ?", [name])
    if found is not None:
        return found
    return _insert(
        db,
        "INSERT INTO calibration_rounds (name, kind, phantom_id) VALUES (?, ?, ?)",
        [name, kind, phantom_id],
    )


def _store_study(db: sqlite_utils.Database, rec: StudyRecord, tally: _Tally) -> None:
    s = rec.study
    existing = list(
        db.query(
            "SELECT st.id, p.id_type, p.identifier FROM studies st"
            " JOIN patients p ON p.id = st.patient_id WHERE st.study_uid = ?",
            [s.study_uid],
        )
    )
    if existing and (existing[0]["id_type"], existing[0]["identifier"]) != (
        str(rec.patient.id_type),
        rec.patient.identifier,
    ):
        # checked before anything is written, so a refused study leaves no rows behind
        tally.notes.append(
            ImportNote(
                _("Study {uid} belongs to another patient in the archive; not merged.").format(
                    uid=s.study_uid
                ),
                "error",
            )
        )
        return
    scanner_id = ensure_scanner(db, rec.scanner)
    patient_id = ensure_patient(db, rec.patient, tally)
    if existing:
        study_id = int(existing[0]["id"])
    else:
        study_id = _insert(
            db,
            "INSERT INTO studies (study_uid, patient_id, scanner_id, study_date, accession,"
            " referrer, indication, height_cm, weight_kg, menopausal, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                s.study_uid,
                patient_id,
                scanner_id,
                s.study_date.isoformat(),
                s.accession,
                s.referrer,
                s.indication,
                s.height_cm,
                s.weight_kg,
                None if s.menopausal is None else int(s.menopausal),
                now_iso(),
            ],
        )
    imported = now_iso()
    if rec.source_identity is not None:
        _store_identity(db, study_id, rec, tally)
    scan_ids: list[int] = []
    for scan in rec.scans:
        if _one(db, "SELECT id FROM scans WHERE source_key = ?", [scan.source_key]) is not None:
            continue
        scan_id = _insert(
            db,
            "INSERT INTO scans (source_key, study_id, scanner_id, scan_type, side, acquired_at,"
            " scan_mode, operator, software_version, imported_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                scan.source_key,
                study_id,
                scanner_id,
                str(scan.scan_type),
                str(scan.side) if scan.side else None,
                scan.acquired_at.isoformat(),
                scan.scan_mode,
                scan.operator,
                scan.software_version or rec.scanner.software_version,
                imported,
            ],
        )
        scan_ids.append(scan_id)
        for r in scan.results:
            db.execute(
                "INSERT INTO region_results (scan_id, region, bmd_g_cm2, bmc_g, area_cm2,"
                " vendor_t, vendor_z, included) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    scan_id,
                    str(r.region),
                    r.bmd_g_cm2,
                    r.bmc_g,
                    r.area_cm2,
                    r.vendor_t,
                    r.vendor_z,
                    int(r.included),
                ],
            )
    # an image that is the file of the study's only scan (a Hologic scan) points at it
    image_scan = scan_ids[0] if len(rec.scans) == 1 and len(scan_ids) == 1 else None
    for img in rec.images:
        _store_image(db, study_id, img, image_scan, imported, tally)


def _image_columns(img: ImageRecord) -> dict[str, object]:
    """The columns of an image row that describe the instance (besides its UIDs and file)."""
    return {
        "side": str(img.side) if img.side else None,
        "body_part": img.body_part,
        "protocol": img.protocol,
        "software_version": img.software_version,
        "exposure": json.dumps([list(pair) for pair in img.exposure], ensure_ascii=False),
        "analysis": str(img.analysis) if img.analysis else None,
        "analysis_detail": img.analysis_detail,
    }


def _store_image(
    db: sqlite_utils.Database,
    study_id: int,
    img: ImageRecord,
    scan_id: int | None,
    imported: str,
    tally: _Tally,
) -> None:
    """Insert an image row and copy its file into the image store (before the row commits).

    An image imported before the store existed (no ``stored_path``) is copied now when the
    same file is imported again, and its row completed.
    """
    rows = list(
        db.query(
            "SELECT id, sha256, stored_path FROM images WHERE sop_instance_uid = ?",
            [img.sop_instance_uid],
        )
    )
    if rows and (rows[0]["stored_path"] or rows[0]["sha256"] != img.sha256):
        return
    stored, size = "", None
    if tally.images is not None and img.file_path and img.sha256:
        stored, size = put(tally.images, Path(img.file_path), img.sha256)
    columns = _image_columns(img)
    if rows:
        if not stored:
            return
        sets = ", ".join(f"{k} = ?" for k in columns)
        db.execute(
            f"UPDATE images SET stored_path = ?, bytes = ?, {sets} WHERE id = ?",
            [stored, size, *columns.values(), rows[0]["id"]],
        )
        return
    names = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    db.execute(
        "INSERT INTO images (sop_instance_uid, study_id, scan_id, sop_class_uid, kind, rows,"
        " columns, bits_allocated, file_path, sha256, note, imported_at, stored_path, bytes,"
        f" {names}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {marks})",
        [
            img.sop_instance_uid,
            study_id,
            scan_id,
            img.sop_class_uid,
            img.kind,
            img.rows,
            img.columns,
            img.bits_allocated,
            img.file_path,
            img.sha256,
            img.note,
            imported,
            stored,
            size,
            *columns.values(),
        ],
    )


#: The received identity's fields, in the order of a note that names differences.
_IDENTITY_FIELDS = (
    ("patient_id", "PatientID"),
    ("issuer_of_patient_id", "IssuerOfPatientID"),
    ("patient_name", "PatientName"),
    ("birth_date", "PatientBirthDate"),
    ("sex", "PatientSex"),
    ("accession", "AccessionNumber"),
    ("study_id", "StudyID"),
    ("study_date", "StudyDate"),
    ("study_time", "StudyTime"),
    ("referring_physician", "ReferringPhysicianName"),
)


def _store_identity(
    db: sqlite_utils.Database, study_id: int, rec: StudyRecord, tally: _Tally
) -> None:
    """Keep the identity as the source sent it, once per study (the first file's).

    A later file of the same study with another identity is imported, and a note names the
    elements that differ: the identity first received stays the one sent to PACS.
    """
    ident = rec.source_identity
    assert ident is not None
    rows = list(db.query("SELECT * FROM study_identity WHERE study_id = ?", [study_id]))
    if rows:
        first = rows[0]
        stored = {**first, "study_id": first["dicom_study_id"]}
        differs = [
            keyword for name, keyword in _IDENTITY_FIELDS if stored[name] != getattr(ident, name)
        ]
        if differs:
            tally.notes.append(
                ImportNote(
                    _(
                        "Study {uid}: this file sends other values for {elements} than the"
                        " study's first file; the first identity is kept and sent to PACS."
                    ).format(uid=ident.study_uid, elements=", ".join(differs))
                )
            )
        return
    key = rec.images[0].sop_instance_uid if rec.images else ""
    _insert_identity(db, study_id, ident, key)


def _insert_identity(
    db: sqlite_utils.Database, study_id: int, ident: SourceIdentity, source_key: str
) -> None:
    db.execute(
        "INSERT INTO study_identity (study_id, source, source_key, patient_id,"
        " issuer_of_patient_id, patient_name, character_set, birth_date, sex, study_uid,"
        " accession, dicom_study_id, study_date, study_time, referring_physician, recorded_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            study_id,
            ident.source,
            source_key,
            ident.patient_id,
            ident.issuer_of_patient_id,
            ident.patient_name,
            ident.character_set,
            ident.birth_date,
            ident.sex,
            ident.study_uid,
            ident.accession,
            ident.study_id,
            ident.study_date,
            ident.study_time,
            ident.referring_physician,
            now_iso(),
        ],
    )


def _store_phantom_scan(db: sqlite_utils.Database, rec: PhantomScanRecord, tally: _Tally) -> None:
    if _one(db, "SELECT id FROM phantom_scans WHERE source_key = ?", [rec.source_key]) is not None:
        return
    scanner_id = ensure_scanner(db, rec.scanner)
    phantom_id = ensure_phantom(db, rec.phantom)
    round_id = None
    if rec.round_name:
        kind = "acceptance" if rec.purpose == "acceptance" else "travelling_phantom"
        round_id = _ensure_round(db, rec.round_name, kind, phantom_id)
    scan_id = _insert(
        db,
        "INSERT INTO phantom_scans (source_key, phantom_id, scanner_id, acquired_at, purpose,"
        " round_id, operator, repositioned, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            rec.source_key,
            phantom_id,
            scanner_id,
            rec.acquired_at.isoformat(),
            str(rec.purpose),
            round_id,
            rec.operator,
            int(rec.repositioned),
            now_iso(),
        ],
    )
    for r in rec.results:
        db.execute(
            "INSERT INTO phantom_results (phantom_scan_id, region, bmd_g_cm2, bmc_g, area_cm2)"
            " VALUES (?, ?, ?, ?, ?)",
            [scan_id, str(r.region), r.bmd_g_cm2, r.bmc_g, r.area_cm2],
        )


def _store_certificate(db: sqlite_utils.Database, cert: PhantomCertificate, tally: _Tally) -> None:
    phantom_id = ensure_phantom(db, cert.phantom)
    for v in cert.values:
        db.execute(
            "INSERT OR IGNORE INTO phantom_certified_values (phantom_id, certificate_ref, region,"
            " bmd_g_cm2, uncertainty_g_cm2, imported_at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                phantom_id,
                cert.certificate_ref,
                str(v.region),
                v.bmd_g_cm2,
                v.uncertainty_g_cm2,
                now_iso(),
            ],
        )


def _store_vfa(db: sqlite_utils.Database, rec: VfaReadingRecord, tally: _Tally) -> None:
    if _one(db, "SELECT id FROM vfa_readings WHERE source_key = ?", [rec.source_key]) is not None:
        return
    study_id = _one(db, "SELECT id FROM studies WHERE study_uid = ?", [rec.study_uid])
    if study_id is None:
        tally.notes.append(
            ImportNote(
                _(
                    "VFA reading {key}: study {uid} is not in the archive; import the study first."
                ).format(key=rec.source_key, uid=rec.study_uid),
                "error",
            )
        )
        return
    reading_id = _insert(
        db,
        "INSERT INTO vfa_readings (source_key, study_id, reader, read_at, imported_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [rec.source_key, study_id, rec.reader, rec.read_at.isoformat(), now_iso()],
    )
    for f in rec.findings:
        db.execute(
            "INSERT INTO vfa_findings (vfa_reading_id, level, grade, morphology,"
            " not_evaluable_reason) VALUES (?, ?, ?, ?, ?)",
            [
                reading_id,
                str(f.level),
                f.grade,
                str(f.morphology) if f.morphology else None,
                f.not_evaluable_reason,
            ],
        )


def store_parsed(
    db: sqlite_utils.Database, parsed: ParsedSource
) -> tuple[int, tuple[ImportNote, ...]]:
    """Store everything one source yielded, in one transaction.

    Parameters
    ----------
    db : sqlite_utils.Database
        The open archive.
    parsed : ParsedSource
        What a reader made of one file.

    Returns
    -------
    tuple of (int, tuple of ImportNote)
        The number of rows the source added or changed, sites, scanners and patients
        included (0 when it was already imported), and the notes raised while storing.
        Any exception rolls the whole source back. Each image's file is copied into the
        image store beside the archive before its row is written.

    Raises
    ------
    ImportProblemError
        When an image cannot be copied into the image store, or its file changed since
        it was read.
    """
    tally = _Tally(images=store_folder(db))
    before = db.conn.total_changes
    with write_transaction(db):
        for cert in parsed.certificates:
            _store_certificate(db, cert, tally)
        for study in parsed.studies:
            _store_study(db, study, tally)
        for ps in parsed.phantom_scans:
            _store_phantom_scan(db, ps, tally)
        for vfa in parsed.vfa_readings:
            _store_vfa(db, vfa, tally)
    return db.conn.total_changes - before, tuple(tally.notes)


def log_import(db: sqlite_utils.Database, batch: str, outcome: ImportOutcome) -> None:
    """Append one line to the import log."""
    with write_transaction(db):
        db.execute(
            "INSERT INTO import_log (batch, at, path, reader, status, reason, rows_added, notes)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch,
                now_iso(),
                outcome.path,
                outcome.reader,
                str(outcome.status),
                outcome.reason,
                outcome.rows_added,
                json.dumps(
                    [{"severity": n.severity, "message": n.message} for n in outcome.notes],
                    ensure_ascii=False,
                ),
            ],
        )


def parse_date(value: str | None) -> dt.date | None:
    """Parse an ISO date stored in the archive (None stays None)."""
    return dt.date.fromisoformat(value) if value else None
