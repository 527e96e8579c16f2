"""The administration workspace: users (add, deactivate, reactivate) and the stored PACS."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel
from pytestqt.qtbot import QtBot

from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError
from dxa_app.gui.admin import AdminWorkspace, UserTableModel
from dxa_app.gui.login import LoginDialog
from dxa_app.i18n import _
from dxa_app.services.auth import Session
from dxa_app.services.pacs import PacsTarget, pacs_target
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
    ws.pacs_box.show_target(PacsTarget(" pacs.example ", 11112, "ORTHANC", "DXA1"))
    ws.save_pacs_button.click()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    assert pacs_target(admin) == PacsTarget("pacs.example", 11112, "ORTHANC", "DXA1")
    assert ws.pacs_box.host.text() == "pacs.example"  # what the service stored
    rows = query(
        sample_archive.path, "SELECT username FROM audit_log WHERE action = 'setting_pacs'"
    )
    assert rows == [{"username": "anne"}]


def test_a_technician_is_refused_by_the_service(
    qtbot: QtBot, sample_archive: SampleArchive
) -> None:
    ws = AdminWorkspace(add_test_user(sample_archive.path, "tekla", Role.TECHNICIAN))
    qtbot.addWidget(ws)
    assert not ws.users_box.isVisibleTo(ws) and not ws.pacs_box.isVisibleTo(ws)
    ws.set_user_active("admin", False)
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    assert isinstance(ws.last_error, PermissionDeniedError)
    assert ws.last_error.message in ws.status_label.text()
    assert query(sample_archive.path, "SELECT active FROM users WHERE username = 'admin'") == [
        {"active": 1}
    ]
