"""First day: About says what the program is and who made it; empty screens say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from dxa_app import i18n
from dxa_app.about import COMPONENTS, product_facts
from dxa_app.domain import Role
from dxa_app.gui.main_window import MainWindow
from dxa_app.gui.physician import PhysicianWorkspace
from dxa_app.gui.technician import TechnicianWorkspace
from dxa_app.services.auth import Session
from tests.gui.gui_fixtures import SampleArchive
from tests.sessions import session_as

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


def _window(qtbot: QtBot, settings: QSettings, session: Session | None = None) -> MainWindow:
    win = MainWindow(settings, login=lambda _path, _parent: session)
    qtbot.addWidget(win)
    win.resize(1200, 700)
    win.show()
    qtbot.waitExposed(win)
    if session is not None:
        assert win.open_archive(Path(session.archive))
    return win


def test_about_names_version_manufacturer_intended_use_and_licences_in_danish(
    qtbot: QtBot, settings: QSettings
) -> None:
    i18n.set_language("da")
    win = _window(qtbot, settings)
    box = win.make_about_box()
    qtbot.addWidget(box)
    text = box.text()
    facts = product_facts()
    assert facts.version and facts.version in text
    for heading in ("Fabrikant", "Tilsigtet anvendelse", "Licenser"):
        assert heading in text
    assert "Intended use" not in text and "Manufacturer" not in text
    assert "CE-mærket" in text and "voksne" in text
    for name, licence in COMPONENTS:
        assert name in text and licence in text
    assert "PySide6 (Qt) 6." in text  # the installed version is named
    i18n.set_language("en")
    assert "Intended use" in win.about_text() and "Manufacturer" in win.about_text()


def test_an_empty_window_says_how_to_open_an_archive(qtbot: QtBot, settings: QSettings) -> None:
    i18n.set_language("da")
    win = _window(qtbot, settings)
    assert win.patient_hint.shown()
    assert "Filer > Åbn arkiv" in win.patient_hint.text()


def test_an_empty_archive_says_import_first(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    i18n.set_language("da")
    archive = tmp_path / "ny.dxa.sqlite"
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    win = _window(qtbot, settings, tech)
    assert win.patient_hint.shown() and win.study_hint.shown()
    assert win.patient_hint.text().startswith("Endnu ingen patienter. Importér")
    assert "Tekniker" in win.patient_hint.text()
    i18n.set_language("en")
    win.retranslate()
    assert win.patient_hint.text().startswith("No patients yet. Import")

    technician = TechnicianWorkspace(tech)
    qtbot.addWidget(technician)
    technician.show()
    assert technician.qc_panel.scanner_hint.shown()
    assert "phantom" in technician.qc_panel.scanner_hint.text()
    assert technician.import_panel.result_hint.shown()


def test_a_physician_is_told_who_imports(qtbot: QtBot, settings: QSettings, tmp_path: Path) -> None:
    i18n.set_language("da")
    doc = session_as(tmp_path / "ny.dxa.sqlite", Role.PHYSICIAN, "doc")
    win = _window(qtbot, settings, doc)
    assert "En tekniker importerer" in win.patient_hint.text()
    worklist = PhysicianWorkspace(doc)
    qtbot.addWidget(worklist)
    worklist.show()
    worklist.refresh()
    qtbot.waitUntil(lambda: not worklist.busy(), timeout=20000)
    assert worklist.worklist_hint.shown()
    assert "Ingen undersøgelser venter" in worklist.worklist_hint.text()


def test_the_hints_go_away_when_there_is_something_to_show(
    qtbot: QtBot, settings: QSettings, sample_archive: SampleArchive
) -> None:
    tech = session_as(sample_archive.path, Role.TECHNICIAN, "tekla")
    win = _window(qtbot, settings, tech)
    assert win.patient_model.rowCount() > 0
    assert not win.patient_hint.shown() and not win.study_hint.shown()
