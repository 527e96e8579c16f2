"""The big tables page from the archive: first rows only, sorting and searching in SQL."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QSettings, Qt
from PySide6.QtWidgets import QTableView
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from dxa_app.archive import open_archive
from dxa_app.archive.store import store_parsed
from dxa_app.domain import IdType, PatientIdentity, Role, Sex, StudyInfo, StudySummary
from dxa_app.errors import UsageError
from dxa_app.gui import dialogs
from dxa_app.gui.main_window import MainWindow
from dxa_app.gui.models import ObjectRole, PatientTableModel, StudyTableModel
from dxa_app.gui.physician_models import WorklistModel
from dxa_app.gui.table_model import Column, PagedTableModel
from dxa_app.services import browse, worklist
from tests.factories import parsed, study_record
from tests.sessions import session_as

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

N_PATIENTS = 230  # more than one page (200) of patients
N_STUDIES = 2 * N_PATIENTS


def _person(i: int) -> PatientIdentity:
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=i)
    # every other name in lower case: the list sorts them case-insensitively
    name = f"{'person' if i % 2 else 'Person'} {i:04d}"
    return PatientIdentity(f"{birth:%d%m%y}-{1000 + i}", IdType.CPR, name, birth, Sex.FEMALE)


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("paged") / "big.dxa.sqlite"
    records = []
    for n in range(N_STUDIES):
        rec = study_record(n + 1, pat=_person(n % N_PATIENTS))
        day = dt.date(2020, 1, 1) + dt.timedelta(days=n)
        records.append(replace(rec, study=StudyInfo(rec.study.study_uid, day)))
    db = open_archive(path)
    store_parsed(db, parsed(*records))
    db.close()
    return path


@pytest.fixture
def window(qtbot: QtBot, settings: QSettings, big_archive: Path) -> MainWindow:
    session = session_as(big_archive, Role.TECHNICIAN, "tekla")
    win = MainWindow(settings, session=session)
    qtbot.addWidget(win)
    return win


def _names(model: PatientTableModel, n: int) -> list[str]:
    return [model.row_at(r).name for r in range(n)]


def test_the_tables_hold_the_first_page_not_the_archive(window: MainWindow) -> None:
    patients, studies = window.patient_model, window.study_model
    assert patients.rowCount() == 200 and patients.canFetchMore(QModelIndex())
    assert studies.rowCount() == 200 and studies.canFetchMore(QModelIndex())
    assert _names(patients, 3) == ["Person 0000", "person 0001", "Person 0002"]
    newest = studies.row_at(0)
    assert newest.study_date == dt.date(2020, 1, 1) + dt.timedelta(days=N_STUDIES - 1)
    assert "230 patients, 460 studies" in window.status_label.text()
    patients.fetchMore(QModelIndex())
    assert patients.rowCount() == N_PATIENTS and not patients.canFetchMore(QModelIndex())
    assert patients.row_at(N_PATIENTS - 1).name == "person 0229"


def _sort(qtbot: QtBot, view: QTableView, column: int, order: Qt.SortOrder) -> None:
    """Click-sort ``view`` and wait for the first page in the new order (fetched in the back)."""
    model = view.model()
    assert isinstance(model, PagedTableModel) and model.background_sort
    view.sortByColumn(column, order)
    qtbot.waitUntil(lambda: not model.is_sorting())


def test_a_header_click_sorts_in_the_archive(qtbot: QtBot, window: MainWindow) -> None:
    _sort(qtbot, window.patient_view, PatientTableModel.COL_NAME, Qt.SortOrder.DescendingOrder)
    assert window.patient_model.rowCount() == 200
    assert _names(window.patient_model, 2) == ["person 0229", "Person 0228"]
    _sort(qtbot, window.study_view, StudyTableModel.COL_DATE, Qt.SortOrder.AscendingOrder)
    oldest: StudySummary = window.study_model.data(window.study_model.index(0, 0), ObjectRole)
    assert oldest.study_date == dt.date(2020, 1, 1)
    _sort(qtbot, window.study_view, StudyTableModel.COL_PATIENT_NAME, Qt.SortOrder.AscendingOrder)
    first_two = [window.study_model.row_at(r) for r in range(2)]
    assert [s.patient_name for s in first_two] == ["Person 0000", "Person 0000"]
    assert window.study_model.rowCount() == 200


class _GatedFetch:
    """A page fetch over 0..999 that, once gated, waits for the test to let each call go on."""

    def __init__(self) -> None:
        self.gate: threading.Event | None = None
        self.fail = False
        self.calls: list[tuple[int, str, bool]] = []

    def __call__(self, offset: int, limit: int, key: str, descending: bool) -> list[int]:
        if self.gate is not None:
            assert self.gate.wait(30)
        self.calls.append((offset, key, descending))
        if self.fail:
            raise UsageError("the archive is busy")
        numbers = sorted(range(1000), reverse=descending)
        if key == "tens":
            numbers.sort(key=lambda n: (n % 10, n))
        return numbers[offset : offset + limit]


class _NumberModel(PagedTableModel[int]):
    columns: Sequence[Column[int]] = (
        Column(lambda: "n", str),
        Column(lambda: "tens", lambda n: str(n % 10)),
    )
    sort_keys = ("number", "tens")
    page_size = 10


def test_a_slow_sort_runs_in_the_background_and_keeps_the_rows_shown(qtbot: QtBot) -> None:
    fetch, model = _GatedFetch(), _NumberModel()
    model.background_sort = True
    model.set_source(fetch)
    assert model.rows() == list(range(10)) and model.canFetchMore(QModelIndex())
    fetch.gate = threading.Event()
    with qtbot.waitSignal(model.sorting) as started:
        model.sort(1, Qt.SortOrder.AscendingOrder)  # returns while the archive still sorts
    assert started.args == [True] and model.is_sorting()
    assert model.rows() == list(range(10))  # the old order stays shown ...
    assert not model.canFetchMore(QModelIndex())  # ... and gets no page appended
    with qtbot.waitSignal(model.sorting) as finished:
        fetch.gate.set()
    assert finished.args == [False]
    assert model.rows() == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert model.rows()[10:12] == [100, 110] and fetch.calls[-1] == (10, "tens", False)


def test_only_the_last_click_is_shown_and_a_failed_sort_keeps_paging_the_old_order(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[BaseException] = []
    monkeypatch.setattr(dialogs, "show_error", lambda exc, *_a: shown.append(exc))
    fetch, model = _GatedFetch(), _NumberModel()
    model.background_sort = True
    model.set_source(fetch)
    fetch.gate = threading.Event()
    model.sort(1, Qt.SortOrder.AscendingOrder)
    model.sort(0, Qt.SortOrder.DescendingOrder)  # a second click before the first answer
    fetch.gate.set()
    qtbot.waitUntil(lambda: len(fetch.calls) == 3 and not model.is_sorting())
    assert model.rows() == list(range(999, 989, -1))  # the last click's order, not the first
    fetch.gate, fetch.fail = None, True
    model.sort(1, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: not model.is_sorting())
    assert [str(e) for e in shown] == ["the archive is busy"]
    assert model.sort_key() == ("number", True)  # the rows' own order, still paged in
    fetch.fail = False
    model.fetchMore(QModelIndex())
    assert model.rows()[10] == 989


def test_search_by_cpr_or_name_and_select_beyond_the_first_page(window: MainWindow) -> None:
    window.set_patient_search("person 01")
    assert window.patient_model.rowCount() == 100
    cpr = _person(7).identifier
    window.set_patient_search(cpr.replace("-", ""))
    assert _names(window.patient_model, window.patient_model.rowCount()) == ["person 0007"]
    window.set_patient_search("")
    assert window.patient_model.rowCount() == 200
    last = browse.patients(window.session, search="0229")[0]  # type: ignore[arg-type]
    window.select_patient(last.id)
    assert window.selected_patient == last
    assert window.study_model.rowCount() == 2


def test_paged_models_pass_the_model_tester(qtmodeltester: ModelTester, big_archive: Path) -> None:
    session = session_as(big_archive, Role.PHYSICIAN, "doc")
    model = WorklistModel()
    model.page_size = 7
    model.set_source(
        lambda offset, limit, _key, _desc: worklist.pending_reports(
            session, offset=offset, limit=limit
        )
    )
    assert model.rowCount() == 7 and model.canFetchMore(QModelIndex())
    qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]
    model.fetchMore(QModelIndex())
    assert [model.row_at(r).study_date.day for r in (0, 13)] == [1, 14]


def test_after_a_failed_sort_the_header_shows_the_rows_order_again(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dxa_app.gui.common import read_only_table

    class FailsByTensDescending(_GatedFetch):
        def __call__(self, offset: int, limit: int, key: str, descending: bool) -> list[int]:
            self.fail = key == "tens" and descending
            return super().__call__(offset, limit, key, descending)

    monkeypatch.setattr(dialogs, "show_error", lambda *_a: None)
    fetch, model = FailsByTensDescending(), _NumberModel()
    view = read_only_table(model, sortable=True)
    qtbot.addWidget(view)
    view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    model.set_source(fetch)
    view.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # a header click that fails
    qtbot.waitUntil(lambda: not model.is_sorting())
    header = view.horizontalHeader()
    assert (header.sortIndicatorSection(), header.sortIndicatorOrder()) == (
        0,
        Qt.SortOrder.AscendingOrder,
    )
    shown = model.rows()  # still in the old order (and paged on in it as the view needs)
    assert shown == list(range(len(shown))) and len(shown) >= 10
    assert model.sort_state() == (0, Qt.SortOrder.AscendingOrder)
    view.sortByColumn(1, Qt.SortOrder.AscendingOrder)  # and a later click still sorts
    qtbot.waitUntil(lambda: not model.is_sorting())
    assert model.rows()[:3] == [0, 10, 20]
    assert header.sortIndicatorSection() == 1
