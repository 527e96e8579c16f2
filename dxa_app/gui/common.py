"""Small helpers shared by the workspaces: the read-only table view, form labels, dialogs."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from PySide6.QtCore import QAbstractItemModel, Signal
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

from dxa_app.i18n import _


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
        Sort by a click on a column header.

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
    return view


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
        layout = QVBoxLayout(self)
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

    def tab_order(self, *fields: QWidget) -> None:
        """Set the tab order: ``fields`` from the top, then OK, then Cancel; focus the first."""
        chain = [*fields, self.ok_button, self.cancel_button]
        for before, after in itertools.pairwise(chain):
            QWidget.setTabOrder(before, after)
        fields[0].setFocus()

    def show_problem(self, message: str) -> None:
        """Show a problem inside the dialog (never a second modal box)."""
        self.error_label.setText(message)
        self.error_label.setVisible(True)

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
