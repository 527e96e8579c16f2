"""One style for every chart of the app: white, titled axes with units, a legend, an empty state.

:class:`Chart` is a pyqtgraph plot that reads alone: both axes carry a title with the unit
written into it ("BMD (g/cm²)"; pyqtgraph's own unit handling and its SI prefixes such as
"(x0.001)" are switched off), a legend under the plot names every marker shape and line, and
a chart without data shows a sentence saying why instead of empty axes with ticks such as
"0.050 ... 0.950". :class:`DateAxis` labels a time axis with whole days, months or years in
the screen's language, as many as fit without colliding.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from typing import Any, Final

import pyqtgraph as pg  # type: ignore[import-untyped]
from PySide6.QtCore import QDate, QLocale, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QWidget

#: Text and axis colour of every chart (on white).
INK: Final = "#212121"
_MUTED: Final = "#616161"
_DAY: Final = 86400.0
#: Tick steps of a date axis, finest first: (unit, count).
_DATE_STEPS: Final[tuple[tuple[str, int], ...]] = (
    ("day", 1),
    ("day", 2),
    ("day", 7),
    ("day", 14),
    ("month", 1),
    ("month", 2),
    ("month", 3),
    ("month", 6),
    ("year", 1),
    ("year", 2),
    ("year", 5),
    ("year", 10),
    ("year", 20),
    ("year", 50),
)
_APPROX_SECONDS: Final = {"day": _DAY, "month": 30.44 * _DAY, "year": 365.25 * _DAY}


def _utc_date(seconds: float) -> dt.date:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).date()


def _utc_seconds(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def date_ticks(low: float, high: float, unit: str, count: int) -> list[float]:
    """Return the tick positions (UTC midnights) from ``low`` to ``high`` seconds.

    Parameters
    ----------
    low, high : float
        The visible range, seconds since the epoch.
    unit : str
        ``day``, ``month`` or ``year``.
    count : int
        Ticks every ``count`` units; months and years start on a multiple of ``count``
        (every 3 months: January, April, July, October).

    Returns
    -------
    list of float
        The positions, ascending.
    """
    if not high > low:
        return []
    first, last = _utc_date(low), _utc_date(high)
    out: list[float] = []
    if unit == "day":
        start = first.toordinal() - first.toordinal() % count
        for ordinal in range(start, last.toordinal() + 1, count):
            out.append(_utc_seconds(dt.date.fromordinal(ordinal)))
    elif unit == "month":
        month = first.year * 12 + first.month - 1
        month -= month % count
        while month <= last.year * 12 + last.month - 1:
            out.append(_utc_seconds(dt.date(month // 12, month % 12 + 1, 1)))
            month += count
    else:
        year = first.year - first.year % count
        while year <= last.year:
            if dt.MINYEAR <= year <= dt.MAXYEAR:
                out.append(_utc_seconds(dt.date(year, 1, 1)))
            year += count
    return [t for t in out if low <= t <= high]


class DateAxis(pg.AxisItem):  # type: ignore[misc]
    """A time axis (seconds since the epoch, UTC) with day, month or year ticks that fit.

    The step is the finest of whole days, weeks, months, quarters or years whose labels,
    as wide as the axis font draws them, fit beside each other with a gap.
    """

    def __init__(self, orientation: str = "bottom", **kwargs: Any) -> None:
        super().__init__(orientation, **kwargs)
        self.step: tuple[str, int] = ("month", 1)

    def _formats(self, unit: str) -> str:
        danish = QLocale().language() == QLocale.Language.Danish
        if unit == "day":
            return "d. MMM" if danish else "d MMM"
        if unit == "month":
            return "MMM yyyy"
        return "yyyy"

    def label_width(self, unit: str) -> int:
        """Return the width in pixels of the widest label of a step unit (with a gap)."""
        font = self.style.get("tickFont") or self.font()
        metrics = QFontMetrics(font)
        sample = QDate(2026, 9, 28)  # a long month name and two-digit day
        text = QLocale().toString(sample, self._formats(unit))
        return metrics.horizontalAdvance(text) + metrics.horizontalAdvance("MM")

    def choose_step(self, low: float, high: float, size: float) -> tuple[str, int]:
        """Return the finest step whose labels fit in ``size`` pixels for this range."""
        span = max(high - low, 1.0)
        for unit, count in _DATE_STEPS:
            room = max(int(size // self.label_width(unit)), 1)
            if span / (_APPROX_SECONDS[unit] * count) <= room:
                return unit, count
        return _DATE_STEPS[-1]

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[Any]:
        """Return one level of ticks: the chosen step's dates in the range."""
        self.step = self.choose_step(minVal, maxVal, size)
        unit, count = self.step
        return [(_APPROX_SECONDS[unit] * count, date_ticks(minVal, maxVal, unit, count))]

    def tickStrings(self, values: Sequence[float], scale: float, spacing: float) -> list[str]:
        """Return the dates of the ticks in the screen's language."""
        fmt = self._formats(self.step[0])
        out = []
        for value in values:
            day = _utc_date(value)
            out.append(QLocale().toString(QDate(day.year, day.month, day.day), fmt))
        return out


