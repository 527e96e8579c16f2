"""The technician workspace: import, QC alarms and acknowledgement, study view, VFA, precision."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from dxa_app.archive import open_archive
from dxa_app.domain import Role, VfaLevel
from dxa_app.errors import PermissionDeniedError
from dxa_app.gui.main_window import MainWindow
from dxa_app.gui.technician import TechnicianWorkspace
from dxa_app.gui.technician_models import ImportResultModel
from dxa_app.i18n import _
from dxa_app.services.auth import Session
from dxa_app.services.vfa import LevelEntry
from tests.gui.technician_fixtures import add_test_user, query

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

SHIFTED = "DSW-DEMO-202"


def _key(qtbot: QtBot, widget: QWidget, key: Qt.Key) -> None:
    cast(Callable[[QWidget, Qt.Key], None], qtbot.keyClick)(widget, key)  # untyped in pytest-qt


@pytest.fixture
def tech(demo_archive: Path) -> Session:
    return add_test_user(demo_archive, "tekla", Role.TECHNICIAN)


@pytest.fixture
def workspace(tech: Session, qtbot: QtBot) -> TechnicianWorkspace:
    ws = TechnicianWorkspace(tech)
    qtbot.addWidget(ws)
    ws.refresh()
    return ws


def _handful(demo_files: Path, dest: Path) -> int:
    """Copy a few demo files (QC CSV, two DICOM studies) plus one foreign file; return count."""
    dest.mkdir()
    shutil.copy(demo_files / "csv" / "daily_qc_HZA-DEMO-101.csv", dest)
    scanner_dir = demo_files / "dicom" / "SYD" / "HZA-DEMO-101"
    n = 1
    for study in sorted(scanner_dir.iterdir())[:2]:
        shutil.copytree(study, dest / study.name)
        n += sum(1 for p in study.iterdir() if p.is_file())
    (dest / "notes.txt").write_text("not a DXA export\n", encoding="utf-8")
    return n + 1


def test_import_a_folder(demo_files: Path, tmp_path: Path, qtbot: QtBot) -> None:
    archive = tmp_path / "fresh.dxa.sqlite"
    open_archive(archive).close()
    session = add_test_user(archive, "tekla", Role.TECHNICIAN)
    ws = TechnicianWorkspace(session)
    qtbot.addWidget(ws)
    folder = tmp_path / "incoming"
    n_files = _handful(demo_files, folder)

    handle = ws.import_panel.start_import([folder])
    assert handle is not None
    assert ws.import_panel.start_import([folder]) is None  # one import at a time
    with qtbot.waitSignal(ws.archive_changed, timeout=30_000):
        pass
    qtbot.waitUntil(lambda: handle.finished, timeout=30_000)
    model = ws.import_panel.result_model
    assert model.rowCount() == n_files
    statuses = {
        Path(str(model.index(r, ImportResultModel.COL_PATH).data())).name: model.index(
            r, ImportResultModel.COL_STATUS
        ).data()
        for r in range(model.rowCount())
    }
    assert statuses["notes.txt"] == _("skipped")
    assert statuses["daily_qc_HZA-DEMO-101.csv"] == _("imported")
    summary = ws.import_panel.summary
    assert summary is not None
    assert summary.counts == {
        "imported": n_files - 1,
        "imported_analysis_not_understood": 0,  # issue 13: counted apart from "imported"
        "duplicate": 0,
        "skipped": 1,
        "failed": 0,
    }
    assert _("imported") + f": {n_files - 1}" in ws.import_panel.counts_label.text()
    assert query(archive, "SELECT count(*) AS n FROM studies") == [{"n": 2}]
    audit = query(archive, "SELECT username, action FROM audit_log WHERE action = 'import'")
    assert audit == [{"username": "tekla", "action": "import"}]
    # the QC list was refreshed after the import
    assert [q.serial for q in ws.qc_panel.scanner_model.rows()] == ["HZA-DEMO-101"]

    # a second import of the same folder adds nothing
    again = ws.import_panel.start_import([folder])
    assert again is not None
    qtbot.waitUntil(lambda: again.finished, timeout=30_000)
    summary = ws.import_panel.summary
    assert summary is not None
    assert summary.counts["duplicate"] == n_files - 1 and summary.counts["imported"] == 0


def test_qc_alarm_on_the_shifted_scanner(
    workspace: TechnicianWorkspace, demo_archive: Path
) -> None:
    panel = workspace.qc_panel
    serials = {q.serial: q.status for q in panel.scanner_model.rows()}
    assert serials[SHIFTED] == "reject"
    assert panel.select_scanner(SHIFTED)
    assert panel.selected is not None and panel.selected.serial == SHIFTED
    chart = panel.chart
    assert len(chart.series.getData()[0]) == panel.selected.n_scans
    assert chart.reject_points.data.size > 0
    assert chart.cusum_points.data.size > 0
    # one baseline segment (the demo archive has no approved correction): its mean and band
    assert panel.selected.analysis is not None
    [(mean, lower, upper, _x0, _x1)] = chart.baselines
    assert mean == pytest.approx(panel.selected.analysis.baseline.mean)
    assert lower == pytest.approx(panel.selected.analysis.baseline.lower)
    assert upper == pytest.approx(panel.selected.analysis.baseline.upper)
    assert not chart.restarts
    # the proposed drift correction is shown where the technician looks, with its evidence
    assert "Proposed drift correction from 2026-07-31" in panel.drift_label.text()
    assert "CUSUM still in alarm" in panel.drift_label.text()
    assert chart.ack_points.data.size == 0
    assert panel.alarm_model.rowCount() == len(panel.alarms) > 0
    # the newest alarms come first in the table
    assert panel.alarm_model.row_at(0).date == panel.selected.last

    # acknowledge without a comment is refused, with a comment it is stored
    assert not panel.acknowledge()
    panel.comment_edit.setText("Fantom genscannet, inden for grænser")
    today = [a for a in panel.alarms if a.index == len(panel.selected.values) - 1]
    assert panel.acknowledge()
    rows = query(
        demo_archive,
        "SELECT a.username, a.rule, a.comment, s.serial FROM qc_acknowledgements a"
        " JOIN scanners s ON s.id = a.scanner_id",
    )
    assert len(rows) == len(today) == 1  # one row per scan, whatever fired on it
    assert {r["username"] for r in rows} == {"tekla"}
    assert {r["serial"] for r in rows} == {SHIFTED}
    assert rows[0]["comment"] == "Fantom genscannet, inden for grænser"
    assert {r["rule"] for r in rows} == {"scan: " + a.rule for a in today}
    audit = query(demo_archive, "SELECT username FROM audit_log WHERE action = 'qc_acknowledge'")
    assert len(audit) == len(rows) and audit[0]["username"] == "tekla"
    # acknowledged alarms are drawn differently and listed with the user
    assert chart.ack_points.data.size == len(today)
    assert panel.alarm_model.row_at(0).acknowledged_by == "tekla"
    assert panel.comment_edit.text() == ""


def _study_with_images(archive: Path) -> tuple[int, str, int]:
    rows = query(
        archive,
        "SELECT s.id, s.study_uid, (SELECT count(*) FROM images i WHERE i.study_id = s.id) AS n"
        " FROM studies s WHERE EXISTS (SELECT 1 FROM images i WHERE i.study_id = s.id)"
        " AND EXISTS (SELECT 1 FROM scans sc WHERE sc.study_id = s.id) ORDER BY s.id LIMIT 1",
    )
    r = rows[0]
    return int(str(r["id"])), str(r["study_uid"]), int(str(r["n"]))


def test_study_view(workspace: TechnicianWorkspace, demo_archive: Path) -> None:
    study_id, _uid, n_images = _study_with_images(demo_archive)
    assert workspace.show_study(study_id)
    panel = workspace.study_panel
    assert workspace.tabs.currentWidget() is panel
    assert panel.region_model.rowCount() > 0
    assert panel.image_model.rowCount() == n_images
    regions = {r.region for r in panel.region_model.rows()}
    assert "L1-L4" in regions or "total_hip" in regions
    assert panel.picker.currentData() == study_id
    audit = query(
        demo_archive, "SELECT username, entity_id FROM audit_log WHERE action = 'study_open'"
    )
    assert audit == [{"username": "tekla", "entity_id": str(study_id)}]


def test_vfa_reading_entered_with_the_keyboard(
    workspace: TechnicianWorkspace, demo_archive: Path, qtbot: QtBot
) -> None:
    study_id, uid, _n = _study_with_images(demo_archive)
    assert workspace.show_study(study_id)
    workspace.study_panel.vfa_button.click()
    panel = workspace.vfa_panel
    assert workspace.tabs.currentWidget() is panel
    assert panel.study_uid == uid
    assert _("ISCD VFA indication") in panel.indication_label.text()
    levels = panel.level_list
    assert panel.current_level() is VfaLevel.T4

    _key(qtbot, levels, Qt.Key.Key_2)
    _key(qtbot, levels, Qt.Key.Key_W)
    _key(qtbot, levels, Qt.Key.Key_Down)
    _key(qtbot, levels, Qt.Key.Key_N)  # T5 not evaluable (reason: the first, overlap)
    _key(qtbot, levels, Qt.Key.Key_Down)
    _key(qtbot, levels, Qt.Key.Key_C)  # no grade yet: refused
    assert panel.entries.get(VfaLevel.T6) is None
    _key(qtbot, levels, Qt.Key.Key_3)
    _key(qtbot, levels, Qt.Key.Key_C)
    _key(qtbot, levels, Qt.Key.Key_Up)
    _key(qtbot, levels, Qt.Key.Key_Up)
    _key(qtbot, levels, Qt.Key.Key_Up)  # stays at T4
    assert panel.current_level() is VfaLevel.T4
    for _i in range(3):
        _key(qtbot, levels, Qt.Key.Key_Down)
    for _i in range(10):  # T7 .. L4 normal
        _key(qtbot, levels, Qt.Key.Key_0)
        _key(qtbot, levels, Qt.Key.Key_Down)
    assert panel.current_level() is VfaLevel.L4
    assert panel.entries[VfaLevel.T4] == LevelEntry(2, panel.entries[VfaLevel.T4].morphology)
    assert str(panel.entries[VfaLevel.T4].morphology) == "wedge"
    assert panel.entries[VfaLevel.T5].not_evaluable_reason == "overlap"
    assert "T5" in levels.item(1).text()

    with qtbot.waitSignal(panel.saved, timeout=5000) as blocker:
        panel.save_button.click()
    reading_id = blocker.args[0] if blocker.args else None
    rows = query(demo_archive, "SELECT * FROM vfa_readings WHERE id = ?", [reading_id])
    assert len(rows) == 1
    assert rows[0]["reader"] == "tekla"
    assert str(rows[0]["source_key"]).startswith(f"gui-vfa:{uid}:tekla:")
    findings = {
        r["level"]: (r["grade"], r["morphology"], r["not_evaluable_reason"])
        for r in query(
            demo_archive, "SELECT * FROM vfa_findings WHERE vfa_reading_id = ?", [reading_id]
        )
    }
    assert len(findings) == 13
    assert findings["T4"] == (2, "wedge", "")
    assert findings["T5"] == (None, None, "overlap")
    assert findings["T6"] == (3, "crush", "")
    assert findings["L4"] == (0, None, "")
    audit = query(demo_archive, "SELECT username FROM audit_log WHERE action = 'vfa_reading'")
    assert audit == [{"username": "tekla"}]


def test_incomplete_vfa_reading_is_not_saved(
    workspace: TechnicianWorkspace,
    demo_archive: Path,
    qtbot: QtBot,
    capsys: pytest.CaptureFixture[str],
) -> None:
    study_id, uid, _n = _study_with_images(demo_archive)
    workspace.enter_vfa(study_id, uid, "test")
    _key(qtbot, workspace.vfa_panel.level_list, Qt.Key.Key_1)
    assert not workspace.vfa_panel.save()
    assert "T5" in workspace.vfa_panel.status_label.text()
    assert query(demo_archive, "SELECT count(*) AS n FROM vfa_readings WHERE reader = 'tekla'") == [
        {"n": 0}
    ]
    capsys.readouterr()
    workspace.vfa_panel.rest_normal_button.click()
    assert workspace.vfa_panel.save()


def test_precision_wizard_computes_the_lsc(
    workspace: TechnicianWorkspace, demo_archive: Path, qtbot: QtBot
) -> None:
    wizard = workspace.start_precision_wizard()
    qtbot.addWidget(wizard)
    assert wizard.isVisible()  # show(), not exec(): the test goes on
    setup = wizard.setup_page
    setup.scanner_combo.setCurrentIndex(setup.scanner_combo.findData(SHIFTED))
    setup.region_combo.setCurrentIndex(setup.region_combo.findData("L1-L4"))
    assert setup.isComplete()
    wizard.next()
    assert wizard.currentPage() is wizard.data_page
    grid = wizard.data_page.grid_model
    assert (grid.rowCount(), grid.columnCount()) == (15, 4)
    for row in range(15):
        grid.setData(grid.index(row, 0), f"P{row + 1:02d}")
        base = 0.900 + 0.01 * row
        for col, delta in enumerate((0.000, 0.012, -0.008), start=1):
            grid.setData(grid.index(row, col), f"{base + delta:.3f}".replace(".", ","))
    wizard.next()
    assert wizard.currentPage() is wizard.result_page
    result = wizard.precision_result
    assert result is not None
    p = result.precision
    assert (p.n_subjects, p.n_scans, p.df) == (15, 45, 30)
    assert p.lsc == pytest.approx(2.77 * p.rms_sd, rel=1e-3)
    assert result.meets_minimum is not None
    text = wizard.result_page.result_label.text()
    assert f"{p.lsc:.3f}" in text and f"{p.rms_cv_pct:.2f}" in text and "30" in text
    assert "15x3" in text
    rows = query(demo_archive, "SELECT region, df, lsc_g_cm2, technologist FROM precision_studies")
    assert rows[-1]["region"] == "L1-L4" and rows[-1]["df"] == 30
    assert rows[-1]["technologist"] == "Tekla"
    assert query(
        demo_archive, "SELECT username FROM audit_log WHERE action = 'precision_study'"
    ) == [{"username": "tekla"}]
    wizard.close()


def test_precision_wizard_refuses_a_bad_table(workspace: TechnicianWorkspace, qtbot: QtBot) -> None:
    wizard = workspace.start_precision_wizard()
    qtbot.addWidget(wizard)
    wizard.next()
    wizard.data_page.paste_edit.setPlainText("subject,bmd_g_cm2\nA,1.0\nA,1.01\nB,x\nB,1.0\n")
    wizard.data_page.paste_button.click()
    assert "x" in wizard.data_page.error_label.text()  # the service's message, on the page
    wizard.next()
    assert wizard.currentPage() is wizard.data_page
    assert wizard.data_page.error_label.text()
    wizard.close()


def test_patients_tab_opens_a_study_in_the_workspace(
    tech: Session, demo_archive: Path, qtbot: QtBot, settings: QSettings
) -> None:
    window = MainWindow(settings, session=tech)
    qtbot.addWidget(window)
    ws = window.workspaces["technician"]
    assert isinstance(ws, TechnicianWorkspace)
    study_id, _uid, _n = _study_with_images(demo_archive)
    assert window.open_study(study_id)
    assert window.tabs.currentWidget() is ws
    assert ws.study_panel.detail is not None
    assert ws.study_panel.detail.scores.study_id == study_id


def test_language_switch_reaches_the_workspace(
    tech: Session, qtbot: QtBot, settings: QSettings
) -> None:
    window = MainWindow(settings, session=tech)
    qtbot.addWidget(window)
    ws = window.workspaces["technician"]
    assert isinstance(ws, TechnicianWorkspace)
    for lang in ("da", "en"):
        window.set_language(lang)
        assert ws.tabs.tabText(0) == _("Import")
        assert window.workspace_titles()[1] == _("Technician")


def test_admin_may_import_but_not_acknowledge(
    demo_archive: Path, qtbot: QtBot, capsys: pytest.CaptureFixture[str]
) -> None:
    """The buttons follow session.may; the refusal itself comes from the service."""
    admin = add_test_user(demo_archive, "anne", Role.ADMIN)
    ws = TechnicianWorkspace(admin)
    qtbot.addWidget(ws)
    ws.refresh()
    assert ws.import_panel.folder_button.isEnabled()
    assert not ws.qc_panel.ack_button.isEnabled()
    assert not ws.precision_button.isEnabled()
    panel = ws.qc_panel
    assert panel.select_scanner(SHIFTED)
    panel.comment_edit.setText("checked")
    assert not panel.acknowledge()  # the service refuses, not the GUI
    assert isinstance(ws.last_error, PermissionDeniedError)
    assert ws.last_error.message in ws.status_label.text()
    assert "anne (admin)" in ws.last_error.message
    assert ws.last_error.message in capsys.readouterr().err
    assert query(demo_archive, "SELECT count(*) AS n FROM qc_acknowledgements") == [{"n": 0}]


def test_study_picker_lists_one_page_and_narrows_as_one_types(
    workspace: TechnicianWorkspace, demo_archive: Path, qtbot: QtBot
) -> None:
    from dxa_app.gui.study_panel import PICKER_PAGE

    panel = workspace.study_panel
    panel.refresh()
    total = query(demo_archive, "SELECT count(*) AS n FROM studies")[0]["n"]
    assert int(str(total)) > PICKER_PAGE  # the demo holds more than one page
    assert panel.picker.count() == PICKER_PAGE  # never every study of the archive
    newest = query(demo_archive, "SELECT max(study_date) AS d FROM studies")[0]["d"]
    assert panel.studies[0].study_date.isoformat() == newest
    # one patient's CPR: only that patient's studies, found in SQL as one types
    row = query(
        demo_archive,
        "SELECT p.identifier AS cpr, count(*) AS n FROM studies s JOIN patients p"
        " ON p.id = s.patient_id GROUP BY p.id ORDER BY n DESC, p.id LIMIT 1",
    )[0]
    cpr, n = str(row["cpr"]), int(str(row["n"]))
    cast(Callable[[QWidget, str], None], qtbot.keyClicks)(panel.search, cpr)  # untyped
    qtbot.waitUntil(lambda: panel.picker.count() == n)
    assert {s.patient_identifier for s in panel.studies} == {cpr}
    assert panel.match_label.text()
    # a study opened from elsewhere that is not on the page is put at the top
    panel.search.clear()
    qtbot.waitUntil(lambda: panel.picker.count() == PICKER_PAGE)
    oldest = int(
        str(query(demo_archive, "SELECT id FROM studies ORDER BY study_date, id LIMIT 1")[0]["id"])
    )
    assert all(s.id != oldest for s in panel.studies)
    assert panel.show_study(oldest)
    assert panel.picker.currentData() == oldest
    # Enter on a unique match opens it
    panel.search.setText("no such patient at all")
    panel._search_now()
    assert panel.picker.count() == 0
    assert panel.match_label.text() == _("No study matches.")
