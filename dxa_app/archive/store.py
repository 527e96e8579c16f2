"""Store what the readers parsed: one transaction per source, idempotent by source key."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dxa_app.archive.database import Database
from dxa_app.archive.db import get_setting, now_iso, write_transaction
from dxa_app.archive.images import put, store_folder
from dxa_app.archive.patients import person_of
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
    is_placeholder_serial,
    patient_identity_key,
)
from dxa_app.i18n import _

SITE_MAPPING_KEY = "site_mapping"
LEGACY_SCOPE = "legacy"
"""The scope migration 0010 gave non-CPR patients whose source it could not tell."""
SERIAL_MAPPING_KEY = "serial_mapping"
"""Archive setting: ``"<source scope>|<placeholder serial>"`` -> the scanner's real serial."""


@dataclass
class _Tally:
    notes: list[ImportNote] = field(default_factory=list)
    #: The image store beside the archive (None for an in-memory archive: files stay where
    #: they are).
    images: Path | None = None
    scope: str = ""  # where the source's scanner names are valid (serial mapping)
    patient_scope: str = ""  # the scope of a patient identifier whose reader set none
    refused: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    #: Files the reading step already wrote into the image store: SHA-256 -> (path, size).
    stored: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    new_versions: list[tuple[int, str, str, str]] = field(default_factory=list)


def _one(db: Database, sql: str, params: list[object]) -> int | None:
    rows = list(db.execute(sql, params).fetchall())
    return int(rows[0][0]) if rows else None


def _insert(db: Database, sql: str, params: list[object]) -> int:
    cur = db.execute(sql, params)
    assert cur.lastrowid is not None
    return int(cur.lastrowid)


def site_code_for(db: Database, scanner: ScannerIdentity) -> str:
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


def ensure_site(db: Database, code: str, name: str = "") -> int:
    """Return the id of the site with ``code``, creating it when new."""
    found = _one(db, "SELECT id FROM sites WHERE code = ?", [code])
    if found is not None:
        return found
    return _insert(db, "INSERT INTO sites (code, name) VALUES (?, ?)", [code, name or code])


def ensure_scanner(db: Database, scanner: ScannerIdentity) -> int:
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


def scanner_scope(scanner: ScannerIdentity, source_scope: str = "") -> str:
    """Return where a scanner's serial is valid, for the serial mapping of a placeholder.

    Parameters
    ----------
    scanner : ScannerIdentity
        The scanner as the source names it.
    source_scope : str, optional
        The source's own scope (an APEX database: ``apex:<database>``), used when given.

    Returns
    -------
    str
        ``source_scope``, else ``station:<station name>``, ``institution:<name>`` or
        ``manufacturer:<manufacturer> <model>``.
    """
    if source_scope:
        return source_scope
    if scanner.station_name:
        return f"station:{scanner.station_name}"
    if scanner.institution_name:
        return f"institution:{scanner.institution_name}"
    return f"manufacturer:{scanner.manufacturer} {scanner.model}".strip()


def mapped_serial(db: Database, scope: str, placeholder: str) -> str | None:
    """Return the real serial an administrator gave for a placeholder serial of a source.

    Parameters
    ----------
    db : Database
        The open archive.
    scope : str
        The source scope (see :func:`scanner_scope`).
    placeholder : str
        The serial as the source gives it (``APEX``, ``000``, empty).

    Returns
    -------
    str or None
        The serial, or None when none was given.
    """
    mapping: dict[str, str] = get_setting(db, SERIAL_MAPPING_KEY, {}) or {}
    return mapping.get(f"{scope}|{placeholder.strip()}")


def _real_scanner(
    db: Database, scanner: ScannerIdentity, tally: _Tally, n_scans: int
) -> ScannerIdentity | None:
    """Return the scanner with a real serial; None (and a count for the note) for a placeholder.

    A placeholder serial (``APEX``, ``000``, empty...) names no particular scanner, so no
    scanner is invented for it: the serial mapping of the source must name the real one.
    """
    if not is_placeholder_serial(scanner.serial):
        return scanner
    scope = scanner_scope(scanner, tally.scope)
    real = mapped_serial(db, scope, scanner.serial)
    if real is None:
        tally.refused[(scope, scanner.serial.strip(), str(scanner.manufacturer))] += n_scans
        return None
    return dataclasses.replace(scanner, serial=real)


