"""Small helpers shared by the workspaces: the read-only table view, form labels."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractItemModel
from PySide6.QtWidgets import QAbstractItemView, QFormLayout, QHeaderView, QLabel, QTableView


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
