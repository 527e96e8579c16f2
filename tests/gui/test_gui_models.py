"""The one table model and the Patients tab's tables pass qtmodeltester and show the data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from pytestqt.modeltest import ModelTester

from dxa_app.domain import PatientSummary, Sex, StudySummary
from dxa_app.gui.models import ObjectRole, PatientTableModel, SortRole, StudyTableModel
from dxa_app.gui.table_model import Column, ObjectTableModel
from dxa_app.i18n import _

pytestmark = [
    pytest.mark.gui,
    # the offscreen platform plugin warns about every shown top-level window
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

PATIENT_ROWS = [
    PatientSummary(
        1, "010150-9990", "Søren Ærøskøbing", dt.date(1950, 1, 1), Sex.MALE, 2, dt.date(2023, 3, 9)
    ),
    PatientSummary(2, "120465-9992", "Åse Møller", None, None, 0, None),
    PatientSummary(3, "120465-9992", "Åse Møller", dt.date(1965, 4, 12), Sex.FEMALE, 1, None, True),
]
STUDY_ROWS = [
    StudySummary(
        10,
        "1.2.3.1",
        1,
        "010150-9990",
        "Søren Ærøskøbing",
        dt.date(2023, 3, 9),
        "AUH",
        "Hologic",
        "Horizon A",
        "HZ-1",
        ("ap_spine", "hip"),
        7,
    ),
    StudySummary(
        11,
        "1.2.3.2",
        1,
        "010150-9990",
        "Søren Ærøskøbing",
        dt.date(2021, 3, 4),
        "AUH",
        "Hologic",
        "Horizon A",
        "HZ-1",
        ("unknown_kind",),
        0,
    ),
]


def _check(tester: ModelTester) -> Callable[..., None]:
    return cast(Callable[..., None], tester.check)  # pytest-qt's check() is untyped


@pytest.mark.parametrize("force_py", [False, True])
def test_patient_model_passes_modeltester(qtmodeltester: ModelTester, force_py: bool) -> None:
    # the tester checks the model once and then watches every later change
    empty = PatientTableModel()
    _check(qtmodeltester)(empty, force_py=force_py)
    empty.set_rows(PATIENT_ROWS)
    empty.retranslate()
    empty.set_rows([])
    filled = PatientTableModel(PATIENT_ROWS)
    _check(qtmodeltester)(filled, force_py=force_py)
    filled.retranslate()


@pytest.mark.parametrize("force_py", [False, True])
def test_study_model_passes_modeltester(qtmodeltester: ModelTester, force_py: bool) -> None:
    empty = StudyTableModel()
    _check(qtmodeltester)(empty, force_py=force_py)
    empty.set_rows(STUDY_ROWS)
    empty.retranslate()
    empty.set_rows([])
    filled = StudyTableModel(STUDY_ROWS)
    _check(qtmodeltester)(filled, force_py=force_py)
    filled.retranslate()


def test_patient_model_cells() -> None:
    model = PatientTableModel(PATIENT_ROWS)
    assert model.rowCount() == 3
    assert model.columnCount() == 7

    def cell(row: int, col: int, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        return model.data(model.index(row, col), role)

    assert cell(0, PatientTableModel.COL_IDENTIFIER) == "010150-9990"
    assert cell(0, PatientTableModel.COL_NAME) == "Søren Ærøskøbing"
    assert cell(0, PatientTableModel.COL_BIRTH) == "1950-01-01"
    assert cell(0, PatientTableModel.COL_SEX) == _("Male")
    assert cell(0, PatientTableModel.COL_N_STUDIES) == "2"
    assert cell(0, PatientTableModel.COL_N_STUDIES, SortRole) == 2
    assert cell(0, PatientTableModel.COL_LAST) == "2023-03-09"
    assert cell(1, PatientTableModel.COL_BIRTH) == ""
    assert cell(1, PatientTableModel.COL_SEX) == ""
    assert cell(1, 0, ObjectRole) is PATIENT_ROWS[1]
    assert model.headerData(1, Qt.Orientation.Horizontal) == _("Name")
    # issue 13: a record kept apart as a possible duplicate says so
    assert cell(1, PatientTableModel.COL_IDENTITY) == ""
    assert cell(2, PatientTableModel.COL_IDENTITY) == _("possible duplicate")


def test_study_model_cells() -> None:
    model = StudyTableModel(STUDY_ROWS)
    assert model.columnCount() == 8

    def cell(row: int, col: int, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        return model.data(model.index(row, col), role)

    assert cell(0, StudyTableModel.COL_DATE) == "2023-03-09"
    assert cell(0, StudyTableModel.COL_PATIENT_ID) == "010150-9990"
    assert cell(0, StudyTableModel.COL_SCANNER) == "Hologic Horizon A"
    assert cell(0, StudyTableModel.COL_SERIAL) == "HZ-1"
    assert cell(0, StudyTableModel.COL_SCAN_TYPES) == f"{_('AP spine')}, {_('Hip')}"
    assert cell(0, StudyTableModel.COL_N_RESULTS) == "7"
    assert cell(1, StudyTableModel.COL_SCAN_TYPES) == "unknown_kind"
    tooltip = cell(0, 0, Qt.ItemDataRole.ToolTipRole)
    assert isinstance(tooltip, str) and "1.2.3.1" in tooltip
    assert model.row_at(1).study_uid == "1.2.3.2"


@dataclass(frozen=True)
class _Thing:
    name: str
    size: int
    ok: bool


class _ThingModel(ObjectTableModel[_Thing]):
    """A table declared only by its columns, like every table of the workspaces."""

    columns: Sequence[Column[_Thing]] = (
        Column(
            lambda: "Name",
            lambda t: t.name,
            decoration=lambda t: QColor("green" if t.ok else "red"),
            background=lambda t: None if t.ok else QBrush(QColor("yellow")),
        ),
        Column(lambda: "Size", lambda t: f"{t.size} B", lambda t: t.size, numeric=True),
    )


THINGS = [_Thing("b", 20, True), _Thing("a", 3, False)]


def test_the_one_table_model_follows_its_columns(qtmodeltester: ModelTester) -> None:
    model = _ThingModel()
    _check(qtmodeltester)(model)
    model.set_rows(THINGS)
    _check(qtmodeltester)(model)

    def cell(row: int, col: int, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        return model.data(model.index(row, col), role)

    assert cell(0, 1) == "20 B" and cell(0, 1, SortRole) == 20
    assert cell(0, 0, SortRole) == "b"  # default sort key: the text
    assert cell(1, 0, ObjectRole) is THINGS[1]
    decoration = cell(1, 0, Qt.ItemDataRole.DecorationRole)
    assert isinstance(decoration, QColor) and decoration.name() == QColor("red").name()
    assert cell(0, 0, Qt.ItemDataRole.BackgroundRole) is None
    assert isinstance(cell(1, 0, Qt.ItemDataRole.BackgroundRole), QBrush)
    assert cell(0, 1, Qt.ItemDataRole.DecorationRole) is None  # no painter for the column
    right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    assert cell(0, 1, Qt.ItemDataRole.TextAlignmentRole) == right
    assert cell(0, 0, Qt.ItemDataRole.TextAlignmentRole) != right
    assert model.find_row(lambda t: t.name == "a") == 1
    assert model.find_row(lambda t: t.name == "z") is None
    assert model.headerData(1, Qt.Orientation.Horizontal) == "Size"
    assert model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsEditable == Qt.ItemFlag.NoItemFlags
