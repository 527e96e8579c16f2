"""The physician's worklist: studies waiting for a signed report, and saving an edited draft."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from dxa_app.archive.db import audit
from dxa_app.domain import Role, scanner_label
from dxa_app.errors import PermissionDeniedError
from dxa_app.i18n import _
from dxa_app.services.reporting import ReportVersion, save_draft

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
    db: sqlite_utils.Database,
    *,
    today: dt.date | None = None,
    include_signed: bool = False,
) -> list[PendingReport]:
    """Return the studies that wait for a report, oldest first.

    A study waits while no version of its report is signed. Only studies with measured
    results are listed (a report needs results).

    Parameters
    ----------
    db : sqlite_utils.Database
        The archive.
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
    for r in db.query(sql):
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


def save_edited_draft(
    db: sqlite_utils.Database,
    study_id: int,
    *,
    lang: str,
    level: str,
    conclusion: str,
    recommendation: str,
    user: str,
    role: Role,
) -> tuple[ReportVersion, bytes]:
    """Store the physician's conclusion and recommendation in the draft and log it.

    Parameters
    ----------
    db : sqlite_utils.Database
        The archive.
    study_id : int
        The study.
    lang, level : str
        "da"/"en" and "A"/"B".
    conclusion, recommendation : str
        The physician's text.
    user : str
        Who edits (audit log).
    role : Role
        The user's role; only a physician edits the conclusion.

    Returns
    -------
    tuple of (ReportVersion, bytes)
        The draft version and its rendered PDF.

    Raises
    ------
    PermissionDeniedError
        When the user is not a physician.
    """
    if role is not Role.PHYSICIAN:
        raise PermissionDeniedError(
            _("Only a physician can edit the conclusion of a report."),
            _("Ask a physician to read the report."),
        )
    version, pdf = save_draft(
        db,
        study_id,
        lang=lang,
        level=level,
        conclusion=conclusion,
        recommendation=recommendation,
        by=user,
    )
    details: dict[str, Any] = {
        "study_id": study_id,
        "version": version.version_no,
        "lang": lang,
        "level": level,
    }
    audit(
        db,
        "report_draft_save",
        username=user,
        entity="report_version",
        entity_id=version.id,
        details=details,
    )
    return version, pdf
