"""Tables of the technician workspace (import results, QC, alarms, scores, images) and the grid.

The read-only tables are columns over the one :class:`ObjectTableModel`; the precision grid is
the one editable model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from calibration.rounding import format_score
from dxa_app.domain import ImportOutcome, ImportStatus
from dxa_app.gui.labels import (
    category_text,
    format_iso_date,
    image_kind_text,
    localised,
    number,
    qc_colour,
    qc_rule_text,
    region_text,
    side_text,
    today_label,
)
from dxa_app.gui.table_model import Column, ObjectTableModel
from dxa_app.i18n import _, current_language
from dxa_app.services.calibration import ScannerQc
from dxa_app.services.images import exposure_text
from dxa_app.services.qc_ack import QcAlarm
from dxa_app.services.scoring import RegionRow
from dxa_app.services.workbench import StudyImage
from reports.labels import diagnostic_region

_ANY_INDEX = QModelIndex | QPersistentModelIndex


def import_status_label(status: str) -> str:
    """Return the translated label of an import status (or of an import summary count)."""
    if status == "imported_analysis_not_understood":
        return _("imported, analysis data not understood")
    labels = {
        ImportStatus.IMPORTED: _("imported"),
        ImportStatus.DUPLICATE: _("duplicate"),
        ImportStatus.SKIPPED: _("skipped"),
        ImportStatus.FAILED: _("failed"),
    }
    try:
        return labels[ImportStatus(status)]
    except ValueError:
        return status


def _outcome_status(o: ImportOutcome) -> str:
    if o.status is ImportStatus.IMPORTED and o.not_understood:
        return import_status_label("imported_analysis_not_understood")
    return import_status_label(str(o.status))


def _outcome_reason(o: ImportOutcome) -> str:
    if o.reason:
        return o.reason
    return "; ".join(n.message for n in o.notes)


def _bmd(value: float | None) -> str:
    return number(value, 3)


class ImportResultModel(ObjectTableModel[ImportOutcome]):
    """One row per imported file: path, status, reason."""

    COL_PATH, COL_STATUS, COL_REASON = range(3)

    columns: Sequence[Column[ImportOutcome]] = (
        Column(lambda: _("File"), lambda o: o.path),
        Column(lambda: _("Status"), _outcome_status),
        Column(lambda: _("Reason"), _outcome_reason),
    )


class ScannerQcModel(ObjectTableModel[ScannerQc]):
    """Scanners with today's QC status (coloured), number of scans and last date."""

    COL_STATUS, COL_SITE, COL_SERIAL, COL_MODEL, COL_N, COL_LAST = range(6)

    columns: Sequence[Column[ScannerQc]] = (
        Column(
            lambda: _("Status"),
            today_label,
            decoration=lambda q: qc_colour(q.today_status),
            foreground=lambda q: qc_colour(q.today_status),
        ),
        Column(lambda: _("Site"), lambda q: q.site),
        Column(lambda: _("Serial"), lambda q: q.serial),
        Column(lambda: _("Model"), lambda q: q.model),
        Column(lambda: _("QC scans"), lambda q: str(q.n_scans), lambda q: q.n_scans, True),
        Column(lambda: _("Last QC"), lambda q: format_iso_date(q.last), lambda q: q.last or ""),
    )


class QcAlarmModel(ObjectTableModel[QcAlarm]):
    """A scanner's alarmed QC scans (one row each): date, rules, severity, value, acknowledged."""

    COL_DATE, COL_RULE, COL_SEVERITY, COL_VALUE, COL_ACK, COL_COMMENT = range(6)

    columns: Sequence[Column[QcAlarm]] = (
        Column(lambda: _("Date"), lambda a: format_iso_date(a.date), lambda a: a.date),
        Column(lambda: _("Rules"), lambda a: qc_rule_text(a.rule)),
        Column(
            lambda: _("Severity"),
            lambda a: _("reject") if a.severity == "reject" else _("warning"),
        ),
        Column(lambda: _("BMD"), lambda a: _bmd(a.value), numeric=True),
        Column(
            lambda: _("Acknowledged"),
            lambda a: (
                f"{a.acknowledged_by} {format_iso_date(a.acknowledged_at[:16])}"
                if a.acknowledged
                else ""
            ),
        ),
        Column(lambda: _("Comment"), lambda a: a.comment),
    )


def _printed(value: str | None) -> str:
    """A printed score ("-1.6") in the screen's language ("-1,6" in Danish)."""
    if not value:
        return ""
    return value.replace(".", ",") if current_language() == "da" else value


def _harmonised(r: RegionRow) -> str:
    """The harmonised BMD, or "not harmonised" (never the raw value in its place)."""
    if not r.harmonised:
        return _("not harmonised")
    return _bmd(r.harmonised_bmd)


def _category(r: RegionRow) -> str:
    """The WHO/ISCD category, for the diagnostic regions only (not per vertebra)."""
    if not r.category or not diagnostic_region(r.region):
        return ""
    return category_text(r.category)


def _interval(r: RegionRow) -> str:
    if r.t_interval is None:
        return ""
    low, high = (_printed(format_score(v)) for v in r.t_interval)
    text = f"{low} … {high}"
    return text + " !" if r.near_threshold else text


