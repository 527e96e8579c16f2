"""Issue 13: one person per person (scoped identifiers, possible duplicates, merge, un-merge)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.archive.store import store_parsed
from dxa_app.archive.studies import prior_studies
from dxa_app.domain import IdType, PatientIdentity, Role, Sex, StudyInfo, StudyRecord
from dxa_app.errors import PermissionDeniedError, UsageError
from dxa_app.services.browse import patients
from dxa_app.services.patients import duplicates, merge, merge_history, person, unmerge
from tests.factories import parsed, patient, study_record
from tests.sessions import session_as

FIRST = patient(1, birth=dt.date(1950, 3, 1))
#: The same CPR number with another birth date: a typing error, or another person.
OTHER_BIRTH = dataclasses.replace(FIRST, birth_date=dt.date(1950, 3, 2), name="Søs Testperson")


def _at(record: StudyRecord, day: dt.date) -> StudyRecord:
    return dataclasses.replace(record, study=StudyInfo(record.study.study_uid, day))


def _archive(tmp_path: Path) -> Path:
    """An archive with FIRST (2020) and the same CPR with another birth date (2024)."""
    path = tmp_path / "archive.dxa.sqlite"
    db = open_archive(path)
    try:
        store_parsed(db, parsed(_at(study_record(1, pat=FIRST), dt.date(2020, 5, 1))))
        _rows, notes = store_parsed(
            db, parsed(_at(study_record(2, pat=OTHER_BIRTH), dt.date(2024, 5, 1)))
        )
    finally:
        db.close()
    assert any("possible duplicate" in n.message for n in notes), notes
    return path


def _ids(path: Path) -> tuple[int, int, int]:
    """(first patient, flagged patient, the flagged patient's study)."""
    db = open_archive(path)
    try:
        first, flagged = (r[0] for r in db.execute("SELECT id FROM patients ORDER BY id"))
        study = db.execute("SELECT id FROM studies WHERE patient_id = ?", [flagged]).fetchone()[0]
    finally:
        db.close()
    return int(first), int(flagged), int(study)


def _priors(path: Path, patient_id: int) -> list[str]:
    db = open_archive(path)
    try:
        return [r["study_date"] for r in prior_studies(db, patient_id, "2024-05-01")]
    finally:
        db.close()


def _audit(path: Path, action: str) -> list[tuple[str, str]]:
    db = open_archive(path)
    try:
        return [
            (str(r[0]), str(r[1]))
            for r in db.execute(
                "SELECT username, details FROM audit_log WHERE action = ? ORDER BY id", [action]
            )
        ]
    finally:
        db.close()


def test_conflict_is_kept_apart_flagged_and_shown(tmp_path: Path) -> None:
    path = _archive(tmp_path)
    first, flagged, _study = _ids(path)
    doctor = session_as(path, Role.PHYSICIAN, "doc")
    [row] = duplicates(doctor)
    assert (row.patient.id, row.first.id, row.differs, row.merged) == (
        flagged,
        first,
        ("birth_date",),
        False,
    )
    listed = {p.id: p.possible_duplicate for p in patients(doctor)}
    assert listed == {first: False, flagged: True}
    # the comparison with a prior study stays within one person
    assert _priors(path, flagged) == []


def test_merge_and_unmerge_are_administrators_audited_and_reversible(tmp_path: Path) -> None:
    path = _archive(tmp_path)
    first, flagged, _study = _ids(path)
    for role in (Role.TECHNICIAN, Role.PHYSICIAN):
        with pytest.raises(PermissionDeniedError):
            merge(session_as(path, role), flagged, first, "same person")
    admin = session_as(path, Role.ADMIN, "admin")
    with pytest.raises(UsageError):
        merge(admin, flagged, first, "  ")
    merge_id = merge(admin, flagged, first, "birth date mistyped at the scanner")

    doctor = session_as(path, Role.PHYSICIAN, "doc")
    assert duplicates(doctor) == []
    [merged] = duplicates(doctor, include_merged=True)
    assert merged.merged
    [listed] = patients(doctor)  # one person, both studies, no flag
    assert (listed.id, listed.n_studies, listed.possible_duplicate) == (first, 2, False)
    assert {p.id for p in person(doctor, flagged)} == {first, flagged}
    assert _priors(path, flagged) == ["2020-05-01"]
    with pytest.raises(UsageError):
        merge(admin, flagged, first, "again")
    [(by, details)] = _audit(path, "patient_merge")
    assert by == "admin" and "birth date mistyped" in details

    assert unmerge(admin, flagged, "not the same person after all") == merge_id
    assert {p.id: p.possible_duplicate for p in patients(doctor)} == {first: False, flagged: True}
    assert _priors(path, flagged) == []
    [history] = merge_history(doctor)
    assert (history.id, history.merged_by, history.unmerged_by) == (merge_id, "admin", "admin")
    assert history.unmerge_reason == "not the same person after all"
    assert [by for by, _d in _audit(path, "patient_unmerge")] == ["admin"]
    with pytest.raises(UsageError):
        unmerge(admin, flagged, "twice")
    # nothing was rewritten: each study still belongs to the patient row it was imported as
    db = open_archive(path)
    try:
        owners = [r[0] for r in db.execute("SELECT patient_id FROM studies ORDER BY study_date")]
    finally:
        db.close()
    assert owners == [first, flagged]


def test_other_identifiers_count_only_within_their_scope(tmp_path: Path) -> None:
    """A PatientID that is not a CPR number is one person per issuer, never across issuers."""

    def dicom(n: int, issuer: str) -> StudyRecord:
        who = PatientIdentity(
            "12345", IdType.OTHER, "Test^Person", dt.date(1960, 1, 1), Sex.FEMALE, f"dicom:{issuer}"
        )
        return study_record(n, pat=who)

    path = tmp_path / "archive.dxa.sqlite"
    db = open_archive(path)
    try:
        for n, issuer in ((1, "OUH"), (2, "OUH"), (3, "AUH")):
            store_parsed(db, parsed(dicom(n, issuer)))
        rows = db.execute(
            "SELECT identity_key, duplicate_of, count(*) FROM patients p"
            " JOIN studies s ON s.patient_id = p.id GROUP BY p.id ORDER BY p.id"
        ).fetchall()
    finally:
        db.close()
    assert [tuple(r) for r in rows] == [
        ("id:dicom:OUH|12345", None, 2),
        ("id:dicom:AUH|12345", None, 1),
    ]
