"""The PACS address form (host, port, AE titles), shared by the physician and the admin."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QLayout, QLineEdit, QSpinBox, QWidget

from dxa_app.gui.common import set_form_labels
from dxa_app.i18n import _
from dxa_app.services.pacs import PacsTarget


class PacsForm(QGroupBox):
    """A group box with the PACS host, port, its AE title and ours.

    Parameters
    ----------
    parent : QWidget, optional
        The owner.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = QLineEdit()
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(104)
        self.called_ae = QLineEdit()
        self.calling_ae = QLineEdit("DXA")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setVisible(False)
        self.form = QFormLayout(self)
        for field in (self.host, self.port, self.called_ae, self.calling_ae):
            self.form.addRow(QLabel(), field)  # texts set in retranslate()
        self.form.addRow(self.note)
        self._fields_shown = True
        self.retranslate()

    def add_row(self, row: QLayout) -> None:
        """Add a row below the fields (e.g. a row of buttons)."""
        self.form.addRow(row)

    def set_note(self, text: str) -> None:
        """Show a note below the fields (empty: none)."""
        self.note.setText(text)
        self.note.setVisible(bool(text) and self._fields_shown)

    def show_fields(self, shown: bool) -> None:
        """Show or fold away the address fields and their note (the rows added stay).

        Parameters
        ----------
        shown : bool
            False keeps only the added rows (e.g. the send buttons) in view.
        """
        self._fields_shown = shown
        for row in range(4):
            self.form.setRowVisible(row, shown)
        self.note.setVisible(shown and bool(self.note.text()))

    def retranslate(self) -> None:
        """Set the title and the field labels in the current language."""
        self.setTitle(_("Send to PACS"))
        set_form_labels(self.form, (_("Host"), _("Port"), _("PACS AE title"), _("Our AE title")))

    def target(self) -> PacsTarget:
        """Return the address in the form (checked by the service that uses it)."""
        return PacsTarget(
            self.host.text(), self.port.value(), self.called_ae.text(), self.calling_ae.text()
        )

    def show_target(self, target: PacsTarget) -> None:
        """Fill the form with an address."""
        self.host.setText(target.host)
        self.port.setValue(target.port)
        self.called_ae.setText(target.called_ae)
        self.calling_ae.setText(target.calling_ae)
