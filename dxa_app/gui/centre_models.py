"""Tables of the knowledge-centre workspace: scanners, calibration steps, uniformity."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QBrush

from dxa_app.gui.labels import (
    dataset_text,
    drift_text,
    format_iso_date,
    localised,
    method_text,
    number,
    qc_colour,
    qc_status_label,
    region_text,
    step_kind_text,
    step_status_text,
    today_label,
)
from dxa_app.gui.table_model import Column, ObjectTableModel
from dxa_app.i18n import _
from dxa_app.services.calibration import Step
from dxa_app.services.calibration_views import NO_QC, ScannerOverview
from dxa_app.services.uniformity import UniformityRow


def scanner_qc_label(status: str) -> str:
    """Return the translated QC status of a scanner ("No QC" for a scanner without QC)."""
    return _("No QC") if status == NO_QC else qc_status_label(status)


def _tint(status: str) -> QBrush:
    colour = qc_colour(status)
    colour.setAlpha(60)
    return QBrush(colour)


#: The labels of a step's status and kind (kept under their old names for the workspaces).
step_status_label = step_status_text
step_kind_label = step_kind_text


def _g(value: float | None) -> str:
    return number(value, 3)


def _drift_summary(s: ScannerOverview) -> str:
    q = s.qc
    if q is None:
        return ""
    p = q.drift_proposal()
    parts = []
    if p is not None:
        parts.append(
            localised(_("from {start}, factor {factor:.4f}"), start=p["start"], factor=p["factor"])
        )
    if q.pending_drift:
        parts.append(
            _("step {ids} awaits approval").format(
                ids=", ".join(str(x["id"]) for x in q.pending_drift)
            )
        )
    return "; ".join(parts)


class ScannerTableModel(ObjectTableModel[ScannerOverview]):
    """Scanners: site, vendor, model, serial, last QC, QC status (coloured)."""

    COL_SITE, COL_VENDOR, COL_MODEL, COL_SERIAL, COL_LAST_QC, COL_STATUS, COL_DRIFT = range(7)

    columns: Sequence[Column[ScannerOverview]] = (
        Column(lambda: _("Site"), lambda s: s.site),
        Column(lambda: _("Vendor"), lambda s: s.manufacturer),
        Column(lambda: _("Model"), lambda s: s.model),
        Column(
            lambda: _("Serial"),
            lambda s: s.serial + (" " + _("(reference)") if s.is_reference else ""),
        ),
        Column(
            lambda: _("Last QC"), lambda s: format_iso_date(s.last_qc), lambda s: s.last_qc or ""
        ),
        Column(
            lambda: _("QC status"),
            lambda s: today_label(s.qc) if s.qc is not None else scanner_qc_label(s.qc_status),
            decoration=lambda s: qc_colour(s.qc_status),
            background=lambda s: _tint(s.qc_status),
        ),
        Column(lambda: _("Drift proposal"), _drift_summary),
    )

    def tooltip(self, item: ScannerOverview) -> str | None:
        """Return the drift proposal with its evidence, when there is one."""
        return (drift_text(item.qc) or None) if item.qc is not None else None


class StepTableModel(ObjectTableModel[Step]):
    """Calibration steps: id, serial, region, kind, method, a, b, valid from, status, n."""

    (
        COL_ID,
        COL_SERIAL,
        COL_REGION,
        COL_KIND,
        COL_METHOD,
        COL_INTERCEPT,
        COL_SLOPE,
        COL_VALID_FROM,
        COL_N,
        COL_STATUS,
        COL_APPROVED_BY,
    ) = range(11)

    columns: Sequence[Column[Step]] = (
        Column(lambda: _("Step"), lambda s: str(s.id), lambda s: s.id, numeric=True),
        Column(lambda: _("Serial"), lambda s: s.serial),
        Column(lambda: _("Region"), lambda s: region_text(s.region)),
        Column(lambda: _("Kind"), lambda s: step_kind_label(s.kind)),
        Column(lambda: _("Method"), lambda s: method_text(s.method)),
        Column(
            lambda: _("Intercept"), lambda s: number(s.intercept, 4), lambda s: s.intercept, True
        ),
        Column(lambda: _("Slope"), lambda s: number(s.slope, 4), lambda s: s.slope, True),
        Column(
            lambda: _("Valid from"), lambda s: format_iso_date(s.valid_from), lambda s: s.valid_from
        ),
        Column(
            lambda: _("n"),
            lambda s: "" if s.n is None else str(s.n),
            lambda s: s.n or 0,
            numeric=True,
        ),
        Column(
            lambda: _("Status"),
            lambda s: (
                step_status_label(s.status)
                + (
                    " (" + _("needs review") + ")"
                    if s.needs_review and s.status == "proposed"
                    else ""
                )
            ),
        ),
        Column(lambda: _("Approved by"), lambda s: s.approved_by or ""),
    )

    def tooltip(self, item: Step) -> str | None:
        """Return the step's data set (and why it needs review) as its tooltip."""
        parts = [dataset_text(item.dataset)] if item.dataset else []
        if item.needs_review:
            parts.append(_("Needs review: {why}").format(why=item.needs_review))
        return "\n".join(parts) or None


class UniformityTableModel(ObjectTableModel[UniformityRow]):
    """One subject across scanners: region, site, scanner, n, raw, harmonised, difference."""

    (
        COL_REGION,
        COL_SITE,
        COL_SCANNER,
        COL_SERIAL,
        COL_N,
        COL_RAW,
        COL_HARMONISED,
        COL_CHANGE,
        COL_CERTIFIED,
    ) = range(9)

    columns: Sequence[Column[UniformityRow]] = (
        Column(lambda: _("Region"), lambda r: region_text(r.region_key)),
        Column(lambda: _("Site"), lambda r: r.site),
        Column(lambda: _("Scanner"), lambda r: r.scanner),
        Column(lambda: _("Serial"), lambda r: r.serial),
        Column(lambda: _("n"), lambda r: str(r.n), lambda r: r.n, numeric=True),
        Column(lambda: _("Raw BMD"), lambda r: _g(r.raw), numeric=True),
        Column(
            lambda: _("Harmonised BMD"),
            lambda r: _g(r.harmonised) + ("" if r.calibrated else " *"),
            numeric=True,
        ),
        Column(
            lambda: _("Change"),
            lambda r: number(r.harmonised - r.raw, 3, signed=True),
            numeric=True,
        ),
        Column(lambda: _("Certified"), lambda r: _g(r.certified), numeric=True),
    )

    def tooltip(self, item: UniformityRow) -> str | None:
        """Explain the asterisk of a value without an approved calibration."""
        if item.calibrated:
            return None
        return _("* no approved calibration for this scanner and region: raw value shown")