class NumberAxis(pg.AxisItem):  # type: ignore[misc]
    """A value axis whose tick numbers use the screen's decimal separator (comma in Danish)."""

    def tickStrings(self, values: Sequence[float], scale: float, spacing: float) -> list[str]:
        """Return pyqtgraph's tick texts with the locale's decimal point."""
        point = QLocale().decimalPoint()
        return [str(t).replace(".", point) for t in super().tickStrings(values, scale, spacing)]


class Chart(pg.PlotWidget):  # type: ignore[misc]
    """A white pyqtgraph plot with axis titles, a legend under it and an empty state.

    Parameters
    ----------
    parent : QWidget, optional
        The owner.
    dates : bool
        The x axis is a :class:`DateAxis` (seconds since the epoch).
    legend_columns : int
        Columns of the legend under the plot.
    """

    def __init__(
        self, parent: QWidget | None = None, *, dates: bool = False, legend_columns: int = 4
    ) -> None:
        axes = {
            "left": NumberAxis("left"),
            "bottom": DateAxis("bottom") if dates else NumberAxis("bottom"),
        }
        super().__init__(parent=parent, background="w", axisItems=axes)
        item = self.getPlotItem()
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen(INK))
            axis.setTextPen(pg.mkPen(INK))
            axis.enableAutoSIPrefix(False)
        self.showGrid(x=True, y=True, alpha=0.2)
        self.legend = pg.LegendItem(
            colCount=legend_columns,
            labelTextColor=INK,
            labelTextSize="9pt",
            frame=False,
            horSpacing=16,
        )
        item.layout.addItem(self.legend, 4, 1)
        self.legend_names: list[str] = []
        self.empty_text = pg.TextItem("", color=_MUTED, anchor=(0.5, 0.5))
        self.empty_text.setZValue(10)
        self._titles = ("", "")
        self.empty_message = ""

    def set_titles(self, x: str, y: str) -> None:
        """Set the axis titles; each names the quantity and its unit, e.g. "BMD (g/cm²)"."""
        self._titles = (x, y)
        self.setLabel("bottom", x, units=None, color=INK)
        self.setLabel("left", y, units=None, color=INK)

    def titles(self) -> tuple[str, str]:
        """Return the (x, y) axis titles."""
        return self._titles

    def axis_text(self, side: str) -> str:
        """Return the text the axis shows as its title (``left`` or ``bottom``), as plain text.

        This is what is drawn, units and any SI prefix pyqtgraph would add included.
        """
        axis = self.getPlotItem().getAxis(side)
        return html.unescape(re.sub(r"<[^>]+>", "", str(axis.labelString()))).strip()

    def clear_chart(self) -> None:
        """Remove every plotted item and legend entry and leave the empty state."""
        self.clear()
        self.legend.clear()
        self.legend_names = []
        self.empty_message = ""
        item = self.getPlotItem()
        for side in ("left", "bottom"):
            item.showAxis(side)
        self.legend.setVisible(True)
        self.setMouseEnabled(x=True, y=True)
        self.enableAutoRange()

    def add_legend(self, item: Any, name: str) -> None:
        """Name a plotted item (points or line) in the legend."""
        self.legend.addItem(item, name)
        self.legend_names.append(name)

    def add_legend_line(self, name: str, **style: Any) -> None:
        """Name a line drawn another way (e.g. an infinite line) with a sample of its style."""
        self.add_legend(pg.PlotDataItem([0, 1], [0, 0], **style), name)

    def show_empty(self, message: str) -> None:
        """Show ``message`` instead of the axes (the chart has nothing to draw)."""
        self.clear_chart()
        self.empty_message = message
        item = self.getPlotItem()
        for side in ("left", "bottom"):
            item.hideAxis(side)
        self.legend.setVisible(False)
        self.empty_text.setText(message)
        self.addItem(self.empty_text, ignoreBounds=True)
        self.empty_text.setPos(0.5, 0.5)
        self.setXRange(0, 1, padding=0)
        self.setYRange(0, 1, padding=0)
        self.setMouseEnabled(x=False, y=False)

    def is_empty(self) -> bool:
        """Return whether the chart shows its empty-state message."""
        return bool(self.empty_message)


def point_style(colour: str, symbol: str = "o", size: int = 7) -> dict[str, Any]:
    """Return the plot keywords of filled markers without lines."""
    return {
        "pen": None,
        "symbol": symbol,
        "symbolSize": size,
        "symbolBrush": colour,
        "symbolPen": pg.mkPen(colour),
    }


def line_style(colour: str, *, dashed: bool = False, width: float = 2) -> dict[str, Any]:
    """Return the plot keywords of a line."""
    style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
    return {"pen": pg.mkPen(colour, width=width, style=style)}