def _refusal_notes(tally: _Tally) -> None:
    for (scope, serial, manufacturer), n in sorted(tally.refused.items()):
        tally.notes.append(
            ImportNote(
                _(
                    "{n} scans name the {manufacturer} scanner serial '{serial}', which names no"
                    " particular scanner; they were not imported (no scanner is invented for"
                    " them). An administrator gives the real serial of that scanner for this"
                    ' source: serial-map "{scope}" "{serial}" SERIAL, then import again.'
                ).format(n=n, manufacturer=manufacturer, serial=serial, scope=scope),
                "error",
            )
        )


def _seen_version(
    db: Database, scanner_id: int, version: str, at: str, source_key: str, t: _Tally
) -> None:
    """Record a software version seen on a scanner at ``at`` (first and last time seen)."""
    version = version.strip()
    if not version:
        return
    row = db.execute(
        "SELECT id, first_seen, last_seen FROM scanner_software_versions"
        " WHERE scanner_id = ? AND software_version = ?",
        [scanner_id, version],
    ).fetchone()
    if row is None:
        others = db.execute(
            "SELECT count(*) FROM scanner_software_versions WHERE scanner_id = ?", [scanner_id]
        ).fetchone()[0]
        db.execute(
            "INSERT INTO scanner_software_versions (scanner_id, software_version, first_seen,"
            " last_seen, first_source_key, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
            [scanner_id, version, at, at, source_key, now_iso()],
        )
        if others:
            t.new_versions.append((scanner_id, version, at, source_key))
        return
    if at < row[1]:
        db.execute(
            "UPDATE scanner_software_versions SET first_seen = ?, first_source_key = ?"
            " WHERE id = ?",
            [at, source_key, row[0]],
        )
    if at > row[2]:
        db.execute("UPDATE scanner_software_versions SET last_seen = ? WHERE id = ?", [at, row[0]])


def _version_notes(db: Database, tally: _Tally) -> None:
    """Name each new software version of a known scanner; set each scanner's newest version."""
    for scanner_id in sorted({v[0] for v in tally.new_versions}):
        rows = list(
            db.query(
                "SELECT software_version, first_seen FROM scanner_software_versions"
                " WHERE scanner_id = ? ORDER BY first_seen, id",
                [scanner_id],
            )
        )
        serial = db.execute("SELECT serial FROM scanners WHERE id = ?", [scanner_id]).fetchone()
        new = {v[1] for v in tally.new_versions if v[0] == scanner_id}
        for i, r in enumerate(rows):
            if r["software_version"] not in new or i == 0:
                continue
            tally.notes.append(
                ImportNote(
                    _(
                        "Scanner {serial}: software version {version} from {date} (before:"
                        " {previous}). A software change can move BMD: QC and calibration"
                        " should check this scanner."
                    ).format(
                        serial=serial[0],
                        version=r["software_version"],
                        date=str(r["first_seen"])[:10],
                        previous=rows[i - 1]["software_version"],
                    )
                )
            )
    touched = {v[0] for v in tally.new_versions}
    for scanner_id in touched:
        db.execute(
            "UPDATE scanners SET software_version = (SELECT software_version FROM"
            " scanner_software_versions WHERE scanner_id = ? ORDER BY last_seen DESC, id DESC"
            " LIMIT 1) WHERE id = ?",
            [scanner_id, scanner_id],
        )


def _agrees(row: dict[str, object], birth: str | None, sex: str | None) -> bool:
    """Whether a stored patient and a source record agree on birth date and sex (unknown agrees)."""
    return not (
        (birth and row["birth_date"] and birth != row["birth_date"])
        or (sex and row["sex"] and sex != row["sex"])
    )


