"""The knowledge-centre workspace: Scanners, Calibration, Uniformity, Scale and references."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from dxa_app.gui.centre_fits import FitsTab
from dxa_app.gui.centre_references import ScaleTab
from dxa_app.gui.centre_scanners import ScannersTab
from dxa_app.gui.centre_uniformity import UniformityTab
from dxa_app.gui.workspace import Workspace
from dxa_app.i18n import _
from dxa_app.services.auth import Session


class CentreWorkspace(Workspace):
    """The knowledge centre's workspace: QC, fits and steps, uniformity, scale and references.

    Each tab is a part of this workspace: its service calls, status texts and refusals
    (e.g. a role that may not approve steps) are shown in the status line below the tabs.

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.scanners = ScannersTab(session)
        self.fits = FitsTab(session)
        self.uniformity = UniformityTab(session)
        self.scale = ScaleTab(session)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("centreTabs")
        for part in (self.scanners, self.fits, self.uniformity, self.scale):
            self.add_part(part)
            self.tabs.addTab(part, "")
        self.fits.calibration_changed.connect(self._calibration_changed)
        self.status_label = self.make_status_label()
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status_label)
        self.retranslate()

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.tabs.setTabText(0, _("Scanners"))
        self.tabs.setTabText(1, _("Calibration"))
        self.tabs.setTabText(2, _("Uniformity"))
        self.tabs.setTabText(3, _("Scale and references"))
        self.scanners.retranslate()
        self.fits.retranslate()
        self.uniformity.retranslate()
        self.scale.retranslate()

    def refresh(self) -> None:
        """Reload every tab from the archive."""
        self.scanners.refresh()
        self.fits.refresh()
        self.uniformity.refresh()
        self.scale.refresh()

    def _calibration_changed(self) -> None:
        """A fit or a decision changed the calibration: the QC view and the values follow."""
        self.scanners.refresh()
        self.uniformity.show_uniformity()
        self.scale.refresh()
