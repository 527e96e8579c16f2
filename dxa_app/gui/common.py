"""Small helpers shared by the workspaces: the read-only table view, form labels, dialogs."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from dxa_app.gui.table_model import PagedTableModel
from dxa_app.i18n import _

#: How many rows beyond the shown ones fitting a table's columns to their contents reads.
RESIZE_PRECISION = 100


def read_only_table(
    model: QAbstractItemModel, *, multi: bool = False, sortable: bool = False
) -> QTableView:
    """Return a row-selecting, read-only table view over ``model``.

    Parameters
    ----------
    model : QAbstractItemModel
        The model (or a sorting proxy).
    multi : bool
        Allow selecting several rows.
    sortable : bool
        Sort by a click on a column header. A :class:`PagedTableModel` then fetches the new
        order's first page in the background, with a busy cursor over the rows meanwhile.

    Returns
    -------
    QTableView
        The view.
    """
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(
        QAbstractItemView.SelectionMode.ExtendedSelection
        if multi
        else QAbstractItemView.SelectionMode.SingleSelection
    )
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSortingEnabled(sortable)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.horizontalHeader().setStretchLastSection(True)
    # A bold header over the selected row's columns is wider than the width fitted to it.
    view.horizontalHeader().setHighlightSections(False)
    # Fitting the columns reads the shown rows and 100 more, not every row (Qt's default is
    # 1,000): an import's result table of thousands of files is shown without a pause.
    view.horizontalHeader().setResizeContentsPrecision(RESIZE_PRECISION)
    if sortable and isinstance(model, PagedTableModel):
        model.background_sort = True
        paged = model
        model.sorting.connect(lambda busy: _sorting(view, paged, busy))
    return view


def _sorting(view: QTableView, model: PagedTableModel[Any], busy: bool) -> None:
    """A busy cursor over the rows while the list is sorted; then the header shows its order.

    After a failed sort the rows keep their old order, and so does the header's arrow.
    """
    if busy:
        view.viewport().setCursor(Qt.CursorShape.BusyCursor)
        return
    view.viewport().unsetCursor()
    column, order = model.sort_state()
    header = view.horizontalHeader()
    if (header.sortIndicatorSection(), header.sortIndicatorOrder()) != (column, order):
        header.setSortIndicator(column, order)  # the model is in this order: no new fetch


class EmptyHint(QObject):
    """A centred, grey hint over an empty table saying what to do first.

    It shows while the view's model has no rows and hides as soon as one arrives (it follows
    the model's signals); the text is set (and re-set after a language switch) by the owner.

    Parameters
    ----------
    view : QAbstractItemView
        The table (its model must be set).
    text : str
        The hint, translated.
    """

    def __init__(self, view: QAbstractItemView, text: str = "") -> None:
        super().__init__(view)
        self.view = view
        self.label = QLabel(text, view.viewport())
        self.label.setObjectName("emptyHint")
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setStyleSheet("QLabel#emptyHint { color: #607d8b; padding: 16px; }")
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        view.viewport().installEventFilter(self)
        model = view.model()
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved):
            signal.connect(self._changed)
        model.layoutChanged.connect(self._changed)
        self.refresh()

    def set_text(self, text: str) -> None:
        """Set the hint (translated)."""
        self.label.setText(text)
        self.refresh()

    def text(self) -> str:
        """Return the hint."""
        return self.label.text()

    def shown(self) -> bool:
        """Return whether the hint is showing (the table is empty and there is a hint)."""
        return not self.label.isHidden()

    def _changed(self, *_args: object) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Show the hint when the model is empty, hide it otherwise; fit it to the view."""
        empty = self.view.model().rowCount() == 0
        self.label.setVisible(empty and bool(self.label.text()))
        self.label.setGeometry(self.view.viewport().rect())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Keep the hint as large as the view's visible area."""
        if event.type() == QEvent.Type.Resize:
            self.label.setGeometry(self.view.viewport().rect())
        return False


