"""Precision studies: store repeated measurements, compute RMS-SD, %CV, LSC, compare with ISCD."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from calibration.precision import Precision, meets_minimum, precision
from dxa_app.archive import write_transaction
from dxa_app.archive.db import audit, now_iso
from dxa_app.errors import ImportProblemError, NotFoundError
from dxa_app.i18n import _
from dxa_app.resources import resource_path


def iscd_minimums() -> dict[str, Any]:
    """Return the versioned ISCD minimum-precision data (resources/calibration)."""
    data: dict[str, Any] = json.loads(
        resource_path("calibration", "iscd_precision_minimums.json").read_text(encoding="utf-8")
    )
    return data


@dataclass(frozen=True)
class PrecisionResult:
    """A stored precision study and its figures."""

    id: int
    serial: str
    region: str
    technologist: str
    precision: Precision
    minimum_cv_pct: float | None
    meets_minimum: bool | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        p = self.precision
        return {
            "id": self.id,
            "serial": self.serial,
            "region": self.region,
            "technologist": self.technologist,
            "design": p.design,
            "n_subjects": p.n_subjects,
            "n_scans": p.n_scans,
            "df": p.df,
            "rms_sd_g_cm2": p.rms_sd,
            "rms_cv_pct": p.rms_cv_pct,
            "lsc_g_cm2": p.lsc,
            "lsc_pct": p.lsc_pct,
            "iscd_minimum_cv_pct": self.minimum_cv_pct,
            "meets_iscd_minimum": self.meets_minimum,
        }


def read_measurements(path: Path) -> dict[str, list[float]]:
    """Read a precision CSV with the columns ``subject,bmd_g_cm2`` (one row per scan)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise ImportProblemError(
            _("{path} could not be read: {error}").format(path=path, error=exc.strerror), ""
        ) from exc
    groups: dict[str, list[float]] = defaultdict(list)
    for line, row in enumerate(rows, start=2):
        try:
            groups[row["subject"].strip()].append(float(row["bmd_g_cm2"].replace(",", ".")))
        except (KeyError, AttributeError, ValueError) as exc:
            raise ImportProblemError(
                _(
                    "{path}, line {line}: expected the columns subject,bmd_g_cm2 with a number."
                ).format(path=path, line=line),
                "",
            ) from exc
    return dict(groups)


def record_precision(
    db: sqlite_utils.Database,
    *,
    serial: str,
    region: str,
    measurements: dict[str, list[float]],
    technologist: str = "",
    by: str = "",
) -> PrecisionResult:
    """Compute a precision study and store it with its measurements.

    Raises
    ------
    NotFoundError
        When the scanner is unknown.
    ValueError
        When a subject has fewer than two scans.
    """
    rows = list(db.query("SELECT id FROM scanners WHERE serial = ?", [serial]))
    if not rows:
        raise NotFoundError(_("No scanner with serial {serial}.").format(serial=serial), "")
    p = precision(list(measurements.values()))
    minimum = iscd_minimums()["minimum_cv_pct"].get(region)
    with write_transaction(db):
        cur = db.execute(
            "INSERT INTO precision_studies (scanner_id, region, technologist, design, started,"
            " rms_sd_g_cm2, rms_cv_pct, df, lsc_g_cm2, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                rows[0]["id"],
                region,
                technologist,
                p.design,
                now_iso()[:10],
                p.rms_sd,
                p.rms_cv_pct,
                p.df,
                p.lsc,
                now_iso(),
            ],
        )
        study_id = int(cur.lastrowid or 0)
        for subject, values in measurements.items():
            for n, v in enumerate(values, start=1):
                db.execute(
                    "INSERT INTO precision_measurements (precision_study_id, subject, repeat_no,"
                    " bmd_g_cm2) VALUES (?, ?, ?, ?)",
                    [study_id, subject, n, v],
                )
        audit(
            db,
            "precision_study",
            username=by,
            entity="precision_study",
            entity_id=study_id,
            details={"serial": serial, "region": region, "rms_sd": p.rms_sd},
        )
    return PrecisionResult(
        study_id,
        serial,
        region,
        technologist,
        p,
        minimum,
        None if minimum is None else meets_minimum(p, float(minimum)),
    )
