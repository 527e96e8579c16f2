"""The administrator's settings dialog: reached from the menu, stores through the services."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from dxa_app.domain import Role
from dxa_app.gui.idle import MINUTE_MS
from dxa_app.gui.main_window import MainWindow
from dxa_app.gui.settings_dialog import SettingsDialog
from dxa_app.services.auth import Session
from dxa_app.services.pacs import PacsTarget, pacs_target
from dxa_app.services.receiving import allowed_callers
from dxa_app.services.settings import lock_minutes
from tests.gui.technician_fixtures import query
from tests.sessions import session_as

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

TIMEOUT = 20000


def _window(qtbot: QtBot, tmp_path: Path, session: Session) -> MainWindow:
    settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings, session=session)
    qtbot.addWidget(win)
    win.show()
    return win


def _open(win: MainWindow, qtbot: QtBot) -> SettingsDialog:
    assert win.settings_action.isVisible() and win.settings_action.isEnabled()
    win.settings_action.trigger()
    dialog = win.settings_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=TIMEOUT)
    return dialog


def test_an_administrator_changes_the_lock_time_in_the_settings(
    qtbot: QtBot, tmp_path: Path
) -> None:
    archive = tmp_path / "a.dxa.sqlite"
    admin = session_as(archive, Role.ADMIN, "anne")
    win = _window(qtbot, tmp_path, admin)
    assert win.settings_action in win.file_menu.actions()
    dialog = _open(win, qtbot)
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == [
        "PACS",
        "Receiver",
        "Backup",
        "Screen lock",
    ]
    assert dialog.lock_page.spin.value() == 10
    dialog.tabs.setCurrentWidget(dialog.lock_page)
    dialog.lock_page.spin.setValue(4)
    with qtbot.waitSignal(dialog.lock_page.lock_minutes_changed, timeout=TIMEOUT):
        dialog.lock_page.save_button.click()
    assert lock_minutes(admin) == 4  # stored in the archive, for every workstation
    assert win.lock_timeout_ms == 4 * MINUTE_MS  # and used at once
    assert "4 minutes" in dialog.status_label.text()
    rows = query(archive, "SELECT username FROM audit_log WHERE action = 'setting_lock_minutes'")
    assert rows == [{"username": "anne"}]


def test_the_settings_pages_store_the_pacs_the_receiver_and_a_backup(
    qtbot: QtBot, tmp_path: Path
) -> None:
    archive = tmp_path / "a.dxa.sqlite"
    admin = session_as(archive, Role.ADMIN, "anne")
    win = _window(qtbot, tmp_path, admin)
    dialog = _open(win, qtbot)
    dialog.pacs_page.pacs_box.show_target(PacsTarget("pacs.example", 11112, "ORTHANC", "DXA1"))
    dialog.pacs_page.save_button.click()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=TIMEOUT)
    assert pacs_target(admin) == PacsTarget("pacs.example", 11112, "ORTHANC", "DXA1")
    dialog.receiver_page.caller_edit.setText("HZ_DXA1")
    dialog.receiver_page.add_button.click()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=TIMEOUT)
    assert allowed_callers(admin) == ["HZ_DXA1"]
    assert dialog.receiver_page.caller_list.count() == 1
    folder = tmp_path / "backups"
    dialog.backup_page.folder_edit.setText(str(folder))
    dialog.backup_page.keep_spin.setValue(2)
    dialog.backup_page.backup_button.click()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=TIMEOUT)
    copies = sorted(folder.glob("a-*.dxa.sqlite"))
    assert len(copies) == 1 and "Backup written" in dialog.status_label.text()


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.PHYSICIAN])
def test_other_roles_have_no_settings_entry(qtbot: QtBot, tmp_path: Path, role: Role) -> None:
    archive = tmp_path / "a.dxa.sqlite"
    session_as(archive, Role.ADMIN, "anne")
    win = _window(qtbot, tmp_path, session_as(archive, role, "someone"))
    assert not win.settings_action.isVisible()
    assert win.open_settings() is None and win.settings_dialog is None
