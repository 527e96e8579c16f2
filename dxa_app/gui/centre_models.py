"""Table models of the knowledge-centre workspace: scanners, calibration steps, uniformity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from dxa_app.gui.models import _Column, _ListTableModel
from dxa_app.i18n import _
from dxa_app.services.calibration import Step
from dxa_app.services.calibration_views import NO_QC, ScannerOverview
from dxa_app.services.uniformity import UniformityRow

_ANY_INDEX = QModelIndex | QPersistentModelIndex

#: Colours of the QC status: ok green, warning amber, reject red, no baseline / no QC grey.
QC_COLOURS: dict[str, str] = {
    "ok": "#2e7d32",
    "warning": "#f9a825",
    "reject": "#c62828",
    "no baseline": "#757575",
    NO_QC: "#bdbdbd",
}


def qc_status_label(status: str) -> str:
    """Return the translated label of a QC status."""
    labels = {
        "ok": _("OK"),
        "warning": _("Warning"),
        "reject": _("Reject"),
        "no baseline": _("No baseline"),
        NO_QC: _("No QC"),
    }
    return labels.get(status, status)


def step_status_label(status: str) -> str:
    """Return the translated label of a calibration step's status."""
    labels = {"proposed": _("Proposed"), "approved": _("Approved"), "retired": _("Retired")}
    return labels.get(status, status)


def step_kind_label(kind: str) -> str:
    """Return the translated label of a calibration step's kind."""
    labels = {"drift": _("Drift"), "scanner": _("Scanner"), "national": _("National")}
    return labels.get(kind, kind)


def _g(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


class ScannerTableModel(_ListTableModel[ScannerOverview]):
    """Scanners: site, vendor, model, serial, last QC, QC status (coloured)."""

    COL_SITE, COL_VENDOR, COL_MODEL, COL_SERIAL, COL_LAST_QC, COL_STATUS = range(6)

    columns: Sequence[_Column[ScannerOverview]] = (
        _Column(lambda: _("Site"), lambda s: s.site),
        _Column(lambda: _("Vendor"), lambda s: s.manufacturer),
        _Column(lambda: _("Model"), lambda s: s.model),
        _Column(
            lambda: _("Serial"),
            lambda s: s.serial + (" " + _("(reference)") if s.is_reference else ""),
        ),
        _Column(lambda: _("Last QC"), lambda s: s.last_qc or ""),
        _Column(lambda: _("QC status"), lambda s: qc_status_label(s.qc_status)),
    )

    def data(self, index: _ANY_INDEX, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Return cell data; the status column carries its colour."""
        if (
            index.isValid()
            and index.column() == self.COL_STATUS
            and index.row() < len(self._rows)
            and role in (Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.BackgroundRole)
        ):
            colour = QColor(QC_COLOURS.get(self._rows[index.row()].qc_status, "#bdbdbd"))
            if role == Qt.ItemDataRole.DecorationRole:
                return colour
            colour.setAlpha(60)
            return QBrush(colour)
        return super().data(index, role)


class StepTableModel(_ListTableModel[Step]):
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

    columns: Sequence[_Column[Step]] = (
        _Column(lambda: _("Step"), lambda s: str(s.id), lambda s: s.id, numeric=True),
        _Column(lambda: _("Serial"), lambda s: s.serial),
        _Column(lambda: _("Region"), lambda s: s.region),
        _Column(lambda: _("Kind"), lambda s: step_kind_label(s.kind)),
        _Column(lambda: _("Method"), lambda s: s.method),
        _Column(lambda: _("Intercept"), lambda s: f"{s.intercept:.4f}", numeric=True),
        _Column(lambda: _("Slope"), lambda s: f"{s.slope:.4f}", numeric=True),
        _Column(lambda: _("Valid from"), lambda s: s.valid_from),
        _Column(
            lambda: _("n"),
            lambda s: "" if s.n is None else str(s.n),
            lambda s: s.n or 0,
            numeric=True,
        ),
        _Column(lambda: _("Status"), lambda s: step_status_label(s.status)),
        _Column(lambda: _("Approved by"), lambda s: s.approved_by or ""),
    )

    def tooltip(self, item: Step) -> str | None:
        """Return the step's data set as its tooltip."""
        return item.dataset or None


class UniformityTableModel(_ListTableModel[UniformityRow]):
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

    columns: Sequence[_Column[UniformityRow]] = (
        _Column(lambda: _("Region"), lambda r: r.region_key),
        _Column(lambda: _("Site"), lambda r: r.site),
        _Column(lambda: _("Scanner"), lambda r: r.scanner),
        _Column(lambda: _("Serial"), lambda r: r.serial),
        _Column(lambda: _("n"), lambda r: str(r.n), lambda r: r.n, numeric=True),
        _Column(lambda: _("Raw BMD"), lambda r: _g(r.raw), numeric=True),
        _Column(
            lambda: _("Harmonised BMD"),
            lambda r: _g(r.harmonised) + ("" if r.calibrated else " *"),
            numeric=True,
        ),
        _Column(lambda: _("Change"), lambda r: f"{r.harmonised - r.raw:+.3f}", numeric=True),
        _Column(lambda: _("Certified"), lambda r: _g(r.certified), numeric=True),
    )

    def tooltip(self, item: UniformityRow) -> str | None:
        """Explain the asterisk of a value without an approved calibration."""
        if item.calibrated:
            return None
        return _("* no approved calibration for this scanner and region: raw value shown")