def set_form_labels(form: QFormLayout, texts: Sequence[str]) -> None:
    """Set the label texts of a form's first rows, in order (after a language switch).

    Parameters
    ----------
    form : QFormLayout
        A form whose rows were added with a label (``addRow(str or QLabel, field)``).
    texts : sequence of str
        The translated labels, from the top.
    """
    for row, text in enumerate(texts):
        item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
        widget = item.widget() if item is not None else None
        if isinstance(widget, QLabel):
            widget.setText(text)


class FormDialog(QDialog):
    """A small dialog: the caller's fields, an inline problem line, OK and Cancel.

    OK calls :meth:`submit` and does not close the dialog: a subclass accepts it when the
    service agreed, or shows the refusal with :meth:`show_problem` and stays usable. OK is
    the default button, so Enter in any field presses it.

    Parameters
    ----------
    parent : QWidget, optional
        The owner window.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = self._layout = QVBoxLayout(self)
        #: Where a subclass puts its fields, above the problem line and the buttons.
        self.body = QVBoxLayout()
        layout.addLayout(self.body)
        self.error_label = QLabel()
        self.error_label.setObjectName("formProblem")
        self.error_label.setStyleSheet("color: #c62828")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        layout.addWidget(self.error_label)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.ok_button.setDefault(True)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        # Wide enough for a sentence per line: a refusal wraps over a few lines, not ten.
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 55)

    def tab_order(self, *fields: QWidget) -> None:
        """Set the tab order: ``fields`` from the top, then OK, then Cancel; focus the first."""
        chain = [*fields, self.ok_button, self.cancel_button]
        for before, after in itertools.pairwise(chain):
            QWidget.setTabOrder(before, after)
        fields[0].setFocus()

    def show_problem(self, message: str) -> None:
        """Show a problem inside the dialog (never a second modal box), never clipped.

        The dialog grows to the height the wrapped text needs at its width (a top-level
        window does not do that by itself for a word-wrapped label shown later).
        """
        self.error_label.setText(message)
        self.error_label.setVisible(True)
        self._layout.activate()
        needed = self._layout.totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    def submit(self) -> object:
        """Act on OK (a subclass overrides it)."""
        raise NotImplementedError


class PasswordDialog(FormDialog):
    """Re-enter the password to sign; stays open (and usable) until the service agrees.

    OK emits :attr:`submitted` instead of closing: the workspace closes the dialog when the
    signature is stored, or shows the service's refusal (e.g. "Wrong password.") inside it.
    Shown with ``open()``; tests type the password and click :attr:`ok_button`.
    """

    #: Emitted with the password when OK is pressed.
    submitted = Signal(str)

    def __init__(
        self, prompt: str, parent: QWidget | None = None, *, signed_text: str = ""
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Sign report"))
        self.prompt_label = QLabel(prompt)
        self.prompt_label.setWordWrap(True)
        self.body.addWidget(self.prompt_label)
        #: What will be signed (the conclusion and recommendation), read-only.
        self.signed_view = QPlainTextEdit(signed_text)
        self.signed_view.setObjectName("signedText")
        self.signed_view.setReadOnly(True)
        self.signed_view.setMinimumSize(420, 140)
        self.signed_view.setVisible(bool(signed_text))
        self.body.addWidget(self.signed_view)
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText(_("Password"))
        self.body.addWidget(self.password_edit)
        self.tab_order(self.password_edit)

    def password(self) -> str:
        """Return the password typed."""
        return self.password_edit.text()

    def submit(self) -> None:
        """Hand the password to the workspace and wait for the service's answer."""
        self.error_label.setVisible(False)
        self.set_waiting(True)
        self.submitted.emit(self.password())

    def set_waiting(self, waiting: bool) -> None:
        """Grey out OK while the service checks the password and signs."""
        self.ok_button.setEnabled(not waiting)

    def show_problem(self, message: str) -> None:
        """Show why the service refused, clear the password and let the user try again."""
        super().show_problem(message)
        self.password_edit.clear()
        self.password_edit.setFocus()
        self.set_waiting(False)
