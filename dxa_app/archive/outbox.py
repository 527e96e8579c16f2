"""The HL7 outbox table family, and the stored numbers a signed report version was made from.

An outbox row is one signed report version queued for the patient record. Its message is
stored once, as built, with its control id; every delivery attempt sends exactly those bytes.
A delivery first *claims* the row (compare-and-set on its state and due time, which also sets
a lease), sends outside any transaction, then records the answer. A second process that
tries the same row at the same moment loses the claim and sends nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from dxa_app.archive.database import Database
from dxa_app.archive.db import write_transaction
from dxa_app.archive.scores import run_diagnosis as stored_run_diagnosis
from dxa_app.archive.scores import run_rows


@dataclass(frozen=True)
class OutboxRow:
    """One queued message and what became of it (without the message text)."""

    id: int
    study_id: int
    report_version_id: int
    control_id: str
    result_status: str
    state: str
    attempts: int
    next_attempt_at: str
    last_attempt_at: str | None
    last_error: str
    ack_code: str
    ack_text: str
    delivered_to: str
    delivered_at: str | None
    created_at: str
    created_by: str
    message_sha256: str
    version_no: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


_COLUMNS = (
    "o.id, o.study_id, o.report_version_id, o.control_id, o.result_status, o.state,"
    " o.attempts, o.next_attempt_at, o.last_attempt_at, o.last_error, o.ack_code, o.ack_text,"
    " o.delivered_to, o.delivered_at, o.created_at, o.created_by, o.message_sha256,"
    " rv.version_no"
)
_FROM = " FROM hl7_outbox o JOIN report_versions rv ON rv.id = o.report_version_id"


def _row(r: dict[str, Any]) -> OutboxRow:
    return OutboxRow(**r)


def outbox_rows(db: Database, *, study_id: int | None = None) -> list[OutboxRow]:
    """Return the outbox, newest first (one study's rows when ``study_id`` is given).

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int, optional
        Only this study.

    Returns
    -------
    list of OutboxRow
        The rows.
    """
    where, args = ("", []) if study_id is None else (" WHERE o.study_id = ?", [study_id])
    return [_row(r) for r in db.query(f"SELECT {_COLUMNS}{_FROM}{where} ORDER BY o.id DESC", args)]


def outbox_row(db: Database, row_id: int) -> OutboxRow | None:
    """Return one outbox row, or None."""
    rows = list(db.query(f"SELECT {_COLUMNS}{_FROM} WHERE o.id = ?", [row_id]))
    return _row(rows[0]) if rows else None


def queued_for_version(db: Database, version_id: int) -> OutboxRow | None:
    """Return the outbox row of a report version, or None when it was never queued."""
    rows = list(db.query(f"SELECT {_COLUMNS}{_FROM} WHERE o.report_version_id = ?", [version_id]))
    return _row(rows[0]) if rows else None


def outbox_message(db: Database, row_id: int) -> str:
    """Return the stored message of an outbox row (exactly as queued)."""
    rows = list(db.query("SELECT message FROM hl7_outbox WHERE id = ?", [row_id]))
    return str(rows[0]["message"]) if rows else ""


def enqueue(
    db: Database,
    *,
    study_id: int,
    version_id: int,
    control_id: str,
    result_status: str,
    message: str,
    message_sha256: str,
    at: str,
    by: str,
) -> int:
    """Queue a message (one per report version; the caller checks first) and return its id."""
    with write_transaction(db):
        cur = db.execute(
            "INSERT INTO hl7_outbox (study_id, report_version_id, control_id, result_status,"
            " message, message_sha256, next_attempt_at, created_at, created_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                study_id,
                version_id,
                control_id,
                result_status,
                message,
                message_sha256,
                at,
                at,
                by,
            ],
        )
        return int(cur.lastrowid or 0)


def due_ids(db: Database, now: str, *, study_id: int | None = None) -> list[int]:
    """Return the ids of pending rows due at ``now`` (a study's: all pending), oldest first."""
    if study_id is not None:
        rows = db.query(
            "SELECT id FROM hl7_outbox WHERE state = 'pending' AND study_id = ? ORDER BY id",
            [study_id],
        )
    else:
        rows = db.query(
            "SELECT id FROM hl7_outbox WHERE state = 'pending' AND next_attempt_at <= ?"
            " ORDER BY id",
            [now],
        )
    return [int(r["id"]) for r in rows]


def claim(db: Database, row_id: int, *, now: str, lease_until: str, force: bool) -> bool:
    """Claim a pending row for one delivery attempt (compare-and-set); False when lost.

    The claim counts the attempt, marks the row ``sending`` and moves its due time to
    ``lease_until``: another process neither sends it meanwhile nor waits for ever if this
    one dies (the lease runs out). ``force`` (a user's explicit send) claims a pending row
    that is not due yet, but never one within another attempt's lease.
    """
    due = "" if force else " AND next_attempt_at <= ?"
    args: list[Any] = [lease_until, now, row_id, now] + ([] if force else [now])
    with write_transaction(db):
        cur = db.execute(
            "UPDATE hl7_outbox SET attempts = attempts + 1, next_attempt_at = ?,"
            " last_attempt_at = ?, last_error = 'sending' WHERE id = ? AND state = 'pending'"
            " AND NOT (last_error = 'sending' AND next_attempt_at > ?)" + due,
            args,
        )
        return cur.rowcount == 1


def record_answer(
    db: Database,
    row_id: int,
    *,
    state: str,
    error: str,
    ack_code: str,
    ack_text: str,
    next_attempt_at: str,
    delivered_to: str = "",
    delivered_at: str | None = None,
) -> None:
    """Store the outcome of an attempt (delivered, failed, or pending again with its back-off)."""
    with write_transaction(db):
        db.execute(
            "UPDATE hl7_outbox SET state = ?, last_error = ?, ack_code = ?, ack_text = ?,"
            " next_attempt_at = ?, delivered_to = ?, delivered_at = ? WHERE id = ?",
            [
                state,
                error,
                ack_code,
                ack_text,
                next_attempt_at,
                delivered_to,
                delivered_at,
                row_id,
            ],
        )


def requeue(db: Database, row_id: int, now: str) -> bool:
    """Put a failed row back in the queue, due now (same message, same control id)."""
    with write_transaction(db):
        cur = db.execute(
            "UPDATE hl7_outbox SET state = 'pending', next_attempt_at = ?, last_error = ''"
            " WHERE id = ? AND state = 'failed'",
            [now, row_id],
        )
        return cur.rowcount == 1


# --- what a signed version was made from ---------------------------------------------------


@dataclass(frozen=True)
class RunScore:
    """One region's stored score in a score run (the numbers a signed report printed)."""

    region: str
    side: str | None
    harmonised_bmd: float
    raw_bmd: float
    chain: tuple[int, ...]
    chain_intercept: float
    chain_slope: float
    t_printed: str | None
    z_printed: str | None
    t_reference: str
    z_reference: str


def run_scores(db: Database, study_id: int, run: str) -> list[RunScore]:
    """Return the region scores of one stored score run, in stored order.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.
    run : str
        The score run (a report version's ``score_run``).

    Returns
    -------
    list of RunScore
        The scores as of the run (a run stores only the values that changed; the others
        are the earlier runs' rows), in the order the study is scored.
    """
    return [
        RunScore(
            r.score.region,
            r.side,
            r.score.harmonised_bmd,
            r.score.raw_bmd,
            r.score.chain,
            r.score.chain_intercept,
            r.score.chain_slope,
            r.score.t_printed,
            r.score.z_printed,
            r.score.t_reference,
            r.score.z_reference,
        )
        for r in run_rows(db, study_id, run)
    ]


def run_diagnosis(db: Database, study_id: int, run: str) -> dict[str, Any] | None:
    """Return the stored diagnosis of one score run (category, score kind, deciding region)."""
    d = stored_run_diagnosis(db, study_id, run)
    if d is None:
        return None
    return {
        "score_kind": d.score_kind,
        "category": d.category,
        "deciding_region": d.deciding_region,
        "printed_score": d.printed_score,
        "harmonised": int(d.harmonised),
    }


def step_kinds(db: Database, ids: tuple[int, ...]) -> dict[int, str]:
    """Return the kind (drift, scanner, national) of each calibration step id."""
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = db.query(f"SELECT id, kind FROM calibration_steps WHERE id IN ({marks})", list(ids))
    return {int(r["id"]): str(r["kind"]) for r in rows}


def patient_kind(db: Database, study_id: int) -> tuple[str, str]:
    """Return the study's patient's identifier type (``cpr``/``other``) and scope."""
    rows = list(
        db.query(
            "SELECT p.id_type, p.scope FROM studies st JOIN patients p ON p.id = st.patient_id"
            " WHERE st.id = ?",
            [study_id],
        )
    )
    return (str(rows[0]["id_type"]), str(rows[0]["scope"])) if rows else ("other", "")
