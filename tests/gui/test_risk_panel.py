"""The risk-factor panel and the recall list, on a small real archive (Qt offscreen)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from dxa_app.archive import open_archive
from dxa_app.archive.store import store_parsed
from dxa_app.domain import Role
from dxa_app.gui.risk_panel import RecallPanel, RiskPanel
from dxa_app.services import risk
from tests.factories import parsed, patient, study_record
from tests.sessions import session_as


def _archive(tmp_path: Path) -> Path:
    path = tmp_path / "a.sqlite"
    db = open_archive(path)
    store_parsed(db, parsed(study_record(1, bmd=0.70, pat=patient(1, birth=dt.date(1950, 1, 1)))))
    db.close()
    return path


def test_form_saves_a_version_and_physician_keeps_a_suggestion(
    qtbot: QtBot, tmp_path: Path
) -> None:
    archive = _archive(tmp_path)
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    panel = RiskPanel(tech)
    qtbot.addWidget(panel)
    panel.set_study(1)
    assert not panel.decide_button.isEnabled()  # a technician does not decide
    panel.bools["glucocorticoids"].setCheckState(Qt.CheckState.Checked)
    panel.bools["current_smoking"].setCheckState(Qt.CheckState.Unchecked)
    panel.texts["glucocorticoid_dose_mg"].setText("7,5")
    panel.texts["glucocorticoid_months"].setText("6")
    with qtbot.waitSignal(panel.saved, timeout=10000):
        panel.save()
    view = risk.risk_factors(tech, 1)
    assert view.latest is not None and view.latest.answers == {
        "current_smoking": False,
        "glucocorticoid_dose_mg": 7.5,
        "glucocorticoid_months": 6.0,
        "glucocorticoids": True,
    }
    doctor = session_as(archive, Role.PHYSICIAN, "dr.hansen")
    dpanel = RiskPanel(doctor)
    qtbot.addWidget(dpanel)
    dpanel.set_study(1)
    ids = [
        dpanel.suggestion_list.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(dpanel.suggestion_list.count())
    ]
    assert "reimbursement:glucocorticoids_t_lt_-1" in ids
    item = dpanel.suggestion_list.item(ids.index("reimbursement:glucocorticoids_t_lt_-1"))
    item.setCheckState(Qt.CheckState.Checked)
    with qtbot.waitSignal(dpanel.saved, timeout=20000):
        dpanel.save_decisions()
    rows = {r.suggestion.id: r.decision for r in risk.study_suggestions(doctor, 1, lang="en").rows}
    assert rows["reimbursement:glucocorticoids_t_lt_-1"] == "kept"
    assert rows["rescan:glucocorticoids"] == "pending"


def test_recall_panel_lists_and_saves(qtbot: QtBot, tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    doctor = session_as(archive, Role.PHYSICIAN, "dr.hansen")
    panel = RecallPanel(doctor)
    qtbot.addWidget(panel)
    panel.days.setValue(731)
    panel.refresh(as_of=dt.date(2026, 6, 1))
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=10000)
    out = tmp_path / "recall.csv"
    panel.save_csv(out)
    qtbot.waitUntil(out.exists, timeout=10000)
    qtbot.waitUntil(lambda: "2028-06-01" in out.read_text(encoding="utf-8"), timeout=10000)
