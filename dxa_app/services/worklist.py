"""The physician's worklist: the studies waiting for a signed report, oldest first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dxa_app.domain import scanner_label
from dxa_app.services.auth import Permission, Session, acting

#: Report states shown in the worklist.
NO_DRAFT = "none"
DRAFT = "draft"
SIGNED = "signed"
AMENDED = "amended"


@dataclass(frozen=True)
class PendingReport:
    """One study on the worklist, with how long it has waited and its report state."""

    study_id: int
    study_uid: str
    study_date: dt.date
    patient_id: int
    patient_identifier: str
    patient_name: str
    site: str
    manufacturer: str
    model: str
    serial: str
    days_waiting: int
    report_status: str
    version_no: int | None

    @property
    def scanner(self) -> str:
        """Return the scanner as "manufacturer model"."""
        return scanner_label(self.manufacturer, self.model)

    @property
    def signed(self) -> bool:
        """Return whether the newest version is signed (or a signed amendment)."""
        return self.report_status in (SIGNED, AMENDED)


def pending_reports(
    session: Session,
    *,
    today: dt.date | None = None,
    include_signed: bool = False,
) -> list[PendingReport]:
    """Return the studies that wait for a report, oldest first.

    A study waits while no version of its report is signed. Only studies with measured
    results are listed (a report needs results).

    Parameters
    ----------
    session : Session
        The logged-in user.
    today : datetime.date, optional
        The day the waiting time is counted to (default: today).
    include_signed : bool
        Also list studies whose report is signed (to read or amend them).

    Returns
    -------
    list of PendingReport
        Oldest study first (then by study id).
    """
    today = today or dt.date.today()
    where = [
        "EXISTS (SELECT 1 FROM region_results rr JOIN scans s ON s.id = rr.scan_id"
        " WHERE s.study_id = st.id)"
    ]
    if not include_signed:
        where.append("coalesce(rv.n_signed, 0) = 0")
    sql = f"""
        SELECT st.id, st.study_uid, st.study_date, st.patient_id, p.identifier, p.name,
               coalesce(si.code, '') AS site, sc.manufacturer, sc.model, sc.serial,
               rv.n_signed, rv.version_no, rv.status
        FROM studies st
        JOIN patients p ON p.id = st.patient_id
        JOIN scanners sc ON sc.id = st.scanner_id
        LEFT JOIN sites si ON si.id = sc.site_id
        LEFT JOIN (
            SELECT r.study_id,
                   sum(v.status <> 'draft') AS n_signed,
                   max(v.version_no) AS version_no,
                   (SELECT v2.status FROM report_versions v2 WHERE v2.report_id = r.id
                    ORDER BY v2.version_no DESC LIMIT 1) AS status
            FROM reports r JOIN report_versions v ON v.report_id = r.id
            GROUP BY r.id
        ) rv ON rv.study_id = st.id
        WHERE {" AND ".join(where)}
        ORDER BY st.study_date, st.id
    """
    out: list[PendingReport] = []
    with acting(session, Permission.VIEW) as db:
        rows = list(db.query(sql))
    for r in rows:
        date = dt.date.fromisoformat(str(r["study_date"])[:10])
        out.append(
            PendingReport(
                study_id=r["id"],
                study_uid=r["study_uid"],
                study_date=date,
                patient_id=r["patient_id"],
                patient_identifier=r["identifier"],
                patient_name=r["name"],
                site=r["site"],
                manufacturer=r["manufacturer"],
                model=r["model"],
                serial=r["serial"],
                days_waiting=max((today - date).days, 0),
                report_status=str(r["status"] or NO_DRAFT),
                version_no=r["version_no"],
            )
        )
    return out
