"""Log-in, first run, roles: which workspaces a user sees; every log-in is audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from dxa_app.archive import open_archive
from dxa_app.domain import Role
from dxa_app.gui.login import FirstUserDialog, LoginDialog, make_account_dialog
from dxa_app.gui.main_window import MainWindow, allowed_workspaces
from dxa_app.gui.session import Session
from dxa_app.i18n import _
from tests.gui.gui_fixtures import SampleArchive
from tests.gui.technician_fixtures import PASSWORD, add_test_user, query

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


def _login(archive: Path, qtbot: QtBot, username: str, password: str) -> LoginDialog:
    dialog = LoginDialog(archive)
    qtbot.addWidget(dialog)
    dialog.show()  # never exec(): a test must not block
    dialog.username_edit.setText(username)
    dialog.password_edit.setText(password)
    dialog.buttons.accepted.emit()
    return dialog


def test_first_run_creates_the_first_user(tmp_path: Path, qtbot: QtBot) -> None:
    archive = tmp_path / "new.dxa.sqlite"
    open_archive(archive).close()
    dialog = make_account_dialog(archive)
    qtbot.addWidget(dialog)
    assert isinstance(dialog, FirstUserDialog)
    dialog.show()
    dialog.username_edit.setText("mette")
    dialog.display_name_edit.setText("Mette Ærø")
    dialog.role_combo.setCurrentIndex(dialog.role_combo.findData(str(Role.ADMIN)))
    dialog.password_edit.setText(PASSWORD)
    dialog.repeat_edit.setText("something else")
    assert not dialog.submit()
    assert dialog.error_label.text() == _("The two passwords differ.")
    dialog.repeat_edit.setText(PASSWORD)
    assert dialog.submit()
    assert dialog.session == Session(archive, "mette", "Mette Ærø", Role.ADMIN)
    assert query(archive, "SELECT username, role FROM users") == [
        {"username": "mette", "role": "admin"}
    ]
    actions = [r["action"] for r in query(archive, "SELECT action FROM audit_log ORDER BY id")]
    assert actions[-3:] == ["user_add", "first_user", "login"]
    # the next start asks for a log-in, not for a first user
    again = make_account_dialog(archive)
    qtbot.addWidget(again)
    assert isinstance(again, LoginDialog)


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
        (Role.ADMIN, ["technician", "physician", "centre"]),
    ],
)
def test_roles_decide_the_workspaces(role: Role, expected: list[str]) -> None:
    assert allowed_workspaces(Session(Path("a"), "u", "U", role)) == expected
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


def test_no_session_only_browses(
    sample_archive: SampleArchive, settings: QSettings, qtbot: QtBot
) -> None:
    window = MainWindow(settings)
    qtbot.addWidget(window)
    assert window.open_archive(sample_archive.path)
    assert window.workspace_titles() == [_("Patients")]
    assert window.user_label.text() == _("Not logged in")


def test_log_out_closes_the_workspaces(
    sample_archive: SampleArchive, qtbot: QtBot, settings: QSettings
) -> None:
    session = add_test_user(sample_archive.path, "tekla", Role.TECHNICIAN)
    window = MainWindow(settings, session=session)
    qtbot.addWidget(window)
    assert "technician" in window.workspaces
    window.logout_action.trigger()
    assert window.session is None
    assert window.workspace_titles() == [_("Patients")]
    rows = query(sample_archive.path, "SELECT username, action FROM audit_log ORDER BY id")
    assert rows[-1] == {"username": "tekla", "action": "logout"}


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


def test_admin_sees_every_workspace(
    sample_archive: SampleArchive, qtbot: QtBot, settings: QSettings
) -> None:
    session = add_test_user(sample_archive.path, "anne", Role.ADMIN)
    window = MainWindow(settings, session=session)
    qtbot.addWidget(window)
    assert window.workspace_titles() == [
        _("Patients"),
        _("Technician"),
        _("Physician"),
        _("Centre"),
    ]
    window.set_language("da")
    assert window.workspace_titles()[0] == _("Patients")
