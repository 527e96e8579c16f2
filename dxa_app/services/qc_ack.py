"""QC alarms of a scanner's daily phantom series and their acknowledgements (who, when, why)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from calibration.qc import RULES
from dxa_app.archive import write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.db import now_iso
from dxa_app.errors import UsageError
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting, record
from dxa_app.services.calibration import ScannerQc

#: The rule name of a CUSUM alarm (Westgard hits keep their own rule names).
CUSUM_RULE = "CUSUM"
#: An acknowledgement of a whole scan is stored with this prefix and the rules that fired
#: ("scan: 1-3s, limit, CUSUM"); older rows name one rule each and stay readable.
SCAN_RULE_PREFIX = "scan:"


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
    """One alarmed QC scan: every rule that fired on it (Westgard and CUSUM) in one row.

    ``rule`` lists the rules as shown ("1-3s, limit, CUSUM"); ``rules`` holds them one by
    one. ``severity`` is "reject" when a reject rule fired or the CUSUM alarmed, else
    "warning". ``kind`` is "westgard" when a Westgard rule fired, else "cusum".
    """

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
    rules: tuple[str, ...] = ()
    westgard_severity: str = ""
    cusum: bool = False

    @property
    def acknowledged(self) -> bool:
        """Whether somebody has acknowledged this scan's alarm."""
        return bool(self.acknowledged_by)


def list_acknowledgements(db: Database, scanner_id: int | None = None) -> list[QcAcknowledgement]:
    """Return the stored acknowledgements (of one scanner, or all), oldest first.

    Parameters
    ----------
    db : Database
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


def _covering(rules: Sequence[str], acks: Sequence[QcAcknowledgement]) -> QcAcknowledgement | None:
    """Return the acknowledgement that covers a scan's rules, or None.

    A whole-scan one (stored since issue 14), or earlier per-rule ones that together cover
    every rule (the latest of them).
    """
    whole = [k for k in acks if k.rule.startswith(SCAN_RULE_PREFIX)]
    if whole:
        return whole[-1]
    per_rule = {k.rule: k for k in acks}
    if rules and all(r in per_rule for r in rules):
        return max((per_rule[r] for r in rules), key=lambda k: k.id)
    return None


def qc_alarms(qc: ScannerQc, acknowledgements: Iterable[QcAcknowledgement] = ()) -> list[QcAlarm]:
    """Return one alarm row per alarmed QC scan of every segment, marked when acknowledged.

    Parameters
    ----------
    qc : ScannerQc
        One scanner's analysis from :func:`dxa_app.services.calibration.qc_status`.
    acknowledgements : iterable of QcAcknowledgement
        The scanner's acknowledgements. A scan is acknowledged by a whole-scan
        acknowledgement, or (acknowledgements stored before issue 14, one per rule) when every
        rule that fired on it was acknowledged.

    Returns
    -------
    list of QcAlarm
        One row per alarmed scan in series order (empty without a baseline).
    """
    acks: dict[int | None, list[QcAcknowledgement]] = {}
    for k in acknowledgements:
        if k.scanner_id == qc.scanner_id:
            acks.setdefault(k.phantom_scan_id, []).append(k)
    fired: dict[int, dict[str, str]] = {}
    for seg in qc.segments:
        a = seg.analysis
        if a is None:
            continue
        for hit in a.hits:
            fired.setdefault(hit.index, {})[hit.rule] = hit.severity
        for i in a.cusum.alarms:
            fired.setdefault(i, {})[CUSUM_RULE] = "reject"
    out: list[QcAlarm] = []
    for index in sorted(fired):
        by_rule = fired[index]
        rules = tuple(r for r in (*RULES, CUSUM_RULE) if r in by_rule)
        westgard = [by_rule[r] for r in rules if r != CUSUM_RULE]
        w_sev = "reject" if "reject" in westgard else ("warning" if westgard else "")
        has_cusum = CUSUM_RULE in by_rule
        scan_id = qc.phantom_scan_ids[index] if index < len(qc.phantom_scan_ids) else None
        alarm = QcAlarm(
            qc.scanner_id,
            qc.serial,
            index,
            qc.dates[index],
            qc.values[index],
            scan_id,
            ", ".join(rules),
            "reject" if w_sev == "reject" or has_cusum else "warning",
            "westgard" if westgard else "cusum",
            rules=rules,
            westgard_severity=w_sev,
            cusum=has_cusum,
        )
        ack = _covering(rules, acks.get(scan_id, []))
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
    """Return the open alarm row of the newest alarmed scan (what "today" asks for).

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
    """Store an acknowledgement for each alarmed scan (all its rules), one audit entry each.

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
            rule = f"{SCAN_RULE_PREFIX} {alarm.rule}"
            cur = db.execute(
                "INSERT INTO qc_acknowledgements (scanner_id, phantom_scan_id, rule, username,"
                " at, comment) VALUES (?, ?, ?, ?, ?, ?)",
                [alarm.scanner_id, alarm.phantom_scan_id, rule, by, at, comment.strip()],
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
                    rule,
                    by,
                    at,
                    comment.strip(),
                )
            )
    return out
