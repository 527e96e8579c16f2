"""The screen lock: idle time, the lock page, a wrong and a right password, Ctrl+L, log out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialog, QTableView, QWidget
from pytestqt.qtbot import QtBot

from dxa_app.domain import Role
from dxa_app.gui.idle import MINUTE_MS, IdleWatcher
from dxa_app.gui.lock import LockPage
from dxa_app.gui.main_window import MainWindow
from dxa_app.i18n import _
from dxa_app.services.auth import Session
from dxa_app.services.settings import set_lock_minutes
from tests.gui.gui_fixtures import SampleArchive
from tests.gui.technician_fixtures import PASSWORD, add_test_user, query

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

TIMEOUT = 20000


def _key(qtbot: QtBot, widget: QWidget, key: Qt.Key, modifier: Qt.KeyboardModifier) -> None:
    click = cast(Callable[[QWidget, Qt.Key, Qt.KeyboardModifier], None], qtbot.keyClick)
    click(widget, key, modifier)  # untyped in pytest-qt


def _window(
    qtbot: QtBot,
    settings: QSettings,
    session: Session,
    *,
    lock_after_ms: int | None = None,
    login: Callable[[Path, QWidget], Session | None] | None = None,
) -> MainWindow:
    win = MainWindow(settings, session=session, lock_after_ms=lock_after_ms, login=login)
    qtbot.addWidget(win)
    win.tabs.setCurrentWidget(win.splitter)  # the user opens the Patients tab (data on screen)
    win.show()
    qtbot.waitExposed(win)
    return win


def _patient_tables(win: MainWindow) -> list[QTableView]:
    return [
        view
        for view in win.findChildren(QTableView)
        if view.objectName() in ("patientTable", "studyTable")
    ]


def _lock_page(win: MainWindow) -> LockPage:
    page = win.centralWidget()
    assert isinstance(page, LockPage)
    return page


def test_idle_time_locks_and_only_the_users_password_unlocks(
    qtbot: QtBot, settings: QSettings, sample_archive: SampleArchive
) -> None:
    archive = sample_archive.path
    tekla = add_test_user(archive, "tekla", Role.TECHNICIAN)
    win = _window(qtbot, settings, tekla, lock_after_ms=30)
    assert win.patient_view.isVisible() and win.patient_model.rowCount() == 3

    qtbot.waitUntil(lambda: win.locked, timeout=TIMEOUT)  # no input: the window locks
    win.lock_after_ms = None  # after the unlock: the archive's 10 minutes, no race below
    win.set_lock_minutes(10)
    page = _lock_page(win)
    assert page.title_label.text() == _("Locked — {user}").format(user="Tekla")
    # the patient data left the window: not drawn, not in its widget tree, no menu to reach it
    assert not win.patient_view.isVisible() and not win.tabs.isVisible()
    assert _patient_tables(win) == []
    assert not win.patient_view.isVisibleTo(win)
    assert not win.show_all_action.isEnabled() and not win.open_action.isEnabled()
    assert not win.backup_action.isEnabled() and not win.lock_action.isEnabled()

    page.password_edit.setText("not-the-password")
    page.unlock_button.click()
    qtbot.waitUntil(lambda: not page.busy(), timeout=TIMEOUT)
    assert win.locked and win.centralWidget() is page
    assert page.problem_label.isVisibleTo(page)
    assert _("Wrong user name or password.") in page.problem_label.text()
    assert page.password_edit.text() == ""
    assert _patient_tables(win) == []

    page.password_edit.setText(PASSWORD)
    page.unlock_button.click()
    qtbot.waitUntil(lambda: not win.locked, timeout=TIMEOUT)
    assert win.centralWidget() is win.tabs
    assert win.patient_view.isVisible() and win.patient_model.rowCount() == 3
    assert win.session is tekla  # same user, same role: the workspaces stay as they were
    assert win.lock_action.isEnabled() and win.idle_watcher.active
    rows = query(
        archive,
        "SELECT action, entity_id FROM audit_log WHERE action IN ('login', 'login_failed')"
        " ORDER BY id",
    )
    assert rows[-2:] == [
        {"action": "login_failed", "entity_id": "tekla"},
        {"action": "login", "entity_id": "tekla"},
    ]


def test_ctrl_l_locks_at_once_and_enter_unlocks(
    qtbot: QtBot, settings: QSettings, sample_archive: SampleArchive
) -> None:
    win = _window(qtbot, settings, add_test_user(sample_archive.path, "tekla", Role.TECHNICIAN))
    assert not win.locked
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=TIMEOUT)  # a window shortcut needs it
    _key(qtbot, win.patient_view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert win.locked and _patient_tables(win) == []
    page = _lock_page(win)
    assert page.password_edit.hasFocus()
    page.password_edit.setText(PASSWORD)
    _key(qtbot, page.password_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier)
    qtbot.waitUntil(lambda: not win.locked, timeout=TIMEOUT)
    assert win.patient_view.isVisible()


def test_the_idle_time_is_the_archives_setting(
    qtbot: QtBot, settings: QSettings, sample_archive: SampleArchive
) -> None:
    archive = sample_archive.path
    admin = add_test_user(archive, "anne", Role.ADMIN)
    tekla = add_test_user(archive, "tekla", Role.TECHNICIAN)
    win = _window(qtbot, settings, tekla)
    assert win.lock_timeout_ms == 10 * MINUTE_MS  # the default
    assert win.idle_watcher.active and win.idle_watcher.timeout_ms == 10 * MINUTE_MS
    set_lock_minutes(admin, 3)
    other = _window(qtbot, settings, tekla)  # the next log-in on any workstation
    assert other.idle_watcher.timeout_ms == 3 * MINUTE_MS


def test_log_out_from_the_lock_page(
    qtbot: QtBot, settings: QSettings, sample_archive: SampleArchive
) -> None:
    archive = sample_archive.path
    asked: list[Path] = []

    def login(path: Path, _window: QWidget) -> Session | None:
        asked.append(path)
        return None  # the next user cancels the log-in

    win = _window(qtbot, settings, add_test_user(archive, "tekla", Role.TECHNICIAN), login=login)
    assert win.lock()
    _lock_page(win).log_out_button.click()
    assert not win.locked and win.session is None
    assert win.centralWidget() is win.tabs and win.patient_model.rowCount() == 0
    assert asked == [archive] and not win.idle_watcher.active
    assert query(archive, "SELECT username FROM audit_log WHERE action = 'logout'") == [
        {"username": "tekla"}
    ]


def test_the_lock_cancels_dialogs_and_hides_other_windows(
    qtbot: QtBot, settings: QSettings, sample_archive: SampleArchive
) -> None:
    win = _window(qtbot, settings, add_test_user(sample_archive.path, "tekla", Role.TECHNICIAN))
    tool = QDialog(win.workspaces["technician"])  # e.g. the precision wizard
    tool.show()
    question = QDialog(win)
    question.open()  # window-modal, e.g. a confirmation
    assert tool.isVisible() and question.isVisible()
    win.lock()
    assert not tool.isVisible() and not question.isVisible()
    assert question.result() == QDialog.DialogCode.Rejected
    page = _lock_page(win)
    page.password_edit.setText(PASSWORD)
    page.unlock()
    qtbot.waitUntil(lambda: not win.locked, timeout=TIMEOUT)
    assert tool.isVisible() and not question.isVisible()


def test_input_counts_as_activity(qtbot: QtBot) -> None:
    target = QWidget()
    qtbot.addWidget(target)
    target.show()
    qtbot.waitExposed(target)
    watcher = IdleWatcher()
    watcher.start(10 * MINUTE_MS)
    try:
        watcher.last_input = 0.0
        _key(qtbot, target, Qt.Key.Key_A, Qt.KeyboardModifier.NoModifier)
        assert watcher.last_input > 0.0
    finally:
        watcher.stop()
    assert not watcher.active
