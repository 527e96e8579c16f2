"""The signed report into the patient record: HL7 v2 and FHIR export, the HL7 outbox, sending.

User actions (each one function taking the session):

- :func:`export_record` writes the newest signed version as an HL7 v2 ORU^R01 or a FHIR R4
  Bundle to a file (``export STUDY --format hl7v2|fhir --out FILE``);
- :func:`send_hl7` queues the newest signed version in the outbox (once: a version is never
  queued twice) and delivers the study's pending messages to the configured receiver now;
- :func:`deliver_outbox` tries every message that is due (the back-off after a failure);
- :func:`retry_hl7` puts a message the receiver refused (AE) back in the queue;
- :func:`hl7_outbox` lists the outbox with the state of each message;
- :func:`hl7_receiver` / :func:`set_hl7_receiver` read and store the receiver (host, port,
  receiving application and facility) as an archive setting (administrator).

Delivery never loses and never duplicates: the message is stored once with its control id
(MSH-10) before the first attempt and sent byte for byte on every attempt. The acknowledgement
decides: AA delivers; AR (the receiver cannot take it now) and every transport failure (no
connection, dropped connection, no answer, an answer for another message) keep it queued with
exponential back-off; AE (the receiver cannot process this message) holds it as ``failed``
until someone looks at it and retries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dxa_app.archive import get_setting, set_setting, write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.outbox import (
    OutboxRow,
    claim,
    due_ids,
    enqueue,
    outbox_message,
    outbox_row,
    outbox_rows,
    patient_kind,
    queued_for_version,
    record_answer,
    requeue,
    run_diagnosis,
    run_scores,
    step_kinds,
)
from dxa_app.archive.reports import ReportVersion, stored_pdf, versions
from dxa_app.archive.studies import first_acquisition, received_identity, study_header, study_id_for
from dxa_app.archive.users import user_row
from dxa_app.errors import NotFoundError, UsageError
from dxa_app.fileio import write_owner_only
from dxa_app.i18n import _, translator
from dxa_app.record_out import codes
from dxa_app.record_out.hl7v2 import split_name
from dxa_app.record_out.model import PatientOut, RegionOut, ReportRecord, ScannerOut
from dxa_app.services.auth import Permission, Session, acting, record
from dxa_app.services.report_data import REPORT_REGIONS
from dxa_app.services.reporting import ReportError

__all__ = [
    "DeliveryReport",
    "ExportResult",
    "Hl7Receiver",
    "OutboxRow",
    "deliver_outbox",
    "export_record",
    "hl7_outbox",
    "hl7_receiver",
    "report_record",
    "retry_hl7",
    "send_hl7",
    "set_hl7_receiver",
]

#: The archive setting that holds the HL7 receiver.
RECEIVER_KEY = "hl7_receiver"
#: Back-off after a failed attempt: 30 s, doubled per attempt, at most an hour.
BACKOFF_FIRST_S = 30
BACKOFF_MAX_S = 3600
#: How long a claimed message is left to its sender before another may try it.
LEASE_S = 300
#: Seconds to wait for the receiver's connection and for its acknowledgement.
CONNECT_TIMEOUT_S = 10.0
ACK_TIMEOUT_S = 30.0
FORMATS = ("hl7v2", "fhir")


@dataclass(frozen=True)
class Hl7Receiver:
    """Where ORU^R01 messages go (MLLP over TCP) and how MSH names the receiver."""

    host: str
    port: int
    receiving_application: str = ""
    receiving_facility: str = ""
    sending_facility: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)

    @property
    def address(self) -> str:
        """Return ``host:port``."""
        return f"{self.host}:{self.port}"


def _checked(receiver: Hl7Receiver) -> Hl7Receiver:
    if not receiver.host.strip():
        raise UsageError(_("The HL7 receiver needs a host."), _("Fill in host and port."))
    if not 0 < int(receiver.port) < 65536:
        raise UsageError(
            _("The HL7 receiver's port must be between 1 and 65535."), _("Check the port number.")
        )
    for value in (
        receiver.receiving_application,
        receiver.receiving_facility,
        receiver.sending_facility,
    ):
        if len(value.strip()) > 180:
            raise UsageError(
                _("An HL7 application or facility name has at most 180 characters."),
                _("Shorten the name."),
            )
    return Hl7Receiver(
        receiver.host.strip(),
        int(receiver.port),
        receiver.receiving_application.strip(),
        receiver.receiving_facility.strip(),
        receiver.sending_facility.strip(),
    )


def _stored_receiver(db: Database) -> Hl7Receiver | None:
    value = get_setting(db, RECEIVER_KEY)
    if not isinstance(value, dict):
        return None
    try:
        return Hl7Receiver(
            str(value["host"]),
            int(value["port"]),
            str(value.get("receiving_application") or ""),
            str(value.get("receiving_facility") or ""),
            str(value.get("sending_facility") or ""),
        )
    except (KeyError, TypeError, ValueError):
        return None


def hl7_receiver(session: Session) -> Hl7Receiver | None:
    """Return the stored HL7 receiver, or None when none is set.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    Hl7Receiver or None
        The receiver.
    """
    with acting(session, Permission.VIEW) as db:
        return _stored_receiver(db)


def set_hl7_receiver(session: Session, receiver: Hl7Receiver) -> Hl7Receiver:
    """Store the HL7 receiver in the archive (administrator; every workstation sees it).

    Parameters
    ----------
    session : Session
        The acting administrator.
    receiver : Hl7Receiver
        Host, port, receiving application and facility, and this site's sending facility.

    Returns
    -------
    Hl7Receiver
        The stored (trimmed) receiver.

    Raises
    ------
    UsageError
        When the host or port is not valid.
    """
    receiver = _checked(receiver)
    with acting(session, Permission.SETTINGS) as db, write_transaction(db):
        set_setting(db, RECEIVER_KEY, receiver.to_dict())
        record(
            db,
            session,
            "setting_hl7_receiver",
            entity="setting",
            entity_id=RECEIVER_KEY,
            details=receiver.to_dict(),
        )
    return receiver


# --- the signed report as a record ---------------------------------------------------------


def _newest_signed(db: Database, study_id: int) -> ReportVersion:
    signed = [v for v in versions(db, study_id) if v.status != "draft"]
    if not signed:
        raise ReportError(
            _("Study {id} has no signed report to send.").format(id=study_id), _("Sign it first.")
        )
    return signed[-1]


def _tm(value: str) -> dt.time | None:
    digits = value.split(".")[0]
    try:
        if len(digits) >= 4:
            return dt.time(int(digits[0:2]), int(digits[2:4]), int(digits[4:6] or 0))
    except ValueError:
        return None
    return None


def _method(score: Any, kinds: dict[int, str], translate: Any) -> str:
    if not score.chain:
        return str(translate("raw scanner BMD (no approved calibration)"))
    steps = ", ".join(f"{i} ({kinds.get(i, '?')})" for i in score.chain)
    return str(
        translate("harmonised: BMD = {a} + {b} × raw; calibration steps {steps}").format(
            a=f"{score.chain_intercept:.4f}", b=f"{score.chain_slope:.4f}", steps=steps
        )
    )


def report_record(db: Database, study_id: int, v: ReportVersion) -> ReportRecord:
    """Assemble what one signed version sends into the record, from the archive.

    The identity is the study's as received (PatientID, issuer, name, accession, referrer);
    the numbers are the stored score run the version was signed on (so the record shows what
    the signed PDF shows, even after a recalibration).

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.
    v : ReportVersion
        A signed or amended version.

    Returns
    -------
    ReportRecord
        The record.
    """
    from calibration.rounding import format_bmd
    from reports.labels import category_label, region_label

    translate = translator(v.lang)
    st = study_header(db, study_id)
    received = received_identity(db, study_id)
    id_type, _scope = patient_kind(db, study_id)
    identifier = received.patient_id if received and received.patient_id else st["identifier"]
    issuer = received.issuer_of_patient_id if received else ""
    name = received.patient_name if received and received.patient_name else st["name"]
    family, given, middle = split_name(name)
    accession = (received.accession if received else "") or st["accession"]
    referrer = (received.referring_physician if received else "") or st["referrer"]
    study_time = _tm(received.study_time) if received and received.study_time else None
    if study_time is None:
        first = first_acquisition(db, study_id)
        study_time = dt.datetime.fromisoformat(first).time().replace(tzinfo=None) if first else None
    scores = run_scores(db, study_id, v.score_run) if v.score_run else []
    kinds = step_kinds(db, tuple(sorted({i for s in scores for i in s.chain})))
    regions = tuple(
        RegionOut(
            s.region,
            s.side,
            region_label(s.region, translate, s.side),
            format_bmd(s.harmonised_bmd),
            s.t_printed,
            s.z_printed,
            bool(s.chain),
            _method(s, kinds, translate),
            s.t_reference,
            s.z_reference,
        )
        for s in scores
        if s.region in REPORT_REGIONS
    )
    diagnosis = run_diagnosis(db, study_id, v.score_run or "") or {}
    category = str(diagnosis.get("category") or "")
    signer = user_row(db, v.signed_by or "")
    return ReportRecord(
        study_uid=st["study_uid"],
        accession=accession,
        report_id=f"DXA-{study_id:06d}",
        study_date=dt.date.fromisoformat(st["study_date"]),
        study_time=study_time,
        patient=PatientOut(
            identifier=identifier,
            issuer=issuer,
            cpr=st["identifier"].replace("-", "") if id_type == "cpr" else None,
            family=family,
            given=given,
            middle=middle,
            birth_date=dt.date.fromisoformat(st["birth_date"]) if st["birth_date"] else None,
            sex=st["sex"] or "",
        ),
        referrer=referrer,
        site_name=st["site_name"],
        scanner=ScannerOut(st["manufacturer"], st["model"], st["serial"], st["software_version"]),
        version_no=v.version_no,
        corrected=v.status == "amended",
        amend_reason=v.amend_reason,
        signed_by=(signer.display_name if signer and signer.display_name else v.signed_by or ""),
        signed_at=dt.datetime.fromisoformat(v.signed_at or "1970-01-01T00:00:00+00:00"),
        lang=v.lang,
        conclusion=str(v.content.get("conclusion") or ""),
        recommendation=str(v.content.get("recommendation") or ""),
        category=category,
        category_label=category_label(category, translate) if category else "",
        score_kind=str(diagnosis.get("score_kind") or ""),
        regions=regions,
        pdf=stored_pdf(db, v.id),
        title=str(translate("DXA report")),
    )


def _new_control_id() -> str:
    """A message control id (MSH-10, at most 20 characters), unique across archives."""
    return "DXA" + uuid.uuid4().hex[:17].upper()


def _utc(when: dt.datetime | None = None) -> dt.datetime:
    return (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)


def _oru(db: Database, study_id: int, v: ReportVersion, control_id: str) -> str:
    from dxa_app.record_out.hl7v2 import oru_r01

    receiver = _stored_receiver(db)
    return oru_r01(
        report_record(db, study_id, v),
        control_id=control_id,
        created_at=_utc(),
        sending_facility=receiver.sending_facility if receiver else "",
        receiving_application=receiver.receiving_application if receiver else "",
        receiving_facility=receiver.receiving_facility if receiver else "",
    )


@dataclass(frozen=True)
class ExportResult:
    """A signed report written for the patient record."""

    study_id: int
    version_no: int
    format: str
    path: str
    bytes: int
    result_status: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def export_record(session: Session, study: str | int, fmt: str, out: Path) -> ExportResult:
    """Write the newest signed version of a study's report as HL7 v2 or FHIR to a file.

    The HL7 message is the one in the outbox when the version is queued (same control id),
    else one built now. The file is owner-only and never replaces a file. Audited (the
    report leaves the program).

    Parameters
    ----------
    session : Session
        The acting physician.
    study : str or int
        The study's archive id or Study Instance UID.
    fmt : str
        ``hl7v2`` (ER7, segments on separate lines) or ``fhir`` (JSON Bundle).
    out : Path
        The file to write (must not exist; its folder must).

    Returns
    -------
    ExportResult
        What was written.

    Raises
    ------
    UsageError
        For an unknown format, an existing file or a missing folder.
    ReportError
        When the study has no signed report.
    """
    from dxa_app.record_out.fhir import bundle

    if fmt not in FORMATS:
        raise UsageError(_("Unknown format {fmt}.").format(fmt=fmt), _("Use hl7v2 or fhir."))
    if out.exists():
        raise UsageError(
            _("{path} exists; the report is never written over a file.").format(path=out),
            _("Choose a new file name."),
        )
    if not out.parent.is_dir():
        raise UsageError(_("The folder {folder} does not exist.").format(folder=out.parent), "")
    with acting(session, Permission.SEND) as db:
        study_id = study_id_for(db, study)
        v = _newest_signed(db, study_id)
        if fmt == "hl7v2":
            queued = queued_for_version(db, v.id)
            message = (
                outbox_message(db, queued.id)
                if queued is not None
                else _oru(db, study_id, v, _new_control_id())
            )
            data = (message.replace("\r", "\r\n").rstrip("\r\n") + "\r\n").encode("utf-8")
        else:
            doc = bundle(report_record(db, study_id, v))
            data = (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        write_owner_only(out, data)
        record(
            db,
            session,
            "record_export",
            entity="study",
            entity_id=study_id,
            details={"format": fmt, "file": str(out), "version": v.version_no},
        )
    return ExportResult(
        study_id, v.version_no, fmt, str(out), len(data), "C" if v.status == "amended" else "F"
    )


# --- the outbox ----------------------------------------------------------------------------


def _queue(db: Database, session: Session, study_id: int) -> OutboxRow:
    v = _newest_signed(db, study_id)
    queued = queued_for_version(db, v.id)
    if queued is not None:
        return queued
    control_id = _new_control_id()
    message = _oru(db, study_id, v, control_id)
    row_id = enqueue(
        db,
        study_id=study_id,
        version_id=v.id,
        control_id=control_id,
        result_status="C" if v.status == "amended" else "F",
        message=message,
        message_sha256=hashlib.sha256(message.encode("utf-8")).hexdigest(),
        at=_utc().isoformat(),
        by=session.username,
    )
    record(
        db,
        session,
        "hl7_queue",
        entity="study",
        entity_id=study_id,
        details={"control_id": control_id, "version": v.version_no, "outbox_id": row_id},
    )
    row = outbox_row(db, row_id)
    assert row is not None
    return row


def _backoff(attempts: int) -> int:
    return int(min(BACKOFF_FIRST_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


def _attempt(
    db: Database,
    session: Session,
    row_id: int,
    receiver: Hl7Receiver,
    now: dt.datetime,
    *,
    force: bool,
) -> OutboxRow | None:
    """One delivery attempt of one row; None when another sender holds it."""
    from dxa_app.record_out.hl7v2 import AckError, read_ack
    from dxa_app.record_out.mllp import MllpError, exchange

    lease = (now + dt.timedelta(seconds=LEASE_S)).isoformat()
    if not claim(db, row_id, now=now.isoformat(), lease_until=lease, force=force):
        return None
    row = outbox_row(db, row_id)
    assert row is not None
    message = outbox_message(db, row_id)
    state, error, code, text = "pending", "", "", ""
    try:
        answer = exchange(
            receiver.host,
            receiver.port,
            message,
            connect_timeout=CONNECT_TIMEOUT_S,
            timeout=ACK_TIMEOUT_S,
        )
        ack = read_ack(answer)
    except MllpError as exc:
        error = _("No acknowledgement from {address} ({kind}): {detail}").format(
            address=receiver.address, kind=exc.kind, detail=exc.detail
        )
    except AckError as exc:
        error = _("The answer from {address} is not an HL7 acknowledgement: {detail}").format(
            address=receiver.address, detail=exc
        )
    else:
        code, text = ack.code, ack.text
        if ack.control_id != row.control_id:
            error = _("The acknowledgement is for another message ({id}).").format(
                id=ack.control_id
            )
        elif ack.accepted:
            state = "delivered"
        elif ack.code in ("AE", "CE"):
            state = "failed"
            error = _("The receiver could not process the message ({code}): {text}").format(
                code=ack.code, text=ack.text or "-"
            )
        else:
            error = _("The receiver rejected the message for now ({code}): {text}").format(
                code=ack.code, text=ack.text or "-"
            )
    done = _utc().isoformat()
    next_at = (
        now + dt.timedelta(seconds=_backoff(row.attempts)) if state == "pending" else now
    ).isoformat()
    record_answer(
        db,
        row_id,
        state=state,
        error=error,
        ack_code=code,
        ack_text=text,
        next_attempt_at=next_at,
        delivered_to=receiver.address if state == "delivered" else "",
        delivered_at=done if state == "delivered" else None,
    )
    record(
        db,
        session,
        "hl7_send",
        entity="study",
        entity_id=row.study_id,
        details={
            "control_id": row.control_id,
            "receiver": receiver.address,
            "attempt": row.attempts,
            "state": state,
            "ack": code,
            "error": error,
        },
    )
    return outbox_row(db, row_id)


def _receiver_or_error(db: Database) -> Hl7Receiver:
    receiver = _stored_receiver(db)
    if receiver is None:
        raise UsageError(
            _("No HL7 receiver is set."),
            _("Ask an administrator to set one ('hl7 receiver --host H --port P')."),
        )
    return receiver


def _deliver(
    db: Database,
    session: Session,
    ids: list[int],
    receiver: Hl7Receiver,
    now: dt.datetime,
    *,
    force: bool,
) -> list[OutboxRow]:
    """Try rows in queue order; a study whose earlier message failed waits (order kept)."""
    held: set[int] = set()
    tried: list[OutboxRow] = []
    for row_id in ids:
        row = outbox_row(db, row_id)
        if row is None or row.study_id in held:
            continue
        after = _attempt(db, session, row_id, receiver, now, force=force)
        if after is None:
            held.add(row.study_id)
            continue
        tried.append(after)
        if after.state != "delivered":
            held.add(row.study_id)
    return tried


def send_hl7(session: Session, study: str | int) -> list[OutboxRow]:
    """Queue the newest signed version of a study (once) and deliver its pending messages now.

    Parameters
    ----------
    session : Session
        The acting physician.
    study : str or int
        The study's archive id or Study Instance UID.

    Returns
    -------
    list of OutboxRow
        The study's outbox rows after the attempt, newest first.

    Raises
    ------
    UsageError
        When no receiver is set.
    ReportError
        When the study has no signed report.
    """
    with acting(session, Permission.SEND) as db:
        receiver = _receiver_or_error(db)
        study_id = study_id_for(db, study)
        _queue(db, session, study_id)
        now = _utc()
        ids = due_ids(db, now.isoformat(), study_id=study_id)
        _deliver(db, session, ids, receiver, now, force=True)
        return outbox_rows(db, study_id=study_id)


@dataclass(frozen=True)
class DeliveryReport:
    """What one pass over the outbox did."""

    tried: tuple[OutboxRow, ...]

    @property
    def delivered(self) -> int:
        """Return how many messages were delivered."""
        return sum(1 for r in self.tried if r.state == "delivered")

    @property
    def waiting(self) -> int:
        """Return how many stay queued (they are retried after their back-off)."""
        return sum(1 for r in self.tried if r.state == "pending")

    @property
    def failed(self) -> int:
        """Return how many the receiver refused (AE): they need a look and a retry."""
        return sum(1 for r in self.tried if r.state == "failed")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "delivered": self.delivered,
            "waiting": self.waiting,
            "failed": self.failed,
            "messages": [r.to_dict() for r in self.tried],
        }


def deliver_outbox(session: Session, *, now: dt.datetime | None = None) -> DeliveryReport:
    """Try every queued message that is due (its back-off has passed), oldest first.

    Parameters
    ----------
    session : Session
        The acting physician.
    now : datetime, optional
        The time that decides what is due (default: now).

    Returns
    -------
    DeliveryReport
        The messages tried and their new state.

    Raises
    ------
    UsageError
        When no receiver is set.
    """
    with acting(session, Permission.SEND) as db:
        receiver = _receiver_or_error(db)
        at = _utc(now)
        ids = due_ids(db, at.isoformat())
        return DeliveryReport(tuple(_deliver(db, session, ids, receiver, at, force=False)))


def retry_hl7(session: Session, outbox_id: int) -> OutboxRow:
    """Put a message the receiver refused (AE) back in the queue, due now; audited.

    The message and its control id stay as they were queued.

    Parameters
    ----------
    session : Session
        The acting physician.
    outbox_id : int
        The outbox row.

    Returns
    -------
    OutboxRow
        The row, pending again.

    Raises
    ------
    NotFoundError
        When there is no such row.
    UsageError
        When the row is not ``failed``.
    """
    with acting(session, Permission.SEND) as db:
        row = outbox_row(db, outbox_id)
        if row is None:
            raise NotFoundError(
                _("No outbox message {id}.").format(id=outbox_id), _("See 'hl7 outbox'.")
            )
        if not requeue(db, outbox_id, _utc().isoformat()):
            raise UsageError(
                _("Outbox message {id} is {state}; only a failed message is retried.").format(
                    id=outbox_id, state=row.state
                ),
                "",
            )
        record(
            db,
            session,
            "hl7_retry",
            entity="study",
            entity_id=row.study_id,
            details={"control_id": row.control_id, "outbox_id": outbox_id},
        )
        after = outbox_row(db, outbox_id)
        assert after is not None
        return after


def hl7_outbox(session: Session, study: str | int | None = None) -> list[OutboxRow]:
    """Return the outbox (one study's messages when given), newest first.

    Parameters
    ----------
    session : Session
        The logged-in user.
    study : str or int, optional
        The study's archive id or Study Instance UID.

    Returns
    -------
    list of OutboxRow
        The messages with their state, attempts, last error and acknowledgement.
    """
    with acting(session, Permission.VIEW) as db:
        study_id = None if study is None else study_id_for(db, study)
        return outbox_rows(db, study_id=study_id)


def code_table_version() -> str:
    """Return the version of the record-out code table (resources/record/dxa_codes.json)."""
    return codes.version()
