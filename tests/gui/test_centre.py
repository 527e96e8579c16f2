"""The knowledge-centre workspace: scanners, fit, approve/retire steps, uniformity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from dxa_app.archive import open_archive
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError
from dxa_app.gui.centre import CentreWorkspace
from dxa_app.gui.centre_models import (
    QC_COLOURS,
    ScannerTableModel,
    StepTableModel,
    UniformityTableModel,
)
from dxa_app.gui.session import Session
from dxa_app.services.calibration import get_step, list_steps
from dxa_app.services.calibration_views import scanner_overview
from dxa_app.services.uniformity import PHANTOM, phantom_uniformity
from tests import harmonisation_sim as sim

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

TIMEOUT = 30000


@pytest.fixture(scope="module")
def truth(demo_files: Path) -> dict[str, Any]:
    return sim.load_truth(demo_files)


@pytest.fixture(scope="module")
def calibrated_master(
    demo_archive_master: Path, truth: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return sim.calibrated_copy(
        demo_archive_master, tmp_path_factory.mktemp("centre") / "cal.sqlite", truth
    )


def _workspace(qtbot: QtBot, archive: Path, role: Role, user: str = "ana") -> CentreWorkspace:
    ws = CentreWorkspace(Session(archive, user, user, role))
    ws.fit_bootstrap = 100
    qtbot.addWidget(ws)
    ws.resize(1400, 900)
    ws.show()
    qtbot.waitExposed(ws)
    qtbot.waitUntil(lambda: not ws.busy() and ws.data is not None, timeout=TIMEOUT)
    return ws


def _fit(ws: CentreWorkspace, qtbot: QtBot) -> None:
    ws.reference_combo.setCurrentIndex(ws.reference_combo.findData("HZA-DEMO-101"))
    ws.fit_button.click()
    qtbot.waitUntil(
        lambda: not ws.busy() and ws.data is not None and bool(ws.data.steps), timeout=TIMEOUT
    )


def test_models_pass_the_model_tester(qtmodeltester: Any, calibrated_master: Path) -> None:
    db = open_archive(calibrated_master)
    try:
        filled: list[tuple[Any, list[Any]]] = [
            (ScannerTableModel(), scanner_overview(db)),
            (StepTableModel(), list_steps(db)),
            (UniformityTableModel(), list(phantom_uniformity(db, 5).rows)),
        ]
    finally:
        db.close()
    for model, rows in filled:
        qtmodeltester.check(model)
        assert rows
        model.set_rows(rows)
        qtmodeltester.check(model)


def test_scanners_with_status_colour(qtbot: QtBot, demo_archive: Path) -> None:
    ws = _workspace(qtbot, demo_archive, Role.CENTRE_ANALYST)
    rows = ws.scanner_model.rows()
    assert len(rows) == 4
    assert {r.qc_status for r in rows} <= set(QC_COLOURS)
    assert all(r.last_qc for r in rows)
    model = ws.scanner_model
    for i, r in enumerate(rows):
        colour = model.data(model.index(i, model.COL_STATUS), Qt.ItemDataRole.DecorationRole)
        assert isinstance(colour, QColor) and colour.name() == QC_COLOURS[r.qc_status]


def test_fit_then_approve_as_centre_analyst(qtbot: QtBot, demo_archive: Path) -> None:
    ws = _workspace(qtbot, demo_archive, Role.CENTRE_ANALYST)
    assert ws.reference_combo.isEnabled()  # no national reference yet: choose one
    _fit(ws, qtbot)
    assert ws.data is not None and ws.data.reference == "HZA-DEMO-101"
    assert not ws.reference_combo.isEnabled()
    kinds = {f.kind for f in ws.data.fits}
    assert kinds == {"travelling", "in-vivo"}
    # plot an in-vivo set: scatter, residuals and Bland-Altman
    index = next(i for i, f in enumerate(ws.data.fits) if f.kind == "in-vivo")
    ws.fit_combo.setCurrentIndex(index)
    assert "Bland-Altman" in ws.fit_info.text()
    assert ws.ba_plot.getPlotItem().listDataItems()
    assert ws.scatter_plot.getPlotItem().listDataItems()

    proposed = next(s for s in ws.step_model.rows() if s.status == "proposed")
    row = ws.step_model.rows().index(proposed)
    ws.step_view.selectRow(row)
    assert ws.approve_button.isEnabled()
    ws.approve_button.click()
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    assert ws.last_error is None
    db = open_archive(demo_archive)
    try:
        step = get_step(db, proposed.id)
        assert step.status == "approved" and step.approved_by == "ana"
    finally:
        db.close()
    shown = next(s for s in ws.step_model.rows() if s.id == proposed.id)
    assert shown.status == "approved"

    ws.retire(proposed.id)
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    db = open_archive(demo_archive)
    try:
        assert get_step(db, proposed.id).status == "retired"
    finally:
        db.close()


def test_technician_cannot_approve(
    qtbot: QtBot, demo_archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    analyst = _workspace(qtbot, demo_archive, Role.CENTRE_ANALYST)
    _fit(analyst, qtbot)
    ws = _workspace(qtbot, demo_archive, Role.TECHNICIAN, user="tech")
    proposed = next(s for s in ws.step_model.rows() if s.status == "proposed")
    ws.approve(proposed.id)
    qtbot.waitUntil(lambda: not ws.busy() and ws.last_error is not None, timeout=TIMEOUT)
    assert isinstance(ws.last_error, PermissionDeniedError)
    assert "knowledge centre" in ws.status_label.text()
    assert "knowledge centre" in capsys.readouterr().err
    db = open_archive(demo_archive)
    try:
        assert get_step(db, proposed.id).status == "proposed"
    finally:
        db.close()


def test_uniformity_of_the_esp(
    qtbot: QtBot, calibrated_master: Path, tmp_path: Path, truth: dict[str, Any]
) -> None:
    archive = tmp_path / "cal.sqlite"
    archive.write_bytes(calibrated_master.read_bytes())
    ws = _workspace(qtbot, archive, Role.CENTRE_ANALYST)
    ws.tabs.setCurrentIndex(2)
    assert ws.kind_combo.currentData() == PHANTOM
    subject = ws.current_subject()
    assert subject is not None and subject.label.endswith(truth["esp"]["serial"])
    qtbot.waitUntil(lambda: not ws.busy() and ws.uniformity is not None, timeout=TIMEOUT)
    result = ws.uniformity
    assert result is not None
    assert len(result.scanners()) == 4
    assert ws.uniformity_model.rowCount() == len(result.rows) == 16  # 4 regions x 4 scanners
    for region in ("L1", "L2", "L3"):
        assert result.spread(region, harmonised=True) < result.spread(region, harmonised=False)
    assert "spread raw" in ws.spread_label.text()
    assert ws.uniformity_plot.getPlotItem().listDataItems()

    # a patient scanned on two scanners
    ws.kind_combo.setCurrentIndex(1)
    qtbot.waitUntil(
        lambda: (
            not ws.busy() and ws.uniformity is not None and ws.uniformity.subject.kind == "patient"
        ),
        timeout=TIMEOUT,
    )
    assert ws.uniformity is not None and len(ws.uniformity.scanners()) >= 2


def test_retranslate(qtbot: QtBot, demo_archive: Path) -> None:
    from dxa_app import i18n

    ws = _workspace(qtbot, demo_archive, Role.CENTRE_ANALYST)
    i18n.set_language("da")
    ws.retranslate()
    assert ws.scanner_model.headerData(0, Qt.Orientation.Horizontal) == i18n._("Site")
