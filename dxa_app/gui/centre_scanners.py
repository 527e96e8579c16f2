"""The centre's Scanners tab: every scanner with its last QC and a coloured QC status."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from dxa_app.gui.centre_models import ScannerTableModel
from dxa_app.gui.common import EmptyHint, read_only_table
from dxa_app.gui.labels import qc_legend
from dxa_app.gui.workspace import ProgressFn, Workspace
from dxa_app.i18n import _
from dxa_app.progress import CancelToken
from dxa_app.services.auth import Session
from dxa_app.services.calibration_views import ScannerOverview, scanner_overview


class ScannersTab(Workspace):
    """The scanners of the archive with their QC status (colour legend below).

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.loaded = False
        self.scanner_model = ScannerTableModel(parent=self)
        self.scanner_view = read_only_table(self.scanner_model)
        self.scanner_view.setObjectName("centreScannerTable")
        self.scanner_hint = EmptyHint(self.scanner_view)
        self.legend_label = QLabel()
        layout = QVBoxLayout(self)
        layout.addWidget(self.scanner_view, 1)
        layout.addWidget(self.legend_label)
        self.retranslate()

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.legend_label.setText(qc_legend())
        self.scanner_hint.set_text(
            _("No scanners yet. They appear when a technician imports the first scans.")
        )
        self.scanner_model.retranslate()

    def refresh(self) -> None:
        """Reload the scanners and their QC status."""
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> list[ScannerOverview]:
            return scanner_overview(session)

        self.run(work, self._loaded)

    def _loaded(self, rows: list[ScannerOverview]) -> None:
        self.scanner_model.set_rows(rows)
        self.scanner_view.resizeColumnsToContents()
        self.loaded = True
