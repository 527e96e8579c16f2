"""No lost work: unsaved conclusions, what the signature signs, and VFA readings amended."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from dxa_app.domain import Role
from dxa_app.gui.physician import PhysicianWorkspace
from dxa_app.services.auth import Session
from tests.gui.technician_fixtures import query
from tests.gui.test_physician import TIMEOUT, _select_first, _workspace
from tests.sessions import session_as

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


@pytest.fixture
def doc_ws(qtbot: QtBot, demo_archive: Path) -> PhysicianWorkspace:
    doc: Session = session_as(demo_archive, Role.PHYSICIAN, "doc", display_name="Dr. Ida Holm")
    return _workspace(qtbot, doc)


def _select_row(ws: PhysicianWorkspace, row: int) -> None:
    ws.table.selectionModel().select(
        ws.model.index(row, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )


@pytest.mark.parametrize(
    "answer", [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Discard]
)
def test_an_unsaved_conclusion_is_not_dropped_silently(
    doc_ws: PhysicianWorkspace, qtbot: QtBot, answer: QMessageBox.StandardButton
) -> None:
    first = _select_first(doc_ws, qtbot)
    doc_ws.conclusion_edit.setPlainText("Min egen konklusion.")
    assert doc_ws.has_unsaved_text()
    _select_row(doc_ws, 1)
    box = doc_ws.discard_box
    assert box is not None and box.isVisible()  # asked, not discarded
    assert doc_ws.current_study == first
    box.done(int(answer))
    qtbot.waitUntil(lambda: not doc_ws.busy(), timeout=TIMEOUT)
    if answer == QMessageBox.StandardButton.Cancel:
        assert doc_ws.current_study == first
        assert doc_ws.conclusion_edit.toPlainText() == "Min egen konklusion."
        assert doc_ws.table.selectionModel().selectedRows()[0].row() == 0
    else:
        assert doc_ws.current_study == doc_ws.model.row_at(1).study_id


def test_save_in_the_question_saves_then_moves_on(
    doc_ws: PhysicianWorkspace, demo_archive: Path, qtbot: QtBot
) -> None:
    first = _select_first(doc_ws, qtbot)
    second = doc_ws.model.row_at(1).study_id
    doc_ws.conclusion_edit.setPlainText("Gemmes før næste undersøgelse.")
    _select_row(doc_ws, 1)
    box = doc_ws.discard_box
    assert box is not None
    box.done(int(QMessageBox.StandardButton.Save))
    qtbot.waitUntil(lambda: doc_ws.current_study == second, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not doc_ws.busy(), timeout=TIMEOUT)
    rows = query(
        demo_archive,
        "SELECT v.content FROM report_versions v JOIN reports r ON r.id = v.report_id"
        " WHERE r.study_id = ? ORDER BY v.id DESC LIMIT 1",
        [first],
    )
    assert "Gemmes før næste undersøgelse." in str(rows[0]["content"])


def test_the_sign_dialog_shows_what_is_signed(doc_ws: PhysicianWorkspace, qtbot: QtBot) -> None:
    _select_first(doc_ws, qtbot)
    doc_ws.conclusion_edit.setPlainText("Osteopeni. Det her underskrives.")
    doc_ws.recommendation_edit.setPlainText("Kontrol om 2 år.")
    dialog = doc_ws.ask_sign()
    assert dialog.signed_view.isVisible()
    shown = dialog.signed_view.toPlainText()
    assert "Osteopeni. Det her underskrives." in shown and "Kontrol om 2 år." in shown
    dialog.reject()


def test_vfa_shows_the_newest_reading_and_saving_again_amends_it(
    doc_ws: PhysicianWorkspace, demo_archive: Path, qtbot: QtBot
) -> None:
    study = _select_first(doc_ws, qtbot)
    doc_ws.show_vfa()
    panel = doc_ws.vfa_panel
    levels = panel.level_list
    key_click = cast(Callable[[QWidget, Qt.Key], None], qtbot.keyClick)
    key_click(levels, Qt.Key.Key_3)  # T4: grade 3
    panel.rest_normal_button.click()
    assert panel.save()
    qtbot.waitUntil(lambda: not doc_ws.busy(), timeout=TIMEOUT)

    def count() -> int:
        rows = query(
            demo_archive, "SELECT count(*) AS n FROM vfa_readings WHERE study_id = ?", [study]
        )
        return len(rows) and int(str(rows[0]["n"]))

    assert count() == 1
    assert not panel.save()  # a second click without a change stores no duplicate
    assert count() == 1

    # opened again, the panel shows the stored reading, not a blank one
    uid, text = panel.study_uid, panel.study_text
    panel.set_study(study, uid, text)
    assert panel.entries and panel.entries == panel.stored_entries
    key_click(levels, Qt.Key.Key_2)  # a change: the first level becomes grade 2
    assert panel.save()
    assert count() == 2  # a new version; the newest counts
    assert "new version" in panel.status_label.text()


def test_a_new_archive_gets_the_archive_suffix(tmp_path: Path) -> None:
    from dxa_app.gui.main_window import archive_path

    assert archive_path(tmp_path / "afdeling") == tmp_path / "afdeling.dxa.sqlite"
    assert archive_path(tmp_path / "x.dxa.sqlite") == tmp_path / "x.dxa.sqlite"
    assert archive_path(tmp_path / "old.sqlite") == tmp_path / "old.sqlite"
