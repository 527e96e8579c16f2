"""The technician workspace: import, today's QC, study view, VFA entry, precision study."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dxa_app.gui.common import EmptyHint, read_only_table
from dxa_app.gui.precision_wizard import PrecisionWizard
from dxa_app.gui.qc_panel import QcPanel
from dxa_app.gui.risk_panel import RiskPanel
from dxa_app.gui.study_panel import StudyPanel
from dxa_app.gui.tasks import TaskHandle
from dxa_app.gui.technician_models import ImportResultModel, import_status_label
from dxa_app.gui.vfa_panel import VfaPanel
from dxa_app.gui.workspace import ProgressFn, Workspace
from dxa_app.i18n import _
from dxa_app.progress import CancelToken
from dxa_app.services.auth import Permission, Session
from dxa_app.services.importing import ImportSummary, import_paths


class ImportPanel(Workspace):
    """Import files and folders (drop them here or pick a folder) with progress and cancel.

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    #: Emitted with the summary after an import finished (not after a cancel).
    finished = Signal(object)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.summary: ImportSummary | None = None
        self.setAcceptDrops(True)
        self.drop_label = QLabel()
        self.drop_label.setObjectName("dropArea")
        self.drop_label.setMinimumHeight(60)
        self.drop_label.setStyleSheet(
            "QLabel#dropArea { border: 2px dashed #90a4ae; padding: 12px; color: #455a64; }"
        )
        self.folder_button = QPushButton()
        self.folder_button.clicked.connect(self.choose_folder)
        self.files_button = QPushButton()
        self.files_button.clicked.connect(self.choose_files)
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.cancel_button = QPushButton()
        self.cancel_button.setEnabled(False)
        self.counts_label = QLabel()
        self.counts_label.setObjectName("importCounts")
        self.result_model = ImportResultModel(parent=self)
        self.result_view = read_only_table(self.result_model)
        self.result_view.setObjectName("importResults")
        self.result_view.setSortingEnabled(False)
        self.result_hint = EmptyHint(self.result_view)

        buttons = QHBoxLayout()
        buttons.addWidget(self.folder_button)
        buttons.addWidget(self.files_button)
        buttons.addStretch(1)
        buttons.addWidget(self.progress_bar, 2)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.drop_label)
        layout.addLayout(buttons)
        layout.addWidget(self.counts_label)
        layout.addWidget(self.result_view, 1)
        self.retranslate()
        self.update_actions()

    def retranslate(self) -> None:
        """Re-set the texts in the current language."""
        self.drop_label.setText(
            _("Drop DXA export files or folders here to import them into the archive.")
        )
        self.folder_button.setText(_("Import folder..."))
        self.files_button.setText(_("Import files..."))
        self.cancel_button.setText(_("Cancel"))
        self.result_hint.set_text(
            _("After an import, each file and what became of it is listed here.")
        )
        self.result_model.retranslate()
        self._show_counts()

    @property
    def running(self) -> bool:
        """Whether an import is running."""
        return self.handle is not None and not self.handle.finished

    def update_actions(self) -> None:
        """Offer the import buttons when the role may import and no import is running."""
        allowed = self.session.may(Permission.IMPORT) and not self.running
        self.folder_button.setEnabled(allowed)
        self.files_button.setEnabled(allowed)

    def choose_folder(self) -> None:
        """Ask for a folder and import it."""
        folder = QFileDialog.getExistingDirectory(self, _("Import folder"))
        if folder:
            self.start_import([Path(folder)])

    def choose_files(self) -> None:
        """Ask for files and import them."""
        files, _selected = QFileDialog.getOpenFileNames(self, _("Import files"))
        if files:
            self.start_import([Path(f) for f in files])

    def start_import(self, paths: Sequence[Path]) -> TaskHandle | None:
        """Import ``paths`` on a worker thread; the table fills when it is done.

        Returns
        -------
        TaskHandle or None
            The running task; None when an import is already running.
        """
        if self.running or not paths:
            return None
        self.result_model.set_rows([])
        self.summary = None
        self.counts_label.setText(_("Importing {n} item(s)...").format(n=len(paths)))
        session, chosen = self.session, list(paths)

        def work(progress: ProgressFn, cancel: CancelToken) -> ImportSummary:
            def report(done: int, total: int, message: str) -> None:
                progress(done, total, message)

            return import_paths(session, chosen, progress=report, cancel=cancel)

        handle = self.run(
            work,
            self._done,
            on_error=self._failed,
            on_cancelled=self._cancelled,
            progress_bar=self.progress_bar,
            cancel_button=self.cancel_button,
        )
        self.update_actions()
        return handle

    def _done(self, summary: ImportSummary) -> None:
        self.update_actions()
        self.summary = summary
        self.result_model.set_rows(summary.outcomes)
        self.result_view.resizeColumnsToContents()
        self._show_counts()
        self.finished.emit(summary)

    def _failed(self, exc: BaseException) -> None:
        self.report_error(exc)
        self.counts_label.setText(_("The import stopped with an error."))

    def _cancelled(self) -> None:
        self.update_actions()
        self.counts_label.setText(_("Cancelled; the files imported before stay imported."))

    def _show_counts(self) -> None:
        s = self.summary
        if s is None:
            if not self.running:
                self.counts_label.setText("")
            return
        self.counts_label.setText(
            ", ".join(f"{import_status_label(key)}: {n}" for key, n in s.counts.items())
        )

    # -- drag and drop ------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept local files and folders."""
        urls = event.mimeData().urls()
        if (
            urls
            and all(u.isLocalFile() for u in urls)
            and self.session.may(Permission.IMPORT)
            and not self.running
        ):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Import the dropped files and folders."""
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.start_import(paths)


class TechnicianWorkspace(Workspace):
    """Tabs for the technician's daily work: Import, QC, Study, VFA and Precision.

    Each tab is a part of this workspace (its own service calls, errors reported here);
    what the role may not do is greyed out.

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    #: Emitted after an import changed the archive (the main window reloads its lists).
    archive_changed = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.wizard: PrecisionWizard | None = None
        self.import_panel = ImportPanel(session)
        self.qc_panel = QcPanel(session)
        self.study_panel = StudyPanel(session)
        self.vfa_panel = VfaPanel(session)
        self.risk_panel = RiskPanel(session)
        for part in (
            self.import_panel,
            self.qc_panel,
            self.study_panel,
            self.vfa_panel,
            self.risk_panel,
        ):
            self.add_part(part)
        self.precision_page = QWidget()
        self.precision_label = QLabel()
        self.precision_label.setWordWrap(True)
        self.precision_button = QPushButton()
        self.precision_button.setEnabled(session.may(Permission.PRECISION))
        self.precision_button.clicked.connect(self.start_precision_wizard)
        p_layout = QVBoxLayout(self.precision_page)
        p_layout.addWidget(self.precision_label)
        p_layout.addWidget(self.precision_button)
        p_layout.addStretch(1)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("technicianTabs")
        for page in (
            self.import_panel,
            self.qc_panel,
            self.study_panel,
            self.vfa_panel,
            self.risk_panel,
            self.precision_page,
        ):
            self.tabs.addTab(page, "")
        self.status_label = self.make_status_label()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status_label)

        self.import_panel.finished.connect(self._after_import)
        self.study_panel.vfa_requested.connect(self.enter_vfa)
        self.vfa_panel.saved.connect(lambda _id: self.archive_changed.emit())
        self.vfa_panel.saved.connect(lambda _id: self.risk_panel.load())  # the VFA indication
        self.retranslate()

    def retranslate(self) -> None:
        """Re-set the texts of every panel in the current language."""
        for i, text in enumerate(
            (
                _("Import"),
                _("Today's QC"),
                _("Study"),
                _("VFA"),
                _("Risk factors"),
                _("Precision study"),
            )
        ):
            self.tabs.setTabText(i, text)
        self.precision_label.setText(
            _(
                "A precision study: 15 subjects scanned 3 times or 30 subjects twice, with"
                " repositioning; gives the technologist's %CV and the least significant change."
            )
        )
        self.precision_button.setText(_("Start precision study..."))
        self.import_panel.retranslate()
        self.qc_panel.retranslate()
        self.study_panel.retranslate()
        self.vfa_panel.retranslate()
        self.risk_panel.retranslate()
        if self.wizard is not None:
            self.wizard.retranslate()

    def refresh(self) -> None:
        """Reload the QC list and the study picker from the archive."""
        self.qc_panel.refresh()
        self.study_panel.refresh()

    def _after_import(self, _summary: ImportSummary) -> None:
        self.refresh()
        self.archive_changed.emit()

    def show_study(self, study_id: int) -> bool:
        """Show a study in the Study tab (e.g. double-clicked in the Patients tab)."""
        if not self.study_panel.show_study(study_id):
            return False
        self.tabs.setCurrentWidget(self.study_panel)
        return True

    def enter_vfa(self, study_id: int, study_uid: str, description: str) -> None:
        """Start a VFA reading of a study in the VFA tab, with the level column focused."""
        self.vfa_panel.set_study(study_id, study_uid, description)
        self.risk_panel.set_study(study_id, description)
        self.tabs.setCurrentWidget(self.vfa_panel)
        self.vfa_panel.level_list.setFocus()

    def start_precision_wizard(self) -> PrecisionWizard:
        """Open the precision-study wizard (non-modal) and return it."""
        wizard = PrecisionWizard(self)
        self.wizard = wizard
        wizard.show()
        return wizard
