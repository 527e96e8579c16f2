"""Log-in, first run, roles: which workspaces a user sees; every log-in is audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialog, QWidget
from pytestqt.qtbot import QtBot

from dxa_app.domain import Role
from dxa_app.gui.login import FirstUserDialog, LoginDialog, make_account_dialog
from dxa_app.gui.main_window import MainWindow, allowed_workspaces
from dxa_app.i18n import _
from dxa_app.services.auth import Session
from tests.gui.gui_fixtures import SampleArchive
from tests.gui.technician_fixtures import PASSWORD, add_test_user, query

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


def _keys(qtbot: QtBot, widget: QWidget, text: str) -> None:
    cast(Callable[[QWidget, str], None], qtbot.keyClicks)(widget, text)  # untyped in pytest-qt


def _key(qtbot: QtBot, widget: QWidget, key: Qt.Key) -> None:
    cast(Callable[[QWidget, Qt.Key], None], qtbot.keyClick)(widget, key)


def _login(archive: Path, qtbot: QtBot, username: str, password: str) -> LoginDialog:
    dialog = LoginDialog(archive)
    qtbot.addWidget(dialog)
    dialog.show()  # never exec(): a test must not block
    dialog.username_edit.setText(username)
    dialog.password_edit.setText(password)
    dialog.buttons.accepted.emit()
    return dialog


def _shown(dialog: QDialog, qtbot: QtBot) -> None:
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=2000)


def test_name_tab_password_enter_logs_in(sample_archive: SampleArchive, qtbot: QtBot) -> None:
    add_test_user(sample_archive.path, "tekla", Role.TECHNICIAN)
    dialog = LoginDialog(sample_archive.path)
    _shown(dialog, qtbot)
    assert dialog.focusWidget() is dialog.username_edit  # typing starts in the name field
    _keys(qtbot, dialog.username_edit, "tekla")
    _key(qtbot, dialog.username_edit, Qt.Key.Key_Tab)
    assert dialog.focusWidget() is dialog.password_edit
    _keys(qtbot, dialog.password_edit, PASSWORD)
    _key(qtbot, dialog.password_edit, Qt.Key.Key_Return)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.session is not None
    assert (dialog.session.username, dialog.session.role) == ("tekla", Role.TECHNICIAN)
    rows = query(sample_archive.path, "SELECT username, action FROM audit_log ORDER BY id")
    assert rows[-1] == {"username": "tekla", "action": "login"}


def test_enter_with_a_wrong_password_keeps_the_dialog_open(
    sample_archive: SampleArchive, qtbot: QtBot
) -> None:
    add_test_user(sample_archive.path, "tekla", Role.TECHNICIAN)
    dialog = LoginDialog(sample_archive.path)
    _shown(dialog, qtbot)
    _keys(qtbot, dialog.username_edit, "tekla")
    _key(qtbot, dialog.username_edit, Qt.Key.Key_Tab)
    _keys(qtbot, dialog.password_edit, "not the password")
    _key(qtbot, dialog.password_edit, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.session is None
    assert _("Wrong user name or password.") in dialog.error_label.text()
    assert dialog.password_edit.text() == ""
    assert dialog.focusWidget() is dialog.password_edit  # type the password again at once
    _keys(qtbot, dialog.password_edit, PASSWORD)
    _key(qtbot, dialog.password_edit, Qt.Key.Key_Enter)
    assert dialog.session is not None and not dialog.isVisible()


def test_first_run_creates_the_administrator(tmp_path: Path, qtbot: QtBot) -> None:
    archive = tmp_path / "new.dxa.sqlite"  # File > New archive: the file does not exist yet
    dialog = make_account_dialog(archive)
    assert isinstance(dialog, FirstUserDialog)
    _shown(dialog, qtbot)
    assert dialog.focusWidget() is dialog.username_edit
    assert not hasattr(dialog, "role_combo")  # the first user is always the administrator
    intro = dialog.findChild(QWidget, "firstUserIntro")
    assert intro is not None and _("administrator") in intro.property("text")
    dialog.username_edit.setText("mette")
    dialog.display_name_edit.setText("Mette Ærø")
    dialog.password_edit.setText(PASSWORD)
    dialog.repeat_edit.setText("something else")
    assert not dialog.submit()
    assert dialog.error_label.text() == _("The two passwords differ.")
    assert not archive.exists()
    dialog.repeat_edit.setText(PASSWORD)
    assert dialog.submit()
    session = dialog.session
    assert session is not None
    assert (session.username, session.display_name, session.role) == (
        "mette",
        "Mette Ærø",
        Role.ADMIN,
    )
    assert query(archive, "SELECT username, role FROM users") == [
        {"username": "mette", "role": "admin"}
    ]
    actions = [r["action"] for r in query(archive, "SELECT action FROM audit_log ORDER BY id")]
    assert actions[-1] == "first_user"
    # the next start asks for a log-in, not for a first user
    again = make_account_dialog(archive)
    qtbot.addWidget(again)
    assert isinstance(again, LoginDialog)


def test_first_user_password_too_short_is_the_services_message(
    tmp_path: Path, qtbot: QtBot
) -> None:
    dialog = FirstUserDialog(tmp_path / "new.dxa.sqlite")
    qtbot.addWidget(dialog)
    dialog.username_edit.setText("mette")
    dialog.password_edit.setText("short")
    dialog.repeat_edit.setText("short")
    assert not dialog.submit()
    assert _("The password is too short.") in dialog.error_label.text()
    assert dialog.session is None


def test_wrong_password_is_refused(sample_archive: SampleArchive, qtbot: QtBot) -> None:
    add_test_user(sample_archive.path, "tekla", Role.TECHNICIAN)
    dialog = _login(sample_archive.path, qtbot, "tekla", "wrong-password")
    assert dialog.session is None
    assert dialog.isVisible()
    assert dialog.error_label.isVisible()
    assert _("Wrong user name or password.") in dialog.error_label.text()
    assert dialog.password_edit.text() == ""
    dialog.password_edit.setText(PASSWORD)
    assert dialog.submit()
    assert dialog.session is not None and dialog.session.role is Role.TECHNICIAN
    rows = query(sample_archive.path, "SELECT username, action FROM audit_log ORDER BY id")
    assert {"username": "tekla", "action": "login_failed"} in rows
    assert rows[-1] == {"username": "tekla", "action": "login"}


def test_unknown_user_is_refused_with_the_same_message(
    sample_archive: SampleArchive, qtbot: QtBot
) -> None:
    add_test_user(sample_archive.path, "tekla", Role.TECHNICIAN)
    dialog = _login(sample_archive.path, qtbot, "nobody", PASSWORD)
    assert dialog.session is None
    assert _("Wrong user name or password.") in dialog.error_label.text()


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.TECHNICIAN, ["technician"]),
        (Role.PHYSICIAN, ["physician"]),
        (Role.CENTRE_ANALYST, ["centre"]),
        (Role.ADMIN, ["technician", "admin"]),  # import; users and settings; never signing
    ],
)
def test_roles_decide_the_workspaces(role: Role, expected: list[str], tmp_path: Path) -> None:
    session = add_test_user(tmp_path / "a.sqlite", f"user-{role}", role)
    assert allowed_workspaces(session) == expected
    assert allowed_workspaces(None) == []


def test_technician_sees_no_centre_tab(
    sample_archive: SampleArchive, qtbot: QtBot, settings: QSettings
) -> None:
    add_test_user(sample_archive.path, "tekla", Role.TECHNICIAN)
    dialog = _login(sample_archive.path, qtbot, "tekla", PASSWORD)
    assert dialog.session is not None
    window = MainWindow(settings, session=dialog.session)
    qtbot.addWidget(window)
    titles = window.workspace_titles()
    assert titles == [_("Patients"), _("Technician")]
    assert _("Centre") not in titles and _("Physician") not in titles
    assert window.patient_view.model().rowCount() == 3
    assert "tekla" in window.user_label.text().lower()
    assert _("technician") in window.user_label.text()


def test_without_a_log_in_no_patient_data_is_shown(
    sample_archive: SampleArchive, settings: QSettings, qtbot: QtBot
) -> None:
    window = MainWindow(settings)
    qtbot.addWidget(window)
    assert window.open_archive(sample_archive.path)
    assert window.workspace_titles() == [_("Patients")]
    assert window.user_label.text() == _("Not logged in")
    assert window.patient_view.model().rowCount() == 0
    assert window.study_view.model().rowCount() == 0
    assert str(sample_archive.path) in window.status_label.text()


def test_log_out_closes_the_workspaces(
    sample_archive: SampleArchive, qtbot: QtBot, settings: QSettings
) -> None:
    session = add_test_user(sample_archive.path, "tekla", Role.TECHNICIAN)
    window = MainWindow(settings, session=session)
    qtbot.addWidget(window)
    assert "technician" in window.workspaces
    assert window.patient_view.model().rowCount() == 3
    window.logout_action.trigger()
    assert window.session is None
    assert window.workspace_titles() == [_("Patients")]
    assert window.patient_view.model().rowCount() == 0  # the patient list goes with the user
    rows = query(sample_archive.path, "SELECT username, action FROM audit_log ORDER BY id")
    assert rows[-1] == {"username": "tekla", "action": "logout"}


def test_log_out_asks_for_the_next_user(
    sample_archive: SampleArchive, qtbot: QtBot, settings: QSettings
) -> None:
    tekla = add_test_user(sample_archive.path, "tekla", Role.TECHNICIAN)
    ida = add_test_user(sample_archive.path, "ida", Role.PHYSICIAN)
    window = MainWindow(settings, session=tekla, login=lambda _archive, _parent: ida)
    qtbot.addWidget(window)
    window.logout_action.trigger()
    assert window.session is ida
    assert list(window.workspaces) == ["physician"]
    assert window.patient_view.model().rowCount() == 3


def test_login_function_is_asked_for_a_new_archive(
    sample_archive: SampleArchive, qtbot: QtBot, settings: QSettings
) -> None:
    asked: list[Path] = []

    def fake_login(archive: Path, _parent: object) -> Session | None:
        asked.append(archive)
        return None  # cancelled

    window = MainWindow(settings, login=fake_login)
    qtbot.addWidget(window)
    assert not window.open_archive(sample_archive.path)
    assert asked == [sample_archive.path]
    assert window.archive_path is None


def test_a_missing_archive_is_an_error_before_any_log_in(
    tmp_path: Path, qtbot: QtBot, settings: QSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[Path] = []
    window = MainWindow(settings, login=lambda archive, _parent: asked.append(archive))
    qtbot.addWidget(window)
    assert not window.open_archive(tmp_path / "missing.sqlite")
    assert asked == []
    assert "missing.sqlite" in capsys.readouterr().err


def test_admin_sees_import_and_administration(
    sample_archive: SampleArchive, qtbot: QtBot, settings: QSettings
) -> None:
    session = add_test_user(sample_archive.path, "anne", Role.ADMIN)
    window = MainWindow(settings, session=session)
    qtbot.addWidget(window)
    assert window.workspace_titles() == [_("Patients"), _("Technician"), _("Administration")]
    window.set_language("da")
    assert window.workspace_titles()[0] == _("Patients")