def find_patient(
    db: Database, patient: PatientIdentity, default_scope: str = ""
) -> tuple[str, int | None, int | None]:
    """Return a source record's identity key, its patient (if stored) and a conflicting first.

    Parameters
    ----------
    db : Database
        The open archive.
    patient : PatientIdentity
        The patient as the source names them.
    default_scope : str, optional
        The scope of a non-CPR identifier whose reader set none.

    Returns
    -------
    tuple of (str, int or None, int or None)
        The identity key; the stored patient of that key whose birth date and sex agree
        (None when there is none); the first patient of the key when one exists but none
        agrees (the record is then a possible duplicate of it).
    """
    key = patient_identity_key(patient, default_scope)
    rows = list(
        db.query(
            "SELECT id, birth_date, sex, duplicate_of FROM patients WHERE identity_key = ?"
            " ORDER BY id",
            [key],
        )
    )
    birth = patient.birth_date.isoformat() if patient.birth_date else None
    sex = str(patient.sex) if patient.sex else None
    for r in rows:
        if _agrees(r, birth, sex):
            return key, int(r["id"]), None
    first = next((int(r["id"]) for r in rows if r["duplicate_of"] is None), None)
    return key, None, first


def ensure_patient(
    db: Database,
    patient: PatientIdentity,
    tally: _Tally | None = None,
    default_scope: str = "",
) -> int:
    """Return the id of the patient a source record names, creating the patient when new.

    Two records are one patient only when their identity key matches (a CPR number
    nationally; any other identifier within its scope, see
    :func:`dxa_app.domain.patient_identity_key`) **and** their birth date and sex agree
    (an unknown value agrees). A record whose key is known but whose birth date or sex
    disagrees becomes a separate patient flagged as a possible duplicate of the first
    patient of that key, with a warning in the import notes; an administrator may merge them.

    Parameters
    ----------
    db : Database
        The open archive.
    patient : PatientIdentity
        The patient as the source names them.
    tally : _Tally, optional
        Receives the notes (CPR checks, possible duplicates).
    default_scope : str, optional
        The scope of a non-CPR identifier whose reader set none.

    Returns
    -------
    int
        The patient row.
    """
    if tally is not None and patient.id_type is IdType.CPR:
        for problem in check_cpr(patient.identifier, patient.birth_date, patient.sex):
            tally.notes.append(ImportNote(problem))
    key, found, first = find_patient(db, patient, default_scope)
    if found is not None:
        return found
    birth = patient.birth_date.isoformat() if patient.birth_date else None
    sex = str(patient.sex) if patient.sex else None
    scope = "" if patient.id_type is IdType.CPR else patient.scope or default_scope
    new_id = _insert(
        db,
        "INSERT INTO patients (id_type, identifier, name, birth_date, sex, created_at, scope,"
        " identity_key, duplicate_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            str(patient.id_type),
            patient.identifier,
            patient.name,
            birth,
            sex,
            now_iso(),
            scope,
            key,
            first,
        ],
    )
    if first is not None and tally is not None:
        tally.notes.append(
            ImportNote(
                _(
                    "Patient {id} is already in the archive (patient {first}) with another"
                    " birth date or sex; this record was kept apart as patient {new}, flagged as"
                    " a possible duplicate (see 'patients --duplicates'; an administrator can"
                    " merge them)."
                ).format(id=patient.identifier, first=first, new=new_id)
            )
        )
    return new_id


def ensure_phantom(db: Database, phantom: PhantomIdentity) -> int:
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


def _ensure_round(db: Database, name: str, kind: str, phantom_id: int | None) -> int:
    found = _one(db, "SELECT id FROM calibration_rounds WHERE name = ?", [name])
    if found is not None:
        return found
    return _insert(
        db,
        "INSERT INTO calibration_rounds (name, kind, phantom_id) VALUES (?, ?, ?)",
        [name, kind, phantom_id],
    )


def _scope_of(db: Database, patient_id: int) -> str:
    row = db.execute("SELECT scope FROM patients WHERE id = ?", [patient_id]).fetchone()
    return "" if row is None else str(row[0])


def _all_stored(db: Database, rec: StudyRecord) -> bool:
    """Whether every scan and image of a study record is in the archive already."""
    return all(
        _one(db, "SELECT id FROM scans WHERE source_key = ?", [scan.source_key]) is not None
        for scan in rec.scans
    ) and all(
        _one(db, "SELECT id FROM images WHERE sop_instance_uid = ?", [i.sop_instance_uid])
        is not None
        for i in rec.images
    )


