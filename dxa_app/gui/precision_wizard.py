"""Precision-study wizard: scanner, region, technologist; the repeated scans; RMS-SD, %CV, LSC."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from dxa_app.errors import DxaError
from dxa_app.gui.labels import localised, region_text
from dxa_app.gui.technician_models import PrecisionGridModel
from dxa_app.gui.workspace import Workspace
from dxa_app.i18n import _
from dxa_app.services import precision
from dxa_app.services.precision import PrecisionResult, record_precision
from dxa_app.services.workbench import ScannerChoice, scanner_choices


class SetupPage(QWizardPage):
    """Page 1: which scanner, which region, which technologist."""

    def __init__(
        self, scanners: Sequence[ScannerChoice], technologist: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.scanner_combo = QComboBox()
        self.region_combo = QComboBox()
        self.technologist_edit = QLineEdit(technologist)
        for s in scanners:
            self.scanner_combo.addItem(
                f"{s.site} {s.serial} ({s.manufacturer} {s.model})", s.serial
            )
        for region in precision.precision_regions():
            self.region_combo.addItem(region, region)
        form = QFormLayout(self)
        self.scanner_label = QLabel()
        self.region_label = QLabel()
        self.technologist_label = QLabel()
        form.addRow(self.scanner_label, self.scanner_combo)
        form.addRow(self.region_label, self.region_combo)
        form.addRow(self.technologist_label, self.technologist_edit)
        self.technologist_edit.textChanged.connect(self.completeChanged)
        self.retranslate()

    def retranslate(self) -> None:
        """Re-set the texts in the current language."""
        self.setTitle(_("Precision study"))
        self.setSubTitle(_("Choose the scanner, the region and the technologist who scanned."))
        self.scanner_label.setText(_("Scanner"))
        self.region_label.setText(_("Region"))
        self.technologist_label.setText(_("Technologist"))

    def isComplete(self) -> bool:
        """A scanner, a region and a technologist are needed."""
        return (
            self.scanner_combo.count() > 0
            and self.region_combo.count() > 0
            and bool(self.technologist_edit.text().strip())
        )


class DataPage(QWizardPage):
    """Page 2: the subjects and their repeated BMD values (typed, or pasted as CSV)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.measurements: dict[str, list[float]] = {}
        self.design_combo = QComboBox()
        for name in precision.PRECISION_DESIGNS:
            self.design_combo.addItem(name, name)
        self.design_combo.currentIndexChanged.connect(self._on_design)
        self.grid_model = PrecisionGridModel(15, 3, parent=self)
        self.grid_view = QTableView()
        self.grid_view.setObjectName("precisionGrid")
        self.grid_view.setModel(self.grid_model)
        self.paste_edit = QPlainTextEdit()
        self.paste_edit.setMaximumHeight(90)
        self.paste_button = QPushButton()
        self.paste_button.clicked.connect(self.use_pasted_text)
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #c62828")
        self.error_label.setWordWrap(True)
        self.design_label = QLabel()
        self.paste_label = QLabel()
        top = QHBoxLayout()
        top.addWidget(self.design_label)
        top.addWidget(self.design_combo)
        top.addStretch(1)
        paste = QHBoxLayout()
        paste.addWidget(self.paste_edit, 1)
        paste.addWidget(self.paste_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.grid_view, 1)
        layout.addWidget(self.paste_label)
        layout.addLayout(paste)
        layout.addWidget(self.error_label)
        self.setCommitPage(True)  # the result page stores the study: no way back
        self.retranslate()

    def retranslate(self) -> None:
        """Re-set the texts in the current language."""
        self.setTitle(_("Repeated measurements"))
        self.setSubTitle(
            _("Enter each subject's repeated BMD values (g/cm²): 15 subjects × 3 scans or 30 × 2.")
        )
        self.design_label.setText(_("Design"))
        self.paste_label.setText(
            _("Or paste CSV (subject,value,value,... or subject,bmd_g_cm2 per scan):")
        )
        self.paste_button.setText(_("Use pasted text"))

    def _on_design(self) -> None:
        rows, scans = precision.PRECISION_DESIGNS[str(self.design_combo.currentData())]
        self.grid_model.reshape(rows, scans)

    def use_pasted_text(self) -> None:
        """Fill the grid from the pasted text (or say on the page why it cannot)."""
        try:
            rows = precision.rows_from_text(self.paste_edit.toPlainText())
        except DxaError as exc:
            self.error_label.setText(f"{exc.message} {exc.remedy}".strip())
            return
        if rows:
            self.grid_model.set_rows(rows)
            self.error_label.setText("")

    def validatePage(self) -> bool:
        """Check the table; show the problem on the page when it is not usable."""
        try:
            self.measurements = precision.measurements_from_rows(self.grid_model.rows())
        except DxaError as exc:
            self.error_label.setText(f"{exc.message} {exc.remedy}".strip())
            return False
        self.error_label.setText("")
        return True


