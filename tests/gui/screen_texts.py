"""Walk every workspace of the main window and collect the texts a user can read on screen.

Shared by the offscreen language test and the Xvfb screenshot run: :func:`walk` shows each
workspace tab and each tab inside it, selects the first row of every table (so detail panels
fill), waits for the workspaces' background tasks, and calls back once per page shown;
:func:`visible_texts` reads the labels, buttons, titles, combo items, text boxes and table
cells (headers and the first rows) of a widget tree; :func:`code_like` and
:func:`untranslated` find what a Danish user must never read.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTabWidget,
    QTextEdit,
    QWidget,
)

from dxa_app.i18n import translator

#: Internal codes that must never reach a user's eyes (data values and identifiers aside).
CODE_TOKENS = re.compile(
    r"\b(?:[a-z]+_[a-z0-9_]+|deming(?:-in-vivo)?|ols-esp|esp-certified|esp-reference-line"
    r"|qc-cusum(?:-ramp)?|travelling:|in-vivo:|daily-qc:|national_scale)\b"
)
#: Status codes that are English words: codes only on a Danish screen.
DANISH_CODE_TOKENS = re.compile(r"\b(?:proposed|approved|retired|limit|all)\b")
#: Texts that look like codes but are data (file names, paths) are skipped.
_PATHLIKE = re.compile(r"[/\\]|\.(?:dcm|csv|sqlite|mdb|pdf|png|json)\b", re.IGNORECASE)
ROWS_READ = 40


def settle(app: QApplication, busy: Callable[[], bool], limit: float = 30.0) -> None:
    """Process events until ``busy()`` is false (at most ``limit`` seconds), then a little more."""
    end = time.monotonic() + limit
    while busy() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    for _ in range(5):
        app.processEvents()


def _cells(view: QAbstractItemView) -> Iterable[str]:
    model = view.model()
    if model is None:
        return
    try:
        columns = model.columnCount(QModelIndex())
    except TypeError:  # a list model
        columns = 1
    for c in range(columns):
        header = model.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
        if header is not None:
            yield str(header)
    for r in range(min(model.rowCount(), ROWS_READ)):
        for c in range(columns):
            value = model.data(model.index(r, c), Qt.ItemDataRole.DisplayRole)
            if value is not None:
                yield str(value)


def visible_texts(root: QWidget) -> list[str]:
    """Return the texts of the visible widgets under ``root`` (one string per text)."""
    texts: list[str] = []
    for w in [root, *root.findChildren(QWidget)]:
        if not w.isVisible():
            continue
        if isinstance(w, QLabel | QAbstractButton):
            texts.append(w.text())
        elif isinstance(w, QGroupBox):
            texts.append(w.title())
        elif isinstance(w, QComboBox):
            texts.extend(w.itemText(i) for i in range(w.count()))
        elif isinstance(w, QLineEdit):
            texts.append(w.placeholderText())
        elif isinstance(w, QPlainTextEdit | QTextEdit):
            texts.append(w.toPlainText())
        elif isinstance(w, QTabWidget):
            texts.extend(w.tabText(i) for i in range(w.count()))
        if isinstance(w, QAbstractItemView):
            texts.extend(_cells(w))
    return [t for t in texts if t and t.strip()]


def code_like(texts: Iterable[str], lang: str = "en") -> list[str]:
    """Return the texts that show an internal code (``low_bone_mass``, ``deming`` ...).

    On a Danish screen (``lang="da"``) the English status words ("approved") count too.
    """
    found = []
    for text in texts:
        for line in text.splitlines():
            if _PATHLIKE.search(line):
                continue
            if CODE_TOKENS.search(line) or (lang == "da" and DANISH_CODE_TOKENS.search(line)):
                found.append(line)
    return found


def untranslated(texts: Iterable[str], english_ids: set[str]) -> list[str]:
    """Return the Danish-screen texts that are a catalogue message left in English."""
    da = translator("da")
    return [
        text
        for text in texts
        for line in text.splitlines()
        if line in english_ids and da(line) != line
    ]


def _select_first_rows(root: QWidget) -> None:
    for view in root.findChildren(QAbstractItemView):
        if not view.isVisible() or view.model() is None or view.model().rowCount() == 0:
            continue
        selection = view.selectionModel()
        if selection is None or selection.hasSelection():
            continue
        selection.select(
            view.model().index(0, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )


def _pick_first_study(root: QWidget) -> None:
    for combo in root.findChildren(QComboBox):
        visible = combo.isVisible() and combo.count() > 0
        if visible and combo.objectName() == "studyPicker" and combo.currentIndex() <= 0:
            combo.setCurrentIndex(0)
            combo.activated.emit(0)


def _inner_tabs(root: QWidget) -> list[QTabWidget]:
    return [t for t in root.findChildren(QTabWidget) if t.isVisible()]


def walk(
    window: QWidget,
    tabs: QTabWidget,
    app: QApplication,
    busy: Callable[[], bool],
    page: Callable[[str], None],
) -> None:
    """Show every tab of ``tabs`` and each tab inside it; call ``page(name)`` on each.

    ``name`` is ``<workspace>`` or ``<workspace>-<inner tab index>``; the first rows of the
    visible tables are selected before each call, and ``busy`` is awaited.
    """
    for i in range(tabs.count()):
        tabs.setCurrentIndex(i)
        settle(app, busy)
        widget = tabs.widget(i)
        assert widget is not None
        key = widget.objectName() or f"tab{i}"
        _select_first_rows(window)
        _pick_first_study(window)
        settle(app, busy)
        page(key)
        seen: set[int] = set()
        for inner in _inner_tabs(widget):
            if id(inner) in seen:
                continue
            seen.add(id(inner))
            for j in range(1, inner.count()):
                inner.setCurrentIndex(j)
                settle(app, busy)
                _select_first_rows(window)
                _pick_first_study(window)
                settle(app, busy)
                page(f"{key}-{inner.objectName() or 'tabs'}{j}")
            inner.setCurrentIndex(0)