def _store_study(db: Database, rec: StudyRecord, tally: _Tally) -> None:
    s = rec.study
    existing = list(
        db.query("SELECT id, patient_id FROM studies WHERE study_uid = ?", [s.study_uid])
    )
    if existing:
        # checked before anything is written, so a refused study leaves no rows behind
        stored_patient = int(existing[0]["patient_id"])
        _key, found, _first = find_patient(db, rec.patient, tally.patient_scope)
        if found is None or person_of(db, found) != person_of(db, stored_patient):
            if _all_stored(db, rec) and _scope_of(db, stored_patient) == LEGACY_SCOPE:
                return  # stored before patients had scopes; nothing new to add
            tally.notes.append(
                ImportNote(
                    _("Study {uid} belongs to another patient in the archive; not merged.").format(
                        uid=s.study_uid
                    ),
                    "error",
                )
            )
            return
    scanner = _real_scanner(db, rec.scanner, tally, len(rec.scans) or 1)
    if scanner is None:
        return
    scanner_id = ensure_scanner(db, scanner)
    patient_id = (
        int(existing[0]["patient_id"])
        if existing
        else ensure_patient(db, rec.patient, tally, tally.patient_scope)
    )
    if existing:
        study_id = int(existing[0]["id"])
    else:
        # the worklist's stored state, set here so that storing the results (whose trigger
        # keeps it for any other writer) does not change the study row a second time
        has_results = any(
            scan.results
            and _one(db, "SELECT id FROM scans WHERE source_key = ?", [scan.source_key]) is None
            for scan in rec.scans
        )
        study_id = _insert(
            db,
            "INSERT INTO studies (study_uid, patient_id, scanner_id, study_date, accession,"
            " referrer, indication, height_cm, weight_kg, menopausal, created_at, has_results)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                int(has_results),
            ],
        )
    imported = now_iso()
    if rec.source_identity is not None:
        _store_identity(db, study_id, rec, tally)
    scan_ids: list[int] = []
    for scan in rec.scans:
        if _one(db, "SELECT id FROM scans WHERE source_key = ?", [scan.source_key]) is not None:
            continue
        version = scan.software_version or scanner.software_version
        scan_id = _insert(
            db,
            "INSERT INTO scans (source_key, study_id, scanner_id, scan_type, side, acquired_at,"
            " scan_mode, operator, software_version, imported_at, height_cm, weight_kg)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                scan.source_key,
                study_id,
                scanner_id,
                str(scan.scan_type),
                str(scan.side) if scan.side else None,
                scan.acquired_at.isoformat(),
                scan.scan_mode,
                scan.operator,
                version,
                imported,
                scan.height_cm,
                scan.weight_kg,
            ],
        )
        scan_ids.append(scan_id)
        _seen_version(db, scanner_id, version, scan.acquired_at.isoformat(), scan.source_key, tally)
        for m in scan.measurements:
            db.execute(
                "INSERT INTO additional_measurements (scan_id, source_table, name, label, value,"
                " unit) VALUES (?, ?, ?, ?, ?, ?)",
                [scan_id, m.table, m.name, m.label, m.value, m.unit],
            )
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
    if rec.risk_factors:
        _store_risk(db, study_id, rec, tally)
    # an image that is the file of the study's only scan (a Hologic scan) points at it
    image_scan = scan_ids[0] if len(rec.scans) == 1 and len(scan_ids) == 1 else None
    for img in rec.images:
        _store_image(db, study_id, img, image_scan, imported, tally)


