"""The physician workspace: worklist, QtPdf preview, edit and save, sign, refused signing."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor
from PySide6.QtPdf import QPdfDocument
from pytestqt.qtbot import QtBot

from dxa_app.archive import open_archive
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError
from dxa_app.gui.physician import PhysicianWorkspace
from dxa_app.gui.physician_models import WorklistModel
from dxa_app.gui.session import Session
from dxa_app.services.pacs import PacsTarget, set_pacs_target
from dxa_app.services.reporting import latest_version, stored_pdf
from dxa_app.services.users import add_user
from dxa_app.services.worklist import pending_reports

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

PASSWORD = "correct horse"


@pytest.fixture
def archive(demo_archive: Path) -> Path:
    db = open_archive(demo_archive)
    try:
        add_user(db, "doc", Role.PHYSICIAN, PASSWORD, display_name="Dr. Ida Holm")
        add_user(db, "tech", Role.TECHNICIAN, PASSWORD)
    finally:
        db.close()
    return demo_archive


def _workspace(qtbot: QtBot, archive: Path, user: str, role: Role) -> PhysicianWorkspace:
    ws = PhysicianWorkspace(Session(archive, user, user, role))
    qtbot.addWidget(ws)
    ws.resize(1400, 900)
    ws.show()
    qtbot.waitExposed(ws)
    qtbot.waitUntil(lambda: not ws.busy(), timeout=20000)
    return ws


@pytest.fixture
def doc_ws(qtbot: QtBot, archive: Path) -> Iterator[PhysicianWorkspace]:
    yield _workspace(qtbot, archive, "doc", Role.PHYSICIAN)


def _select_first(ws: PhysicianWorkspace, qtbot: QtBot) -> int:
    index = ws.model.index(0, 0)
    ws.table.selectionModel().select(
        index,
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    qtbot.waitUntil(lambda: not ws.busy() and ws.current_version is not None, timeout=20000)
    qtbot.waitUntil(lambda: ws.pdf_document.status() == QPdfDocument.Status.Ready, timeout=20000)
    return ws.model.row_at(0).study_id


def _not_blank(ws: PhysicianWorkspace) -> bool:
    image = ws.preview_image(0, 400)
    white = QColor("white").rgb()
    dark = 0
    for y in range(0, image.height(), 4):
        for x in range(0, image.width(), 4):
            if image.pixel(x, y) != white:
                dark += 1
    return dark > 50


def test_worklist_model_passes_the_model_tester(qtmodeltester: Any, archive: Path) -> None:
    model = WorklistModel()
    qtmodeltester.check(model)
    db = open_archive(archive)
    try:
        model.set_rows(pending_reports(db)[:30])
    finally:
        db.close()
    qtmodeltester.check(model)
    model.retranslate()


def test_worklist_is_oldest_first(doc_ws: PhysicianWorkspace) -> None:
    rows = doc_ws.model.rows()
    assert len(rows) > 100
    dates = [r.study_date for r in rows]
    assert dates == sorted(dates)
    days = [r.days_waiting for r in rows]
    assert days == sorted(days, reverse=True)
    assert doc_ws.model.data(doc_ws.model.index(0, WorklistModel.COL_DATE)) == str(dates[0])


def test_preview_edit_save_and_sign(
    doc_ws: PhysicianWorkspace, qtbot: QtBot, archive: Path
) -> None:
    ws = doc_ws
    study = _select_first(ws, qtbot)
    assert ws.pdf_document.pageCount() >= 1
    assert _not_blank(ws)
    assert ws.conclusion_edit.toPlainText()  # prefilled from the rules
    assert ws.sign_button.isEnabled() and not ws.amend_button.isEnabled()

    # level B re-renders the draft
    ws.level_combo.setCurrentIndex(ws.level_combo.findData("B"))
    qtbot.waitUntil(lambda: not ws.busy() and ws.current_version is not None, timeout=20000)
    assert ws.current_version is not None and ws.current_version.level == "B"

    conclusion = "Edited by the physician: osteopenia ruled out."
    ws.conclusion_edit.setPlainText(conclusion)
    ws.recommendation_edit.setPlainText("Control in three years.")
    ws.save_button.click()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=20000)
    qtbot.waitUntil(lambda: ws.pdf_document.status() == QPdfDocument.Status.Ready, timeout=20000)
    db = open_archive(archive)
    try:
        draft = latest_version(db, study)
        assert draft is not None and draft.content["conclusion"] == conclusion
        assert list(db.query("SELECT 1 FROM audit_log WHERE action = 'report_draft_save'"))
    finally:
        db.close()

    ws.sign_button.click()
    dialog = ws.sign_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.password_edit.setText(PASSWORD)
    dialog.accept()
    qtbot.waitUntil(lambda: not ws.busy() and ws._is_signed(), timeout=20000)
    assert ws.last_error is None
    db = open_archive(archive)
    try:
        signed = latest_version(db, study)
        assert signed is not None and signed.status == "signed" and signed.signed_by == "doc"
        pdf = stored_pdf(db, signed.id)
    finally:
        db.close()
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode("utf-8")
    assert "osteopenia ruled out" in " ".join(text.split())
    assert study not in {r.study_id for r in ws.model.rows()}  # left the worklist
    assert ws.amend_button.isEnabled() and not ws.sign_button.isEnabled()


def test_amend_a_signed_report(doc_ws: PhysicianWorkspace, qtbot: QtBot, archive: Path) -> None:
    ws = doc_ws
    study = _select_first(ws, qtbot)
    ws.sign(PASSWORD)
    qtbot.waitUntil(lambda: not ws.busy() and ws._is_signed(), timeout=20000)
    ws.conclusion_edit.setPlainText("Amended conclusion.")
    ws.amend_button.click()
    dialog = ws.amend_dialog
    assert dialog is not None
    dialog.reason_edit.setText("Typing error")
    dialog.password_edit.setText(PASSWORD)
    dialog.accept()
    qtbot.waitUntil(
        lambda: (
            not ws.busy() and ws.current_version is not None and ws.current_version.version_no == 2
        ),
        timeout=20000,
    )
    db = open_archive(archive)
    try:
        v = latest_version(db, study)
        assert v is not None and v.status == "amended" and v.amend_reason == "Typing error"
        assert v.content["conclusion"] == "Amended conclusion."
    finally:
        db.close()


def test_wrong_password_is_refused(doc_ws: PhysicianWorkspace, qtbot: QtBot, archive: Path) -> None:
    ws = doc_ws
    study = _select_first(ws, qtbot)
    ws.sign("wrong password")
    qtbot.waitUntil(lambda: not ws.busy(), timeout=20000)
    assert isinstance(ws.last_error, PermissionDeniedError)
    db = open_archive(archive)
    try:
        v = latest_version(db, study)
        assert v is not None and v.status == "draft"
    finally:
        db.close()


def test_technician_cannot_sign(
    qtbot: QtBot, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = _workspace(qtbot, archive, "tech", Role.TECHNICIAN)
    study = _select_first(ws, qtbot)
    assert not ws.sign_button.isEnabled()  # the button is off; the service is what refuses
    ws.sign(PASSWORD)
    qtbot.waitUntil(lambda: not ws.busy() and ws.last_error is not None, timeout=20000)
    assert isinstance(ws.last_error, PermissionDeniedError)
    assert "may not do this" in ws.status_label.text()
    assert "may not do this" in capsys.readouterr().err  # the friendly message (dialogs off)
    db = open_archive(archive)
    try:
        v = latest_version(db, study)
        assert v is not None and v.status == "draft"
    finally:
        db.close()


def test_send_without_pacs_is_a_friendly_error(
    doc_ws: PhysicianWorkspace, qtbot: QtBot, archive: Path
) -> None:
    ws = doc_ws
    _select_first(ws, qtbot)
    ws.sign(PASSWORD)
    qtbot.waitUntil(lambda: not ws.busy() and ws._is_signed(), timeout=20000)
    ws.pacs_host.setText("")
    ws.send_to_pacs()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=20000)
    assert ws.last_error is not None and "host" in str(ws.last_error)


def test_retranslate_to_danish(doc_ws: PhysicianWorkspace) -> None:
    from dxa_app import i18n

    i18n.set_language("da")
    doc_ws.retranslate()
    assert doc_ws.save_button.text()
    assert doc_ws.model.headerData(0, Qt.Orientation.Horizontal) == "Dato"
    assert doc_ws.lang_combo.itemText(0) == i18n._("Danish")


def test_pacs_address_comes_from_the_archive(qtbot: QtBot, archive: Path) -> None:
    db = open_archive(archive)
    try:
        set_pacs_target(db, PacsTarget("pacs.example", 11112, "ORTHANC", "DXA1"))
    finally:
        db.close()
    ws = _workspace(qtbot, archive, "doc", Role.PHYSICIAN)
    assert ws.pacs_target() == PacsTarget("pacs.example", 11112, "ORTHANC", "DXA1")
