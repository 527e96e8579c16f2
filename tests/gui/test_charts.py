"""Issue 16: every chart reads alone, in the screen's language.

Titled axes with units, a legend, date ticks that fit, an empty state that says why.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QFontMetrics
from pytestqt.qtbot import QtBot

from dxa_app.domain import Role
from dxa_app.gui.charts import DateAxis, date_ticks
from dxa_app.gui.qc_panel import QcPanel
from dxa_app.gui.qt_locale import install_qt_language
from dxa_app.i18n import set_language
from tests.sessions import session_as
from tests.test_qc_practice import _qc_archive, _shifted

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


def _utc(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


@pytest.fixture
def danish() -> Iterator[None]:
    set_language("da")
    install_qt_language("da")
    yield
    install_qt_language("en")
    set_language("en")


def test_date_ticks_fall_on_whole_days_months_and_years() -> None:
    low, high = _utc(dt.date(2025, 12, 20)), _utc(dt.date(2026, 12, 31))
    assert date_ticks(low, high, "month", 3) == [_utc(dt.date(2026, m, 1)) for m in (1, 4, 7, 10)]
    assert date_ticks(low, high, "year", 1) == [_utc(dt.date(2026, 1, 1))]
    week = date_ticks(_utc(dt.date(2026, 3, 1)), _utc(dt.date(2026, 3, 31)), "day", 7)
    assert len(week) in (4, 5) and all(b - a == 7 * 86400 for a, b in itertools.pairwise(week))


@pytest.mark.parametrize("days", [20, 120, 365, 3 * 365, 12 * 365])
@pytest.mark.parametrize("width", [300, 900])
def test_date_labels_never_collide(qtbot: QtBot, danish: None, days: int, width: int) -> None:
    axis = DateAxis("bottom")
    low = _utc(dt.date(2024, 1, 15))
    high = low + days * 86400
    [(_spacing, values)] = axis.tickValues(low, high, width)
    labels = axis.tickStrings(values, 1.0, _spacing)
    assert len(labels) >= 1
    metrics = QFontMetrics(axis.style.get("tickFont") or axis.font())
    used = sum(metrics.horizontalAdvance(t) for t in labels)
    assert used + 8 * len(labels) <= width, labels  # each label with a gap fits beside the rest
    # the finest step that fits: a month range in 900 px shows days, a decade years
    if days == 20 and width == 900:
        assert axis.step[0] == "day"
    if days == 12 * 365:
        assert axis.step[0] == "year"


def test_month_labels_are_in_the_screens_language(qtbot: QtBot, danish: None) -> None:
    axis = DateAxis("bottom")
    low, high = _utc(dt.date(2025, 12, 20)), _utc(dt.date(2026, 12, 31))
    axis.step = ("month", 3)
    values = date_ticks(low, high, "month", 3)
    assert axis.tickStrings(values, 1.0, 0) == ["jan. 2026", "apr. 2026", "jul. 2026", "okt. 2026"]


@pytest.mark.parametrize(
    ("lang", "x_title", "y_title", "legend"),
    [
        (
            "en",
            "Scan date",
            "Phantom BMD (g/cm²)",
            ["Daily phantom BMD", "Baseline mean and control limits", "Westgard rejection"],
        ),
        (
            "da",
            "Skanningsdato",
            "Fantom-BMD (g/cm²)",
            ["Daglig fantom-BMD", "Baselinegennemsnit og kontrolgrænser", "Westgard-afvisning"],
        ),
    ],
)
def test_the_qc_chart_has_titled_axes_and_a_legend(
    qtbot: QtBot, tmp_path: Path, lang: str, x_title: str, y_title: str, legend: list[str]
) -> None:
    archive = _qc_archive(tmp_path, _shifted())
    set_language(lang)
    install_qt_language(lang)
    try:
        panel = QcPanel(session_as(archive, Role.TECHNICIAN, "tekla"))
        qtbot.addWidget(panel)
        chart = panel.chart
        # nothing selected: a sentence instead of empty axes with 0.050 ... 0.950 ticks
        assert chart.is_empty() and chart.empty_text.toPlainText()
        assert not chart.getPlotItem().getAxis("left").isVisible()
        panel.refresh()
        assert panel.select_scanner("REF-1")
        assert not chart.is_empty()
        assert chart.getPlotItem().getAxis("left").isVisible()
        assert chart.axis_text("bottom") == x_title
        assert chart.axis_text("left") == y_title  # no "(x0.001)" SI prefix
        assert isinstance(chart.getPlotItem().getAxis("bottom"), DateAxis)
        assert chart.legend_names[:3] == legend
        assert len(chart.legend_names) >= 6  # the four alarm markers are named too
        assert chart.backgroundBrush().color().name() == "#ffffff"
    finally:
        install_qt_language("en")
        set_language("en")


def test_the_chart_follows_a_change_of_language(qtbot: QtBot, tmp_path: Path) -> None:
    archive = _qc_archive(tmp_path, _shifted())
    panel = QcPanel(session_as(archive, Role.TECHNICIAN, "tekla"))
    qtbot.addWidget(panel)
    panel.refresh()
    assert panel.select_scanner("REF-1")
    assert panel.chart.axis_text("bottom") == "Scan date"
    set_language("da")
    install_qt_language("da")
    try:
        panel.retranslate()
        assert panel.chart.axis_text("bottom") == "Skanningsdato"
        assert panel.chart.legend_names[0] == "Daglig fantom-BMD"
    finally:
        install_qt_language("en")
        set_language("en")


def test_value_ticks_use_the_danish_decimal_comma(qtbot: QtBot, danish: None) -> None:
    from dxa_app.gui.charts import NumberAxis

    axis = NumberAxis("left")
    assert axis.tickStrings([0.99, 1.0, 1.01], 1.0, 0.01) == ["0,99", "1,00", "1,01"]
