"""Table models over plain lists of domain summaries (patients, studies).

Header labels and translated cell texts are computed at call time with
:func:`dxa_app.i18n._`, so :meth:`retranslate` (which only emits change signals)
is enough after a language switch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

from dxa_app.domain import PatientSummary, ScanType, Sex, StudySummary, scanner_label
from dxa_app.i18n import _

T = TypeVar("T")

#: Role that returns the row's domain object (PatientSummary / StudySummary).
ObjectRole = int(Qt.ItemDataRole.UserRole) + 1
#: Role that returns a value to sort by (str or int), used by a QSortFilterProxyModel.
SortRole = int(Qt.ItemDataRole.UserRole) + 2

_ANY_INDEX = QModelIndex | QPersistentModelIndex
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


def format_date(value: dt.date | None) -> str:
    """Return a date as ISO ``YYYY-MM-DD`` (empty when unknown)."""
    return value.isoformat() if value is not None else ""


def sex_label(sex: Sex | None) -> str:
    """Return the translated label of a patient's sex (empty when unknown)."""
    if sex is None:
        return ""
    labels = {Sex.FEMALE: _("Female"), Sex.MALE: _("Male"), Sex.OTHER: _("Other")}
    return labels.get(sex, str(sex))


def scan_type_label(scan_type: str) -> str:
    """Return the translated label of a scan type (the raw value when unknown)."""
    labels = {
        ScanType.AP_SPINE: _("AP spine"),
        ScanType.HIP: _("Hip"),
        ScanType.FOREARM: _("Forearm"),
        ScanType.WHOLE_BODY: _("Whole body"),
        ScanType.VFA: _("VFA"),
        ScanType.OTHER: _("Other"),
    }
    try:
        return labels[ScanType(scan_type)]
    except ValueError:
        return scan_type


class _Column(Generic[T]):
    """One column: a translated header, a display function and a sort key."""

    def __init__(
        self,
        header: Callable[[], str],
        display: Callable[[T], str],
        sort_key: Callable[[T], str | int] | None = None,
        numeric: bool = False,
    ) -> None:
        self.header = header
        self.display = display
        self.sort_key = sort_key or display
        self.numeric = numeric


class _ListTableModel(QAbstractTableModel, Generic[T]):
    """A read-only table over a list of frozen domain objects."""

    columns: Sequence[_Column[T]] = ()

    def __init__(self, rows: Sequence[T] = (), parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[T] = list(rows)

    # -- public API ---------------------------------------------------------------------
    def set_rows(self, rows: Sequence[T]) -> None:
        """Replace all rows (a model reset)."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[T]:
        """Return a copy of the rows."""
        return list(self._rows)

    def row_at(self, row: int) -> T:
        """Return the domain object of one row."""
        return self._rows[row]

    def retranslate(self) -> None:
        """Tell views that the headers and translated cells changed (after a language switch)."""
        n_cols = len(self.columns)
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, n_cols - 1)
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, n_cols - 1))

    def tooltip(self, item: T) -> str | None:
        """Return the tooltip of a row (subclasses may override)."""
        return None

    # -- QAbstractTableModel ------------------------------------------------------------
    def rowCount(self, parent: _ANY_INDEX = QModelIndex()) -> int:  # noqa: B008
        """Return the number of rows (0 under any valid parent: this is a flat table)."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _ANY_INDEX = QModelIndex()) -> int:  # noqa: B008
        """Return the number of columns (0 under any valid parent)."""
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: _ANY_INDEX, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Return the data of one cell for a role."""
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        if index.column() >= len(self.columns):
            return None
        item = self._rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.display(item)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column.numeric else _LEFT
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(item)
        if role == ObjectRole:
            return item
        if role == SortRole:
            return column.sort_key(item)
        return None

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        """Return the translated column header (rows have plain numbers)."""
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            if 0 <= section < len(self.columns):
                return self.columns[section].header()
            return None
        return str(section + 1)

    def flags(self, index: _ANY_INDEX) -> Qt.ItemFlag:
        """Cells can be selected but not edited."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )


class PatientTableModel(_ListTableModel[PatientSummary]):
    """Patients: CPR/ID, name, birth date, sex, number of studies, last study."""

    COL_IDENTIFIER, COL_NAME, COL_BIRTH, COL_SEX, COL_N_STUDIES, COL_LAST = range(6)

    columns: Sequence[_Column[PatientSummary]] = (
        _Column(lambda: _("CPR/ID"), lambda p: p.identifier),
        _Column(lambda: _("Name"), lambda p: p.name),
        _Column(lambda: _("Birth date"), lambda p: format_date(p.birth_date)),
        _Column(lambda: _("Sex"), lambda p: sex_label(p.sex)),
        _Column(
            lambda: _("Studies"), lambda p: str(p.n_studies), lambda p: p.n_studies, numeric=True
        ),
        _Column(lambda: _("Last study"), lambda p: format_date(p.last_study)),
    )


class StudyTableModel(_ListTableModel[StudySummary]):
    """Studies: date, patient ID, name, site, scanner, serial, scan types, number of results."""

    (
        COL_DATE,
        COL_PATIENT_ID,
        COL_PATIENT_NAME,
        COL_SITE,
        COL_SCANNER,
        COL_SERIAL,
        COL_SCAN_TYPES,
        COL_N_RESULTS,
    ) = range(8)

    columns: Sequence[_Column[StudySummary]] = (
        _Column(lambda: _("Date"), lambda s: format_date(s.study_date)),
        _Column(lambda: _("Patient ID"), lambda s: s.patient_identifier),
        _Column(lambda: _("Patient name"), lambda s: s.patient_name),
        _Column(lambda: _("Site"), lambda s: s.site),
        _Column(lambda: _("Scanner"), lambda s: scanner_label(s.manufacturer, s.model)),
        _Column(lambda: _("Serial"), lambda s: s.serial),
        _Column(
            lambda: _("Scan types"),
            lambda s: ", ".join(scan_type_label(t) for t in s.scan_types),
        ),
        _Column(
            lambda: _("Results"), lambda s: str(s.n_results), lambda s: s.n_results, numeric=True
        ),
    )

    def tooltip(self, item: StudySummary) -> str | None:
        """Return the study UID as the row's tooltip."""
        return _("Study UID: {uid}").format(uid=item.study_uid)


#: Public names for the list-model building blocks (used by the workspace models).
Column = _Column
ListTableModel = _ListTableModel
