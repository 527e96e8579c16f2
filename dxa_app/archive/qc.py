"""The daily-QC table family: phantom series, baseline restarts and the drift steps behind them."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from dxa_app.archive.database import Database
from dxa_app.archive.db import now_iso


@dataclass(frozen=True)
class BaselineStart:
    """A point after which a scanner's daily QC takes a new baseline.

    ``after`` is an ISO timestamp; with ``strict`` the first QC scan strictly after it starts
    the new baseline (a drift correction fitted on the scans up to ``after``), otherwise the
    first scan at or after it (a service visit, a software change, a request).
    """

    after: str
    strict: bool
    kind: str  # on_demand, service, drift_correction, software_change
    reason: str
    by: str = ""
    ref: int | None = None  # the qc_baselines row or the drift step


@dataclass(frozen=True)
class QcScanner:
    """A scanner that has daily-QC scans; ``site_code`` is None without a site (sorts first)."""

    scanner_id: int
    serial: str
    model: str
    site_code: str | None


def archive_identity(db: Database) -> tuple[str, str]:
    """Return the archive's file and its id (what a per-archive cache is keyed on).

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    tuple of str
        The file's path ("" in memory) and the archive id ("" before it has one).
    """
    from dxa_app.archive.seal import archive_id

    row = db.execute("PRAGMA database_list").fetchone()
    return (str(row[2]) if row else "", archive_id(db, create=False) or "")


def qc_first_reading(db: Database, scanner_id: int, region: str) -> tuple[str, int]:
    """Return the time and id of a scanner's first daily-QC reading of a region.

    Parameters
    ----------
    db : Database
        The open archive.
    scanner_id : int
        The scanner.
    region : str
        The phantom region.

    Returns
    -------
    tuple
        ``(acquired_at, phantom scan id)``; ``("", 0)`` without readings.
    """
    row = db.execute(
        "SELECT ps.acquired_at, ps.id FROM phantom_scans ps"
        " JOIN phantom_results pr ON pr.phantom_scan_id = ps.id AND pr.region = ?"
        " WHERE ps.scanner_id = ? AND ps.purpose = 'daily_qc'"
        " ORDER BY ps.acquired_at, ps.id LIMIT 1",
        [region, scanner_id],
    ).fetchone()
    return ("", 0) if row is None else (str(row[0]), int(row[1]))


def qc_scanners(db: Database) -> list[QcScanner]:
    """Return every scanner that has daily-QC scans.

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    list of QcScanner
        By scanner id.
    """
    rows = db.execute(
        "SELECT sc.id, sc.serial, sc.model, si.code FROM scanners sc"
        " LEFT JOIN sites si ON si.id = sc.site_id WHERE EXISTS (SELECT 1 FROM phantom_scans ps"
        " WHERE ps.scanner_id = sc.id AND ps.purpose = 'daily_qc') ORDER BY sc.id"
    ).fetchall()
    return [
        QcScanner(int(r[0]), str(r[1]), str(r[2]), None if r[3] is None else str(r[3]))
        for r in rows
    ]


def phantom_scan_mark(db: Database, at: int | None = None) -> tuple[int, str]:
    """Return the newest phantom scan's id and source key (or those of scan ``at``).

    Phantom scans are append-only (no update, no delete) and each new one gets a higher id,
    so every QC series is unchanged while this mark is; :func:`qc_scanners_since` says which
    series changed after it.

    Parameters
    ----------
    db : Database
        The open archive.
    at : int, optional
        A phantom scan id (default: the newest).

    Returns
    -------
    tuple
        ``(id, source_key)``; ``(0, "")`` when there is no such scan.
    """
    if at is None:
        row = db.execute(
            "SELECT id, source_key FROM phantom_scans ORDER BY id DESC LIMIT 1"
        ).fetchone()
    else:
        row = db.execute("SELECT id, source_key FROM phantom_scans WHERE id = ?", [at]).fetchone()
    return (0, "") if row is None else (int(row[0]), str(row[1]))


def qc_scanners_since(db: Database, after_id: int) -> set[int]:
    """Return the scanners with a daily-QC phantom scan whose id is above ``after_id``.

    Parameters
    ----------
    db : Database
        The open archive.
    after_id : int
        A phantom scan id (from :func:`phantom_scan_mark`).

    Returns
    -------
    set of int
        Scanner ids (reads only the newer rows).
    """
    return {
        int(r[0])
        for r in db.execute(
            "SELECT DISTINCT scanner_id FROM phantom_scans WHERE id > ? AND purpose = 'daily_qc'",
            [after_id],
        ).fetchall()
    }


def scanner_qc_series(
    db: Database, scanner_id: int, region: str, after_id: int = 0
) -> list[tuple[int, str, float]]:
    """Return one scanner's daily-QC readings of one phantom region, by time.

    Parameters
    ----------
    db : Database
        The open archive.
    scanner_id : int
        The scanner.
    region : str
        The phantom region (``total`` by default in the QC views).
    after_id : int
        Only phantom scans with a higher id (from :func:`phantom_scan_mark`: the scans
        that arrived since); 0 reads them all.

    Returns
    -------
    list of tuple
        ``(phantom scan id, acquired_at, bmd_g_cm2)`` by acquisition time, then id.
    """
    rows: list[tuple[int, str, float]] = db.execute(
        "SELECT ps.id, ps.acquired_at, pr.bmd_g_cm2 FROM phantom_scans ps"
        " JOIN phantom_results pr ON pr.phantom_scan_id = ps.id AND pr.region = ?"
        " WHERE ps.scanner_id = ? AND ps.purpose = 'daily_qc' AND ps.id > ?"
        " ORDER BY ps.acquired_at, ps.id",
        [region, scanner_id, after_id],
    ).fetchall()  # INTEGER, TEXT and REAL columns: already int, str and float
    return rows


def add_baseline_start(
    db: Database,
    scanner_id: int,
    *,
    starts_at: str,
    kind: str,
    reason: str,
    by: str,
) -> int:
    """Store that a scanner's QC takes a new baseline from ``starts_at`` (append-only).

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    scanner_id : int
        The scanner.
    starts_at : str
        ISO timestamp (or date) of the first scan of the new baseline.
    kind : str
        ``on_demand`` or ``service``.
    reason : str
        Why (required by the service).
    by : str
        Who asked.

    Returns
    -------
    int
        The row id.
    """
    cur = db.execute(
        "INSERT INTO qc_baselines (scanner_id, starts_at, kind, reason, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [scanner_id, starts_at, kind, reason, by, now_iso()],
    )
    return int(cur.lastrowid or 0)


def baseline_starts(db: Database, scanner_id: int) -> list[BaselineStart]:
    """Return every reason this scanner's QC starts a new baseline, oldest first.

    * a request (on demand, or after a service visit) from :func:`add_baseline_start`;
    * an approved drift correction: the scans it was fitted on end at its ``qc_last``
      (provenance), so the next scan starts the new baseline (a step approved before this
      was recorded restarts at its approval time);
    * a software change known from the scanner's patient scans: from the day of the first
      scan with a new software version (phantom scans carry no version in the archive).

    Parameters
    ----------
    db : Database
        The open archive.
    scanner_id : int
        The scanner.

    Returns
    -------
    list of BaselineStart
        Sorted by time.
    """
    out: list[BaselineStart] = []
    for r in db.query(
        "SELECT id, starts_at, kind, reason, created_by FROM qc_baselines WHERE scanner_id = ?",
        [scanner_id],
    ):
        out.append(
            BaselineStart(
                str(r["starts_at"]), False, r["kind"], r["reason"], r["created_by"], r["id"]
            )
        )
    for r in db.query(
        "SELECT id, provenance, approved_at, approved_by FROM calibration_steps"
        " WHERE scanner_id = ? AND kind = 'drift' AND status = 'approved'",
        [scanner_id],
    ):
        prov = json.loads(r["provenance"] or "{}")
        last = prov.get("qc_last")
        after = str(last) if last else str(r["approved_at"] or "")
        if after:
            out.append(
                BaselineStart(
                    after,
                    bool(last),
                    "drift_correction",
                    f"drift correction {r['id']}",
                    r["approved_by"] or "",
                    int(r["id"]),
                )
            )
    versions = software_versions(db, scanner_id)
    for (version, _first), (new_version, at) in itertools.pairwise(versions):
        # from the day of the change: the first QC scan that day already runs the new version
        out.append(
            BaselineStart(
                str(at)[:10], False, "software_change", f"{version} -> {new_version}", "", None
            )
        )
    out.sort(key=lambda b: (b.after, b.kind))
    return out


def software_versions(db: Database, scanner_id: int) -> list[tuple[str, str]]:
    """Return a scanner's software versions and the time of each one's first scan, by time.

    Walks the distinct versions on the index ``scans_scanner_software`` (one lookup per
    version) instead of reading every patient scan of the scanner.

    Parameters
    ----------
    db : Database
        The open archive.
    scanner_id : int
        The scanner.

    Returns
    -------
    list of tuple
        ``(software_version, first acquired_at)``, oldest first; empty versions are left out.
    """
    rows = db.execute(
        "WITH RECURSIVE v(version) AS ("
        " SELECT min(software_version) FROM scans WHERE scanner_id = :s AND software_version > ''"
        " UNION ALL SELECT (SELECT min(software_version) FROM scans WHERE scanner_id = :s"
        " AND software_version > v.version) FROM v WHERE v.version IS NOT NULL)"
        " SELECT version, (SELECT min(acquired_at) FROM scans WHERE scanner_id = :s"
        " AND software_version = v.version) FROM v WHERE version IS NOT NULL",
        {"s": scanner_id},
    ).fetchall()
    return sorted(((str(r[0]), str(r[1])) for r in rows), key=lambda r: (r[1], r[0]))


def pending_drift_steps(db: Database, scanner_id: int) -> list[dict[str, Any]]:
    """Return the proposed (not yet decided) drift corrections of a scanner, newest first.

    Parameters
    ----------
    db : Database
        The open archive.
    scanner_id : int
        The scanner.

    Returns
    -------
    list of dict
        ``id, valid_from, slope, provenance`` (parsed).
    """
    return [
        {
            "id": int(r["id"]),
            "valid_from": r["valid_from"],
            "slope": float(r["slope"]),
            "provenance": json.loads(r["provenance"] or "{}"),
        }
        for r in db.query(
            "SELECT id, valid_from, slope, provenance FROM calibration_steps"
            " WHERE scanner_id = ? AND kind = 'drift' AND status = 'proposed' ORDER BY id DESC",
            [scanner_id],
        )
    ]
