"""The physician workspace: worklist, preview, edit, sign, amend, send; the services refuse."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor
from PySide6.QtPdf import QPdfDocument
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from dxa_app.archive import open_archive
from dxa_app.archive.reports import ReportVersion, latest_version, stored_pdf
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError
from dxa_app.gui.physician import ALL_DATES, PhysicianWorkspace
from dxa_app.gui.physician_models import WorklistModel
from dxa_app.i18n import _
from dxa_app.services import worklist
from dxa_app.services.auth import Session
from dxa_app.services.pacs import PacsTarget, set_pacs_target
from dxa_app.services.worklist import WorklistFilter, pending_reports
from tests.gui.technician_fixtures import query
from tests.sessions import PASSWORD, session_as

pytest_plugins = ("tests.orthanc",)  # the session-scoped ``orthanc`` fixture

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

TIMEOUT = 20000


@pytest.fixture
def doc(demo_archive: Path) -> Session:
    return session_as(demo_archive, Role.PHYSICIAN, "doc", display_name="Dr. Ida Holm")


@pytest.fixture
def tech(demo_archive: Path) -> Session:
    return session_as(demo_archive, Role.TECHNICIAN, "tech")


def _workspace(qtbot: QtBot, session: Session) -> PhysicianWorkspace:
    ws = PhysicianWorkspace(session)
    qtbot.addWidget(ws)
    ws.resize(1400, 900)
    ws.show()
    qtbot.waitExposed(ws)
    # the demo studies are older than the default period (the last 30 days): every date
    ws.set_period(None)
    ws.refresh()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    return ws


@pytest.fixture
def doc_ws(qtbot: QtBot, doc: Session) -> PhysicianWorkspace:
    return _workspace(qtbot, doc)


def _select_first(ws: PhysicianWorkspace, qtbot: QtBot) -> int:
    index = ws.model.index(0, 0)
    ws.table.selectionModel().select(
        index,
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    qtbot.waitUntil(lambda: not ws.busy() and ws.current_version is not None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: ws.pdf_document.status() == QPdfDocument.Status.Ready, timeout=TIMEOUT)
    return ws.model.row_at(0).study_id


def _latest(archive: Path, study: int) -> ReportVersion:
    db = open_archive(archive)
    try:
        version = latest_version(db, study)
    finally:
        db.close()
    assert version is not None
    return version


def _pdf_text(archive: Path, version_id: int) -> str:
    db = open_archive(archive)
    try:
        pdf = stored_pdf(db, version_id)
    finally:
        db.close()
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
    return " ".join(out.stdout.decode("utf-8").split())


def _not_blank(ws: PhysicianWorkspace) -> bool:
    image = ws.preview_image(0, 400)
    white = QColor("white").rgb()
    dark = 0
    for y in range(0, image.height(), 4):
        for x in range(0, image.width(), 4):
            if image.pixel(x, y) != white:
                dark += 1
    return dark > 50


def _sign_with_dialog(ws: PhysicianWorkspace, qtbot: QtBot, password: str) -> None:
    ws.sign_button.click()
    dialog = ws.sign_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.password_edit.setText(password)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)


def test_worklist_model_passes_the_model_tester(qtmodeltester: Any, doc: Session) -> None:
    model = WorklistModel()
    qtmodeltester.check(model)
    model.set_rows(pending_reports(doc)[:30])
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


def test_the_worklist_starts_with_30_days_and_says_what_is_older(
    qtbot: QtBot, doc: Session
) -> None:
    """The demo studies are older than 30 days: the hint counts them, one click shows them."""
    from dxa_app import i18n

    i18n.set_language("da")
    ws = PhysicianWorkspace(doc)
    qtbot.addWidget(ws)
    ws.resize(1400, 900)
    ws.show()
    ws.refresh()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    assert ws.period_combo.currentData() == 30
    assert ws.period_combo.currentText() == "Sidste 30 dage"
    assert worklist.count_pending_reports(doc, where=WorklistFilter(days=30)) == 0
    older = worklist.count_pending_reports(doc)
    assert older > 100 and ws.model.rowCount() == 0
    assert ws.worklist_hint.shown()
    assert ws.worklist_hint.text() == (
        f"Ingen usignerede undersøgelser de sidste 30 dage – {older} ældre:"
        " vælg en længere periode."
    )
    assert ws.older_button.isVisible() and str(older) in ws.older_button.text()
    ws.older_button.click()  # one click to every date
    qtbot.waitUntil(lambda: not ws.busy() and ws.model.rowCount() > 0, timeout=TIMEOUT)
    assert ws.period_combo.currentData() == ALL_DATES
    assert not ws.older_button.isVisible() and not ws.worklist_hint.shown()
    assert ws.site_combo.itemText(0) == "Alle steder" and ws.site_combo.count() > 1
    # the site and the scanner narrow the list in the archive's query
    site = str(ws.site_combo.itemData(1))
    ws.site_combo.setCurrentIndex(1)
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    assert ws.model.rowCount() > 0 and {r.site for r in ws.model.rows()} == {site}
    scanner = int(ws.scanner_combo.itemData(1))
    ws.site_combo.setCurrentIndex(0)
    ws.scanner_combo.setCurrentIndex(1)
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    expected = worklist.count_pending_reports(doc, where=WorklistFilter(scanner_id=scanner))
    assert expected > 0 and ws.status_text == f"{expected} undersøgelser på arbejdslisten."


def test_preview_edit_save_and_sign(
    doc_ws: PhysicianWorkspace, qtbot: QtBot, demo_archive: Path
) -> None:
    ws = doc_ws
    study = _select_first(ws, qtbot)
    assert ws.pdf_document.pageCount() >= 1
    assert _not_blank(ws)
    assert ws.conclusion_edit.toPlainText()  # prefilled from the rules
    assert ws.sign_button.isEnabled() and not ws.amend_button.isEnabled()

    # level B re-renders the draft
    ws.level_combo.setCurrentIndex(ws.level_combo.findData("B"))
    qtbot.waitUntil(lambda: not ws.busy() and ws.current_version is not None, timeout=TIMEOUT)
    assert ws.current_version is not None and ws.current_version.level == "B"

    conclusion = "Edited by the physician: osteopenia ruled out."
    ws.conclusion_edit.setPlainText(conclusion)
    ws.recommendation_edit.setPlainText("Control in three years.")
    ws.save_button.click()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: ws.pdf_document.status() == QPdfDocument.Status.Ready, timeout=TIMEOUT)
    draft = _latest(demo_archive, study)
    assert draft.status == "draft" and draft.content["conclusion"] == conclusion
    # the service wrote the audit entry, with the logged-in physician
    saves = query(
        demo_archive,
        "SELECT username, entity_id FROM audit_log WHERE action = 'report_draft_save'",
    )
    assert saves == [{"username": "doc", "entity_id": str(draft.id)}]

    _sign_with_dialog(ws, qtbot, PASSWORD)
    qtbot.waitUntil(lambda: not ws.busy() and ws._is_signed(), timeout=TIMEOUT)
    assert ws.last_error is None
    assert ws.sign_dialog is not None and not ws.sign_dialog.isVisible()  # closed when signed
    signed = _latest(demo_archive, study)
    assert signed.status == "signed" and signed.signed_by == "doc"
    text = _pdf_text(demo_archive, signed.id)
    assert "osteopenia ruled out" in text
    assert "Dr. Ida Holm" in text  # the display name is printed, not the user name
    signs = query(demo_archive, "SELECT username FROM audit_log WHERE action = 'report_sign'")
    assert signs == [{"username": "doc"}]
    assert study not in {r.study_id for r in ws.model.rows()}  # left the worklist
    assert ws.amend_button.isEnabled() and not ws.sign_button.isEnabled()


def test_sign_saves_the_text_in_the_editor(
    doc_ws: PhysicianWorkspace, qtbot: QtBot, demo_archive: Path
) -> None:
    ws = doc_ws
    study = _select_first(ws, qtbot)
    ws.conclusion_edit.setPlainText("Typed, not saved, then signed.")
    ws.sign(PASSWORD)
    qtbot.waitUntil(lambda: not ws.busy() and ws._is_signed(), timeout=TIMEOUT)
    signed = _latest(demo_archive, study)
    assert signed.content["conclusion"] == "Typed, not saved, then signed."


def test_amend_a_signed_report(
    doc_ws: PhysicianWorkspace, qtbot: QtBot, demo_archive: Path
) -> None:
    ws = doc_ws
    study = _select_first(ws, qtbot)
    ws.sign(PASSWORD)
    qtbot.waitUntil(lambda: not ws.busy() and ws._is_signed(), timeout=TIMEOUT)
    ws.conclusion_edit.setPlainText("Amended conclusion.")
    ws.amend_button.click()
    dialog = ws.amend_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.reason_edit.setText("Typing error")
    dialog.password_edit.setText(PASSWORD)
    dialog.ok_button.click()
    qtbot.waitUntil(
        lambda: (
            not ws.busy() and ws.current_version is not None and ws.current_version.version_no == 2
        ),
        timeout=TIMEOUT,
    )
    assert not dialog.isVisible()
    v = _latest(demo_archive, study)
    assert v.status == "amended" and v.amend_reason == "Typing error"
    assert v.content["conclusion"] == "Amended conclusion."


def test_wrong_password_keeps_the_dialog_usable(
    doc_ws: PhysicianWorkspace,
    qtbot: QtBot,
    demo_archive: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ws = doc_ws
    study = _select_first(ws, qtbot)
    capsys.readouterr()
    _sign_with_dialog(ws, qtbot, "wrong password")
    dialog = ws.sign_dialog
    assert dialog is not None
    assert isinstance(ws.last_error, PermissionDeniedError)
    assert dialog.isVisible()  # still open: type the password again
    assert _("Wrong password.") in dialog.error_label.text()
    assert dialog.ok_button.isEnabled() and dialog.password_edit.text() == ""
    assert _("Wrong password.") in ws.status_label.text()
    assert "Traceback" not in capsys.readouterr().err  # a message, never a traceback
    assert _latest(demo_archive, study).status == "draft"
    failed = query(
        demo_archive, "SELECT username FROM audit_log WHERE action = 'password_confirm_failed'"
    )
    assert failed == [{"username": "doc"}]

    dialog.password_edit.setText(PASSWORD)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not ws.busy() and ws._is_signed(), timeout=TIMEOUT)
    assert not dialog.isVisible()
    assert _latest(demo_archive, study).status == "signed"


def test_technician_sign_is_refused_by_the_service(
    qtbot: QtBot, tech: Session, demo_archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = _workspace(qtbot, tech)
    study = _select_first(ws, qtbot)  # a technician may open the draft
    assert not ws.sign_button.isEnabled()  # greyed out; the service is what refuses
    ws.sign(PASSWORD)
    qtbot.waitUntil(lambda: not ws.busy() and ws.last_error is not None, timeout=TIMEOUT)
    error = ws.last_error
    assert isinstance(error, PermissionDeniedError)
    assert "tech (technician)" in error.message and str(Role.PHYSICIAN) in error.message
    assert error.message in ws.status_label.text()
    assert error.message in capsys.readouterr().err  # the friendly message (dialogs off)
    assert _latest(demo_archive, study).status == "draft"
    assert query(
        demo_archive, "SELECT count(*) AS n FROM audit_log WHERE action = 'report_sign'"
    ) == [{"n": 0}]


def test_technician_draft_edit_is_refused_by_the_service(
    qtbot: QtBot, tech: Session, demo_archive: Path
) -> None:
    ws = _workspace(qtbot, tech)
    study = _select_first(ws, qtbot)
    assert not ws.save_button.isEnabled() and ws.conclusion_edit.isReadOnly()
    before = _latest(demo_archive, study).content.get("conclusion")
    ws.save_draft()
    qtbot.waitUntil(lambda: not ws.busy() and ws.last_error is not None, timeout=TIMEOUT)
    assert isinstance(ws.last_error, PermissionDeniedError)
    assert _latest(demo_archive, study).content.get("conclusion") == before
    saves = query(demo_archive, "SELECT 1 FROM audit_log WHERE action = 'report_draft_save'")
    assert saves == []


def test_send_without_pacs_is_a_friendly_error(doc_ws: PhysicianWorkspace, qtbot: QtBot) -> None:
    ws = doc_ws
    _select_first(ws, qtbot)
    ws.sign(PASSWORD)
    qtbot.waitUntil(lambda: not ws.busy() and ws._is_signed(), timeout=TIMEOUT)
    assert ws.send_button.isEnabled()
    ws.pacs_box.host.setText("")
    ws.send_to_pacs()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    assert ws.last_error is not None and "host" in str(ws.last_error)


def test_pacs_form_shows_the_stored_address(qtbot: QtBot, demo_archive: Path, doc: Session) -> None:
    admin = session_as(demo_archive, Role.ADMIN, "anne")
    set_pacs_target(admin, PacsTarget("pacs.example", 11112, "ORTHANC", "DXA1"))
    ws = _workspace(qtbot, doc)
    assert ws.pacs_target() == PacsTarget("pacs.example", 11112, "ORTHANC", "DXA1")


def test_physician_sends_to_the_address_in_the_form(
    doc_ws: PhysicianWorkspace, qtbot: QtBot, demo_archive: Path, orthanc: Any
) -> None:
    ws = doc_ws
    study = _select_first(ws, qtbot)
    ws.sign(PASSWORD)
    qtbot.waitUntil(lambda: not ws.busy() and ws._is_signed(), timeout=TIMEOUT)
    ws.pacs_box.show_target(PacsTarget(orthanc.host, orthanc.dicom_port, orthanc.aet, "DXA"))
    ws.send_to_pacs()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    assert ws.last_error is None, ws.last_error
    assert orthanc.aet in ws.status_label.text()
    sent = query(
        demo_archive,
        "SELECT username, entity_id, details FROM audit_log WHERE action = 'report_send'",
    )
    assert len(sent) == 1 and sent[0]["username"] == "doc"
    assert sent[0]["entity_id"] == str(study) and str(orthanc.dicom_port) in str(sent[0]["details"])
    stored = query(demo_archive, "SELECT count(*) AS n FROM settings WHERE key = 'pacs'")
    assert stored == [{"n": 0}]  # sent for this time only: nothing stored


def test_retranslate_to_danish(doc_ws: PhysicianWorkspace) -> None:
    from dxa_app import i18n

    i18n.set_language("da")
    doc_ws.retranslate()
    assert doc_ws.save_button.text()
    assert doc_ws.model.headerData(0, Qt.Orientation.Horizontal) == "Dato"
    assert doc_ws.lang_combo.itemText(0) == i18n._("Danish")


def test_a_physician_enters_a_vfa_reading_for_the_selected_study(
    doc_ws: PhysicianWorkspace, demo_archive: Path, qtbot: QtBot
) -> None:
    study = _select_first(doc_ws, qtbot)
    uid = doc_ws.model.row_at(0).study_uid
    doc_ws.show_vfa()
    panel = doc_ws.vfa_panel
    assert doc_ws.middle_tabs.currentWidget() is doc_ws.vfa_scroll and panel.isVisible()
    assert (panel.study_id, panel.study_uid) == (study, uid)
    assert doc_ws.model.row_at(0).patient_name in panel.study_label.text()
    assert panel.save_button.isEnabled()  # physicians have VFA entry

    levels = panel.level_list
    for key in (Qt.Key.Key_2, Qt.Key.Key_B):  # T4: grade 2, biconcave
        cast(Callable[[QWidget, Qt.Key], None], qtbot.keyClick)(levels, key)
    panel.rest_normal_button.click()
    with qtbot.waitSignal(panel.saved, timeout=TIMEOUT) as blocker:
        panel.save_button.click()
    reading_id = blocker.args[0] if blocker.args else None
    rows = query(
        demo_archive,
        "SELECT r.reader, s.study_uid FROM vfa_readings r JOIN studies s ON s.id = r.study_id"
        " WHERE r.id = ?",
        [reading_id],
    )
    assert rows == [{"reader": "doc", "study_uid": uid}]
    findings = query(
        demo_archive,
        "SELECT grade, morphology FROM vfa_findings WHERE vfa_reading_id = ? AND level = 'T4'",
        [reading_id],
    )
    assert findings == [{"grade": 2, "morphology": "biconcave"}]
    audit = query(demo_archive, "SELECT username FROM audit_log WHERE action = 'vfa_reading'")
    assert audit == [{"username": "doc"}]
    qtbot.waitUntil(lambda: not doc_ws.busy(), timeout=TIMEOUT)  # the draft shows the reading

    # another study on the worklist: the VFA tab follows it with a fresh reading
    index = doc_ws.model.index(1, 0)
    doc_ws.table.selectionModel().select(
        index,
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    assert panel.study_id == doc_ws.model.row_at(1).study_id and panel.entries == {}
    qtbot.waitUntil(lambda: not doc_ws.busy(), timeout=TIMEOUT)


def test_the_physicians_vfa_tab_says_to_pick_a_study_in_the_worklist(
    qtbot: QtBot, demo_archive: Path
) -> None:
    ws = PhysicianWorkspace(session_as(demo_archive, Role.PHYSICIAN, "doc-vfa"))
    qtbot.addWidget(ws)
    assert ws.vfa_panel.study_label.text() == _("No study chosen: pick one in the worklist.")
