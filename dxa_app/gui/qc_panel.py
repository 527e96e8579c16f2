"""Today's QC per scanner: coloured status list, control chart with alarms, acknowledgement."""

from __future__ import annotations

import datetime as dt

import pyqtgraph as pg  # type: ignore[import-untyped]
from PySide6.QtCore import QItemSelection, Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from dxa_app.gui.charts import Chart
from dxa_app.gui.common import EmptyHint, read_only_table
from dxa_app.gui.labels import (
    drift_text,
    localised,
    number,
    qc_colour,
    segment_label,
    today_label,
)
from dxa_app.gui.technician_models import QcAlarmModel, ScannerQcModel
from dxa_app.gui.workspace import Workspace
from dxa_app.i18n import _
from dxa_app.services import qc_ack
from dxa_app.services.auth import Permission, Session
from dxa_app.services.calibration import ScannerQc, qc_status
from dxa_app.services.qc_ack import QcAlarm


def _timestamp(date: str) -> float:
    day = dt.date.fromisoformat(date[:10])
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()


#: Colours of the control chart's marks.
_SERIES = "#455a64"
_MEAN = "#1565c0"
_BAND = (21, 101, 192, 30)
_REJECT = "#c62828"
_WARNING = "#f9a825"
_CUSUM = "#6a1b9a"
_ACK = "#9e9e9e"
_RESTART = "#78909c"


class QcChart(Chart):
    """A control chart of one scanner's daily phantom BMD, one baseline segment at a time.

    Each baseline segment has its own mean (dashed line) and ±limit band over its own dates,
    and a restart (after a drift correction, a software change, a service visit or a
    request) is a vertical line. Westgard reject hits (red crosses), warnings (orange
    triangles), CUSUM alarms (purple diamonds); acknowledged scans are drawn hollow and grey.
    The legend under the chart names each of them; the x axis is the scan date.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, dates=True, legend_columns=4)
        self.series = pg.PlotDataItem(
            [],
            [],
            pen=pg.mkPen(_SERIES, width=1),
            symbol="o",
            symbolSize=4,
            symbolBrush=_SERIES,
            symbolPen=None,
        )
        self.reject_points = pg.ScatterPlotItem(
            symbol="x", size=12, pen=pg.mkPen(_REJECT, width=2), brush=pg.mkBrush(_REJECT)
        )
        self.warning_points = pg.ScatterPlotItem(
            symbol="t", size=10, pen=pg.mkPen(_WARNING), brush=pg.mkBrush(_WARNING)
        )
        self.cusum_points = pg.ScatterPlotItem(
            symbol="d", size=11, pen=pg.mkPen(_CUSUM), brush=pg.mkBrush(_CUSUM)
        )
        self.ack_points = pg.ScatterPlotItem(
            symbol="o", size=13, pen=pg.mkPen(_ACK, width=1.5), brush=None
        )
        #: Per drawn baseline segment: (mean, lower, upper, first x, last x).
        self.baselines: list[tuple[float, float, float, float, float]] = []
        #: The x of every restart line.
        self.restarts: list[float] = []
        self._shown: tuple[ScannerQc | None, list[QcAlarm]] = (None, [])
        self.set_series(None, [])

    def retranslate(self) -> None:
        """Redraw the shown series with the titles and legend in the current language."""
        self.set_series(*self._shown)

    def _add_segment(self, mean: float, lower: float, upper: float, x0: float, x1: float) -> None:
        x1 = max(x1, x0 + 3600.0)  # a one-scan segment still shows its band
        low = pg.PlotDataItem([x0, x1], [lower, lower], pen=pg.mkPen(None))
        high = pg.PlotDataItem([x0, x1], [upper, upper], pen=pg.mkPen(None))
        band = pg.FillBetweenItem(low, high, brush=pg.mkBrush(*_BAND))
        line = pg.PlotDataItem(
            [x0, x1], [mean, mean], pen=pg.mkPen(_MEAN, style=Qt.PenStyle.DashLine)
        )
        for item in (low, high, band, line):
            self.addItem(item)
        self.baselines.append((mean, lower, upper, x0, x1))

    def _legend(self, qc: ScannerQc, alarms: list[QcAlarm]) -> None:
        self.add_legend(self.series, _("Daily phantom BMD"))
        if self.baselines:
            self.add_legend_line(
                _("Baseline mean and control limits"),
                pen=pg.mkPen(_MEAN, style=Qt.PenStyle.DashLine),
                fillLevel=0,
                fillBrush=pg.mkBrush(*_BAND),
            )
        if self.restarts:
            self.add_legend_line(
                _("New baseline"), pen=pg.mkPen(_RESTART, style=Qt.PenStyle.DotLine)
            )
        self.add_legend(self.reject_points, _("Westgard rejection"))
        self.add_legend(self.warning_points, _("Westgard warning"))
        self.add_legend(self.cusum_points, _("CUSUM alarm"))
        self.add_legend(self.ack_points, _("Acknowledged"))

    def set_series(self, qc: ScannerQc | None, alarms: list[QcAlarm]) -> None:
        """Draw one scanner's series, its baseline segments and alarms (None clears it)."""
        self._shown = (qc, list(alarms))
        self.baselines = []
        self.restarts = []
        for item in (self.reject_points, self.warning_points, self.cusum_points, self.ack_points):
            item.setData([], [])
        self.series.setData([], [])
        if qc is None or not qc.values:
            self.setTitle("")
            self.show_empty(
                _("Select a scanner to see its control chart.")
                if qc is None
                else _("No QC scans of this scanner yet.")
            )
            return
        self.clear_chart()
        self.set_titles(_("Scan date"), _("Phantom BMD (g/cm²)"))
        xs = [_timestamp(d) for d in qc.dates]
        self.addItem(self.series)
        self.series.setData(xs, list(qc.values))
        for n, seg in enumerate(qc.segments):
            if n > 0 and seg.start < len(xs):
                restart = pg.InfiniteLine(
                    pos=xs[seg.start] - 43200.0,
                    angle=90,
                    pen=pg.mkPen(_RESTART, style=Qt.PenStyle.DotLine),
                )
                self.addItem(restart)
                self.restarts.append(xs[seg.start] - 43200.0)
            a = seg.analysis
            if a is not None and seg.n:
                b = a.baseline
                self._add_segment(b.mean, b.lower, b.upper, xs[seg.start], xs[seg.stop - 1])
        for item in (self.ack_points, self.warning_points, self.cusum_points, self.reject_points):
            self.addItem(item)

        def points(selected: list[QcAlarm]) -> tuple[list[float], list[float]]:
            return [xs[p.index] for p in selected], [p.value for p in selected]

        open_alarms = [p for p in alarms if not p.acknowledged]
        self.reject_points.setData(
            *points([p for p in open_alarms if p.westgard_severity == "reject"])
        )
        self.warning_points.setData(
            *points([p for p in open_alarms if p.westgard_severity == "warning"])
        )
        self.cusum_points.setData(*points([p for p in open_alarms if p.cusum]))
        self.ack_points.setData(*points([p for p in alarms if p.acknowledged]))
        self._legend(qc, alarms)
        self.setTitle(
            f"{qc.serial} — {today_label(qc)}",
            color=qc_colour(qc.today_status).name(),
        )


