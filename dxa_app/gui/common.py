"""Small helpers shared by the workspaces: open the session's archive, build table views."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlite_utils
from PySide6.QtCore import QAbstractItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from dxa_app.archive import open_archive
from dxa_app.gui.session import Session


@contextlib.contextmanager
def session_db(session: Session) -> Iterator[sqlite_utils.Database]:
    """Open the session's archive for one GUI-thread call and close it afterwards.

    Work on a thread-pool thread opens its own connection inside the worker instead
    (SQLite connections belong to one thread).
    """
    db = open_archive(session.archive, create=False)
    try:
        yield db
    finally:
        db.close()


def read_only_table(model: QAbstractItemModel, *, multi: bool = False) -> QTableView:
    """Return a row-selecting, read-only table view over ``model``."""
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(
        QAbstractItemView.SelectionMode.ExtendedSelection
        if multi
        else QAbstractItemView.SelectionMode.SingleSelection
    )
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.horizontalHeader().setStretchLastSection(True)
    return view