def _store_risk(db: Database, study_id: int, rec: StudyRecord, tally: _Tally) -> None:
    """Store the questionnaire a source gave as a new version, unless these answers are in.

    The key is the study and the answers, so importing the same file again adds nothing and
    a later file with changed answers adds a version (the older one stays).
    """
    from dxa_app.archive.risk import insert_risk_version

    answers = dict(rec.risk_factors)
    text = json.dumps(answers, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    source = rec.source_identity.source if rec.source_identity is not None else "import"
    insert_risk_version(
        db,
        study_id,
        answers,
        source="import",
        by=f"import:{source}",
        source_key=f"{source}:risk_factors:{rec.study.study_uid}:{digest}",
    )


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
    db: Database,
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
        already = tally.stored.get(img.sha256)
        stored, size = already or put(tally.images, Path(img.file_path), img.sha256)
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


def _store_identity(db: Database, study_id: int, rec: StudyRecord, tally: _Tally) -> None:
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


def _insert_identity(db: Database, study_id: int, ident: SourceIdentity, source_key: str) -> None:
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


def _store_phantom_scan(db: Database, rec: PhantomScanRecord, tally: _Tally) -> None:
    if _one(db, "SELECT id FROM phantom_scans WHERE source_key = ?", [rec.source_key]) is not None:
        return
    scanner = _real_scanner(db, rec.scanner, tally, 1)
    if scanner is None:
        return
    scanner_id = ensure_scanner(db, scanner)
    phantom_id = ensure_phantom(db, rec.phantom)
    round_id = None
    if rec.round_name:
        kind = "acceptance" if rec.purpose == "acceptance" else "travelling_phantom"
        round_id = _ensure_round(db, rec.round_name, kind, phantom_id)
    scan_id = _insert(
        db,
        "INSERT INTO phantom_scans (source_key, phantom_id, scanner_id, acquired_at, purpose,"
        " round_id, operator, repositioned, imported_at, software_version)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            scanner.software_version,
        ],
    )
    _seen_version(
        db,
        scanner_id,
        scanner.software_version,
        rec.acquired_at.isoformat(),
        rec.source_key,
        tally,
    )
    for r in rec.results:
        db.execute(
            "INSERT INTO phantom_results (phantom_scan_id, region, bmd_g_cm2, bmc_g, area_cm2)"
            " VALUES (?, ?, ?, ?, ?)",
            [scan_id, str(r.region), r.bmd_g_cm2, r.bmc_g, r.area_cm2],
        )


def _store_certificate(db: Database, cert: PhantomCertificate, tally: _Tally) -> None:
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


def _store_vfa(db: Database, rec: VfaReadingRecord, tally: _Tally) -> None:
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
    db: Database,
    parsed: ParsedSource,
    stored: Mapping[str, tuple[str, int]] | None = None,
) -> tuple[int, tuple[ImportNote, ...]]:
    """Store everything one source yielded, in one transaction.

    Parameters
    ----------
    db : Database
        The open archive.
    parsed : ParsedSource
        What a reader made of one file.
    stored : mapping, optional
        Image files the reading step wrote into the image store itself
        (:func:`~dxa_app.archive.images.put_new_bytes`): SHA-256 -> (path, size); they are
        not copied again.

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
    tally = _Tally(
        images=store_folder(db),
        scope=parsed.scope,
        patient_scope=f"reader:{parsed.reader}",
        stored=stored or {},
    )
    before = db.conn.total_changes
    last_patient = db.execute("SELECT max(id) FROM patients").fetchone()[0] or 0
    last_scan = db.execute("SELECT max(id) FROM scans").fetchone()[0] or 0
    last_result = db.execute("SELECT max(id) FROM region_results").fetchone()[0] or 0
    with write_transaction(db):
        for cert in parsed.certificates:
            _store_certificate(db, cert, tally)
        for study in parsed.studies:
            _store_study(db, study, tally)
        for ps in parsed.phantom_scans:
            _store_phantom_scan(db, ps, tally)
        for vfa in parsed.vfa_readings:
            _store_vfa(db, vfa, tally)
        _version_notes(db, tally)
    _refusal_notes(tally)
    # each new patient's search terms are a trigger's changes, not rows added
    # (each patient's terms are distinct, so the trigger inserted every one of them)
    derived = db.execute(
        "SELECT coalesce(sum(json_array_length(dxa_search_terms(name, identifier))), 0)"
        " FROM patients WHERE id > ?",
        [last_patient],
    ).fetchone()[0]
    # and so is a study's count of results (one per result) and its scan types (one per scan
    # of a type new to its study): migration 0024
    derived += db.execute(
        "SELECT (SELECT count(*) FROM region_results WHERE id > ?) + (SELECT count(*)"
        " FROM scans s WHERE s.id > ? AND NOT EXISTS (SELECT 1 FROM scans e"
        " WHERE e.study_id = s.study_id AND e.scan_type = s.scan_type AND e.id < s.id))",
        [last_result, last_scan],
    ).fetchone()[0]
    return db.conn.total_changes - before - derived, tuple(tally.notes)


def log_import(db: Database, batch: str, outcome: ImportOutcome) -> None:
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
