"""Read-only queries over the archive that return domain summaries for the CLI and GUI."""

from __future__ import annotations

import sqlite_utils

from dxa_app.archive.patients import PERSON_CTE, person_members
from dxa_app.archive.store import parse_date
from dxa_app.domain import ArchiveCounts, PatientSummary, Sex, StudySummary


def counts(db: sqlite_utils.Database) -> ArchiveCounts:
    """Return how many sites, scanners, patients, studies, scans and phantom scans are stored."""

    def n(table: str) -> int:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    return ArchiveCounts(
        sites=n("sites"),
        scanners=n("scanners"),
        patients=n("patients"),
        studies=n("studies"),
        scans=n("scans"),
        region_results=n("region_results"),
        phantom_scans=n("phantom_scans"),
        vfa_readings=n("vfa_readings"),
        images=n("images"),
    )


def _fold(text: str | None) -> str | None:
    """Case-fold for searching (SQLite's own lower() leaves æ, ø, å as they are)."""
    return text.casefold() if text is not None else None


def _like(term: str) -> str:
    """Return ``%term%`` with the LIKE wildcards in ``term`` escaped (escape character ``\\``)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _patient_filter(search: str) -> tuple[str, list[object]]:
    """Return the SQL condition (on a patient row ``q``) and parameters for a search text.

    Digits (with or without the CPR hyphen, at least four) search the identifier; anything
    else must match every word in the name or the identifier, case-insensitively.
    """
    text = " ".join(search.split())
    digits = text.replace("-", "").replace(" ", "")
    if len(digits) >= 4 and digits.isdigit():
        return (
            "replace(replace(q.identifier, '-', ''), ' ', '') LIKE ? ESCAPE '\\'",
            [_like(digits)],
        )
    conditions: list[str] = []
    params: list[object] = []
    for word in text.replace("^", " ").split():
        conditions.append(
            "(dxa_fold(replace(q.name, '^', ' ')) LIKE ? ESCAPE '\\'"
            " OR dxa_fold(q.identifier) LIKE ? ESCAPE '\\')"
        )
        folded = _like(word.casefold())
        params += [folded, folded]
    return " AND ".join(conditions) or "1", params


def list_patients(db: sqlite_utils.Database, search: str = "") -> list[PatientSummary]:
    """Return every person (a patient row and the rows merged into it) with their studies.

    A patient merged into another is not listed on its own: its studies count for the
    patient it was merged into.

    Parameters
    ----------
    db : sqlite_utils.Database
        The archive.
    search : str
        Only the persons whose CPR number (digits, with or without the hyphen) or name
        (every word, any case) matches, in any of their merged rows; empty: everyone.
    """
    params: list[object] = []
    matching = ""
    if search.strip():
        condition, params = _patient_filter(search)
        db.conn.create_function("dxa_fold", 1, _fold, deterministic=True)
        matching = f"""AND EXISTS (
            SELECT 1 FROM person m JOIN patients q ON q.id = m.pid
            WHERE m.rid = p.id AND {condition})"""
    sql = f"""
        {PERSON_CTE}
        SELECT p.id, p.identifier, p.name, p.birth_date, p.sex,
               count(s.id) AS n_studies, max(s.study_date) AS last_study
        FROM patients p
        JOIN person pe ON pe.rid = p.id
        LEFT JOIN studies s ON s.patient_id = pe.pid
        WHERE p.id NOT IN (SELECT patient_id FROM patient_merges WHERE unmerged_at IS NULL)
        {matching}
        GROUP BY p.id ORDER BY p.name, p.identifier
    """
    return [
        PatientSummary(
            id=r["id"],
            identifier=r["identifier"],
            name=r["name"],
            birth_date=parse_date(r["birth_date"]),
            sex=Sex(r["sex"]) if r["sex"] else None,
            n_studies=r["n_studies"],
            last_study=parse_date(r["last_study"]),
        )
        for r in db.query(sql, params)
    ]


def list_studies(db: sqlite_utils.Database, patient_id: int | None = None) -> list[StudySummary]:
    """Return the studies of one person (all their merged patient rows), or of everyone."""
    params: list[object] = []
    where = ""
    if patient_id is not None:
        params = list(person_members(db, patient_id))
        where = f"WHERE st.patient_id IN ({','.join('?' * len(params))})"
    sql = f"""
        SELECT st.id, st.study_uid, st.patient_id, p.identifier, p.name, st.study_date,
               coalesce(si.code, '') AS site, sc.manufacturer, sc.model, sc.serial,
               (SELECT group_concat(DISTINCT scan_type) FROM scans WHERE study_id = st.id)
                   AS scan_types,
               (SELECT count(*) FROM region_results rr JOIN scans x ON rr.scan_id = x.id
                WHERE x.study_id = st.id) AS n_results
        FROM studies st
        JOIN patients p ON p.id = st.patient_id
        JOIN scanners sc ON sc.id = st.scanner_id
        LEFT JOIN sites si ON si.id = sc.site_id
        {where}
        ORDER BY st.study_date DESC, st.id DESC
    """
    out: list[StudySummary] = []
    for r in db.query(sql, params):
        date = parse_date(r["study_date"])
        assert date is not None
        out.append(
            StudySummary(
                id=r["id"],
                study_uid=r["study_uid"],
                patient_id=r["patient_id"],
                patient_identifier=r["identifier"],
                patient_name=r["name"],
                study_date=date,
                site=r["site"],
                manufacturer=r["manufacturer"],
                model=r["model"],
                serial=r["serial"],
                scan_types=tuple(sorted((r["scan_types"] or "").split(",")))
                if r["scan_types"]
                else (),
                n_results=r["n_results"],
            )
        )
    return out
