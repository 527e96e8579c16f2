"""What the knowledge centre looks at: scanners with their QC status, and the fits behind steps.

The travelling-phantom fits show every measured vertebra against its certified value with the
fitted line and the residuals; the in-vivo sets show the paired patients with the Deming line
and the Bland-Altman agreement. The data come from the archive and each step's provenance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from calibration.fits import bland_altman
from dxa_app.archive import get_setting
from dxa_app.archive.database import Database
from dxa_app.archive.scanners import scanner_ids_by_serial, scanner_rows
from dxa_app.archive.steps import step_rows
from dxa_app.domain import scanner_label
from dxa_app.services.auth import Permission, Session, acting
from dxa_app.services.calibration import (
    GROUP_FIT_REGION,
    REFERENCE_SCANNER_KEY,
    ScannerQc,
    current_qc,
    in_vivo_pairs,
)

#: QC status values (``ScannerQc.status``) plus "no QC" for a scanner without QC scans.
NO_QC = "no QC"


@dataclass(frozen=True)
class ScannerOverview:
    """One scanner with its site, identity and daily-QC status."""

    scanner_id: int
    site: str
    manufacturer: str
    model: str
    serial: str
    last_qc: str | None
    n_qc: int
    qc_status: str
    is_reference: bool = False
    qc: ScannerQc | None = None

    @property
    def scanner(self) -> str:
        """Return the scanner as "manufacturer model"."""
        return scanner_label(self.manufacturer, self.model)


def scanner_overview(session: Session) -> list[ScannerOverview]:
    """Return every scanner with its last QC date and QC status, by site and serial.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    list of ScannerOverview
        ``qc_status`` is today's QC state ("ok", "warning", "reject", "no QC today",
        "no baseline", "baseline in progress", "baseline unusable") or "no QC"; ``qc`` the
        scanner's QC with its drift proposal and the drift steps awaiting approval.
    """
    with acting(session, Permission.VIEW) as db:
        qc = {q.scanner_id: q for q in current_qc(db)}
        reference = get_setting(db, REFERENCE_SCANNER_KEY)
        scanners = scanner_rows(db)
    out = []
    for r in scanners:
        q = qc.get(r.id)
        out.append(
            ScannerOverview(
                r.id,
                r.site_code,
                r.manufacturer,
                r.model,
                r.serial,
                q.last if q else None,
                q.n_scans if q else 0,
                q.today_status if q else NO_QC,
                r.serial == reference,
                q,
            )
        )
    return out


@dataclass(frozen=True)
class FitView:
    """The data behind one fit, ready to plot.

    For a travelling-phantom fit, ``x`` is the certified and ``y`` the measured value of every
    vertebra reading (``y = intercept + slope * x``). For an in-vivo set, ``x`` is this scanner
    and ``y`` the reference scanner (``y = intercept + slope * x``), with Bland-Altman limits
    of ``y - x``.
    """

    kind: str  # "travelling" or "in-vivo"
    serial: str
    group: str
    dataset: str
    step_id: int
    step_status: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    labels: tuple[str, ...]
    intercept: float
    slope: float
    bland_altman: dict[str, float] = field(default_factory=dict)

    @property
    def residuals(self) -> tuple[float, ...]:
        """Return ``y - (intercept + slope * x)`` of every point."""
        return tuple(
            yi - (self.intercept + self.slope * xi) for xi, yi in zip(self.x, self.y, strict=True)
        )

    @property
    def means(self) -> tuple[float, ...]:
        """Return the Bland-Altman means ``(x + y) / 2``."""
        return tuple((xi + yi) / 2 for xi, yi in zip(self.x, self.y, strict=True))

    @property
    def differences(self) -> tuple[float, ...]:
        """Return the Bland-Altman differences ``y - x``."""
        return tuple(yi - xi for xi, yi in zip(self.x, self.y, strict=True))


def _travelling_points(
    db: Database, scanner_id: int, round_name: str
) -> tuple[list[float], list[float], list[str]]:
    xs: list[float] = []
    ys: list[float] = []
    labels: list[str] = []
    for r in db.query(
        "SELECT pr.region, pr.bmd_g_cm2 AS measured, cv.bmd_g_cm2 AS certified"
        " FROM phantom_scans ps JOIN phantom_results pr ON pr.phantom_scan_id = ps.id"
        " JOIN calibration_rounds cr ON cr.id = ps.round_id"
        " JOIN phantom_certified_values cv ON cv.phantom_id = ps.phantom_id"
        "   AND cv.region = pr.region"
        " WHERE ps.purpose = 'travelling' AND pr.region <> 'total' AND ps.scanner_id = ?"
        " AND cr.name = ? ORDER BY ps.acquired_at, pr.region",
        [scanner_id, round_name],
    ):
        xs.append(float(r["certified"]))
        ys.append(float(r["measured"]))
        labels.append(str(r["region"]))
    return xs, ys, labels


def fit_views(session: Session) -> list[FitView]:
    """Return the data of every travelling-phantom and in-vivo step that is not retired.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    list of FitView
        Travelling-phantom fits first, then the in-vivo sets, by serial.
    """
    with acting(session, Permission.VIEW) as db:
        return _fit_views(db)


def _fit_views(db: Database) -> list[FitView]:
    ids = scanner_ids_by_serial(db)
    out: list[FitView] = []
    for step in sorted(step_rows(db), key=lambda s: (s.serial, s.id)):
        if step.status == "retired":
            continue
        fit: dict[str, Any] = step.provenance.get("fit") or {}
        if step.method == "ols-esp":
            xs, ys, labels = _travelling_points(
                db, step.scanner_id, str(step.provenance.get("round", ""))
            )
            out.append(
                FitView(
                    "travelling",
                    step.serial,
                    step.region,
                    step.dataset,
                    step.id,
                    step.status,
                    tuple(xs),
                    tuple(ys),
                    tuple(labels),
                    float(fit.get("intercept", 0.0)),
                    float(fit.get("slope", 1.0)),
                )
            )
        elif step.method == "deming-in-vivo":
            ref_serial = str(step.provenance.get("reference_scanner", ""))
            if ref_serial not in ids:
                continue
            region = GROUP_FIT_REGION.get(step.region, step.region)
            patients = in_vivo_pairs(db, ids[ref_serial], step.scanner_id, region)
            pairs = [(p.other_mean, p.reference_mean, p.label) for p in patients]
            ba: dict[str, float] = dict(step.provenance.get("bland_altman") or {})
            if not ba and len(pairs) >= 3:
                stats = bland_altman([p[0] for p in pairs], [p[1] for p in pairs])
                ba = {"bias": stats.bias, "lower": stats.lower, "upper": stats.upper}
            out.append(
                FitView(
                    "in-vivo",
                    step.serial,
                    step.region,
                    step.dataset,
                    step.id,
                    step.status,
                    tuple(p[0] for p in pairs),
                    tuple(p[1] for p in pairs),
                    tuple(p[2] for p in pairs),
                    float(fit.get("intercept", step.intercept)),
                    float(fit.get("slope", step.slope)),
                    {k: float(v) for k, v in ba.items() if isinstance(v, int | float)},
                )
            )
    out.sort(key=lambda f: (f.kind != "travelling", f.serial, f.group))
    return out
