"""Finding things: the patient search, and each role's own workspace after the log-in.

The search is one service (SQL in the archive); the box above the Patients table calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from dxa_app import i18n
from dxa_app.domain import Role
from dxa_app.gui.main_window import MainWindow, workspace_title
from dxa_app.services import browse
from dxa_app.services.auth import Session
from dxa_app.services.patients import merge
from tests.gui.gui_fixtures import SampleArchive
from tests.sessions import session_as

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


def _names(session: Session, search: str) -> list[str]:
    return [p.name for p in browse.patients(session, search=search)]


def test_the_search_finds_by_cpr_with_or_without_hyphen_and_by_name_in_any_case(
    sample_archive: SampleArchive,
) -> None:
    tech = session_as(sample_archive.path, Role.TECHNICIAN, "tekla")
    assert len(_names(tech, "")) == 3
    assert _names(tech, "120465-9992") == ["Åse Møller"]
    assert _names(tech, "1204659992") == ["Åse Møller"]
    assert _names(tech, " 120465 ") == ["Åse Møller"]
    assert _names(tech, "åse") == ["Åse Møller"]  # Danish letters in any case
    assert _names(tech, "MØLLER åse") == ["Åse Møller"]  # every word, any order
    assert _names(tech, "læsø") == ["Bjørk Læsø"]
    assert _names(tech, "%") == [] and _names(tech, "_") == []  # no SQL wildcards
    assert _names(tech, "Hansen") == []


def test_the_search_finds_a_person_by_a_merged_record(sample_archive: SampleArchive) -> None:
    admin = session_as(sample_archive.path, Role.ADMIN, "anne")
    rows = {p.name: p.id for p in browse.patients(admin)}
    merge(admin, rows["Bjørk Læsø"], rows["Åse Møller"], "Same person (test)")
    assert _names(admin, "300782") == ["Åse Møller"]  # the merged row's CPR finds the person
    assert _names(admin, "Bjørk") == ["Åse Møller"]


def _type(qtbot: QtBot, widget: QWidget, text: str) -> None:
    cast(Callable[[QWidget, str], None], qtbot.keyClicks)(widget, text)  # untyped in pytest-qt


def _enter(qtbot: QtBot, widget: QWidget) -> None:
    cast(Callable[[QWidget, Qt.Key], None], qtbot.keyClick)(widget, Qt.Key.Key_Return)


def _window(qtbot: QtBot, settings: QSettings, session: Session) -> MainWindow:
    win = MainWindow(settings, login=lambda _path, _parent: session)
    qtbot.addWidget(win)
    win.resize(1200, 700)
    win.show()
    qtbot.waitExposed(win)
    assert win.open_archive(Path(session.archive))
    return win


def test_the_search_box_filters_the_patients_and_shows_the_one_found(
    qtbot: QtBot, settings: QSettings, sample_archive: SampleArchive
) -> None:
    i18n.set_language("da")
    tech = session_as(sample_archive.path, Role.TECHNICIAN, "tekla")
    win = _window(qtbot, settings, tech)
    assert win.patient_search.placeholderText() == "Søg: CPR-nummer eller navn"
    assert win.patient_model.rowCount() == 3
    win.tabs.setCurrentWidget(win.splitter)
    _type(qtbot, win.patient_search, "møller")
    qtbot.waitUntil(lambda: win.patient_model.rowCount() == 1)  # after typing pauses
    assert win.patient_model.row_at(0).name == "Åse Møller"
    assert win.selected_patient is not None and win.selected_patient.name == "Åse Møller"
    studies = {win.study_model.row_at(r).patient_id for r in range(win.study_model.rowCount())}
    assert studies == {win.selected_patient.id}

    win.patient_search.setText("Hansen")
    _enter(qtbot, win.patient_search)  # Enter searches at once
    assert win.patient_model.rowCount() == 0
    assert win.patient_hint.shown() and "Hansen" in win.patient_hint.text()
    assert win.selected_patient is None

    win.patient_search.clear()
    _enter(qtbot, win.patient_search)
    assert win.patient_model.rowCount() == 3
    assert not win.patient_hint.shown()


@pytest.mark.parametrize(
    ("role", "home"),
    [
        (Role.TECHNICIAN, "technician"),
        (Role.PHYSICIAN, "physician"),
        (Role.CENTRE_ANALYST, "centre"),
        (Role.ADMIN, "admin"),
    ],
)
def test_each_role_opens_on_its_own_workspace(
    qtbot: QtBot, settings: QSettings, sample_archive: SampleArchive, role: Role, home: str
) -> None:
    i18n.set_language("da")
    session = session_as(sample_archive.path, role, f"user_{role}")
    win = _window(qtbot, settings, session)
    assert win.tabs.currentWidget() is win.workspaces[home]
    assert win.tabs.tabText(win.tabs.currentIndex()) == workspace_title(home)
