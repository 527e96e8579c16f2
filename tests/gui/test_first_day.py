"""First day: About says what the program is and who made it; empty screens say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from dxa_app import i18n
from dxa_app.about import COMPONENTS, components, product_facts
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
    assert facts.manufacturer == "DXA-kalibreringsprojektet (udviklingsversion)" in text
    # the intended use in Danish, and in English below it
    assert "Til brug for uddannet DXA-personale hos voksne." in text
    assert "For use by trained DXA staff in adults." in text
    for component in facts.components:  # each licence as the installed package declares it
        assert component.name in text and component.licence in text
    assert [c.name for c in facts.components] == [name for name, _licence in COMPONENTS]
    pyside = next(c for c in facts.components if c.name == "PySide6 (Qt)")
    assert "LGPL-3.0" in pyside.licence
    assert "PySide6 (Qt) 6." in text  # the installed version is named
    i18n.set_language("en")
    assert "Intended use" in win.about_text() and "Manufacturer" in win.about_text()


def test_the_licences_come_from_the_installed_packages() -> None:
    """Known answers of the installed metadata: an SPDX expression, or a licence classifier."""
    licences = {c.name: c.licence for c in components()}
    assert licences["PySide6 (Qt)"] == "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only"
    assert licences["pydicom"] == "MIT License"  # from its classifier
    assert licences["reportlab"] == "BSD License"  # its License field is a paragraph
    assert licences["SQLite"] == "Public domain"


def test_the_manufacturer_and_intended_use_are_read_from_about_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json

    from dxa_app import about

    (tmp_path / "about.json").write_text(
        json.dumps(
            {
                "manufacturer": {"name": "Region Test", "address": "Testvej 1, 5000 Odense C"},
                "intended_use": {"da": "Dansk brug.", "en": "English use."},
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(about, "resource_path", lambda *parts: tmp_path.joinpath(*parts))
    i18n.set_language("en")
    facts = about.product_facts()
    assert (facts.manufacturer, facts.manufacturer_address) == (
        "Region Test",
        "Testvej 1, 5000 Odense C",
    )
    assert facts.intended_use == "English use." and facts.other_uses == (("da", "Dansk brug."),)
    (tmp_path / "about.json").unlink()  # missing: the project's own statement
    assert about.product_facts().manufacturer == about.DEFAULT_MANUFACTURER


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
