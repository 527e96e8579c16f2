"""Calibration steps in the archive: propose one (idempotent), shared by site and centre fits."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from dxa_app.archive.db import now_iso


def propose_step(
    db: sqlite_utils.Database,
    *,
    scanner_id: int,
    region: str,
    kind: str,
    intercept: float,
    slope: float,
    valid_from: str,
    method: str,
    dataset: str,
    n: int,
    provenance: dict[str, Any],
    by: str,
) -> int | None:
    """Insert a proposed calibration step unless an identical proposed/approved one exists.

    Same semantics as the site's ``calibrate``: the step maps this scanner's (drift-corrected)
    reading to the next scale, ``y = intercept + slope * x``.

    Returns
    -------
    int or None
        The new step's id, or None when an identical step exists.
    """
    same = db.execute(
        "SELECT id FROM calibration_steps WHERE scanner_id = ? AND region = ? AND kind = ?"
        " AND valid_from = ? AND dataset = ? AND status IN ('proposed', 'approved')"
        " AND abs(intercept - ?) < 1e-12 AND abs(slope - ?) < 1e-12",
        [scanner_id, region, kind, valid_from, dataset, intercept, slope],
    ).fetchone()
    if same:
        return None
    cur = db.execute(
        "INSERT INTO calibration_steps (scanner_id, region, kind, intercept, slope, valid_from,"
        " status, method, dataset, n, provenance, proposed_at, proposed_by)"
        " VALUES (?, ?, ?, ?, ?, ?, 'proposed', ?, ?, ?, ?, ?, ?)",
        [
            scanner_id,
            region,
            kind,
            intercept,
            slope,
            valid_from,
            method,
            dataset,
            n,
            json.dumps(provenance, sort_keys=True),
            now_iso(),
            by,
        ],
    )
    return int(cur.lastrowid) if cur.lastrowid is not None else None
