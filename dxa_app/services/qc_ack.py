"""QC alarms of a scanner's daily phantom series and their acknowledgements (who, when, why)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import sqlite_utils

from dxa_app.archive import write_transaction
from dxa_app.archive.db import now_iso
from dxa_app.errors import UsageError
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting, record
from dxa_app.services.calibration import ScannerQc

#: The rule name stored for a CUSUM alarm (Westgard hits keep their own rule names).
CUSUM_RULE = "CUSUM"


@dataclass(frozen=True)
class QcAcknowledgement:
    """One stored acknowledgement of a QC alarm."""

    id: int
    scanner_id: int
    phantom_scan_id: int | None
    rule: str
    username: str
    at: str
    comment: str


@dataclass(frozen=True)
class QcAlarm:
    """One alarm point of a daily-QC series: a Westgard hit or a CUSUM alarm."""

    scanner_id: int
    serial: str
    index: int
    date: str
    value: float
    phantom_scan_id: int | None
    rule: str
    severity: str
    kind: str
    acknowledged_by: str = ""
    acknowledged_at: str = ""
    comment: str = ""

    @property
    def acknowledged(self) -> bool:
        """Whether somebody has acknowledged this alarm."""
        return bool(self.acknowledged_by)


def list_acknowledgements(
    db: sqlite_utils.Database, scanner_id: int | None = None
) -> list[QcAcknowledgement]:
    """Return the stored acknowledgements (of one scanner, or all), oldest first.

    Parameters
    ----------
    db : sqlite_utils.Database
        The open archive.
    scanner_id : int, optional
        Only this scanner's acknowledgements.

    Returns
    -------
    list of QcAcknowledgement
        The acknowledgements.
    """
    sql = "SELECT * FROM qc_acknowledgements"
    params: list[object] = []
    if scanner_id is not None:
        sql += " WHERE scanner_id = ?"
        params.append(scanner_id)
    return [
        QcAcknowledgement(
            r["id"],
            r["scanner_id"],
            r["phantom_scan_id"],
            r["rule"],
            r["username"],
            r["at"],
            r["comment"],
        )
        for r in db.query(sql + " ORDER BY id", params)
    ]


def qc_alarms(qc: ScannerQc, acknowledgements: Iterable[QcAcknowledgement] = ()) -> list[QcAlarm]:
    """Return the alarm points of one scanner's QC analysis, marked when acknowledged.

    Parameters
    ----------
    qc : ScannerQc
        One scanner's analysis from :func:`dxa_app.services.calibration.qc_status`.
    acknowledgements : iterable of QcAcknowledgement
        The scanner's acknowledgements; an alarm is acknowledged when one matches its
        phantom scan and rule (the latest one wins).

    Returns
    -------
    list of QcAlarm
        Westgard hits and CUSUM alarms in series order (empty without a baseline).
    """
    a = qc.analysis
    if a is None:
        return []
    acks = {
        (k.phantom_scan_id, k.rule): k for k in acknowledgements if k.scanner_id == qc.scanner_id
    }
    points: list[tuple[int, str, str, str]] = [
        (h.index, h.rule, h.severity, "westgard") for h in a.hits
    ]
    points += [(i, CUSUM_RULE, "reject", "cusum") for i in a.cusum.alarms]
    out: list[QcAlarm] = []
    for index, rule, severity, kind in sorted(points, key=lambda p: (p[0], p[3], p[1])):
        scan_id = qc.phantom_scan_ids[index] if index < len(qc.phantom_scan_ids) else None
        alarm = QcAlarm(
            qc.scanner_id,
            qc.serial,
            index,
            qc.dates[index],
            qc.values[index],
            scan_id,
            rule,
            severity,
            kind,
        )
        ack = acks.get((scan_id, rule))
        if ack is not None:
            alarm = replace(
                alarm, acknowledged_by=ack.username, acknowledged_at=ack.at, comment=ack.comment
            )
        out.append(alarm)
    return out


def scanner_alarms(session: Session, qc: ScannerQc) -> list[QcAlarm]:
    """Return one scanner's alarm points with their stored acknowledgements.

    Parameters
    ----------
    session : Session
        The logged-in user.
    qc : ScannerQc
        The scanner's analysis.

    Returns
    -------
    list of QcAlarm
        See :func:`qc_alarms`.
    """
    with acting(session, Permission.VIEW) as db:
        return qc_alarms(qc, list_acknowledgements(db, qc.scanner_id))


def latest_alarms(alarms: Sequence[QcAlarm]) -> list[QcAlarm]:
    """Return the unacknowledged alarms of the newest alarmed scan (what "today" asks for).

    Parameters
    ----------
    alarms : sequence of QcAlarm
        A scanner's alarms.

    Returns
    -------
    list of QcAlarm
        The open alarms at the highest series index that has any (empty when all are done).
    """
    open_alarms = [a for a in alarms if not a.acknowledged]
    if not open_alarms:
        return []
    last = max(a.index for a in open_alarms)
    return [a for a in open_alarms if a.index == last]


def acknowledge_alarms(
    session: Session,
    alarms: Sequence[QcAlarm],
    *,
    comment: str,
) -> list[QcAcknowledgement]:
    """Store an acknowledgement for each alarm, with one audit entry per alarm.

    Parameters
    ----------
    session : Session
        The acting technician.
    alarms : sequence of QcAlarm
        The alarms to acknowledge.
    comment : str
        What was checked or done (required: an acknowledgement must say why).

    Returns
    -------
    list of QcAcknowledgement
        The stored rows.

    Raises
    ------
    UsageError
        When no alarm is given or the comment is empty.
    PermissionDeniedError
        When the user may not acknowledge QC alarms.
    """
    if not alarms:
        raise UsageError(_("No QC alarm is selected."), _("Select the alarm to acknowledge."))
    if not comment.strip():
        raise UsageError(
            _("An acknowledgement needs a comment."),
            _("Write what was checked or done, e.g. 'phantom re-scanned, within limits'."),
        )
    by = session.username
    out: list[QcAcknowledgement] = []
    with acting(session, Permission.QC_ACK) as db, write_transaction(db):
        for alarm in alarms:
            at = now_iso()
            cur = db.execute(
                "INSERT INTO qc_acknowledgements (scanner_id, phantom_scan_id, rule, username,"
                " at, comment) VALUES (?, ?, ?, ?, ?, ?)",
                [alarm.scanner_id, alarm.phantom_scan_id, alarm.rule, by, at, comment.strip()],
            )
            ack_id = int(cur.lastrowid or 0)
            record(
                db,
                session,
                "qc_acknowledge",
                entity="qc_acknowledgement",
                entity_id=ack_id,
                details={
                    "serial": alarm.serial,
                    "date": alarm.date,
                    "rule": alarm.rule,
                    "severity": alarm.severity,
                    "value": alarm.value,
                    "comment": comment.strip(),
                },
            )
            out.append(
                QcAcknowledgement(
                    ack_id,
                    alarm.scanner_id,
                    alarm.phantom_scan_id,
                    alarm.rule,
                    by,
                    at,
                    comment.strip(),
                )
            )
    return out
