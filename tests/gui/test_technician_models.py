"""Every table model of the technician workspace passes qtmodeltester, empty and filled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester

from dxa_app.domain import ImportOutcome, ImportStatus, Role
from dxa_app.gui.technician_models import (
    ImportResultModel,
    PrecisionGridModel,
    QcAlarmModel,
    RegionScoreModel,
    ScannerQcModel,
    StudyImageModel,
)
from dxa_app.i18n import _
from dxa_app.services.calibration import qc_status
from dxa_app.services.qc_ack import scanner_alarms
from dxa_app.services.workbench import study_detail
from tests.gui.technician_fixtures import add_test_user, query

pytestmark = pytest.mark.gui


def _check(tester: ModelTester) -> Callable[..., None]:
    return cast(Callable[..., None], tester.check)  # pytest-qt's check() is untyped


def test_import_result_model(qtmodeltester: ModelTester) -> None:
    model = ImportResultModel()
    _check(qtmodeltester)(model)
    model.set_rows(
        [
            ImportOutcome("/a/ø.dcm", ImportStatus.IMPORTED, "dicom", rows_added=3),
            ImportOutcome("/a/x.txt", ImportStatus.SKIPPED, reason="not a DXA export"),
            ImportOutcome("/a/y.csv", ImportStatus.FAILED, reason="line 3: bad number"),
        ]
    )
    _check(qtmodeltester)(model)
    assert model.index(1, ImportResultModel.COL_STATUS).data() == _("skipped")
    assert model.index(2, ImportResultModel.COL_REASON).data() == "line 3: bad number"


def test_qc_models_from_the_demo_archive(demo_archive: Path, qtmodeltester: ModelTester) -> None:
    session = add_test_user(demo_archive, "tekla", Role.TECHNICIAN)
    rows = qc_status(session)
    shifted = next(q for q in rows if q.serial == "DSW-DEMO-202")
    alarms = scanner_alarms(session, shifted)
    study_id = int(str(query(demo_archive, "SELECT min(study_id) AS id FROM images")[0]["id"]))
    detail = study_detail(session, study_id)
    scanners = ScannerQcModel()
    _check(qtmodeltester)(scanners)
    scanners.set_rows(rows)
    _check(qtmodeltester)(scanners)
    row = rows.index(shifted)
    # issue 14: the demo's last QC is months old, so today is "no QC today", naming the age
    # and the last result (Reject), in its own colour
    days = shifted.days_since_last
    assert days is not None and days > 0
    assert scanners.index(row, ScannerQcModel.COL_STATUS).data() == _(
        "No QC today (last QC {days} days ago: {status})"
    ).format(days=days, status=_("Reject"))
    colour = scanners.index(row, ScannerQcModel.COL_STATUS).data(Qt.ItemDataRole.DecorationRole)
    assert colour is not None and colour.name() == "#6d4c41"

    alarm_model = QcAlarmModel()
    _check(qtmodeltester)(alarm_model)
    alarm_model.set_rows(alarms)
    _check(qtmodeltester)(alarm_model)

    regions = RegionScoreModel()
    _check(qtmodeltester)(regions)
    regions.set_rows(detail.scores.regions)
    _check(qtmodeltester)(regions)

    images = StudyImageModel()
    _check(qtmodeltester)(images)
    images.set_rows(detail.images)
    _check(qtmodeltester)(images)
    assert images.rowCount() == len(detail.images) > 0


def test_precision_grid_model(qtmodeltester: ModelTester) -> None:
    model = PrecisionGridModel(0, 2)
    _check(qtmodeltester)(model)
    model.reshape(15, 3)
    _check(qtmodeltester)(model)
    assert model.setData(model.index(0, 0), " P01 ")
    assert model.setData(model.index(0, 1), "1,012")
    assert not model.setData(model.index(0, 1), "x", Qt.ItemDataRole.DisplayRole)
    assert model.rows()[0][:2] == ["P01", "1,012"]
    model.set_rows([["A", "1.0", "1.1", "1.2", "1.3"]])
    _check(qtmodeltester)(model)
    assert (model.rowCount(), model.columnCount()) == (1, 5)
    model.reshape(30, 2)
    _check(qtmodeltester)(model)
    assert model.rows()[0] == ["A", "1.0", "1.1"]
    assert model.headerData(0, Qt.Orientation.Horizontal) == _("Subject")
