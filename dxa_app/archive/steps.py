"""The calibration-steps table family: propose, list, approve, retire, and the approved chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from calibration.chain import ChainStep, drift_factor, inverse_line_covariance
from dxa_app.archive.database import Database
from dxa_app.archive.db import now_iso
from dxa_app.archive.scale import REFERENCE_SCANNER_KEY, NationalScale, current_scale
from dxa_app.errors import NotFoundError
from dxa_app.i18n import _

__all__ = [
    "GROUPS",
    "KIND_ORDER",
    "REFERENCE_SCANNER_KEY",
    "Step",
    "approved_chain",
    "is_harmonised",
    "mark_approved",
    "mark_retired",
    "propose_step",
    "region_group",
    "scale_anchor",
    "step_by_id",
    "step_covariance",
    "step_rows",
]


def propose_step(
    db: Database,
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
    per_day: float = 0.0,
    ramp_end: str | None = None,
    covariance: tuple[float, float, float] | None = None,
) -> int | None:
    """Insert a proposed calibration step unless an identical step exists (any status).

    Same semantics as the site's ``calibrate``: the step maps this scanner's (drift-corrected)
    reading to the next scale, ``y = intercept + slope * x``. A step identical to one that was
    proposed, approved **or retired** (same scanner, region, kind, start, data set and
    coefficients, so the same data fitted the same way) is not proposed again: a retired step
    stays retired until new data change the fit. A drift ramp also has ``per_day`` (change of
    the factor per day from ``valid_from``) and ``ramp_end`` (held after it). ``covariance``
    is ``(var intercept, var slope, cov)`` of the fitted coefficients (carried to the
    harmonised BMD).

    Returns
    -------
    int or None
        The new step's id, or None when an identical step exists.
    """
    same = db.execute(
        "SELECT id FROM calibration_steps WHERE scanner_id = ? AND region = ? AND kind = ?"
        " AND valid_from = ? AND dataset = ?"
        " AND abs(intercept - ?) < 1e-12 AND abs(slope - ?) < 1e-12"
        " AND abs(per_day - ?) < 1e-15",
        [scanner_id, region, kind, valid_from, dataset, intercept, slope, per_day],
    ).fetchone()
    if same:
        return None
    cur = db.execute(
        "INSERT INTO calibration_steps (scanner_id, region, kind, intercept, slope, valid_from,"
        " status, method, dataset, n, provenance, proposed_at, proposed_by, per_day, ramp_end,"
        " var_intercept, var_slope, cov_intercept_slope)"
        " VALUES (?, ?, ?, ?, ?, ?, 'proposed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            per_day,
            ramp_end,
            *(_finite(v) for v in (covariance or (None, None, None))),
        ],
    )
    return int(cur.lastrowid) if cur.lastrowid is not None else None


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def step_covariance(r: dict[str, Any]) -> tuple[float, float, float]:
    """Return (var intercept, var slope, cov) of a stored step, 0 where unknown.

    Steps proposed before the uncertainty was stored fall back on their fit's standard
    errors in the provenance (covariance 0, which overstates the uncertainty in the middle of
    the data): a phantom scanner step through the inverse of its line, the others as fitted.

    Parameters
    ----------
    r : dict
        The ``calibration_steps`` row.

    Returns
    -------
    tuple of float
        The variances and the covariance.
    """
    if r.get("var_slope") is not None:
        return (
            float(r.get("var_intercept") or 0.0),
            float(r["var_slope"]),
            float(r.get("cov_intercept_slope") or 0.0),
        )
    prov = json.loads(r.get("provenance") or "{}")
    extra = (prov.get("fit") or {}).get("extra") or {}
    if r.get("method") == "ols-esp":
        fit = prov.get("fit") or {}
        sa, sb = extra.get("intercept_se"), extra.get("slope_se")
        if sa is None or sb is None:
            return 0.0, 0.0, 0.0
        return inverse_line_covariance(
            float(fit["intercept"]),
            float(fit["slope"]),
            float(sa) ** 2,
            float(sb) ** 2,
            float(extra.get("intercept_slope_cov") or 0.0),
        )
    sa = extra.get("intercept_se_boot", extra.get("intercept_se"))
    sb = extra.get("slope_se_boot", extra.get("slope_se"))
    if sa is None or sb is None:
        return 0.0, 0.0, 0.0
    return float(sa) ** 2, float(sb) ** 2, 0.0


#: Region groups a step applies to; a step's ``region`` is a group name or "all".
GROUPS: dict[str, frozenset[str]] = {
    "spine": frozenset({"L1", "L2", "L3", "L4", "L1-L4", "L2-L4"}),
    "total_hip": frozenset({"total_hip", "trochanter", "intertrochanter"}),
    "femoral_neck": frozenset({"femoral_neck", "wards"}),
}
#: The order of the step kinds in a chain.
KIND_ORDER = {"drift": 0, "scanner": 1, "national": 2}


def region_group(region: str) -> str | None:
    """Return the step group of a region ("spine", "total_hip", "femoral_neck") or None.

    Parameters
    ----------
    region : str
        An archive region name.

    Returns
    -------
    str or None
        The group.
    """
    for name, members in GROUPS.items():
        if region in members:
            return name
    return None


@dataclass(frozen=True)
class Step:
    """A calibration step as stored."""

    id: int
    scanner_id: int
    serial: str
    region: str
    kind: str
    intercept: float
    slope: float
    valid_from: str
    valid_to: str | None
    status: str
    method: str
    dataset: str
    n: int | None
    provenance: dict[str, Any] = field(default_factory=dict)
    approved_by: str | None = None
    approved_at: str | None = None
    per_day: float = 0.0
    ramp_end: str | None = None

    @property
    def needs_review(self) -> str:
        """Return why the step must be reviewed before approval ("" when it need not)."""
        return str(self.provenance.get("needs_review") or "")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _step(r: dict[str, Any]) -> Step:
    return Step(
        r["id"],
        r["scanner_id"],
        r["serial"],
        r["region"],
        r["kind"],
        r["intercept"],
        r["slope"],
        r["valid_from"],
        r["valid_to"],
        r["status"],
        r["method"],
        r["dataset"],
        r["n"],
        json.loads(r["provenance"] or "{}"),
        r["approved_by"],
        r["approved_at"],
        float(r.get("per_day") or 0.0),
        r.get("ramp_end"),
    )


_STEP_SQL = (
    "SELECT cs.*, sc.serial FROM calibration_steps cs JOIN scanners sc ON sc.id = cs.scanner_id"
)


def step_rows(db: Database, status: str | None = None) -> list[Step]:
    """Return the calibration steps (optionally of one status), newest first.

    Parameters
    ----------
    db : Database
        The open archive.
    status : str, optional
        ``proposed``, ``approved`` or ``retired``.

    Returns
    -------
    list of Step
        The steps.
    """
    where, params = ("WHERE cs.status = ?", [status]) if status else ("", [])
    return [_step(r) for r in db.query(f"{_STEP_SQL} {where} ORDER BY cs.id DESC", params)]


def step_by_id(db: Database, step_id: int) -> Step:
    """Return one step.

    Parameters
    ----------
    db : Database
        The open archive.
    step_id : int
        The step.

    Returns
    -------
    Step
        The step.

    Raises
    ------
    NotFoundError
        When there is no such step.
    """
    rows = list(db.query(f"{_STEP_SQL} WHERE cs.id = ?", [step_id]))
    if not rows:
        raise NotFoundError(_("No calibration step {id}.").format(id=step_id), "")
    return _step(rows[0])


def mark_approved(db: Database, step: Step, by: str) -> None:
    """Approve a step, retiring an approved one of the same scanner, region, kind and start.

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    step : Step
        The proposed step.
    by : str
        Who approves.
    """
    at = now_iso()
    db.execute(
        "UPDATE calibration_steps SET status = 'retired', retired_at = ?, valid_to = ?"
        " WHERE scanner_id = ? AND region = ? AND kind = ? AND valid_from = ?"
        " AND status = 'approved'",
        [at, at[:10], step.scanner_id, step.region, step.kind, step.valid_from],
    )
    db.execute(
        "UPDATE calibration_steps SET status = 'approved', approved_by = ?, approved_at = ?"
        " WHERE id = ? AND status = 'proposed'",
        [by, at, step.id],
    )


def mark_retired(db: Database, step_id: int) -> None:
    """Retire a step.

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    step_id : int
        The step.
    """
    db.execute(
        "UPDATE calibration_steps SET status = 'retired', retired_at = ? WHERE id = ?",
        [now_iso(), step_id],
    )


def approved_chain(db: Database, scanner_id: int, region: str, on: str) -> list[ChainStep]:
    """Return the approved steps that apply to a scanner, region and date, in chain order.

    Per kind, the approved step with the latest start on or before the date (and not ended
    before it) is used; a step applies to its region group or to "all" regions. A drift ramp
    is evaluated on the date (:func:`calibration.chain.drift_factor`), so the chain stays
    ``a + b * raw`` for each scan.

    Parameters
    ----------
    db : Database
        The open archive.
    scanner_id : int
        The scanner.
    region : str
        The region.
    on : str
        The ISO date of the scan.

    Returns
    -------
    list of ChainStep
        Drift, scanner and national steps that apply, in that order.
    """
    group = region_group(region)
    regions = ["all"] + ([group] if group else [])
    marks = ",".join("?" * len(regions))
    rows = db.query(
        "SELECT * FROM calibration_steps WHERE scanner_id = ? AND status = 'approved'"
        f" AND region IN ({marks}) AND valid_from <= ?"
        " AND (valid_to IS NULL OR valid_to > ?)"
        " ORDER BY valid_from DESC, approved_at DESC, id DESC",
        [scanner_id, *regions, on, on],
    )
    chosen: dict[str, ChainStep] = {}
    day = dt.date.fromisoformat(on[:10])
    for r in rows:
        if r["kind"] not in chosen:
            slope = r["slope"]
            if r.get("per_day"):  # a drift ramp, evaluated on the scan date
                end = r.get("ramp_end")
                slope = drift_factor(
                    slope,
                    float(r["per_day"]),
                    dt.date.fromisoformat(r["valid_from"][:10]),
                    dt.date.fromisoformat(end[:10]) if end else None,
                    day,
                )
            va, vb, cab = step_covariance(r)
            chosen[r["kind"]] = ChainStep(r["id"], r["kind"], r["intercept"], slope, va, vb, cab)
    return sorted(chosen.values(), key=lambda s: KIND_ORDER[s.kind])


def scale_anchor(db: Database, region: str, *, scale: NationalScale | None = None) -> int | None:
    """Return the scanner whose own readings define the national scale for a region, if any.

    On the reference-scanner scale that is the national reference scanner, for every region;
    on the ESP scale the hip anchor for the hip and femoral neck (the spine is the phantom's
    certified scale: no scanner defines it). That scanner's readings are the national scale
    by definition (an identity chain, only its own drift corrections apply), so its studies
    are harmonised without a scanner or national step.

    Parameters
    ----------
    db : Database
        The open archive.
    region : str
        The region.
    scale : NationalScale, optional
        The scale in force when the caller has read it (:func:`current_scale`, e.g. once
        for all the regions of a study); read from the archive when not given.

    Returns
    -------
    int or None
        The scanner id, or None when no scanner defines the scale for this region.
    """
    in_force = scale if scale is not None else current_scale(db)
    serial = in_force.anchor_serial(region_group(region))
    if not serial:
        return None
    row = db.execute("SELECT id FROM scanners WHERE serial = ? ORDER BY id", [serial]).fetchone()
    return None if row is None else int(row[0])


def is_harmonised(
    db: Database,
    scanner_id: int,
    region: str,
    steps: list[ChainStep],
    *,
    scale: NationalScale | None = None,
) -> bool:
    """Return whether a reading is on the national scale: approved steps, or the scale's anchor.

    "Not harmonised" means a step is truly missing: a chain with at least one scanner or
    national step, or the scanner that defines the national scale (see :func:`scale_anchor`).
    A drift step alone keeps a scanner on its own scale, so it does not count.

    Parameters
    ----------
    db : Database
        The open archive.
    scanner_id : int
        The scanner.
    region : str
        The region.
    steps : list of ChainStep
        The approved chain on the scan date (:func:`approved_chain`).
    scale : NationalScale, optional
        The scale in force, when the caller has read it (see :func:`scale_anchor`).

    Returns
    -------
    bool
        True when the harmonised value is on the national scale.
    """
    if any(s.kind != "drift" for s in steps):
        return True
    return scale_anchor(db, region, scale=scale) == scanner_id


def scoring_fingerprints(db: Database, context: str) -> dict[int, str]:
    """Return, per scanner, a hash of everything its studies' chains and references come from.

    A scanner's hash covers its own calibration steps (every column: status, validity,
    approval) and what all scanners share: the national scales, the installed reference
    tables and ``context`` (the caller's reference settings and program version). Two equal
    hashes mean the scanner's studies would get the same chain and references as before.

    Parameters
    ----------
    db : Database
        The open archive.
    context : str
        What else the scores depend on, as text.

    Returns
    -------
    dict
        ``{scanner_id: sha256 hex}`` for every scanner.
    """
    shared = hashlib.sha256(context.encode("utf-8"))
    for table in ("national_scales", "reference_tables"):
        for row in db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall():
            shared.update(repr(tuple(row)).encode("utf-8"))
    own: dict[int, Any] = {
        int(r[0]): shared.copy() for r in db.execute("SELECT id FROM scanners").fetchall()
    }
    for row in db.execute("SELECT scanner_id, * FROM calibration_steps ORDER BY id").fetchall():
        h = own.get(int(row[0]))
        if h is not None:
            h.update(repr(tuple(row)).encode("utf-8"))
    return {scanner: h.hexdigest() for scanner, h in own.items()}