class ResultPage(QWizardPage):
    """Page 3: the stored study's RMS-SD, %CV, degrees of freedom, LSC and the ISCD verdict."""

    def __init__(self, wizard: PrecisionWizard) -> None:
        super().__init__(wizard)
        self._wizard = wizard
        self.result_label = QLabel()
        self.result_label.setObjectName("precisionResult")
        self.result_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.result_label)
        layout.addStretch(1)
        self.setFinalPage(True)
        self.retranslate()

    def retranslate(self) -> None:
        """Re-set the texts in the current language."""
        self.setTitle(_("Result"))
        self.show_result()

    def initializePage(self) -> None:
        """Compute and store the study when the page is entered."""
        self._wizard.record()
        self.show_result()

    def show_result(self) -> None:
        """Show the figures of the stored study (or why there are none)."""
        r = self._wizard.precision_result
        if r is None:
            self.result_label.setText(self._wizard.problem)
            return
        p = r.precision
        if r.meets_minimum is None:
            verdict = _("No ISCD minimum is known for {region}.").format(
                region=region_text(r.region)
            )
        elif r.meets_minimum:
            verdict = _("Meets the ISCD minimum (%CV ≤ {minimum} %).").format(
                minimum=r.minimum_cv_pct
            )
        else:
            verdict = _(
                "Does NOT meet the ISCD minimum (%CV ≤ {minimum} %): retrain and repeat the study."
            ).format(minimum=r.minimum_cv_pct)
        design = precision.design_of(self._wizard.measurements())
        lines = [
            _("Scanner {serial}, region {region}, technologist {tech}.").format(
                serial=r.serial, region=region_text(r.region), tech=r.technologist
            ),
            _("{subjects} subjects, {scans} scans, design {design}.").format(
                subjects=p.n_subjects, scans=p.n_scans, design=design or p.design
            ),
            localised(_("RMS-SD: {sd:.4f} g/cm²"), sd=p.rms_sd),
            localised(_("%CV: {cv:.2f} %"), cv=p.rms_cv_pct),
            _("Degrees of freedom: {df}").format(df=p.df),
            localised(_("LSC (95 %): {lsc:.3f} g/cm² ({pct:.1f} %)"), lsc=p.lsc, pct=p.lsc_pct),
            verdict,
        ]
        if design is None:
            lines.append(_("Not a standard design (15×3 or 30×2): fewer than 30 df is weak."))
        self.result_label.setText("<br>".join(lines))


class PrecisionWizard(QWizard):
    """The precision-study wizard; shown with ``show()`` (non-modal), never blocking a test.

    Parameters
    ----------
    owner : Workspace
        The workspace that opens it; the study is stored and audited with its session's
        user, and a failure to list the scanners is reported there.
    """

    def __init__(self, owner: Workspace) -> None:
        super().__init__(owner)
        self.session = owner.session
        self.precision_result: PrecisionResult | None = None
        self.problem = ""
        scanners = owner.call(scanner_choices) or []
        self.setup_page = SetupPage(scanners, self.session.display_name)
        self.data_page = DataPage()
        self.result_page = ResultPage(self)
        self.addPage(self.setup_page)
        self.addPage(self.data_page)
        self.addPage(self.result_page)
        self.setWindowTitle(_("Precision study"))
        self.resize(720, 620)

    def retranslate(self) -> None:
        """Re-set the texts in the current language."""
        self.setWindowTitle(_("Precision study"))
        self.setup_page.retranslate()
        self.data_page.retranslate()
        self.result_page.retranslate()

    def measurements(self) -> dict[str, list[float]]:
        """Return the checked measurements of the data page."""
        return self.data_page.measurements

    def record(self) -> PrecisionResult | None:
        """Compute and store the precision study (once); return it, None on a problem."""
        if self.precision_result is not None:
            return self.precision_result
        try:
            self.precision_result = record_precision(
                self.session,
                scanner=str(self.setup_page.scanner_combo.currentData()),
                region=str(self.setup_page.region_combo.currentData()),
                measurements=self.measurements(),
                technologist=self.setup_page.technologist_edit.text().strip(),
            )
        except (DxaError, ValueError) as exc:
            self.problem = str(exc) if not isinstance(exc, DxaError) else exc.message
            return None
        self.problem = ""
        return self.precision_result
