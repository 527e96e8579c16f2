"""File > Backup and File > Restore from backup, with a real archive and real log-ins."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from dxa_app.archive import open_archive
from dxa_app.archive.store import store_parsed
from dxa_app.domain import (
    IdType,
    ParsedSource,
    PatientIdentity,
    Role,
    Sex,
    StudyInfo,
    StudyRecord,
)
from dxa_app.errors import PermissionDeniedError, UsageError
from dxa_app.gui.archive_tasks import format_size
from dxa_app.gui.main_window import MainWindow
from dxa_app.gui.workspace import Workspace
from dxa_app.i18n import _, set_language
from dxa_app.services.auth import Session
from tests.gui.gui_fixtures import HOLOGIC, SampleArchive
from tests.gui.technician_fixtures import add_test_user, query

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

TIMEOUT = 20000


def _window(qtbot: QtBot, settings: QSettings, session: Session) -> MainWindow:
    win = MainWindow(settings, session=session)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: not _busy(win), timeout=TIMEOUT)
    return win


def _busy(win: MainWindow) -> bool:
    tasks = win.archive_tasks
    return (tasks is not None and tasks.busy()) or any(
        isinstance(w, Workspace) and w.busy() for w in win.workspaces.values()
    )


def _add_patient(archive: Path) -> None:
    """Store one more patient with one study (after the backup was written)."""
    patient = PatientIdentity(
        "050570-9996", IdType.CPR, "Ulla Ærø", dt.date(1970, 5, 5), Sex.FEMALE
    )
    record = StudyRecord(
        HOLOGIC, patient, StudyInfo("1.2.826.0.1.3680043.9.1.99", dt.date(2025, 1, 2))
    )
    db = open_archive(archive)
    try:
        store_parsed(db, ParsedSource(path="test-extra", reader="test", studies=(record,)))
    finally:
        db.close()


def test_a_technician_backs_up_the_archive(
    qtbot: QtBot, settings: QSettings, sample_archive: SampleArchive, tmp_path: Path
) -> None:
    win = _window(qtbot, settings, add_test_user(sample_archive.path, "tekla", Role.TECHNICIAN))
    assert win.backup_action.isEnabled() and not win.restore_action.isEnabled()
    dest = tmp_path / "copy.dxa.sqlite"
    handle = win.backup_to(dest)
    assert handle is not None
    qtbot.waitUntil(lambda: handle.finished, timeout=TIMEOUT)
    assert handle.error is None and dest.is_file()
    tasks = win.archive_tasks
    assert tasks is not None and tasks.message_label.isVisible()
    expected = _("Backup written: {path} ({size}).").format(
        path=dest, size=format_size(dest.stat().st_size)
    )
    assert tasks.message_label.text() == expected
    assert query(dest, "SELECT count(*) AS n FROM patients") == [{"n": 3}]
    rows = query(sample_archive.path, "SELECT username FROM audit_log WHERE action = 'backup'")
    assert rows == [{"username": "tekla"}]

    again = win.backup_to(dest)  # a backup never overwrites a file: the service refuses
    assert again is not None
    qtbot.waitUntil(lambda: again.finished, timeout=TIMEOUT)
    assert isinstance(tasks.last_error, UsageError)
    assert tasks.last_error.message in tasks.message_label.text()


def test_a_physician_may_not_back_up(
    qtbot: QtBot, settings: QSettings, sample_archive: SampleArchive, tmp_path: Path
) -> None:
    win = _window(qtbot, settings, add_test_user(sample_archive.path, "doc", Role.PHYSICIAN))
    assert not win.backup_action.isEnabled() and not win.restore_action.isEnabled()
    handle = win.backup_to(tmp_path / "copy.dxa.sqlite")  # greyed out; the service refuses
    assert handle is not None
    qtbot.waitUntil(lambda: handle.finished, timeout=TIMEOUT)
    assert isinstance(handle.error, PermissionDeniedError)
    assert not (tmp_path / "copy.dxa.sqlite").exists()


def test_an_administrator_restores_after_a_confirmation(
    qtbot: QtBot, settings: QSettings, sample_archive: SampleArchive, tmp_path: Path
) -> None:
    archive = sample_archive.path
    anne = add_test_user(archive, "anne", Role.ADMIN)
    win = _window(qtbot, settings, anne)
    assert win.backup_action.isEnabled() and win.restore_action.isEnabled()
    backup = tmp_path / "before.dxa.sqlite"
    handle = win.backup_to(backup)
    assert handle is not None
    qtbot.waitUntil(lambda: handle.finished, timeout=TIMEOUT)
    _add_patient(archive)
    win.reload_archive()
    assert win.patient_model.rowCount() == 4
    admin_before = win.workspaces["admin"]

    box = win.ask_restore(backup)
    assert box.isVisible()
    assert "sample-before-restore-" in box.text() and str(tmp_path) in box.text()
    box.button(QMessageBox.StandardButton.No).click()  # No: nothing happens
    assert win.patient_model.rowCount() == 4
    assert not list(tmp_path.glob("*before-restore*"))

    box = win.ask_restore(backup)
    tasks = win.archive_tasks
    assert tasks is not None
    with qtbot.waitSignal(tasks.restored, timeout=TIMEOUT):
        box.button(QMessageBox.StandardButton.Yes).click()
    # the window reloaded: the patient added after the backup is gone, workspaces made anew
    assert win.patient_model.rowCount() == 3
    assert win.workspaces["admin"] is not admin_before
    safety = list(tmp_path.glob("sample-before-restore-*.dxa.sqlite"))
    assert len(safety) == 1
    assert query(safety[0], "SELECT count(*) AS n FROM patients") == [{"n": 4}]
    assert win.archive_tasks is not None and safety[0].name in win.archive_tasks.status_text
    rows = query(archive, "SELECT username FROM audit_log WHERE action = 'restore'")
    assert rows == [{"username": "anne"}]


def test_a_technician_may_not_restore(
    qtbot: QtBot, settings: QSettings, sample_archive: SampleArchive, tmp_path: Path
) -> None:
    archive = sample_archive.path
    win = _window(qtbot, settings, add_test_user(archive, "tekla", Role.TECHNICIAN))
    backup = tmp_path / "b.dxa.sqlite"
    handle = win.backup_to(backup)
    assert handle is not None
    qtbot.waitUntil(lambda: handle.finished, timeout=TIMEOUT)
    refused = win.restore_from(backup)  # greyed out in the menu; the service refuses
    assert refused is not None
    qtbot.waitUntil(lambda: refused.finished, timeout=TIMEOUT)
    assert isinstance(refused.error, PermissionDeniedError)
    assert win.archive_tasks is not None
    assert refused.error.message in win.archive_tasks.message_label.text()
    assert not list(tmp_path.glob("*before-restore*"))


def test_sizes_read_in_the_language() -> None:
    try:
        set_language("da")
        assert format_size(3_240_000) == "3,2 MB"
        set_language("en")
        assert format_size(3_240_000) == "3.2 MB"
        assert format_size(48_000) == "48 kB"
    finally:
        set_language("en")


def test_a_restored_archive_without_the_user_logs_out(
    qtbot: QtBot, settings: QSettings, sample_archive: SampleArchive, tmp_path: Path
) -> None:
    archive = sample_archive.path
    tekla = add_test_user(archive, "tekla", Role.TECHNICIAN)
    backup = tmp_path / "old.dxa.sqlite"
    old = _window(qtbot, settings, tekla)
    handle = old.backup_to(backup)
    assert handle is not None
    qtbot.waitUntil(lambda: handle.finished, timeout=TIMEOUT)
    asked: list[Path] = []

    def login(path: Path, _window: QWidget) -> Session | None:
        asked.append(path)
        return None

    anne = add_test_user(archive, "anne", Role.ADMIN)  # not in the backup
    win = MainWindow(settings, session=anne, login=login)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: not _busy(win), timeout=TIMEOUT)
    tasks = win.archive_tasks
    assert tasks is not None
    with qtbot.waitSignal(tasks.restored, timeout=TIMEOUT):
        win.restore_from(backup)
    assert win.session is None and win.patient_model.rowCount() == 0
    assert asked == [archive]  # the log-in is asked again
