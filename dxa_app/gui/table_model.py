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
    Signal,
)
from PySide6.QtGui import QBrush, QColor

T = TypeVar("T")

#: Role that returns the row's object (e.g. a PatientSummary).
ObjectRole = int(Qt.ItemDataRole.UserRole) + 1
#: Role that returns a value to sort by (str or number), for a QSortFilterProxyModel over a
#: small table (the big lists sort in the archive: :class:`PagedTableModel`).
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


#: ``fetch(offset, limit, sort_key, descending) -> rows``: one page of a list, sorted by a key
#: the service knows (the sorting happens in the archive's SQL, never over all rows here).
PageFetch = Callable[[int, int, str, bool], Sequence[T]]


class PagedTableModel(ObjectTableModel[T]):
    """An :class:`ObjectTableModel` that holds only the pages a view has asked for.

    The rows come from a fetch function, a page at a time: the first page when the source is
    set or the sort order changes, the next one when the view scrolls near the end
    (``canFetchMore`` / ``fetchMore``). A click on a sortable column asks the fetch function
    for the first page in the new order; nothing is sorted in Python. Rows given with
    :meth:`set_rows` are shown as they are, without fetching.

    With :attr:`background_sort` set, a header click's first page is fetched on the thread
    pool, so a sort the archive needs a while for (a computed column over 100,000 studies)
    never freezes the window: the rows in the old order stay shown, and no page is appended
    to them, until the new order's first page replaces them (:attr:`sorting` tells; only the
    last click's answer is shown).

    Parameters
    ----------
    rows : sequence, optional
        Fixed first rows (as :meth:`set_rows`).
    parent : QObject, optional
        The owner.
    """

    #: How many rows one fetch asks for.
    page_size: int = 200
    #: Per column: the sort key the fetch function understands, or None (not sortable).
    sort_keys: Sequence[str | None] = ()
    #: The order before a column is clicked: (column, order).
    default_sort: tuple[int, Qt.SortOrder] = (0, Qt.SortOrder.AscendingOrder)
    #: Emitted with True when a header click's first page is being fetched in the
    #: background, and with False when it is shown (or failed, or was overtaken).
    sorting = Signal(bool)

    def __init__(self, rows: Sequence[T] = (), parent: QObject | None = None) -> None:
        super().__init__(rows, parent)
        self._fetch: PageFetch[T] | None = None
        self._more = False
        self._sort_column, self._sort_order = self.default_sort
        #: Fetch a header click's first page on the thread pool (see the class notes).
        self.background_sort = False
        self._generation = 0  # a newer source or click makes an older click's answer stale
        self._sorting = False
        self._shown = ((self._sort_column, self._sort_order), False)

    # -- public API ---------------------------------------------------------------------
    def set_source(self, fetch: PageFetch[T] | None, first: Sequence[T] | None = None) -> None:
        """Show the list ``fetch`` pages through, from its first page (a model reset).

        Parameters
        ----------
        fetch : callable or None
            ``fetch(offset, limit, sort_key, descending)``; None shows no rows.
        first : sequence, optional
            The first page in the current order, when already fetched (by a background task).
        """
        self._fetch = fetch
        self._generation += 1
        self._set_sorting(False)
        self.beginResetModel()
        if fetch is None:
            self._rows, self._more = [], False
        else:
            rows = list(first) if first is not None else list(self._page(0))
            self._rows, self._more = rows, len(rows) >= self.page_size
        self.endResetModel()

    def set_rows(self, rows: Sequence[T]) -> None:
        """Show fixed rows (no fetching) with a model reset."""
        self._fetch, self._more = None, False
        super().set_rows(rows)

    def reload(self) -> None:
        """Fetch the first page again (after the list changed in the archive)."""
        if self._fetch is not None:
            self.set_source(self._fetch)

    def sort_key(self) -> tuple[str, bool]:
        """Return the current sort key and whether it is descending."""
        key = self.sort_keys[self._sort_column] if self._sort_column < len(self.sort_keys) else None
        return key or "", self._sort_order == Qt.SortOrder.DescendingOrder

    def fetch_until(self, predicate: Callable[[T], bool]) -> int | None:
        """Return the row of the first object satisfying ``predicate``, fetching pages as needed."""
        row = self.find_row(predicate)
        while row is None and self._more:
            start = len(self._rows)
            self.fetchMore(QModelIndex())
            row = next((i for i in range(start, len(self._rows)) if predicate(self._rows[i])), None)
        return row

    def _page(self, offset: int) -> Sequence[T]:
        if self._fetch is None:
            return []
        key, descending = self.sort_key()
        return self._fetch(offset, self.page_size, key, descending)

    # -- QAbstractTableModel ------------------------------------------------------------
    def canFetchMore(self, parent: AnyIndex) -> bool:
        """Return whether another page may follow the rows fetched so far."""
        return not parent.isValid() and self._more

    def fetchMore(self, parent: AnyIndex) -> None:
        """Fetch the next page and append it."""
        if parent.isValid() or not self._more:
            return
        self._more = False  # no second fetch from a slot while this one inserts its rows
        rows = list(self._page(len(self._rows)))
        if rows:
            start = len(self._rows)
            self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
        self._more = len(rows) >= self.page_size

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by a column in the archive: fetch the first page in the new order."""
        if not (0 <= column < len(self.sort_keys)) or self.sort_keys[column] is None:
            return
        if (column, order) == (self._sort_column, self._sort_order):
            return
        if not self._sorting:  # the order the rows shown are in, and whether more follow
            self._shown = ((self._sort_column, self._sort_order), self._more)
        self._sort_column, self._sort_order = column, order
        if self._fetch is None:
            return
        if not self.background_sort:
            self.set_source(self._fetch)
            return
        from dxa_app.gui.tasks import run_task

        self._generation += 1
        generation, fetch = self._generation, self._fetch
        key, descending = self.sort_key()
        size = self.page_size
        self._more = False  # no page in the old order is appended while the new one comes
        self._set_sorting(True)

        def work(*_: object) -> list[T]:
            return list(fetch(0, size, key, descending))

        def done(rows: list[T]) -> None:
            if generation == self._generation:
                self.set_source(fetch, rows)

        def failed(exc: BaseException, _trace: str) -> None:
            if generation != self._generation:
                return
            # the rows shown are still in the old order: keep paging in it
            (self._sort_column, self._sort_order), self._more = self._shown
            self._set_sorting(False)
            from dxa_app.gui.dialogs import show_error

            show_error(exc, None, exc.__traceback__)

        run_task(work, on_done=done, on_error=failed, owner=self)

    def sort_state(self) -> tuple[int, Qt.SortOrder]:
        """Return the column and order of the rows' sort (the one asked for while sorting)."""
        return self._sort_column, self._sort_order

    def is_sorting(self) -> bool:
        """Return whether a header click's first page is being fetched in the background."""
        return self._sorting

    def _set_sorting(self, sorting: bool) -> None:
        if sorting != self._sorting:
            self._sorting = sorting
            self.sorting.emit(sorting)
