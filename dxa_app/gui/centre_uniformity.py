"""The centre's Uniformity tab: one phantom or patient on several scanners, raw and harmonised."""

from __future__ import annotations

import pyqtgraph as pg  # type: ignore[import-untyped]
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from dxa_app.gui.centre_models import UniformityTableModel
from dxa_app.gui.charts import INK, Chart
from dxa_app.gui.common import read_only_table
from dxa_app.gui.labels import localised, region_text
from dxa_app.gui.workspace import ProgressFn, Workspace
from dxa_app.i18n import _
from dxa_app.progress import CancelToken
from dxa_app.services.auth import Session
from dxa_app.services.uniformity import (
    PATIENT,
    PHANTOM,
    Subject,
    Uniformity,
    uniformity,
    uniformity_subjects,
)

#: Colours of the regions in the uniformity plot.
_REGION_COLOURS = ("#1565c0", "#2e7d32", "#c62828", "#6a1b9a", "#ef6c00", "#00838f")


class UniformityTab(Workspace):
    """Pick a phantom or a patient measured on several scanners; compare the scanners.

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.subjects: list[Subject] | None = None
        self.uniformity: Uniformity | None = None
        self.kind_combo = QComboBox()
        self.kind_combo.addItem("", PHANTOM)
        self.kind_combo.addItem("", PATIENT)
        self.kind_combo.currentIndexChanged.connect(lambda _i: self._fill_subjects())
        self.subject_combo = QComboBox()
        self.subject_combo.currentIndexChanged.connect(lambda _i: self.show_uniformity())
        self.kind_label = QLabel()
        self.subject_label = QLabel()
        self.uniformity_model = UniformityTableModel(parent=self)
        self.uniformity_view = read_only_table(self.uniformity_model)
        self.uniformity_view.setObjectName("uniformityTable")
        self.uniformity_plot = Chart(legend_columns=2)
        self.spread_label = QLabel()
        self.spread_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        pick = QHBoxLayout()
        pick.addWidget(self.kind_label)
        pick.addWidget(self.kind_combo)
        pick.addWidget(self.subject_label)
        pick.addWidget(self.subject_combo, 1)
        layout.addLayout(pick)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.uniformity_view)
        split.addWidget(self.uniformity_plot)
        layout.addWidget(split, 1)
        layout.addWidget(self.spread_label)
        self.retranslate()

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.kind_label.setText(_("Show:"))
        self.kind_combo.setItemText(0, _("A phantom"))
        self.kind_combo.setItemText(1, _("A patient (in vivo)"))
        self.subject_label.setText(_("Measured on several scanners:"))
        self.uniformity_model.retranslate()
        self._plot_uniformity()

    def refresh(self) -> None:
        """Reload the phantoms and patients measured on several scanners."""
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> list[Subject]:
            return uniformity_subjects(session)

        self.run(work, self._loaded)

    def _loaded(self, subjects: list[Subject]) -> None:
        self.subjects = subjects
        self._fill_subjects()

    def _fill_subjects(self) -> None:
        kind = self.kind_combo.currentData()
        subjects = [s for s in self.subjects or () if s.kind == kind]
        current = self.subject_combo.currentData()
        self.subject_combo.blockSignals(True)
        self.subject_combo.clear()
        for s in subjects:
            text = _("{label} ({n} scanners)").format(label=s.label, n=s.n_scanners)
            self.subject_combo.addItem(text, (s.kind, s.id))
        index = self.subject_combo.findData(current) if current is not None else -1
        self.subject_combo.setCurrentIndex(max(index, 0) if subjects else -1)
        self.subject_combo.blockSignals(False)
        self.show_uniformity()

    def current_subject(self) -> Subject | None:
        """Return the phantom or patient chosen, or None."""
        data = self.subject_combo.currentData()
        if data is None:
            return None
        kind, subject_id = data
        return next((s for s in self.subjects or () if (s.kind, s.id) == (kind, subject_id)), None)

    def show_uniformity(self) -> None:
        """Load the chosen subject's values on every scanner, raw and harmonised."""
        subject = self.current_subject()
        if subject is None:
            self.uniformity = None
            self.uniformity_model.set_rows([])
            self._plot_uniformity()
            return
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> Uniformity:
            return uniformity(session, subject)

        def done(result: Uniformity) -> None:
            chosen = self.current_subject()
            if chosen is not None and (chosen.kind, chosen.id) != (
                result.subject.kind,
                result.subject.id,
            ):
                return  # a newer choice is loading
            self.uniformity = result
            self.uniformity_model.set_rows(result.rows)
            self._plot_uniformity()

        self.run(work, done)

    def _plot_uniformity(self) -> None:
        plot = self.uniformity_plot
        result = self.uniformity
        if result is None or not result.rows:
            self.spread_label.setText("")
            plot.show_empty(_("Choose a phantom or a patient measured on several scanners."))
            return
        plot.clear_chart()
        serials = result.scanners()
        axis = plot.getAxis("bottom")
        axis.setTicks([list(enumerate(serials))])
        plot.set_titles(_("Scanner (serial number)"), _("BMD (g/cm²)"))
        certified_shown = False
        lines = []
        for i, key in enumerate(result.regions()):
            colour = _REGION_COLOURS[i % len(_REGION_COLOURS)]
            rows = [r for r in result.rows if r.region_key == key]
            # raw values hollow and a little left, harmonised filled and a little right
            for offset, values, symbol, brush, name in (
                (-0.1, [r.raw for r in rows], "o", None, _("{region} raw")),
                (0.1, [r.harmonised for r in rows], "s", colour, _("{region} harmonised")),
            ):
                drawn = plot.plot(
                    [serials.index(r.serial) + offset for r in rows],
                    values,
                    pen=None,
                    symbol=symbol,
                    symbolSize=9,
                    symbolPen=colour,
                    symbolBrush=brush,
                )
                plot.add_legend(drawn, name.format(region=region_text(key)))
            certified = rows[0].certified if rows else None
            if certified is not None:
                pen = pg.mkPen(colour, style=Qt.PenStyle.DotLine)
                plot.addLine(y=certified, pen=pen)
                if not certified_shown:
                    plot.add_legend_line(_("Certified value"), pen=pg.mkPen(INK, style=pen.style()))
                    certified_shown = True
            lines.append(
                localised(
                    _("{region}: spread raw {raw:.3f}, harmonised {harmonised:.3f} g/cm²"),
                    region=region_text(key),
                    raw=result.spread(key, harmonised=False),
                    harmonised=result.spread(key, harmonised=True),
                )
            )
        self.spread_label.setText("; ".join(lines) + ".")
