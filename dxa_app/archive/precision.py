"""The precision-study table family: store a study with its measurements, find the latest one.

"Latest" has one meaning everywhere (site fit, centre fit, report LSC): the study performed
most recently (``started``), then the one recorded last (``created_at``, then ``id``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dxa_app.archive.database import Database
from dxa_app.archive.db import now_iso

#: The one ordering rule for "latest precision study".
LATEST_ORDER = "started DESC, created_at DESC, id DESC"


@dataclass(frozen=True)
class PrecisionRow:
    """One stored precision study (without its measurements)."""

    id: int
    scanner_id: int
    region: str
    design: str
    started: str
    rms_sd_g_cm2: float | None
    rms_cv_pct: float | None
    df: int | None
    lsc_g_cm2: float | None


def latest_precision(db: Database, scanner_id: int, region: str) -> PrecisionRow | None:
    """Return the latest precision study of a scanner and region (see :data:`LATEST_ORDER`).

    Parameters
    ----------
    db : Database
        The open archive.
    scanner_id : int
        The scanner.
    region : str
        The region (e.g. ``L1-L4``, ``total_hip``).

    Returns
    -------
    PrecisionRow or None
        The study, or None when the scanner has none for the region.
    """
    rows = list(
        db.query(
            "SELECT * FROM precision_studies WHERE scanner_id = ? AND region = ?"
            f" AND rms_sd_g_cm2 IS NOT NULL ORDER BY {LATEST_ORDER} LIMIT 1",
            [scanner_id, region],
        )
    )
    if not rows:
        return None
    r = rows[0]
    return PrecisionRow(
        int(r["id"]),
        int(r["scanner_id"]),
        str(r["region"]),
        str(r["design"]),
        str(r["started"]),
        r["rms_sd_g_cm2"],
        r["rms_cv_pct"],
        r["df"],
        r["lsc_g_cm2"],
    )


def insert_precision_study(
    db: Database,
    *,
    scanner_id: int,
    region: str,
    technologist: str,
    design: str,
    started: str,
    rms_sd_g_cm2: float | None,
    rms_cv_pct: float | None,
    df: int | None,
    lsc_g_cm2: float | None,
    measurements: Iterable[tuple[str, int, float]],
) -> int:
    """Insert a precision study and its measurements; return the study's id.

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    scanner_id : int
        The scanner.
    region, technologist, design, started : str
        The study's columns (``started`` an ISO date).
    rms_sd_g_cm2, rms_cv_pct, df, lsc_g_cm2
        The results.
    measurements : iterable of (subject, repeat_no, bmd_g_cm2)
        Every scan.

    Returns
    -------
    int
        The new study's id.
    """
    cur = db.execute(
        "INSERT INTO precision_studies (scanner_id, region, technologist, design, started,"
        " rms_sd_g_cm2, rms_cv_pct, df, lsc_g_cm2, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            scanner_id,
            region,
            technologist,
            design,
            started,
            rms_sd_g_cm2,
            rms_cv_pct,
            df,
            lsc_g_cm2,
            now_iso(),
        ],
    )
    study_id = int(cur.lastrowid or 0)
    db.conn.executemany(
        "INSERT INTO precision_measurements (precision_study_id, subject, repeat_no, bmd_g_cm2)"
        " VALUES (?, ?, ?, ?)",
        [(study_id, s, int(n), float(v)) for s, n, v in measurements],
    )
    return study_id
