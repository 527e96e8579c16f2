"""The one read-only table model: a list of objects shown through column definitions.

Every table of the workspaces is an :class:`ObjectTableModel` whose columns say the header
(translated at call time), the cell text and, optionally, the sort key, the alignment, a
colour (decoration, text or background) and a tooltip. A concrete table only declares its
columns, so rows, roles, headers and flags are written once and every table passes
``qtmodeltester.check`` the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

T = TypeVar("T")

#: Role that returns the row's object (e.g. a PatientSummary).
ObjectRole = int(Qt.ItemDataRole.UserRole) + 1
#: Role that returns a value to sort by (str or number), used by a QSortFilterProxyModel.
SortRole = int(Qt.ItemDataRole.UserRole) + 2

AnyIndex = QModelIndex | QPersistentModelIndex
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


@dataclass(frozen=True)
class Column(Generic[T]):
    """One column of an :class:`ObjectTableModel`.

    Parameters
    ----------
    header : Callable
        ``header() -> str``: the translated title, asked at call time.
    display : Callable
        ``display(row) -> str``: the cell text.
    sort_key : Callable, optional
        ``sort_key(row)``: what the column sorts by (default: the cell text).
    numeric : bool
        Right-align the cells (numbers).
    decoration : Callable, optional
        ``decoration(row) -> QColor | None``: a colour swatch before the text.
    foreground : Callable, optional
        ``foreground(row) -> QColor | None``: the text colour.
    background : Callable, optional
        ``background(row) -> QBrush | None``: the cell background.
    """

    header: Callable[[], str]
    display: Callable[[T], str]
    sort_key: Callable[[T], str | int | float] | None = None
    numeric: bool = False
    decoration: Callable[[T], QColor | None] | None = None
    foreground: Callable[[T], QColor | None] | None = None
    background: Callable[[T], QBrush | None] | None = None


class ObjectTableModel(QAbstractTableModel, Generic[T]):
    """A read-only table over a list of (frozen) objects, described by :attr:`columns`.

    Parameters
    ----------
    rows : sequence, optional
        The first rows.
    parent : QObject, optional
        The owner.
    """

    #: The columns, in order (a concrete table sets this class attribute).
    columns: Sequence[Column[T]] = ()

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
        """Return the object of one row."""
        return self._rows[row]

    def find_row(self, predicate: Callable[[T], bool]) -> int | None:
        """Return the first row whose object satisfies ``predicate``, or None."""
        return next((i for i, item in enumerate(self._rows) if predicate(item)), None)

    def retranslate(self) -> None:
        """Tell views that the headers and translated cells changed (after a language switch)."""
        n_cols = len(self.columns)
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, n_cols - 1)
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, n_cols - 1))

    def tooltip(self, item: T) -> str | None:
        """Return the tooltip of a row (a table may override it)."""
        return None

    # -- QAbstractTableModel ------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        """Return the number of rows (0 under any valid parent: this is a flat table)."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        """Return the number of columns (0 under any valid parent)."""
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
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
            return (column.sort_key or column.display)(item)
        painter: Callable[[T], QColor | QBrush | None] | None = None
        if role == Qt.ItemDataRole.DecorationRole:
            painter = column.decoration
        elif role == Qt.ItemDataRole.ForegroundRole:
            painter = column.foreground
        elif role == Qt.ItemDataRole.BackgroundRole:
            painter = column.background
        return painter(item) if painter is not None else None

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

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        """Cells can be selected but not edited."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )
