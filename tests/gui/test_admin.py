"""The administration workspace: users, the PACS, scanners, signers and the lock time.

Users: add, deactivate, reactivate, reset the password, change the role (the last active
administrator stays). Settings: the stored PACS, the receiver's scanners, the trusted signer
certificates, the idle time before the screen locks. A technician is refused by the services.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, QSettings
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError, UsageError
from dxa_app.gui.admin import AdminWorkspace, UserTableModel
from dxa_app.gui.idle import MINUTE_MS
from dxa_app.gui.login import LoginDialog
from dxa_app.gui.main_window import MainWindow
from dxa_app.i18n import _
from dxa_app.report_out import make_self_signed_certificate
from dxa_app.services.auth import Session, log_in
from dxa_app.services.pacs import PacsTarget, pacs_target
from dxa_app.services.receiving import allowed_callers
from dxa_app.services.settings import lock_minutes
from dxa_app.services.users import set_active
from tests.gui.gui_fixtures import SampleArchive
from tests.gui.technician_fixtures import PASSWORD, add_test_user, query

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

TIMEOUT = 20000


def _workspace(qtbot: QtBot, session: Session) -> AdminWorkspace:
    ws = AdminWorkspace(session)
    qtbot.addWidget(ws)
    ws.refresh()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    return ws


def _select(ws: AdminWorkspace, username: str) -> None:
    row = ws.user_model.find_row(lambda u: u.username == username)
    assert row is not None
    ws.user_view.selectionModel().select(
        ws.user_model.index(row, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )


def test_user_model_passes_the_model_tester(
    qtmodeltester: Any, sample_archive: SampleArchive
) -> None:
    from dxa_app.services.users import list_users

    admin = add_test_user(sample_archive.path, "anne", Role.ADMIN)
    model = UserTableModel()
    qtmodeltester.check(model)
    model.set_rows(list_users(admin))
    qtmodeltester.check(model)
    assert model.rowCount() >= 1


def test_add_deactivate_and_reactivate_a_user(qtbot: QtBot, sample_archive: SampleArchive) -> None:
    archive = sample_archive.path
    ws = _workspace(qtbot, add_test_user(archive, "anne", Role.ADMIN))
    _select(ws, "anne")
    assert not ws.active_button.isEnabled()  # never one's own account

    ws.username_edit.setText("ida")
    ws.display_name_edit.setText("Ida Holm")
    ws.role_combo.setCurrentIndex(ws.role_combo.findData(str(Role.PHYSICIAN)))
    ws.password_edit.setText(PASSWORD)
    ws.repeat_edit.setText(PASSWORD)
    ws.add_button.click()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    assert ws.last_error is None
    ida = next(u for u in ws.user_model.rows() if u.username == "ida")
    assert (ida.display_name, ida.role, ida.active) == ("Ida Holm", Role.PHYSICIAN, True)
    assert ws.username_edit.text() == "" and ws.password_edit.text() == ""
    added = query(archive, "SELECT username, entity_id FROM audit_log WHERE action = 'user_add'")
    assert {"username": "anne", "entity_id": "ida"} in added

    _select(ws, "ida")
    assert ws.active_button.isEnabled() and ws.active_button.text() == _("Deactivate")
    ws.active_button.click()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    assert not next(u for u in ws.user_model.rows() if u.username == "ida").active
    login = LoginDialog(archive)
    qtbot.addWidget(login)
    login.username_edit.setText("ida")
    login.password_edit.setText(PASSWORD)
    assert not login.submit()  # a deactivated user cannot log in

    _select(ws, "ida")
    assert ws.active_button.text() == _("Reactivate")
    ws.active_button.click()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    actions = [
        r["action"]
        for r in query(archive, "SELECT action FROM audit_log WHERE entity_id = 'ida' ORDER BY id")
    ]
    assert actions[-3:] == ["user_deactivate", "login_failed", "user_activate"]
    login.password_edit.setText(PASSWORD)
    assert login.submit()


def test_a_short_password_is_the_services_refusal(
    qtbot: QtBot, sample_archive: SampleArchive
) -> None:
    ws = _workspace(qtbot, add_test_user(sample_archive.path, "anne", Role.ADMIN))
    ws.username_edit.setText("kim")
    ws.password_edit.setText("short")
    ws.repeat_edit.setText("short")
    ws.add()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    assert ws.last_error is not None
    assert _("The password is too short.") in ws.status_label.text()
    assert all(u.username != "kim" for u in ws.user_model.rows())


def test_the_pacs_address_is_stored_for_every_workstation(
    qtbot: QtBot, sample_archive: SampleArchive
) -> None:
    admin = add_test_user(sample_archive.path, "anne", Role.ADMIN)
    ws = _workspace(qtbot, admin)
    ws.pacs_page.pacs_box.show_target(PacsTarget(" pacs.example ", 11112, "ORTHANC", "DXA1"))
    ws.pacs_page.save_button.click()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    assert pacs_target(admin) == PacsTarget("pacs.example", 11112, "ORTHANC", "DXA1")
    assert ws.pacs_page.pacs_box.host.text() == "pacs.example"  # what the service stored
    rows = query(
        sample_archive.path, "SELECT username FROM audit_log WHERE action = 'setting_pacs'"
    )
    assert rows == [{"username": "anne"}]


def test_a_technician_is_refused_by_the_service(
    qtbot: QtBot, sample_archive: SampleArchive
) -> None:
    ws = AdminWorkspace(add_test_user(sample_archive.path, "tekla", Role.TECHNICIAN))
    qtbot.addWidget(ws)
    assert not ws.users_box.isVisibleTo(ws) and not ws.pacs_page.pacs_box.isVisibleTo(ws)
    ws.set_user_active("admin", False)
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    assert isinstance(ws.last_error, PermissionDeniedError)
    assert ws.last_error.message in ws.status_label.text()
    assert query(sample_archive.path, "SELECT active FROM users WHERE username = 'admin'") == [
        {"active": 1}
    ]


# -- passwords, roles, scanners, certificates, the lock time --------------------------------


def _wait(qtbot: QtBot, ws: AdminWorkspace) -> None:
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)


def _role_of(archive: Path, username: str) -> object:
    return query(archive, "SELECT role FROM users WHERE username = ?", [username])[0]["role"]


def test_reset_a_users_password(qtbot: QtBot, sample_archive: SampleArchive) -> None:
    archive = sample_archive.path
    add_test_user(archive, "ida", Role.PHYSICIAN)
    ws = _workspace(qtbot, add_test_user(archive, "anne", Role.ADMIN))
    assert not ws.reset_button.isEnabled()
    _select(ws, "ida")
    assert ws.reset_button.isEnabled()
    ws.reset_button.click()
    dialog = ws.reset_dialog
    assert dialog is not None and dialog.isVisible()

    dialog.password_edit.setText("new-password-1")
    dialog.repeat_edit.setText("new-password-2")
    dialog.ok_button.click()  # the two differ: said in the dialog, no service call
    assert dialog.isVisible() and dialog.error_label.text() == _("The two passwords differ.")
    dialog.password_edit.setText("short")
    dialog.repeat_edit.setText("short")
    dialog.ok_button.click()
    _wait(qtbot, ws)
    assert dialog.isVisible() and _("The password is too short.") in dialog.error_label.text()

    dialog.password_edit.setText("new-password-1")
    dialog.repeat_edit.setText("new-password-1")
    dialog.ok_button.click()
    _wait(qtbot, ws)
    assert not dialog.isVisible() and dialog.result() == QDialog.DialogCode.Accepted
    assert ws.status_label.text() == _("New password set for {name}.").format(name="ida")
    assert log_in(archive, "ida", "new-password-1").username == "ida"
    with pytest.raises(PermissionDeniedError):
        log_in(archive, "ida", PASSWORD)
    rows = query(
        archive, "SELECT username, entity_id FROM audit_log WHERE action = 'user_password_reset'"
    )
    assert rows == [{"username": "anne", "entity_id": "ida"}]


def test_change_a_role_but_the_last_administrator_stays(
    qtbot: QtBot, sample_archive: SampleArchive
) -> None:
    archive = sample_archive.path
    add_test_user(archive, "ida", Role.PHYSICIAN)
    anne = add_test_user(archive, "anne", Role.ADMIN)
    set_active(anne, "admin", False)  # anne is now the only active administrator
    ws = _workspace(qtbot, anne)
    _select(ws, "ida")
    assert ws.new_role_combo.currentData() == str(Role.PHYSICIAN)
    assert not ws.role_button.isEnabled()  # the role she has
    ws.new_role_combo.setCurrentIndex(ws.new_role_combo.findData(str(Role.TECHNICIAN)))
    assert ws.role_button.isEnabled()
    ws.role_button.click()
    _wait(qtbot, ws)
    assert ws.last_error is None
    assert next(u for u in ws.user_model.rows() if u.username == "ida").role == Role.TECHNICIAN
    assert _role_of(archive, "ida") == "technician"

    _select(ws, "anne")
    ws.new_role_combo.setCurrentIndex(ws.new_role_combo.findData(str(Role.PHYSICIAN)))
    ws.role_button.click()
    _wait(qtbot, ws)
    assert isinstance(ws.last_error, UsageError)
    assert _("This is the last active administrator.") in ws.status_label.text()
    assert _role_of(archive, "anne") == "admin"
    rows = query(archive, "SELECT entity_id, details FROM audit_log WHERE action = 'user_role'")
    assert [r["entity_id"] for r in rows] == ["ida"]


def test_register_and_remove_the_receivers_scanners(
    qtbot: QtBot, sample_archive: SampleArchive
) -> None:
    archive = sample_archive.path
    anne = add_test_user(archive, "anne", Role.ADMIN)
    ws = _workspace(qtbot, anne)
    assert ws.receiver_page.caller_list.count() == 0
    ws.receiver_page.caller_edit.setText("HZ_DXA1")
    ws.receiver_page.add_button.click()
    _wait(qtbot, ws)
    ws.receiver_page.caller_edit.setText("IDXA_OUH")
    ws.receiver_page.add_button.click()
    _wait(qtbot, ws)
    assert [
        ws.receiver_page.caller_list.item(i).text()
        for i in range(ws.receiver_page.caller_list.count())
    ] == [
        "HZ_DXA1",
        "IDXA_OUH",
    ]
    assert allowed_callers(anne) == ["HZ_DXA1", "IDXA_OUH"]
    assert ws.receiver_page.caller_edit.text() == ""

    ws.receiver_page.allow("   ")  # the service refuses an empty AE title
    _wait(qtbot, ws)
    assert isinstance(ws.last_error, UsageError)
    assert _("An AE title is 1 to 16 ASCII characters.") in ws.status_label.text()

    assert not ws.receiver_page.remove_button.isEnabled()
    ws.receiver_page.caller_list.setCurrentRow(0)
    assert ws.receiver_page.remove_button.isEnabled()
    ws.receiver_page.remove_button.click()
    _wait(qtbot, ws)
    assert allowed_callers(anne) == ["IDXA_OUH"] and ws.receiver_page.caller_list.count() == 1
    actions = query(
        archive,
        "SELECT action FROM audit_log WHERE action LIKE 'receive_caller_%' ORDER BY id",
    )
    assert [r["action"] for r in actions] == [
        "receive_caller_allow",
        "receive_caller_allow",
        "receive_caller_remove",
    ]


def test_trust_a_physicians_certificate_from_a_file(
    qtbot: QtBot, sample_archive: SampleArchive, tmp_path: Path
) -> None:
    archive = sample_archive.path
    ws = _workspace(qtbot, add_test_user(archive, "anne", Role.ADMIN))
    _key, cert = make_self_signed_certificate("Dr. Åse Hansen")
    pem = tmp_path / "hansen.pem"
    pem.write_bytes(cert)
    ws.trust_signer_file(pem)
    _wait(qtbot, ws)
    assert ws.last_error is None
    assert ws.trusted_list.count() == 1 and "Åse Hansen" in ws.trusted_list.item(0).text()
    assert ws.trusted_list.isVisibleTo(ws)
    rows = query(archive, "SELECT username, details FROM audit_log WHERE action = 'trust_signer'")
    assert len(rows) == 1 and rows[0]["username"] == "anne"
    assert "Åse Hansen" in str(rows[0]["details"])

    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("not a certificate")
    ws.trust_signer_file(not_pem)
    _wait(qtbot, ws)
    assert isinstance(ws.last_error, UsageError)
    assert _("This is not a PEM certificate.") in ws.status_label.text()
    ws.trust_signer_file(tmp_path / "missing.pem")
    _wait(qtbot, ws)
    assert isinstance(ws.last_error, UsageError) and "missing.pem" in ws.status_label.text()
    assert ws.trusted_list.count() == 1


def test_the_lock_time_is_stored_for_every_workstation(
    qtbot: QtBot, sample_archive: SampleArchive, settings: QSettings
) -> None:
    archive = sample_archive.path
    anne = add_test_user(archive, "anne", Role.ADMIN)
    win = MainWindow(settings, session=anne)
    qtbot.addWidget(win)
    ws = win.workspaces["admin"]
    assert isinstance(ws, AdminWorkspace)
    _wait(qtbot, ws)
    assert ws.lock_page.spin.value() == 10 and win.idle_watcher.timeout_ms == 10 * MINUTE_MS
    ws.lock_page.spin.setValue(4)
    with qtbot.waitSignal(ws.lock_minutes_changed, timeout=TIMEOUT) as signal:
        ws.lock_page.save_button.click()
    assert signal.args == [4]
    assert lock_minutes(anne) == 4
    assert win.idle_watcher.timeout_ms == 4 * MINUTE_MS  # this window uses it at once
    rows = query(archive, "SELECT username FROM audit_log WHERE action = 'setting_lock_minutes'")
    assert rows == [{"username": "anne"}]

    ws.lock_page.save(0)  # the service refuses what the spin box would not allow
    _wait(qtbot, ws)
    assert isinstance(ws.last_error, UsageError) and lock_minutes(anne) == 4


def test_a_technician_is_refused_every_administration(
    qtbot: QtBot, sample_archive: SampleArchive, tmp_path: Path
) -> None:
    archive = sample_archive.path
    anne = add_test_user(archive, "anne", Role.ADMIN)
    ws = AdminWorkspace(add_test_user(archive, "tekla", Role.TECHNICIAN))
    qtbot.addWidget(ws)
    for box in (ws.users_box, ws.receiver_page, ws.signers_box, ws.lock_page):
        assert not box.isVisibleTo(ws)
    _key, cert = make_self_signed_certificate("Dr. Åse Hansen")
    pem = tmp_path / "hansen.pem"
    pem.write_bytes(cert)
    attempts: dict[str, Callable[[], None]] = {
        "reset password": lambda: ws.reset_password("admin", "another-password-1"),
        "change role": lambda: ws.change_role("admin", Role.TECHNICIAN),
        "register a scanner": lambda: ws.receiver_page.allow("HZ_DXA1"),
        "trust a certificate": lambda: ws.trust_signer_file(pem),
        "lock time": lambda: ws.lock_page.save(3),
    }
    for name, attempt in attempts.items():
        ws.last_error = None
        attempt()
        _wait(qtbot, ws)
        assert isinstance(ws.last_error, PermissionDeniedError), name
        assert ws.last_error.message in ws.status_label.text(), name
    assert _role_of(archive, "admin") == "admin"
    assert log_in(archive, "admin", PASSWORD).username == "admin"
    assert allowed_callers(anne) == [] and lock_minutes(anne) == 10
    assert query(archive, "SELECT count(*) AS n FROM audit_log WHERE action = 'trust_signer'") == [
        {"n": 0}
    ]
