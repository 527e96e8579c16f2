"""One person per person: the possible duplicates, and an administrator's merges and un-merges.

A source record joins a stored patient only when a CPR number matches (any other identifier:
within its scope) and birth date and sex agree (:func:`dxa_app.archive.store.ensure_patient`);
a record that disagrees becomes a separate patient flagged as a possible duplicate. Whether two
such patients are one person is a human's decision: an administrator merges them (a row of its
own, audited; no patient or study is rewritten) and can un-merge them again.
"""

from __future__ import annotations

from dxa_app.archive import write_transaction
from dxa_app.archive.patients import (
    DuplicateRow,
    MergeRow,
    PatientRecord,
    merge_patients,
    merges,
    patient_record,
    person_members,
    possible_duplicates,
    unmerge_patient,
)
from dxa_app.services.auth import Permission, Session, acting, record

__all__ = [
    "DuplicateRow",
    "MergeRow",
    "PatientRecord",
    "duplicates",
    "merge",
    "merge_history",
    "person",
    "unmerge",
]


def duplicates(session: Session, *, include_merged: bool = False) -> list[DuplicateRow]:
    """Return the patients flagged as possible duplicates (newest first).

    Parameters
    ----------
    session : Session
        The logged-in user.
    include_merged : bool, optional
        Also those an administrator has merged already.

    Returns
    -------
    list of DuplicateRow
        Each flagged patient, the first patient of its identifier, and what differs.
    """
    with acting(session, Permission.VIEW) as db:
        return possible_duplicates(db, include_merged=include_merged)


def person(session: Session, patient_id: int) -> list[PatientRecord]:
    """Return the patient rows that are one person with ``patient_id`` (itself first).

    Parameters
    ----------
    session : Session
        The logged-in user.
    patient_id : int
        Any patient row.

    Returns
    -------
    list of PatientRecord
        The rows.
    """
    with acting(session, Permission.VIEW) as db:
        return [patient_record(db, m) for m in person_members(db, patient_id)]


def merge(session: Session, patient_id: int, into_patient_id: int, reason: str) -> int:
    """Record that two patients are one person (administrator; audited; reversible).

    Parameters
    ----------
    session : Session
        The acting administrator.
    patient_id : int
        The patient to join to the other person.
    into_patient_id : int
        Any patient row of the person it joins.
    reason : str
        Why they are one person (required).

    Returns
    -------
    int
        The merge's id.

    Raises
    ------
    PermissionDeniedError
        When the user is not an administrator.
    UsageError
        When the reason is empty or they are one person already.
    NotFoundError
        When a patient does not exist.
    """
    with acting(session, Permission.PATIENT_MERGE) as db, write_transaction(db):
        merge_id = merge_patients(db, patient_id, into_patient_id, reason, session.username)
        record(
            db,
            session,
            "patient_merge",
            entity="patient",
            entity_id=patient_id,
            details={"into": into_patient_id, "merge": merge_id, "reason": reason.strip()},
        )
    return merge_id


def unmerge(session: Session, patient_id: int, reason: str) -> int:
    """Undo the merge of a patient: it is its own person again (administrator; audited).

    Parameters
    ----------
    session : Session
        The acting administrator.
    patient_id : int
        The patient that was merged.
    reason : str
        Why (required).

    Returns
    -------
    int
        The id of the merge that was ended.

    Raises
    ------
    PermissionDeniedError
        When the user is not an administrator.
    UsageError
        When the reason is empty or the patient is not merged.
    """
    with acting(session, Permission.PATIENT_MERGE) as db, write_transaction(db):
        merge_id = unmerge_patient(db, patient_id, reason, session.username)
        record(
            db,
            session,
            "patient_unmerge",
            entity="patient",
            entity_id=patient_id,
            details={"merge": merge_id, "reason": reason.strip()},
        )
    return merge_id


def merge_history(session: Session) -> list[MergeRow]:
    """Return every merge, active and ended, newest first.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    list of MergeRow
        The merges.
    """
    with acting(session, Permission.VIEW) as db:
        return merges(db)
