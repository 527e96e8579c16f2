"""The knowledge-centre workspace: scanners and QC, fits and steps, uniformity across scanners."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg  # type: ignore[import-untyped]
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dxa_app.gui.centre_models import (
    QC_COLOURS,
    ScannerTableModel,
    StepTableModel,
    UniformityTableModel,
)
from dxa_app.gui.dialogs import describe, show_error
from dxa_app.gui.session import Session
from dxa_app.gui.tasks import TaskHandle, run_task
from dxa_app.i18n import _
from dxa_app.progress import CancelToken
from dxa_app.services.calibration import Step
from dxa_app.services.calibration_views import FitView, ScannerOverview
from dxa_app.services.uniformity import PATIENT, PHANTOM, Subject, Uniformity

_Progress = Callable[[int, int, str], None]

#: Colours of the regions in the uniformity plot.
_REGION_COLOURS = ("#1565c0", "#2e7d32", "#c62828", "#6a1b9a", "#ef6c00", "#00838f")


def _open(session: Session) -> Any:
    from dxa_app.archive import open_archive

    return open_archive(session.archive, create=False)


@dataclass(frozen=True)
class CentreData:
    """Everything the workspace lists, loaded in one worker call."""

    scanners: list[ScannerOverview]
    steps: list[Step]
    fits: list[FitView]
    phantoms: list[Subject]
    patients: list[Subject]
    reference: str | None


def load_centre_data(db: Any) -> CentreData:
    """Return the scanners, steps, fits and uniformity subjects of an archive."""
    from dxa_app.archive import get_setting
    from dxa_app.services.calibration import REFERENCE_SCANNER_KEY, list_steps
    from dxa_app.services.calibration_views import fit_views, scanner_overview
    from dxa_app.services.uniformity import (
        patients_on_several_scanners,
        phantoms_on_several_scanners,
    )

    reference = get_setting(db, REFERENCE_SCANNER_KEY)
    return CentreData(
        scanner_overview(db),
        list_steps(db),
        fit_views(db),
        phantoms_on_several_scanners(db),
        patients_on_several_scanners(db),
        None if reference is None else str(reference),
    )


class CentreWorkspace(QWidget):
    """The knowledge centre's workspace: QC status, calibration fits and steps, uniformity.

    Approving and retiring steps go through the calibration service, which checks the role
    (only ``centre_analyst``) and writes the audit log; a refusal is shown as a friendly
    message in the status line and through :func:`show_error`.

    Parameters
    ----------
    session : Session
        The logged-in user and archive.
    parent : QWidget, optional
        The owner widget.
    """

    #: Emitted with a short status text after each finished action.
    status_changed = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.last_error: BaseException | None = None
        #: Deming bootstrap resamples of a fit (tests lower it).
        self.fit_bootstrap = 2000
        self.data: CentreData | None = None
        self.uniformity: Uniformity | None = None
        self._tasks: list[TaskHandle] = []

        self.tabs = QTabWidget()

        # scanners
        self.scanner_model = ScannerTableModel(parent=self)
        self.scanner_view = self._table(self.scanner_model)
        self.legend_label = QLabel()
        scanners_page = QWidget()
        sl = QVBoxLayout(scanners_page)
        sl.addWidget(self.scanner_view, 1)
        sl.addWidget(self.legend_label)

        # calibration
        self.reference_label = QLabel()
        self.reference_combo = QComboBox()
        self.fit_button = QPushButton()
        self.fit_button.clicked.connect(self.fit)
        self.fit_progress = QProgressBar()
        self.fit_progress.setVisible(False)
        self.fit_combo = QComboBox()
        self.fit_combo.currentIndexChanged.connect(lambda _i: self._plot_fit())
        self.fit_label = QLabel()
        self.fit_info = QLabel()
        self.fit_info.setWordWrap(True)
        self.scatter_plot = pg.PlotWidget()
        self.residual_plot = pg.PlotWidget()
        self.ba_plot = pg.PlotWidget()
        self.plot_tabs = QTabWidget()
        self.plot_tabs.addTab(self.scatter_plot, "")
        self.plot_tabs.addTab(self.residual_plot, "")
        self.plot_tabs.addTab(self.ba_plot, "")
        self.step_model = StepTableModel(parent=self)
        self.step_view = self._table(self.step_model)
        self.step_view.selectionModel().selectionChanged.connect(lambda *_a: self._update_buttons())
        self.approve_button = QPushButton()
        self.approve_button.clicked.connect(self.approve_selected)
        self.retire_button = QPushButton()
        self.retire_button.clicked.connect(self.retire_selected)
        self.steps_box = QGroupBox()

        cal_page = QWidget()
        cl = QVBoxLayout(cal_page)
        fit_row = QHBoxLayout()
        fit_row.addWidget(self.reference_label)
        fit_row.addWidget(self.reference_combo)
        fit_row.addWidget(self.fit_button)
        fit_row.addWidget(self.fit_progress, 1)
        cl.addLayout(fit_row)
        plots = QWidget()
        pl = QVBoxLayout(plots)
        pl.setContentsMargins(0, 0, 0, 0)
        choose = QHBoxLayout()
        choose.addWidget(self.fit_label)
        choose.addWidget(self.fit_combo, 1)
        pl.addLayout(choose)
        pl.addWidget(self.plot_tabs, 1)
        pl.addWidget(self.fit_info)
        stl = QVBoxLayout(self.steps_box)
        stl.addWidget(self.step_view, 1)
        step_buttons = QHBoxLayout()
        step_buttons.addStretch(1)
        step_buttons.addWidget(self.approve_button)
        step_buttons.addWidget(self.retire_button)
        stl.addLayout(step_buttons)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(plots)
        split.addWidget(self.steps_box)
        cl.addWidget(split, 1)

        # uniformity
        self.kind_combo = QComboBox()
        self.kind_combo.addItem("", PHANTOM)
        self.kind_combo.addItem("", PATIENT)
        self.kind_combo.currentIndexChanged.connect(lambda _i: self._fill_subjects())
        self.subject_combo = QComboBox()
        self.subject_combo.currentIndexChanged.connect(lambda _i: self.show_uniformity())
        self.kind_label = QLabel()
        self.subject_label = QLabel()
        self.uniformity_model = UniformityTableModel(parent=self)
        self.uniformity_view = self._table(self.uniformity_model)
        self.uniformity_plot = pg.PlotWidget()
        self.spread_label = QLabel()
        self.spread_label.setWordWrap(True)
        uni_page = QWidget()
        ul = QVBoxLayout(uni_page)
        pick = QHBoxLayout()
        pick.addWidget(self.kind_label)
        pick.addWidget(self.kind_combo)
        pick.addWidget(self.subject_label)
        pick.addWidget(self.subject_combo, 1)
        ul.addLayout(pick)
        usplit = QSplitter(Qt.Orientation.Horizontal)
        usplit.addWidget(self.uniformity_view)
        usplit.addWidget(self.uniformity_plot)
        ul.addWidget(usplit, 1)
        ul.addWidget(self.spread_label)

        self.tabs.addTab(scanners_page, "")
        self.tabs.addTab(cal_page, "")
        self.tabs.addTab(uni_page, "")
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status_label)

        self.retranslate()
        self._update_buttons()
        self.refresh()

    @staticmethod
    def _table(model: Any) -> QTableView:
        view = QTableView()
        view.setModel(model)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.verticalHeader().setVisible(False)
        return view

    # -- state ----------------------------------------------------------------------------
    def busy(self) -> bool:
        """Return whether a service call started here is still running."""
        self._tasks = [t for t in self._tasks if not t.finished]
        return bool(self._tasks)

    def _run(
        self,
        work: Callable[[Any], Any],
        on_done: Callable[[Any], None],
        progress_bar: QProgressBar | None = None,
    ) -> TaskHandle:
        """Run ``work(db)`` on an archive connection of its own, off the GUI thread."""
        session = self.session

        def task(progress: _Progress, cancel: CancelToken) -> Any:
            db = _open(session)
            try:
                return work(db)
            finally:
                db.close()

        handle = run_task(task, on_done=on_done, on_error=self._failed, progress_bar=progress_bar)
        self._tasks.append(handle)
        return handle

    def _failed(self, exc: BaseException, details: str) -> None:
        self.last_error = exc
        message, remedy = describe(exc)
        self._status(f"{message} {remedy}".strip())
        show_error(exc, self)
        self._update_buttons()

    def _status(self, text: str) -> None:
        self.status_label.setText(text)
        self.status_changed.emit(text)

    def selected_step(self) -> Step | None:
        """Return the step selected in the steps table, or None."""
        rows = self.step_view.selectionModel().selectedRows()
        return self.step_model.row_at(rows[0].row()) if rows else None

    def _update_buttons(self) -> None:
        step = self.selected_step()
        self.approve_button.setEnabled(step is not None and step.status == "proposed")
        self.retire_button.setEnabled(step is not None and step.status != "retired")
        has_reference = self.data is not None and self.data.reference is not None
        self.reference_combo.setEnabled(not has_reference)
        self.fit_button.setEnabled(self.reference_combo.count() > 0)

    # -- texts ----------------------------------------------------------------------------
    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.tabs.setTabText(0, _("Scanners"))
        self.tabs.setTabText(1, _("Calibration"))
        self.tabs.setTabText(2, _("Uniformity"))
        self.legend_label.setText(
            " ".join(
                f'<span style="color:{QC_COLOURS[key]}">&#9632;</span> {label}'
                for key, label in (
                    ("ok", _("OK")),
                    ("warning", _("Warning")),
                    ("reject", _("Reject")),
                    ("no baseline", _("No baseline")),
                )
            )
        )
        self.reference_label.setText(_("National reference scanner:"))
        self.fit_button.setText(_("Fit"))
        self.fit_label.setText(_("Fit:"))
        self.plot_tabs.setTabText(0, _("Measured vs reference"))
        self.plot_tabs.setTabText(1, _("Residuals"))
        self.plot_tabs.setTabText(2, _("Bland-Altman"))
        self.steps_box.setTitle(_("Calibration steps"))
        self.approve_button.setText(_("Approve"))
        self.retire_button.setText(_("Retire"))
        self.kind_label.setText(_("Show:"))
        self.kind_combo.setItemText(0, _("A phantom"))
        self.kind_combo.setItemText(1, _("A patient (in vivo)"))
        self.subject_label.setText(_("Measured on several scanners:"))
        for model in (self.scanner_model, self.step_model, self.uniformity_model):
            model.retranslate()
        self._plot_fit()
        self._plot_uniformity()

    # -- loading --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload scanners, steps, fits and uniformity subjects from the archive."""
        self._run(load_centre_data, self._loaded)

    def _loaded(self, data: CentreData) -> None:
        self.data = data
        self.scanner_model.set_rows(data.scanners)
        selected = self.selected_step()
        self.step_model.set_rows(data.steps)
        if selected is not None:
            for row, step in enumerate(data.steps):
                if step.id == selected.id:
                    self.step_view.selectRow(row)
        current_ref = self.reference_combo.currentData()
        self.reference_combo.blockSignals(True)
        self.reference_combo.clear()
        for s in data.scanners:
            self.reference_combo.addItem(f"{s.serial} ({s.site}, {s.scanner})", s.serial)
        wanted = data.reference or current_ref
        index = self.reference_combo.findData(wanted) if wanted else -1
        self.reference_combo.setCurrentIndex(max(index, 0))
        self.reference_combo.blockSignals(False)
        current_fit = self.fit_combo.currentIndex()
        self.fit_combo.blockSignals(True)
        self.fit_combo.clear()
        for f in data.fits:
            self.fit_combo.addItem(self._fit_title(f), f.step_id)
        self.fit_combo.setCurrentIndex(min(max(current_fit, 0), self.fit_combo.count() - 1))
        self.fit_combo.blockSignals(False)
        self._plot_fit()
        self._fill_subjects()
        self._update_buttons()
        self._status(
            _("{scanners} scanners, {steps} calibration steps ({proposed} proposed).").format(
                scanners=len(data.scanners),
                steps=len(data.steps),
                proposed=sum(s.status == "proposed" for s in data.steps),
            )
        )

    @staticmethod
    def _fit_title(f: FitView) -> str:
        if f.kind == "travelling":
            return _("Phantom {serial}: {dataset}").format(serial=f.serial, dataset=f.dataset)
        return _("In vivo {serial}, {group}: {dataset}").format(
            serial=f.serial, group=f.group, dataset=f.dataset
        )

    # -- calibration ----------------------------------------------------------------------
    def fit(self) -> None:
        """Fit the QC drift, the travelling round and the in-vivo sets; propose the steps."""
        reference = None
        if self.data is None or self.data.reference is None:
            reference = self.reference_combo.currentData()
        user, bootstrap = self.session.username, self.fit_bootstrap

        def work(db: Any) -> Any:
            from dxa_app.services.calibration import calibrate

            return calibrate(
                db,
                reference=None if reference is None else str(reference),
                by=user,
                bootstrap=bootstrap,
            )

        def done(run: Any) -> None:
            proposed = sum(f.step_id is not None for f in run.fits) + sum(
                d["proposed_step"] is not None for d in run.drift
            )
            self._status(
                _("Fitted {n} data sets; {p} new steps proposed.").format(
                    n=len(run.fits), p=proposed
                )
            )
            self.refresh()

        self.fit_button.setEnabled(False)
        self._status(_("Fitting…"))
        self._run(work, done, progress_bar=self.fit_progress)

    def current_fit(self) -> FitView | None:
        """Return the fit chosen in the combo box, or None."""
        if self.data is None:
            return None
        step_id = self.fit_combo.currentData()
        return next((f for f in self.data.fits if f.step_id == step_id), None)

    def _plot_fit(self) -> None:
        for plot in (self.scatter_plot, self.residual_plot, self.ba_plot):
            plot.clear()
        f = self.current_fit()
        if f is None:
            self.fit_info.setText(_("No fits yet: press Fit."))
            return
        pen = pg.mkPen("#1565c0", width=2)
        points = {"pen": None, "symbol": "o", "symbolSize": 6, "symbolBrush": "#424242"}
        lo, hi = min(f.x), max(f.x)
        if f.kind == "travelling":
            x_label, y_label = _("Certified BMD (g/cm²)"), _("Measured BMD (g/cm²)")
        else:
            x_label = _("BMD on {serial} (g/cm²)").format(serial=f.serial)
            y_label = _("BMD on the reference scanner (g/cm²)")
        self.scatter_plot.plot(list(f.x), list(f.y), **points)
        self.scatter_plot.plot(
            [lo, hi], [f.intercept + f.slope * lo, f.intercept + f.slope * hi], pen=pen
        )
        self.scatter_plot.plot(
            [lo, hi], [lo, hi], pen=pg.mkPen("#9e9e9e", style=Qt.PenStyle.DashLine)
        )
        self.scatter_plot.setLabel("bottom", x_label)
        self.scatter_plot.setLabel("left", y_label)
        self.residual_plot.plot(list(f.x), list(f.residuals), **points)
        self.residual_plot.addLine(y=0, pen=pen)
        self.residual_plot.setLabel("bottom", x_label)
        self.residual_plot.setLabel("left", _("Residual (g/cm²)"))
        info = _(
            "{model}: intercept {a:.4f}, slope {b:.4f}, n = {n}, step {id} ({status})."
        ).format(
            model=_("Phantom fit") if f.kind == "travelling" else _("Deming fit"),
            a=f.intercept,
            b=f.slope,
            n=len(f.x),
            id=f.step_id,
            status=f.step_status,
        )
        ba = f.bland_altman
        if f.kind == "in-vivo" and f.x:
            self.ba_plot.plot(list(f.means), list(f.differences), **points)
            for key, style in (
                ("bias", Qt.PenStyle.SolidLine),
                ("lower", Qt.PenStyle.DashLine),
                ("upper", Qt.PenStyle.DashLine),
            ):
                if key in ba:
                    self.ba_plot.addLine(y=ba[key], pen=pg.mkPen("#c62828", style=style))
            self.ba_plot.setLabel("bottom", _("Mean of the two scanners (g/cm²)"))
            self.ba_plot.setLabel("left", _("Reference − this scanner (g/cm²)"))
            if {"bias", "lower", "upper"} <= set(ba):
                info += " " + _("Bland-Altman bias {bias:+.4f} ({lo:+.4f} to {hi:+.4f}).").format(
                    bias=ba["bias"], lo=ba["lower"], hi=ba["upper"]
                )
        self.plot_tabs.setTabEnabled(2, f.kind == "in-vivo")
        self.fit_info.setText(info)

    def approve_selected(self) -> None:
        """Approve the selected step (the service checks the role)."""
        step = self.selected_step()
        if step is not None:
            self.approve(step.id)

    def retire_selected(self) -> None:
        """Retire the selected step (the service checks the role)."""
        step = self.selected_step()
        if step is not None:
            self.retire(step.id)

    def approve(self, step_id: int) -> None:
        """Approve a proposed step as the session's user and role."""
        self._step_action(step_id, approve=True)

    def retire(self, step_id: int) -> None:
        """Retire a step as the session's user and role."""
        self._step_action(step_id, approve=False)

    def _step_action(self, step_id: int, *, approve: bool) -> None:
        user, role = self.session.username, self.session.role

        def work(db: Any) -> Step:
            from dxa_app.services.calibration import approve_step, retire_step

            action = approve_step if approve else retire_step
            return action(db, step_id, user=user, role=role)

        def done(step: Step) -> None:
            text = (_("Step {id} approved.") if approve else _("Step {id} retired.")).format(
                id=step.id
            )
            self._status(text)
            self.refresh()
            if self.uniformity is not None:
                self.show_uniformity()

        self._run(work, done)

    # -- uniformity -----------------------------------------------------------------------
    def _fill_subjects(self) -> None:
        subjects: Sequence[Subject] = ()
        if self.data is not None:
            kind = self.kind_combo.currentData()
            subjects = self.data.phantoms if kind == PHANTOM else self.data.patients
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
        """Return the phantom or patient chosen for the uniformity view, or None."""
        data = self.subject_combo.currentData()
        if self.data is None or data is None:
            return None
        kind, subject_id = data
        pool = self.data.phantoms if kind == PHANTOM else self.data.patients
        return next((s for s in pool if s.id == subject_id), None)

    def show_uniformity(self) -> None:
        """Load the chosen subject's values on every scanner, raw and harmonised."""
        subject = self.current_subject()
        if subject is None:
            self.uniformity = None
            self.uniformity_model.set_rows([])
            self._plot_uniformity()
            return

        def work(db: Any) -> Uniformity:
            from dxa_app.services.uniformity import uniformity

            return uniformity(db, subject)

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

        self._run(work, done)

    def _plot_uniformity(self) -> None:
        plot = self.uniformity_plot
        plot.clear()
        result = self.uniformity
        if result is None or not result.rows:
            self.spread_label.setText("")
            return
        plot.addLegend()
        serials = result.scanners()
        axis = plot.getAxis("bottom")
        axis.setTicks([list(enumerate(serials))])
        plot.setLabel("left", _("BMD (g/cm²)"))
        lines = []
        for i, key in enumerate(result.regions()):
            colour = _REGION_COLOURS[i % len(_REGION_COLOURS)]
            rows = [r for r in result.rows if r.region_key == key]
            xs = [serials.index(r.serial) - 0.1 for r in rows]
            plot.plot(
                xs,
                [r.raw for r in rows],
                pen=None,
                symbol="o",
                symbolSize=9,
                symbolPen=colour,
                symbolBrush=None,
                name=_("{region} raw").format(region=key),
            )
            plot.plot(
                [x + 0.2 for x in xs],
                [r.harmonised for r in rows],
                pen=None,
                symbol="s",
                symbolSize=9,
                symbolPen=colour,
                symbolBrush=colour,
                name=_("{region} harmonised").format(region=key),
            )
            certified = rows[0].certified if rows else None
            if certified is not None:
                plot.addLine(y=certified, pen=pg.mkPen(colour, style=Qt.PenStyle.DotLine))
            lines.append(
                _("{region}: spread raw {raw:.3f}, harmonised {harmonised:.3f} g/cm²").format(
                    region=key,
                    raw=result.spread(key, harmonised=False),
                    harmonised=result.spread(key, harmonised=True),
                )
            )
        self.spread_label.setText("; ".join(lines) + ".")
