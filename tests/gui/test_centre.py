"""The centre workspace tabs: scanners, fit, approve/retire, uniformity; services refuse."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError
from dxa_app.gui.centre import CentreWorkspace
from dxa_app.gui.centre_models import ScannerTableModel, StepTableModel, UniformityTableModel
from dxa_app.gui.labels import qc_colour
from dxa_app.services.auth import Session
from dxa_app.services.calibration import list_steps
from dxa_app.services.calibration_views import scanner_overview
from dxa_app.services.uniformity import PHANTOM, uniformity, uniformity_subjects
from tests import harmonisation_sim as sim
from tests.gui.technician_fixtures import query
from tests.sessions import PASSWORD, session_as

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


def _workspace(qtbot: QtBot, session: Session) -> CentreWorkspace:
    ws = CentreWorkspace(session)
    ws.fits.fit_bootstrap = 100
    qtbot.addWidget(ws)
    ws.resize(1400, 900)
    ws.show()
    qtbot.waitExposed(ws)
    ws.refresh()
    qtbot.waitUntil(lambda: not ws.busy() and ws.fits.data is not None, timeout=TIMEOUT)
    return ws


def _type(qtbot: QtBot, widget: QWidget, text: str) -> None:
    cast(Callable[[QWidget, str], None], qtbot.keyClicks)(widget, text)  # untyped in pytest-qt


def _analyst(archive: Path) -> Session:
    return session_as(archive, Role.CENTRE_ANALYST, "ana")


def _fit(ws: CentreWorkspace, qtbot: QtBot) -> None:
    fits = ws.fits
    fits.reference_combo.setCurrentIndex(fits.reference_combo.findData("HZA-DEMO-101"))
    fits.fit_button.click()
    qtbot.waitUntil(
        lambda: not ws.busy() and fits.data is not None and bool(fits.data.steps),
        timeout=TIMEOUT,
    )


def test_models_pass_the_model_tester(qtmodeltester: Any, calibrated_master: Path) -> None:
    session = _analyst(calibrated_master)
    phantom = next(s for s in uniformity_subjects(session) if s.kind == PHANTOM)
    filled: list[tuple[Any, list[Any]]] = [
        (ScannerTableModel(), scanner_overview(session)),
        (StepTableModel(), list_steps(session)),
        (UniformityTableModel(), list(uniformity(session, phantom).rows)),
    ]
    for model, rows in filled:
        qtmodeltester.check(model)
        assert rows
        model.set_rows(rows)
        qtmodeltester.check(model)


def test_scanners_with_status_colour(qtbot: QtBot, demo_archive: Path) -> None:
    ws = _workspace(qtbot, _analyst(demo_archive))
    model = ws.scanners.scanner_model
    rows = model.rows()
    assert len(rows) == 4
    assert all(r.last_qc for r in rows)
    for i, r in enumerate(rows):
        colour = model.data(model.index(i, model.COL_STATUS), Qt.ItemDataRole.DecorationRole)
        assert isinstance(colour, QColor) and colour.name() == qc_colour(r.qc_status).name()
    # the demo's QC is months old: today every scanner is "no QC today" (issue 14); the
    # shifted demo scanner's last result is still a reject, and its drift proposal is shown
    assert {r.qc_status for r in rows} == {"no QC today"}
    shifted = next(i for i, r in enumerate(rows) if r.serial == "DSW-DEMO-202")
    shifted_qc = rows[shifted].qc
    assert shifted_qc is not None and shifted_qc.status == "reject"
    drift = model.data(model.index(shifted, model.COL_DRIFT))
    assert drift.startswith("from 2026-07-31, factor 0.97")
    tip = model.data(model.index(shifted, model.COL_DRIFT), Qt.ItemDataRole.ToolTipRole)
    assert "CUSUM still in alarm" in tip


def test_fit_then_approve_as_centre_analyst(qtbot: QtBot, demo_archive: Path) -> None:
    ws = _workspace(qtbot, _analyst(demo_archive))
    fits = ws.fits
    assert fits.reference_combo.isEnabled()  # no national reference yet: choose one
    _fit(ws, qtbot)
    assert fits.data is not None and fits.data.reference == "HZA-DEMO-101"
    assert not fits.reference_combo.isEnabled()
    kinds = {f.kind for f in fits.data.fits}
    assert kinds == {"travelling", "in-vivo"}
    # plot an in-vivo set: scatter, residuals and Bland-Altman
    index = next(i for i, f in enumerate(fits.data.fits) if f.kind == "in-vivo")
    fits.fit_combo.setCurrentIndex(index)
    assert "Bland-Altman" in fits.fit_info.text()
    assert fits.ba_plot.getPlotItem().listDataItems()
    assert fits.scatter_plot.getPlotItem().listDataItems()
    # every plot reads alone: axis titles with units (no SI prefix), a legend (issue 16)
    assert fits.ba_plot.axis_text("left") == "Reference − this scanner (g/cm²)"
    assert fits.ba_plot.axis_text("bottom") == "Mean of the two scanners (g/cm²)"
    assert fits.ba_plot.legend_names == [
        "Patient scanned on both",
        "Mean difference (bias)",
        "Limits of agreement (95 %)",
    ]
    assert fits.residual_plot.axis_text("left") == "Residual (g/cm²)"
    assert fits.scatter_plot.axis_text("left") == "BMD on the reference scanner (g/cm²)"
    assert "Fitted line" in fits.scatter_plot.legend_names
    for plot in (fits.scatter_plot, fits.residual_plot, fits.ba_plot):
        for side in ("left", "bottom"):
            assert "x0.0" not in plot.axis_text(side) and not plot.is_empty()
    travelling = next(i for i, f in enumerate(fits.data.fits) if f.kind == "travelling")
    fits.fit_combo.setCurrentIndex(travelling)
    assert fits.scatter_plot.titles() == ("Certified BMD (g/cm²)", "Measured BMD (g/cm²)")
    assert fits.ba_plot.is_empty()  # Bland-Altman only for in-vivo: said, not blank axes
    assert query(demo_archive, "SELECT username FROM audit_log WHERE action = 'calibrate'") == [
        {"username": "ana"}
    ]

    # (a step flagged "needs review", issue 14, asks for a tick too: tests/gui/test_review_flag)
    proposed = next(
        s for s in fits.step_model.rows() if s.status == "proposed" and not s.needs_review
    )
    fits.step_view.selectRow(fits.step_model.rows().index(proposed))
    assert fits.approve_button.isEnabled()
    fits.approve_button.click()
    # asked twice: what would change, then a reason and the password
    qtbot.waitUntil(lambda: fits.decision_dialog is not None, timeout=TIMEOUT)
    dialog = fits.decision_dialog
    assert dialog is not None and dialog.isVisible()
    assert proposed.serial in dialog.prompt_label.text()
    assert "would change category on rescore" in dialog.prompt_label.text()
    _type(qtbot, dialog.password_edit, "wrong-password")
    dialog.ok_button.click()  # no reason yet: refused inside the dialog
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=TIMEOUT)
    assert "reason" in dialog.error_label.text().lower()
    assert dialog.isVisible()
    _type(qtbot, dialog.reason_edit, "ESP round 2026")
    _type(qtbot, dialog.password_edit, PASSWORD)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not ws.busy(), timeout=TIMEOUT)
    assert ws.last_error is None
    step = next(s for s in list_steps(_analyst(demo_archive)) if s.id == proposed.id)
    assert step.status == "approved" and step.approved_by == "ana"
    (decision,) = query(
        demo_archive,
        "SELECT username, details FROM audit_log WHERE action = 'calibration_decision'",
    )
    assert decision["username"] == "ana" and "ESP round 2026" in str(decision["details"])
    shown = next(s for s in fits.step_model.rows() if s.id == proposed.id)
    assert shown.status == "approved"
    approvals = query(
        demo_archive,
        "SELECT username, entity_id FROM audit_log WHERE action = 'calibration_approve'",
    )
    assert approvals == [{"username": "ana", "entity_id": str(proposed.id)}]

    fits.retire(proposed.id)
    qtbot.waitUntil(
        lambda: fits.decision_dialog is not None and fits.decision_dialog is not dialog,
        timeout=TIMEOUT,
    )
    retire = fits.decision_dialog
    assert retire is not None
    _type(qtbot, retire.reason_edit, "replaced")
    _type(qtbot, retire.password_edit, PASSWORD)
    retire.ok_button.click()
    qtbot.waitUntil(lambda: not retire.isVisible() and not ws.busy(), timeout=TIMEOUT)
    step = next(s for s in list_steps(_analyst(demo_archive)) if s.id == proposed.id)
    assert step.status == "retired"


def test_technician_approval_is_refused_by_the_service(
    qtbot: QtBot, demo_archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    analyst = _workspace(qtbot, _analyst(demo_archive))
    _fit(analyst, qtbot)
    ws = _workspace(qtbot, session_as(demo_archive, Role.TECHNICIAN, "tech"))
    fits = ws.fits
    # (a step flagged "needs review", issue 14, asks for a tick too: tests/gui/test_review_flag)
    proposed = next(
        s for s in fits.step_model.rows() if s.status == "proposed" and not s.needs_review
    )
    fits.step_view.selectRow(fits.step_model.rows().index(proposed))
    assert not fits.approve_button.isEnabled()  # greyed out; the service is what refuses
    fits.approve(proposed.id)
    qtbot.waitUntil(lambda: not ws.busy() and ws.last_error is not None, timeout=TIMEOUT)
    error = ws.last_error
    assert isinstance(error, PermissionDeniedError)
    assert "tech (technician)" in error.message and str(Role.CENTRE_ANALYST) in error.message
    assert error.message in ws.status_label.text()
    assert error.message in capsys.readouterr().err
    step = next(s for s in list_steps(_analyst(demo_archive)) if s.id == proposed.id)
    assert step.status == "proposed"


def test_uniformity_of_the_esp(
    qtbot: QtBot, calibrated_master: Path, tmp_path: Path, truth: dict[str, Any]
) -> None:
    archive = tmp_path / "cal.sqlite"
    archive.write_bytes(calibrated_master.read_bytes())
    ws = _workspace(qtbot, _analyst(archive))
    ws.tabs.setCurrentWidget(ws.uniformity)
    tab = ws.uniformity
    assert tab.kind_combo.currentData() == PHANTOM
    subject = tab.current_subject()
    assert subject is not None and subject.label.endswith(truth["esp"]["serial"])
    qtbot.waitUntil(lambda: not ws.busy() and tab.uniformity is not None, timeout=TIMEOUT)
    result = tab.uniformity
    assert result is not None
    assert len(result.scanners()) == 4
    assert tab.uniformity_model.rowCount() == len(result.rows) == 16  # 4 regions x 4 scanners
    for region in ("L1", "L2", "L3"):
        assert result.spread(region, harmonised=True) < result.spread(region, harmonised=False)
    assert "spread raw" in tab.spread_label.text()
    assert tab.uniformity_plot.getPlotItem().listDataItems()

    # a patient scanned on two scanners
    tab.kind_combo.setCurrentIndex(1)
    qtbot.waitUntil(
        lambda: (
            not ws.busy()
            and tab.uniformity is not None
            and tab.uniformity.subject.kind == "patient"
        ),
        timeout=TIMEOUT,
    )
    assert tab.uniformity is not None and len(tab.uniformity.scanners()) >= 2


def test_retranslate(qtbot: QtBot, demo_archive: Path) -> None:
    from dxa_app import i18n

    ws = _workspace(qtbot, _analyst(demo_archive))
    i18n.set_language("da")
    ws.retranslate()
    assert ws.scanners.scanner_model.headerData(0, Qt.Orientation.Horizontal) == i18n._("Site")
    assert ws.tabs.tabText(1) == i18n._("Calibration")