class QcPanel(Workspace):
    """Scanner list with today's status, the chart of the selected scanner, acknowledgement.

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.selected: ScannerQc | None = None
        self.alarms: list[QcAlarm] = []
        self.scanner_model = ScannerQcModel(parent=self)
        self.scanner_view = read_only_table(self.scanner_model)
        self.scanner_view.setObjectName("qcScannerTable")
        self.scanner_hint = EmptyHint(self.scanner_view)
        self.scanner_view.selectionModel().selectionChanged.connect(self._on_selection)
        self.chart = QcChart()
        self.alarm_model = QcAlarmModel(parent=self)
        self.alarm_view = read_only_table(self.alarm_model, multi=True)
        self.alarm_view.setObjectName("qcAlarmTable")
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.drift_label = QLabel()
        self.drift_label.setObjectName("qcDriftProposal")
        self.drift_label.setWordWrap(True)
        self.comment_edit = QLineEdit()
        self.comment_edit.setObjectName("qcComment")
        self.ack_button = QPushButton()
        self.ack_button.setObjectName("qcAcknowledge")
        self.ack_button.clicked.connect(self.acknowledge)
        self.ack_button.setEnabled(session.may(Permission.QC_ACK))
        self.refresh_button = QPushButton()
        self.refresh_button.clicked.connect(self.refresh)

        self.scanners_title = QLabel()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.scanners_title)
        left_layout.addWidget(self.scanner_view)
        left_layout.addWidget(self.refresh_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.chart, 3)
        right_layout.addWidget(self.summary_label)
        right_layout.addWidget(self.drift_label)
        right_layout.addWidget(self.alarm_view, 2)
        ack_row = QHBoxLayout()
        self.comment_label = QLabel()
        ack_row.addWidget(self.comment_label)
        ack_row.addWidget(self.comment_edit, 1)
        ack_row.addWidget(self.ack_button)
        right_layout.addLayout(ack_row)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 5)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.retranslate()

    def retranslate(self) -> None:
        """Re-set the texts in the current language."""
        self.scanners_title.setText(_("Today's QC per scanner"))
        self.scanner_hint.set_text(
            _("No scanners yet. Import the daily phantom (QC) scans on the Import tab.")
        )
        self.refresh_button.setText(_("Refresh"))
        self.comment_label.setText(_("Comment"))
        self.comment_edit.setPlaceholderText(_("What was checked or done"))
        self.ack_button.setText(_("Acknowledge"))
        self.ack_button.setToolTip(
            _("Acknowledge the selected alarms (none selected: the newest open alarms).")
        )
        self.scanner_model.retranslate()
        self.alarm_model.retranslate()
        self.chart.retranslate()
        self._update_summary()

    def refresh(self) -> None:
        """Reload every scanner's QC from the archive (the numbers of the CLI ``qc``)."""
        serial = self.selected.serial if self.selected is not None else None
        rows = self.call(qc_status)
        if rows is None:
            return
        self.scanner_model.set_rows(rows)
        self.scanner_view.resizeColumnsToContents()
        self.selected = None
        self._show(None)
        if serial is not None:
            self.select_scanner(serial)

    def select_scanner(self, serial: str) -> bool:
        """Select a scanner by serial; return False when it has no QC series."""
        for row, q in enumerate(self.scanner_model.rows()):
            if q.serial == serial:
                self.scanner_view.selectRow(row)
                return True
        return False

    def _on_selection(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.scanner_view.selectionModel().selectedRows()
        self._show(self.scanner_model.row_at(rows[0].row()) if rows else None)

    def _show(self, qc: ScannerQc | None) -> None:
        self.selected = qc
        alarms: list[QcAlarm] = []
        if qc is not None:
            alarms = self.call(lambda session: qc_ack.scanner_alarms(session, qc)) or []
        self.alarms = alarms
        # newest first: today's alarms on top
        self.alarm_model.set_rows(sorted(alarms, key=lambda a: (-a.index, a.rule)))
        self.alarm_view.resizeColumnsToContents()
        self.chart.set_series(qc, alarms)
        self._update_summary()

    def _update_summary(self) -> None:
        qc = self.selected
        if qc is None:
            self.summary_label.setText(_("Select a scanner to see its control chart."))
            self.drift_label.setText("")
            return
        n_open = sum(1 for a in self.alarms if not a.acknowledged)
        text = _("{serial}: today {status}; {n} QC scans, last {last}; {open} open alarms.").format(
            serial=qc.serial,
            status=today_label(qc),
            n=qc.n_scans,
            last=qc.last or "-",
            open=n_open,
        )
        seg = qc.current
        if seg is not None and len(qc.segments) > 1:
            text += " " + _("Current baseline since {date} ({why}).").format(
                date=seg.started, why=segment_label(seg.kind, seg.reason)
            )
        if qc.analysis is not None:
            b = qc.analysis.baseline
            text += " " + localised(
                _("Baseline {mean:.3f} g/cm², limits {lower:.3f}-{upper:.3f} (±{pct} %)."),
                mean=b.mean,
                lower=b.lower,
                upper=b.upper,
                pct=number(b.limit_pct, 1),
            )
        if qc.problem:
            text += " " + qc.problem
        self.summary_label.setText(text)
        self.drift_label.setText(drift_text(qc))

    def selected_alarms(self) -> list[QcAlarm]:
        """Return the alarms selected in the table, or the newest open ones when none is."""
        rows = sorted({i.row() for i in self.alarm_view.selectionModel().selectedRows()})
        chosen = [self.alarm_model.row_at(r) for r in rows]
        return [a for a in chosen if not a.acknowledged] or qc_ack.latest_alarms(self.alarms)

    def acknowledge(self) -> bool:
        """Store an acknowledgement of the chosen alarms with the comment (audited)."""
        qc = self.selected
        if qc is None:
            return False
        alarms, comment = self.selected_alarms(), self.comment_edit.text()
        stored = self.call(
            lambda session: qc_ack.acknowledge_alarms(session, alarms, comment=comment)
        )
        if stored is None:
            return False
        self.set_status(_("{n} alarm(s) acknowledged.").format(n=len(stored)))
        self.comment_edit.clear()
        self._show(qc)
        return True
