"""The main window: the Patients tab after a log-in, settings, language, About."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QSettings, Qt
from PySide6.QtWidgets import QMessageBox, QTableView
from pytestqt.qtbot import QtBot

from dxa_app import i18n
from dxa_app.domain import Role
from dxa_app.gui import settings as ui_settings
from dxa_app.gui.main_window import MainWindow
from dxa_app.gui.models import ObjectRole, PatientTableModel, StudyTableModel
from dxa_app.i18n import _
from dxa_app.services.auth import Session
from tests.gui.gui_fixtures import SampleArchive
from tests.gui.technician_fixtures import add_test_user

pytestmark = [
    pytest.mark.gui,
    # the offscreen platform plugin warns about every shown top-level window
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


def _log_in_as_technician(archive: Path, _parent: object) -> Session:
    """The log-in step: a technician logs in to whichever archive is opened."""
    return add_test_user(archive, "tekla", Role.TECHNICIAN)


@pytest.fixture
def window(qtbot: QtBot, settings: QSettings) -> MainWindow:
    win = MainWindow(settings, login=_log_in_as_technician)
    qtbot.addWidget(win)
    return win


def _study_uids(win: MainWindow) -> set[str]:
    proxy = win.study_view.model()
    return {proxy.data(proxy.index(r, 0), ObjectRole).study_uid for r in range(proxy.rowCount())}


def _column_texts(win: MainWindow, column: int) -> set[str]:
    proxy = win.study_view.model()
    return {str(proxy.data(proxy.index(r, column))) for r in range(proxy.rowCount())}


def test_no_archive(window: MainWindow) -> None:
    assert window.archive_path is None
    assert window.status_label.text() == _("No archive open")
    assert window.windowTitle() == _("DXA bone density")
    assert window.study_view.model().rowCount() == 0


def test_open_archive_shows_every_study(
    window: MainWindow, sample_archive: SampleArchive, qtbot: QtBot
) -> None:
    window.show()
    qtbot.waitExposed(window)
    assert window.open_archive(sample_archive.path)
    view_model = window.study_view.model()
    assert view_model.rowCount() == len(sample_archive.studies) == 5
    assert _study_uids(window) == set(sample_archive.studies)
    dates = {d.isoformat() for _pid, d in sample_archive.studies.values()}
    assert _column_texts(window, StudyTableModel.COL_DATE) == dates
    assert _column_texts(window, StudyTableModel.COL_PATIENT_NAME) == set(
        sample_archive.patients.values()
    )
    assert window.patient_view.model().rowCount() == 3
    status = window.status_label.text()
    assert str(sample_archive.path) in status
    assert "3" in status and "5" in status
    assert window.windowTitle() == f"{_('DXA bone density')} — {sample_archive.path.name}"
    assert window.studies_title.text() == _("All studies")
    # the newest study comes first (default sort: date descending)
    assert view_model.data(view_model.index(0, StudyTableModel.COL_DATE)) == "2024-06-02"


def test_demo_archive_shows_every_study(
    window: MainWindow, demo_archive: Path, qtbot: QtBot
) -> None:
    """The acceptance check of the foundation: the demo archive, every study in the table."""
    from dxa_app.archive import open_archive

    db = open_archive(demo_archive)
    expected = {r["study_uid"] for r in db.query("SELECT study_uid FROM studies")}
    n_patients = db.execute("SELECT count(*) FROM patients").fetchone()[0]
    db.close()
    window.show()
    qtbot.waitExposed(window)
    assert window.open_archive(demo_archive)
    assert len(expected) > 300
    model = window.study_model
    # the table holds one page; scrolling (fetchMore) brings the rest, a page at a time
    assert model.rowCount() == model.page_size < len(expected)
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    assert window.study_view.model().rowCount() == len(expected)
    assert _study_uids(window) == expected
    assert window.patient_view.model().rowCount() == min(n_patients, model.page_size)
    scanners = _column_texts(window, StudyTableModel.COL_SCANNER)
    assert scanners == {
        "Hologic Horizon A",
        "Hologic Discovery W",
        "GE Lunar iDXA",
        "GE Lunar Prodigy",
    }


def test_selecting_a_patient_filters_studies(
    window: MainWindow, sample_archive: SampleArchive
) -> None:
    assert window.open_archive(sample_archive.path)
    rows = window.patient_model.rows()
    soeren = next(p for p in rows if p.identifier == "010150-9990")
    window.select_patient(soeren.id)
    assert window.selected_patient == soeren
    assert _study_uids(window) == {
        uid for uid, (pid, _d) in sample_archive.studies.items() if pid == soeren.identifier
    }
    assert window.study_view.model().rowCount() == 2
    assert "Søren Ærøskøbing" in window.studies_title.text()

    aase = next(p for p in rows if p.identifier == "120465-9992")
    window.select_patient(aase.id)
    assert _study_uids(window) == {
        uid for uid, (pid, _d) in sample_archive.studies.items() if pid == aase.identifier
    }

    window.show_all_action.trigger()
    assert window.selected_patient is None
    assert window.patient_view.selectionModel().selectedRows() == []
    assert _study_uids(window) == set(sample_archive.studies)
    assert window.studies_title.text() == _("All studies")


def test_open_missing_archive_reports_error(
    window: MainWindow, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not window.open_archive(tmp_path / "missing.dxa.sqlite")
    err = capsys.readouterr().err
    assert "missing.dxa.sqlite" in err
    assert window.archive_path is None


def test_settings_remember_archive_and_language(
    window: MainWindow, sample_archive: SampleArchive, settings: QSettings
) -> None:
    assert window.open_archive(sample_archive.path)
    window.set_language("en")
    window.close()  # closeEvent saves the geometry
    settings.sync()
    assert ui_settings.read_str(settings, ui_settings.KEY_LAST_ARCHIVE) == str(
        sample_archive.path.resolve()
    )
    assert ui_settings.read_str(settings, ui_settings.KEY_LANGUAGE) == "en"
    assert settings.value(ui_settings.KEY_GEOMETRY) is not None
    assert Path(settings.fileName()).is_relative_to(sample_archive.path.parent)


def test_language_switch_retranslates(
    window: MainWindow,
    sample_archive: SampleArchive,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A stand-in Danish catalogue, so the switch is visible even before the real .po
    # file is translated.
    danish = {
        "DXA bone density": "DXA knogletæthed",
        "Name": "Navn",
        "Date": "Dato",
        "&File": "&Filer",
        "All studies": "Alle undersøgelser",
    }

    class FakeDanish(gettext.NullTranslations):
        def gettext(self, message: str) -> str:
            return danish.get(message, message)

    real = i18n.translations

    def fake_translations(lang: str) -> gettext.NullTranslations:
        return FakeDanish() if lang == "da" else real(lang)

    monkeypatch.setattr(i18n, "translations", fake_translations)
    assert window.open_archive(sample_archive.path)

    def header(view: QTableView, column: int) -> object:
        # what the view shows: asked through the proxy, from the model, at call time
        return view.model().headerData(column, Qt.Orientation.Horizontal)

    with qtbot.waitSignal(window.patient_model.headerDataChanged, timeout=1000):
        window.language_actions["en"].trigger()
    assert i18n.current_language() == "en"
    assert header(window.patient_view, PatientTableModel.COL_NAME) == "Name"
    assert window.windowTitle().startswith("DXA bone density")
    assert window.file_menu.title() == "&File"
    assert window.language_actions["en"].isChecked()

    with qtbot.waitSignal(window.study_model.headerDataChanged, timeout=1000):
        window.language_actions["da"].trigger()
    assert i18n.current_language() == "da"
    assert header(window.patient_view, PatientTableModel.COL_NAME) == "Navn" == _("Name")
    assert header(window.study_view, StudyTableModel.COL_DATE) == "Dato"
    assert window.windowTitle() == f"{_('DXA bone density')} — {sample_archive.path.name}"
    assert window.windowTitle().startswith("DXA knogletæthed")
    assert window.file_menu.title() == "&Filer"
    assert window.studies_title.text() == "Alle undersøgelser"
    assert window.language_actions["da"].isChecked()


def test_language_switch_with_real_catalogue(window: MainWindow) -> None:
    for lang in i18n.LANGUAGES:
        window.set_language(lang)
        assert window.windowTitle() == _("DXA bone density")
        assert window.patient_model.headerData(
            PatientTableModel.COL_NAME, Qt.Orientation.Horizontal
        ) == _("Name")


def test_about_box_opens_and_closes(window: MainWindow, qtbot: QtBot) -> None:
    box = window.make_about_box()
    qtbot.addWidget(box)
    text = box.text()
    assert (
        "WHO/ISCD" in text
        or _("WHO/ISCD categories, classified on the printed one-decimal T-score.") in text
    )
    box.show()
    qtbot.waitExposed(box)
    box.close()
    assert not box.isVisible()


def test_about_action_does_not_block(window: MainWindow, qtbot: QtBot) -> None:
    window.show()
    window.about_action.trigger()  # open(), not exec(): returns at once
    boxes = [w for w in window.findChildren(QMessageBox) if w.isVisible()]
    assert len(boxes) == 1
    boxes[0].close()
