"""Installing reference tables and choosing the national scale from the GUI (issue 14, point 6).

The centre's "Scale and references" tab and the administration workspace list the installed
tables and install one from a scan date through the real service (impact preview, reason,
password, audit); the centre tab shows the national scale in force and lets a centre analyst
choose the ESP-certified scale. A technician is refused by the service.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from dxa_app.archive import open_archive, set_setting
from dxa_app.archive.steps import REFERENCE_SCANNER_KEY
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError
from dxa_app.gui.admin import AdminWorkspace
from dxa_app.gui.centre_references import ReferencesPanel, ReferenceTableModel, ScaleTab
from dxa_app.gui.decision import DecisionDialog
from dxa_app.services.auth import Session
from dxa_app.services.calibration import national_scale
from dxa_app.services.references import list_references
from tests import programme as pg
from tests.gui.technician_fixtures import query
from tests.sessions import PASSWORD, session_as

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

TIMEOUT = 20000
SPINE_CSV = """# dxa-reference-table v1
name,version,purpose,unit_system,source,status,region,sex,age_min,age_max,mean,sd
DK spine,2027.1,T,Hologic g/cm2,Centre study 2026 (test),verified,L1-L4,F,20,29,1.000,0.100
"""
FROM = dt.date(2026, 6, 1)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """Two scanners; one patient with a spine study before and one after 2026-06-01."""
    path = tmp_path / "ref.sqlite"
    db = open_archive(path)
    p = pg.person(2)
    studies = [
        pg.hip_study(
            pg.REF, p, f"1.2.56.{i}", day, spine=0.850, total_hip=0.800, femoral_neck=0.700
        )
        for i, day in enumerate((dt.date(2026, 3, 1), dt.date(2026, 9, 1)))
    ]
    studies.append(
        pg.hip_study(
            pg.OTHER,
            pg.person(3),
            "1.2.56.9",
            dt.date(2026, 9, 2),
            spine=0.900,
            total_hip=0.850,
            femoral_neck=0.750,
        )
    )
    pg.store_studies(db, studies)
    set_setting(db, REFERENCE_SCANNER_KEY, pg.REF.serial)
    db.close()
    return path


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "dk-spine.csv"
    path.write_text(SPINE_CSV, encoding="utf-8")
    return path


def _scale_tab(qtbot: QtBot, session: Session) -> ScaleTab:
    tab = ScaleTab(session)
    qtbot.addWidget(tab)
    tab.show()
    tab.refresh()
    qtbot.waitUntil(
        lambda: not tab.busy() and tab.data is not None and tab.references.loaded,
        timeout=TIMEOUT,
    )
    return tab


def _install(qtbot: QtBot, panel: ReferencesPanel, table: Path, password: str) -> DecisionDialog:
    """Start an install from FROM and answer the dialog with a reason and ``password``."""
    panel.install_file(table, FROM)
    qtbot.waitUntil(lambda: panel.install_dialog is not None, timeout=TIMEOUT)
    dialog = panel.install_dialog
    assert dialog is not None
    dialog.reason_edit.setText("national spine reference")
    dialog.password_edit.setText(password)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not panel.busy(), timeout=TIMEOUT)
    return dialog


def test_reference_model_passes_the_model_tester(
    qtmodeltester: object, archive: Path, table: Path
) -> None:
    from dxa_app.services.references import install_reference

    centre = session_as(archive, Role.CENTRE_ANALYST, "centre")
    install_reference(centre, table, valid_from=FROM, password=PASSWORD, reason="x")
    model = ReferenceTableModel()
    check = qtmodeltester.check  # type: ignore[attr-defined]
    check(model)
    model.set_rows(list_references(centre))
    check(model)
    assert model.rowCount() == 1
    row = [model.data(model.index(0, c)) for c in range(model.columnCount())]
    assert row[:5] == ["T", "DK spine", "2027.1", "verified", "2026-06-01"]


def test_centre_analyst_installs_a_table_with_preview_reason_and_password(
    qtbot: QtBot, archive: Path, table: Path
) -> None:
    session = session_as(archive, Role.CENTRE_ANALYST, "centre")
    tab = _scale_tab(qtbot, session)
    panel = tab.references
    assert panel.table_model.rowCount() == 0 and not panel.empty_label.isHidden()
    assert panel.install_button.isEnabled()

    wrong = _install(qtbot, panel, table, "not-the-password")
    assert wrong.isVisible() and wrong.error_label.isVisible()  # refused inside the dialog
    prompt = wrong.prompt_label.text()
    assert "DK spine 2027.1 (verified) for scans from 2026-06-01" in prompt
    assert "3 studies" in prompt and "L1-L4" in prompt  # the impact preview
    assert "Centre study 2026 (test)" in prompt
    assert list_references(session) == []  # nothing installed yet

    wrong.password_edit.setText(PASSWORD)
    wrong.ok_button.click()
    qtbot.waitUntil(lambda: not panel.busy() and panel.table_model.rowCount() == 1, timeout=TIMEOUT)
    assert not wrong.isVisible() and panel.install_dialog is None
    [installed] = list_references(session)
    assert (installed.table.name, installed.valid_from, installed.installed_by) == (
        "DK spine",
        "2026-06-01",
        "centre",
    )
    assert panel.empty_label.isHidden()
    assert "Installed T reference DK spine 2027.1 for scans from 2026-06-01" in tab.status_text
    [entry] = query(
        archive, "SELECT username, details FROM audit_log WHERE action = 'reference_install'"
    )
    details = json.loads(str(entry["details"]))
    assert entry["username"] == "centre" and details["reason"] == "national spine reference"
    assert details["impact"]["studies"] == 3


def test_centre_analyst_sees_and_sets_the_national_scale(qtbot: QtBot, archive: Path) -> None:
    session = session_as(archive, Role.CENTRE_ANALYST, "centre")
    tab = _scale_tab(qtbot, session)
    assert tab.scale_label.text() == "National scale version 0: the reference scanner REF-1."
    assert tab.scale_combo.currentData() == "reference"
    assert not tab.anchor_combo.isEnabled()  # a hip anchor only for the ESP scale
    assert tab.set_button.isEnabled()

    tab.scale_combo.setCurrentIndex(tab.scale_combo.findData("esp"))
    assert tab.anchor_combo.isEnabled()
    tab.anchor_combo.setCurrentIndex(tab.anchor_combo.findData(pg.OTHER.serial))
    tab.ask_scale()
    dialog = tab.scale_dialog
    assert dialog is not None and "hip in vivo to OTH-2" in dialog.prompt_label.text()
    dialog.password_edit.setText(PASSWORD)
    dialog.ok_button.click()  # no reason: the service refuses, the dialog stays
    qtbot.waitUntil(lambda: not tab.busy() and dialog.error_label.isVisible(), timeout=TIMEOUT)
    assert national_scale(session).version == 0

    dialog.reason_edit.setText("ESP certification at the centre")
    dialog.password_edit.setText(PASSWORD)
    dialog.ok_button.click()
    qtbot.waitUntil(
        lambda: not tab.busy() and tab.data is not None and tab.data.scale.version == 1,
        timeout=TIMEOUT,
    )
    now = national_scale(session)
    assert (now.version, now.scale, now.hip_anchor, now.reason) == (
        1,
        "esp",
        "OTH-2",
        "ESP certification at the centre",
    )
    assert tab.scale_label.text() == (
        "National scale version 1: ESP-certified (spine: European Spine Phantom;"
        " hip: in vivo to OTH-2)."
    )
    assert tab.scale_dialog is None and tab.scale_combo.currentData() == "esp"


def test_administrator_installs_from_the_administration_workspace(
    qtbot: QtBot, archive: Path, table: Path
) -> None:
    admin = session_as(archive, Role.ADMIN, "admin")
    ws = AdminWorkspace(admin)
    qtbot.addWidget(ws)
    ws.show()
    ws.refresh()
    qtbot.waitUntil(lambda: not ws.busy() and ws.references.loaded, timeout=TIMEOUT)
    assert ws.references.isVisible() and ws.references.install_button.isEnabled()
    _install(qtbot, ws.references, table, PASSWORD)
    qtbot.waitUntil(
        lambda: not ws.busy() and ws.references.table_model.rowCount() == 1, timeout=TIMEOUT
    )
    assert [t.installed_by for t in list_references(admin)] == ["admin"]


def test_a_technician_may_look_but_the_service_refuses_an_install(
    qtbot: QtBot, archive: Path, table: Path
) -> None:
    tech = session_as(archive, Role.TECHNICIAN, "tina")
    tab = _scale_tab(qtbot, tech)
    assert not tab.references.install_button.isEnabled()
    assert not tab.set_button.isEnabled() and not tab.scale_combo.isEnabled()
    assert tab.scale_label.text().startswith("National scale version 0")
    tab.references.install_file(table, FROM)  # the button is greyed; the service decides
    qtbot.waitUntil(lambda: not tab.busy(), timeout=TIMEOUT)
    assert isinstance(tab.last_error, PermissionDeniedError)
    assert tab.references.install_dialog is None
    assert list_references(tech) == []