def _analysis_label(image: StudyImage) -> str:
    labels = {
        "read": _("results read"),
        "none": _("image only"),
        "not_understood": _("analysis data not understood"),
    }
    label = labels.get(image.analysis, "")
    return f"{label}: {image.analysis_detail}" if image.analysis_detail else label


class StudyImageModel(ObjectTableModel[StudyImage]):
    """A study's images: kind, side, size, analysis, exposure, SOP instance UID, file."""

    columns: Sequence[Column[StudyImage]] = (
        Column(lambda: _("Kind"), lambda i: image_kind_text(i.kind)),
        Column(lambda: _("Side"), lambda i: side_text(i.side)),
        Column(
            lambda: _("Size"),
            lambda i: f"{i.columns}×{i.rows}" if i.rows and i.columns else "",
        ),
        Column(lambda: _("Analysis"), _analysis_label),
        Column(
            lambda: _("Exposure"),
            lambda i: exposure_text(i.exposure, _, current_language()),
        ),
        Column(lambda: _("SOP instance UID"), lambda i: i.sop_instance_uid),
        Column(lambda: _("File"), lambda i: i.stored_path or i.file_path or i.note),
    )


class PrecisionGridModel(QAbstractTableModel):
    """An editable grid over a plain list of rows: subject, then the repeated BMD values.

    Parameters
    ----------
    n_rows : int
        Number of subject rows.
    n_values : int
        Number of repeated scans per subject.
    parent : QObject, optional
        The owner.
    """

    def __init__(self, n_rows: int = 15, n_values: int = 3, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._n_values = n_values
        self._rows: list[list[str]] = [[""] * (n_values + 1) for _ in range(n_rows)]

    def reshape(self, n_rows: int, n_values: int) -> None:
        """Give the grid a new size, keeping what fits (a model reset)."""
        self.beginResetModel()
        old = self._rows
        self._n_values = n_values
        self._rows = []
        for r in range(n_rows):
            src = old[r] if r < len(old) else []
            self._rows.append([src[c] if c < len(src) else "" for c in range(n_values + 1)])
        self.endResetModel()

    def set_rows(self, rows: Sequence[Sequence[str]]) -> None:
        """Replace the contents (the grid grows to fit the rows and their values)."""
        n_values = max([self._n_values, *(len(r) - 1 for r in rows)])
        self.beginResetModel()
        self._n_values = n_values
        self._rows = [[str(r[c]) if c < len(r) else "" for c in range(n_values + 1)] for r in rows]
        self.endResetModel()

    def rows(self) -> list[list[str]]:
        """Return a copy of the grid's rows."""
        return [list(r) for r in self._rows]

    @property
    def n_values(self) -> int:
        """Number of value columns."""
        return self._n_values

    def rowCount(self, parent: _ANY_INDEX = QModelIndex()) -> int:  # noqa: B008
        """Return the number of subject rows (0 under a valid parent)."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _ANY_INDEX = QModelIndex()) -> int:  # noqa: B008
        """Return 1 + the number of repeated values (0 under a valid parent)."""
        return 0 if parent.isValid() else self._n_values + 1

    def data(self, index: _ANY_INDEX, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Return the text of a cell."""
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        if index.column() > self._n_values:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._rows[index.row()][index.column()]
        return None

    def setData(self, index: _ANY_INDEX, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Set the text of a cell."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        if index.row() >= len(self._rows) or index.column() > self._n_values:
            return False
        self._rows[index.row()][index.column()] = "" if value is None else str(value).strip()
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole])
        return True

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Return "Subject", "Scan 1", "Scan 2", ... (rows are numbered)."""
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Vertical:
            return str(section + 1)
        if section == 0:
            return _("Subject")
        if 0 < section <= self._n_values:
            return _("Scan {n} (g/cm²)").format(n=section)
        return None

    def flags(self, index: _ANY_INDEX) -> Qt.ItemFlag:
        """Every cell is editable."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsEditable
            | Qt.ItemFlag.ItemNeverHasChildren
        )


class RegionScoreModel(ObjectTableModel[RegionRow]):
    """Per region: raw and harmonised BMD, T, Z, category, included in the diagnosis."""

    COL_REGION, COL_RAW, COL_HARM, COL_T, COL_Z, COL_CATEGORY, COL_INCLUDED, COL_INTERVAL = range(8)

    columns: Sequence[Column[RegionRow]] = (
        Column(lambda: _("Region"), lambda r: region_text(r.region, r.side)),
        Column(lambda: _("Raw BMD"), lambda r: _bmd(r.raw_bmd), numeric=True),
        Column(lambda: _("Harmonised BMD"), _harmonised, numeric=True),
        Column(lambda: _("T"), lambda r: _printed(r.t_printed), numeric=True),
        Column(lambda: _("Z"), lambda r: _printed(r.z_printed), numeric=True),
        Column(lambda: _("Category"), _category),
        Column(lambda: _("Included"), lambda r: _("yes") if r.included else _("no")),
        Column(lambda: _("T 95 % interval"), _interval),
    )

    def tooltip(self, item: RegionRow) -> str | None:
        """Return the uncertainty behind the interval (calibration and precision, g/cm²)."""
        return localised(
            _("Calibration ±{cal:.3f} g/cm², precision ±{prec:.3f} g/cm² (95 %)."),
            cal=1.96 * item.calibration_sd,
            prec=1.96 * item.precision_sd,
        )
