"""The centre's Calibration tab: fit, look at each fit's plots, approve or retire the steps."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dxa_app.domain import scanner_label
from dxa_app.errors import DxaError
from dxa_app.gui.centre_models import StepTableModel
from dxa_app.gui.charts import Chart, line_style, point_style
from dxa_app.gui.common import read_only_table
from dxa_app.gui.decision import DecisionDialog
from dxa_app.gui.labels import dataset_text, localised, region_text, step_status_text
from dxa_app.gui.workspace import ProgressFn, Workspace
from dxa_app.i18n import _
from dxa_app.progress import CancelToken
from dxa_app.services.auth import Permission, Session
from dxa_app.services.calibration import (
    CalibrationRun,
    Step,
    approve_steps,
    calibrate,
    list_steps,
    preview_decision,
    reference_serial,
    retire_steps,
)
from dxa_app.services.calibration_views import FitView, fit_views
from dxa_app.services.impact import ChangePreview
from dxa_app.services.workbench import ScannerChoice, scanner_choices

#: Colours of the fit plots: measurements, the fitted line, the identity line, the limits.
_POINTS = "#424242"
_FIT = "#1565c0"
_IDENTITY = "#9e9e9e"
_LIMITS = "#c62828"


@dataclass(frozen=True)
class FitsData:
    """What the tab lists, loaded in one worker call."""

    scanners: list[ScannerChoice]
    steps: list[Step]
    fits: list[FitView]
    reference: str | None


def fit_title(f: FitView) -> str:
    """Return the name of a fit in the fit chooser."""
    if f.kind == "travelling":
        return _("Phantom {serial}: {dataset}").format(
            serial=f.serial, dataset=dataset_text(f.dataset)
        )
    return _("In vivo {serial}, {group}: {dataset}").format(
        serial=f.serial, group=region_text(f.group), dataset=dataset_text(f.dataset)
    )


class FitsTab(Workspace):
    """Fit the QC drift, the travelling round and the in-vivo sets; decide on the steps.

    Fitting needs the calibrate permission, approving and retiring the approve permission
    (the calibration service checks both and writes the audit log).

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    #: Emitted after a fit, an approval or a retirement changed the calibration.
    calibration_changed = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        #: Deming bootstrap resamples of a fit (tests lower it).
        self.fit_bootstrap = 2000
        self.data: FitsData | None = None
        #: The open approve/retire dialog (what would change, reason, password).
        self.decision_dialog: DecisionDialog | None = None

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
        self.scatter_plot = Chart()
        self.residual_plot = Chart()
        self.ba_plot = Chart()
        self.plot_tabs = QTabWidget()
        self.plot_tabs.addTab(self.scatter_plot, "")
        self.plot_tabs.addTab(self.residual_plot, "")
        self.plot_tabs.addTab(self.ba_plot, "")
        self.step_model = StepTableModel(parent=self)
        self.step_view = read_only_table(self.step_model)
        self.step_view.setObjectName("stepTable")
        self.step_view.selectionModel().selectionChanged.connect(lambda *_a: self.update_actions())
        self.approve_button = QPushButton()
        self.approve_button.clicked.connect(self.approve_selected)
        self.retire_button = QPushButton()
        self.retire_button.clicked.connect(self.retire_selected)
        self.steps_box = QGroupBox()

        layout = QVBoxLayout(self)
        fit_row = QHBoxLayout()
        fit_row.addWidget(self.reference_label)
        fit_row.addWidget(self.reference_combo)
        fit_row.addWidget(self.fit_button)
        fit_row.addWidget(self.fit_progress, 1)
        layout.addLayout(fit_row)
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
        layout.addWidget(split, 1)
        self.retranslate()
        self.update_actions()

    def selected_step(self) -> Step | None:
        """Return the step selected in the steps table, or None."""
        rows = self.step_view.selectionModel().selectedRows()
        return self.step_model.row_at(rows[0].row()) if rows else None

    def update_actions(self) -> None:
        """Offer fitting, approving and retiring as the role and the selection allow."""
        step = self.selected_step()
        may_approve = self.session.may(Permission.APPROVE)
        self.approve_button.setEnabled(
            may_approve and step is not None and step.status == "proposed"
        )
        self.retire_button.setEnabled(may_approve and step is not None and step.status != "retired")
        has_reference = self.data is not None and self.data.reference is not None
        self.reference_combo.setEnabled(not has_reference)
        self.fit_button.setEnabled(
            self.session.may(Permission.CALIBRATE)
            and self.reference_combo.count() > 0
            and not self.busy()
        )

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.reference_label.setText(_("National reference scanner:"))
        self.fit_button.setText(_("Fit"))
        self.fit_label.setText(_("Fit:"))
        self.plot_tabs.setTabText(0, _("Measured vs reference"))
        self.plot_tabs.setTabText(1, _("Residuals"))
        self.plot_tabs.setTabText(2, _("Bland-Altman"))
        self.steps_box.setTitle(_("Calibration steps"))
        self.approve_button.setText(_("Approve"))
        self.retire_button.setText(_("Retire"))
        self.step_model.retranslate()
        self._plot_fit()

    # -- loading --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the scanners, the steps, the fits and the national reference."""
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> FitsData:
            return FitsData(
                scanner_choices(session),
                list_steps(session),
                fit_views(session),
                reference_serial(session),
            )

        self.run(work, self._loaded)

    def _loaded(self, data: FitsData) -> None:
        self.data = data
        selected = self.selected_step()
        self.step_model.set_rows(data.steps)
        if selected is not None:
            row = self.step_model.find_row(lambda s: s.id == selected.id)
            if row is not None:
                self.step_view.selectRow(row)
        current_ref = self.reference_combo.currentData()
        self.reference_combo.blockSignals(True)
        self.reference_combo.clear()
        for s in data.scanners:
            scanner = scanner_label(s.manufacturer, s.model)
            self.reference_combo.addItem(f"{s.serial} ({s.site}, {scanner})", s.serial)
        wanted = data.reference or current_ref
        index = self.reference_combo.findData(wanted) if wanted else -1
        self.reference_combo.setCurrentIndex(max(index, 0))
        self.reference_combo.blockSignals(False)
        current_fit = self.fit_combo.currentIndex()
        self.fit_combo.blockSignals(True)
        self.fit_combo.clear()
        for f in data.fits:
            self.fit_combo.addItem(fit_title(f), f.step_id)
        self.fit_combo.setCurrentIndex(min(max(current_fit, 0), self.fit_combo.count() - 1))
        self.fit_combo.blockSignals(False)
        self._plot_fit()
        self.update_actions()
        self.set_status(
            _("{scanners} scanners, {steps} calibration steps ({proposed} proposed).").format(
                scanners=len(data.scanners),
                steps=len(data.steps),
                proposed=sum(s.status == "proposed" for s in data.steps),
            )
        )

    # -- fitting --------------------------------------------------------------------------
    def fit(self) -> None:
        """Fit the QC drift, the travelling round and the in-vivo sets; propose the steps."""
        reference = None
        if self.data is None or self.data.reference is None:
            chosen = self.reference_combo.currentData()
            reference = None if chosen is None else str(chosen)
        session, bootstrap = self.session, self.fit_bootstrap

        def work(_progress: ProgressFn, _cancel: CancelToken) -> CalibrationRun:
            return calibrate(session, reference=reference, bootstrap=bootstrap)

        def done(run: CalibrationRun) -> None:
            proposed = sum(f.step_id is not None for f in run.fits) + sum(
                d["proposed_step"] is not None for d in run.drift
            )
            self.set_status(
                _("Fitted {n} data sets; {p} new steps proposed.").format(
                    n=len(run.fits), p=proposed
                )
            )
            self.refresh()
            self.calibration_changed.emit()

        self.set_status(_("Fitting…"))
        self.run(work, done, progress_bar=self.fit_progress)
        self.update_actions()

    def current_fit(self) -> FitView | None:
        """Return the fit chosen in the combo box, or None."""
        if self.data is None:
            return None
        step_id = self.fit_combo.currentData()
        return next((f for f in self.data.fits if f.step_id == step_id), None)

    def _plot_fit(self) -> None:
        f = self.current_fit()
        if f is None:
            self.fit_info.setText(_("No fits yet: press Fit."))
            for plot in (self.scatter_plot, self.residual_plot, self.ba_plot):
                plot.show_empty(_("No fits yet: press Fit."))
            return
        for plot in (self.scatter_plot, self.residual_plot, self.ba_plot):
            plot.clear_chart()
        fit_line = line_style(_FIT)
        identity = line_style(_IDENTITY, dashed=True, width=1)
        points = point_style(_POINTS)
        lo, hi = min(f.x), max(f.x)
        if f.kind == "travelling":
            x_label, y_label = _("Certified BMD (g/cm²)"), _("Measured BMD (g/cm²)")
            point_name = _("Phantom measurement")
        else:
            x_label = _("BMD on {serial} (g/cm²)").format(serial=f.serial)
            y_label = _("BMD on the reference scanner (g/cm²)")
            point_name = _("Patient scanned on both")
        scatter = self.scatter_plot
        scatter.add_legend(scatter.plot(list(f.x), list(f.y), **points), point_name)
        scatter.add_legend(
            scatter.plot(
                [lo, hi], [f.intercept + f.slope * lo, f.intercept + f.slope * hi], **fit_line
            ),
            _("Fitted line"),
        )
        scatter.add_legend(scatter.plot([lo, hi], [lo, hi], **identity), _("Line of identity"))
        scatter.set_titles(x_label, y_label)
        residual = self.residual_plot
        residual.add_legend(residual.plot(list(f.x), list(f.residuals), **points), _("Residual"))
        residual.addLine(y=0, pen=fit_line["pen"])
        residual.add_legend_line(_("Zero (on the fitted line)"), **fit_line)
        residual.set_titles(x_label, _("Residual (g/cm²)"))
        info = localised(
            _("{model}: intercept {a:.4f}, slope {b:.4f}, n = {n}, step {id} ({status})."),
            model=_("Phantom fit") if f.kind == "travelling" else _("Deming fit"),
            a=f.intercept,
            b=f.slope,
            n=len(f.x),
            id=f.step_id,
            status=step_status_text(f.step_status).lower(),
        )
        ba = f.bland_altman
        if f.kind == "in-vivo" and f.x:
            plot = self.ba_plot
            plot.add_legend(plot.plot(list(f.means), list(f.differences), **points), point_name)
            for key, dashed, name in (
                ("bias", False, _("Mean difference (bias)")),
                ("lower", True, _("Limits of agreement (95 %)")),
                ("upper", True, ""),
            ):
                if key in ba:
                    style = line_style(_LIMITS, dashed=dashed, width=1.5)
                    plot.addLine(y=ba[key], pen=style["pen"])
                    if name:
                        plot.add_legend_line(name, **style)
            plot.set_titles(
                _("Mean of the two scanners (g/cm²)"), _("Reference − this scanner (g/cm²)")
            )
            if {"bias", "lower", "upper"} <= set(ba):
                info += " " + localised(
                    _("Bland-Altman bias {bias:+.4f} ({lo:+.4f} to {hi:+.4f})."),
                    bias=ba["bias"],
                    lo=ba["lower"],
                    hi=ba["upper"],
                )
        else:
            self.ba_plot.show_empty(_("Bland-Altman is drawn for in-vivo fits only."))
        self.plot_tabs.setTabEnabled(2, f.kind == "in-vivo")
        self.fit_info.setText(info)

    # -- steps ----------------------------------------------------------------------------
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
        """Approve a proposed step as the session's user (audited by the service)."""
        self._decide(step_id, approve=True)

    def retire(self, step_id: int) -> None:
        """Retire a step as the session's user (audited by the service)."""
        self._decide(step_id, approve=False)

    def _decide(self, step_id: int, *, approve: bool) -> None:
        """Ask twice: show what would change, then the reason and the password."""
        session = self.session

        def preview(_progress: ProgressFn, _cancel: CancelToken) -> ChangePreview:
            return preview_decision(session, [step_id], approve=approve)

        step = next((s for s in self.step_model.rows() if s.id == step_id), None)
        review = step.needs_review if step is not None else ""

        def ask(impact: ChangePreview) -> None:
            dialog = DecisionDialog.for_step(step_id, approve, impact, self, review)
            dialog.submitted.connect(
                lambda password: self._decide_confirmed(
                    step_id, approve=approve, password=password, dialog=dialog
                )
            )
            self.decision_dialog = dialog
            dialog.open()

        self.run(preview, ask)

    def _decide_confirmed(
        self, step_id: int, *, approve: bool, password: str, dialog: DecisionDialog
    ) -> None:
        session, reason, reviewed = self.session, dialog.reason(), dialog.reviewed()

        def work(_progress: ProgressFn, _cancel: CancelToken) -> list[Step]:
            if approve:
                return approve_steps(
                    session, [step_id], password=password, reason=reason, reviewed=reviewed
                )
            return retire_steps(session, [step_id], password=password, reason=reason)

        def done(steps: list[Step]) -> None:
            dialog.accept()
            text = _("Step {id} approved.") if approve else _("Step {id} retired.")
            self.set_status(text.format(id=steps[0].id))
            self.refresh()
            self.calibration_changed.emit()

        def refused(exc: BaseException) -> None:
            message = exc.message if isinstance(exc, DxaError) else str(exc)
            dialog.show_problem(message)

        self.run(work, done, on_error=refused)
