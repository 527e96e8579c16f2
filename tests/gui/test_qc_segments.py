"""The QC chart draws each baseline segment with its own mean and band (issue 14)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from dxa_app.domain import Role
from dxa_app.gui.qc_panel import QcPanel
from dxa_app.services.calibration import start_new_baseline
from tests.sessions import session_as
from tests.test_qc_practice import START, _qc_archive, _shifted


def test_qc_panel_draws_each_baseline_segment(qtbot: QtBot, tmp_path: Path) -> None:
    archive = _qc_archive(tmp_path, _shifted())
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    start_new_baseline(tech, "REF-1", reason="service", starts=START + dt.timedelta(days=25))
    panel = QcPanel(tech)
    qtbot.addWidget(panel)
    panel.refresh()
    assert panel.select_scanner("REF-1")
    assert panel.selected is not None
    chart = panel.chart
    assert len(chart.baselines) == 2 and len(chart.restarts) == 1
    first, second = chart.baselines
    seg0, seg1 = panel.selected.segments
    assert seg0.analysis is not None and seg1.analysis is not None
    assert first[0] == pytest.approx(seg0.analysis.baseline.mean)
    assert second[0] == pytest.approx(seg1.analysis.baseline.mean)
    assert first[4] < chart.restarts[0] < second[3]
    assert "Current baseline since 2026-03-27" in panel.summary_label.text()
