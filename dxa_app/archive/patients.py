"""The patients table family: one person per person, possible duplicates, merges and un-merges.

A patient row is what one source record became (see :func:`dxa_app.archive.store.ensure_patient`:
a CPR number joins records nationally, any other identifier only within its scope, and only
when birth date and sex agree). A *person* is a patient row together with the rows an
administrator merged into it: merges are rows of ``patient_merges``, never a rewrite of a
patient or a study, so an un-merge gives back exactly what was there. Whatever follows one
person (the patient list, a patient's studies, the prior study of a report) goes through
:data:`PERSON_CTE` or :func:`person_members`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dxa_app.archive.database import Database
from dxa_app.archive.db import now_iso
from dxa_app.domain import Sex
from dxa_app.errors import NotFoundError, UsageError
from dxa_app.i18n import _

#: A common table expression ``person(pid, rid)``: every patient row ``pid`` with the row
#: ``rid`` that stands for its person (itself, or where active merges lead).
PERSON_CTE = """
WITH RECURSIVE up(pid, rid) AS (
    SELECT id, id FROM patients
    UNION
    SELECT up.pid, m.into_patient_id FROM up
    JOIN patient_merges m ON m.patient_id = up.rid AND m.unmerged_at IS NULL
),
person(pid, rid) AS (
    SELECT pid, rid FROM up
    WHERE rid NOT IN (SELECT patient_id FROM patient_merges WHERE unmerged_at IS NULL)
)
"""


def _active_merges(db: Database) -> dict[int, int]:
    return {
        int(a): int(b)
        for a, b in db.execute(
            "SELECT patient_id, into_patient_id FROM patient_merges WHERE unmerged_at IS NULL"
        ).fetchall()
    }


def person_of(db: Database, patient_id: int) -> int:
    """Return the patient row that stands for the person of ``patient_id``.

    Parameters
    ----------
    db : Database
        The open archive.
    patient_id : int
        Any patient row.

    Returns
    -------
    int
        ``patient_id`` itself, or the row active merges lead it to.
    """
    merges = _active_merges(db)
    seen = {patient_id}
    while patient_id in merges:
        patient_id = merges[patient_id]
        if patient_id in seen:  # never written (merges refuse cycles); do not loop
            break
        seen.add(patient_id)
    return patient_id


def person_members(db: Database, patient_id: int) -> list[int]:
    """Return every patient row of the person of ``patient_id`` (itself first).

    Parameters
    ----------
    db : Database
        The open archive.
    patient_id : int
        Any patient row.

    Returns
    -------
    list of int
        The rows whose person is the same, ``patient_id`` first, then by id.
    """
    root = person_of(db, patient_id)
    # down from the person's row along active merges (not the whole archive's persons)
    rows = db.execute(
        """
        WITH RECURSIVE member(pid) AS (
            SELECT ?
            UNION
            SELECT m.patient_id FROM member
            JOIN patient_merges m ON m.into_patient_id = member.pid AND m.unmerged_at IS NULL
        )
        SELECT pid FROM member ORDER BY pid
        """,
        [root],
    )
    members = [int(r[0]) for r in rows.fetchall()]
    return [patient_id, *(m for m in members if m != patient_id)]


def _patient(db: Database, patient_id: int) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM patients WHERE id = ?", [patient_id]))
    if not rows:
        raise NotFoundError(
            _("No patient {id}.").format(id=patient_id), _("See 'patients' for the patient ids.")
        )
    return rows[0]


@dataclass(frozen=True)
class PatientRecord:
    """One patient row as a source made it (identifier as displayed, scope, identity key)."""

    id: int
    identifier: str
    id_type: str
    scope: str
    name: str
    birth_date: str | None
    sex: Sex | None
    n_studies: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "id": self.id,
            "identifier": self.identifier,
            "id_type": self.id_type,
            "scope": self.scope,
            "name": self.name,
            "birth_date": self.birth_date,
            "sex": None if self.sex is None else str(self.sex),
            "n_studies": self.n_studies,
        }


def patient_record(db: Database, patient_id: int) -> PatientRecord:
    """Return one patient row with its own number of studies.

    Parameters
    ----------
    db : Database
        The open archive.
    patient_id : int
        The row.

    Returns
    -------
    PatientRecord
        The row.

    Raises
    ------
    NotFoundError
        When no patient has that id.
    """
    r = _patient(db, patient_id)
    n = db.execute("SELECT count(*) FROM studies WHERE patient_id = ?", [patient_id]).fetchone()
    return PatientRecord(
        int(r["id"]),
        str(r["identifier"]),
        str(r["id_type"]),
        str(r["scope"]),
        str(r["name"]),
        r["birth_date"],
        Sex(r["sex"]) if r["sex"] else None,
        int(n[0]),
    )


@dataclass(frozen=True)
class DuplicateRow:
    """A patient made separate because its record disagreed with an earlier one of its key."""

    patient: PatientRecord
    first: PatientRecord
    differs: tuple[str, ...]
    merged: bool

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "patient": self.patient.to_dict(),
            "first": self.first.to_dict(),
            "differs": list(self.differs),
            "merged": self.merged,
        }


def possible_duplicates(db: Database, *, include_merged: bool = False) -> list[DuplicateRow]:
    """Return the patients flagged as possible duplicates, newest flag first.

    Parameters
    ----------
    db : Database
        The open archive.
    include_merged : bool, optional
        Also those already merged with their first patient (one person now).

    Returns
    -------
    list of DuplicateRow
        Each flagged patient with the first patient of its key and what differs
        (``birth_date``, ``sex``).
    """
    out: list[DuplicateRow] = []
    for r in db.query(
        "SELECT id, duplicate_of FROM patients WHERE duplicate_of IS NOT NULL ORDER BY id DESC"
    ):
        patient = patient_record(db, int(r["id"]))
        first = patient_record(db, int(r["duplicate_of"]))
        merged = person_of(db, patient.id) == person_of(db, first.id)
        if merged and not include_merged:
            continue
        differs = tuple(
            name
            for name, a, b in (
                ("birth_date", patient.birth_date, first.birth_date),
                ("sex", patient.sex, first.sex),
            )
            if a is not None and b is not None and a != b
        )
        out.append(DuplicateRow(patient, first, differs, merged))
    return out


def merge_patients(
    db: Database, patient_id: int, into_patient_id: int, reason: str, by: str
) -> int:
    """Record that ``patient_id`` is the same person as ``into_patient_id`` (rows unchanged).

    Parameters
    ----------
    db : Database
        The open archive (inside the caller's write transaction).
    patient_id : int
        The patient row to join to the other person.
    into_patient_id : int
        Any row of the person it joins; the merge points at that person's row.
    reason : str
        Why (required).
    by : str
        The administrator's user name.

    Returns
    -------
    int
        The merge's id.

    Raises
    ------
    NotFoundError
        When a patient does not exist.
    UsageError
        When the reason is empty, the rows already are one person, or ``patient_id`` is
        already merged into another person (un-merge that first).
    """
    _patient(db, patient_id)
    _patient(db, into_patient_id)
    if not reason.strip():
        raise UsageError(_("A merge needs a reason."), _("Say why they are one person."))
    into = person_of(db, into_patient_id)
    if person_of(db, patient_id) == into:
        raise UsageError(
            _("Patients {a} and {b} are already one person.").format(
                a=patient_id, b=into_patient_id
            ),
            "",
        )
    if patient_id in _active_merges(db):
        raise UsageError(
            _("Patient {id} is already merged into another person.").format(id=patient_id),
            _("Un-merge it first, or merge that person instead."),
        )
    cur = db.execute(
        "INSERT INTO patient_merges (patient_id, into_patient_id, reason, merged_at, merged_by)"
        " VALUES (?, ?, ?, ?, ?)",
        [patient_id, into, reason.strip(), now_iso(), by],
    )
    assert cur.lastrowid is not None
    return int(cur.lastrowid)


def unmerge_patient(db: Database, patient_id: int, reason: str, by: str) -> int:
    """End the active merge of ``patient_id``: it is its own person again (with its members).

    Parameters
    ----------
    db : Database
        The open archive (inside the caller's write transaction).
    patient_id : int
        The merged patient row.
    reason : str
        Why (required).
    by : str
        The administrator's user name.

    Returns
    -------
    int
        The id of the merge that was ended.

    Raises
    ------
    NotFoundError
        When the patient does not exist.
    UsageError
        When the reason is empty or the patient is not merged.
    """
    _patient(db, patient_id)
    if not reason.strip():
        raise UsageError(_("An un-merge needs a reason."), "")
    row = db.execute(
        "SELECT id FROM patient_merges WHERE patient_id = ? AND unmerged_at IS NULL",
        [patient_id],
    ).fetchone()
    if row is None:
        raise UsageError(
            _("Patient {id} is not merged into another patient.").format(id=patient_id),
            _("Un-merge the patient that was merged (see 'patients --merges')."),
        )
    db.execute(
        "UPDATE patient_merges SET unmerged_at = ?, unmerged_by = ?, unmerge_reason = ?"
        " WHERE id = ?",
        [now_iso(), by, reason.strip(), row[0]],
    )
    return int(row[0])


@dataclass(frozen=True)
class MergeRow:
    """One merge (active or ended)."""

    id: int
    patient_id: int
    into_patient_id: int
    reason: str
    merged_at: str
    merged_by: str
    unmerged_at: str | None
    unmerged_by: str | None
    unmerge_reason: str


def merges(db: Database) -> list[MergeRow]:
    """Return every merge, newest first (ended ones too).

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    list of MergeRow
        The merges.
    """
    return [
        MergeRow(
            int(r["id"]),
            int(r["patient_id"]),
            int(r["into_patient_id"]),
            str(r["reason"]),
            str(r["merged_at"]),
            str(r["merged_by"]),
            r["unmerged_at"],
            r["unmerged_by"],
            str(r["unmerge_reason"]),
        )
        for r in db.query("SELECT * FROM patient_merges ORDER BY id DESC")
    ]
