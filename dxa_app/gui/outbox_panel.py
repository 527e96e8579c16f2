"""The HL7 outbox in the physician workspace: each message to the patient record and its state.

A tab beside the report and the VFA entry. It lists every queued message (newest first) with
its state (waiting, delivered, failed), attempts, acknowledgement and last error, and offers
"Send due now" (every message whose back-off has passed) and "Retry" for a message the
receiver refused (AE). Each button calls one service (:mod:`dxa_app.services.patient_record`).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from dxa_app.gui.common import read_only_table
from dxa_app.gui.table_model import Column, ObjectTableModel
from dxa_app.gui.workspace import ProgressFn, Workspace
from dxa_app.i18n import _
from dxa_app.progress import CancelToken
from dxa_app.services.auth import Permission, Session
from dxa_app.services.patient_record import (
    DeliveryReport,
    OutboxRow,
    deliver_outbox,
    hl7_outbox,
    retry_hl7,
)


def outbox_state_label(state: str) -> str:
    """Return the translated label of an outbox state."""
    return {
        "pending": _("Waiting"),
        "delivered": _("Delivered"),
        "failed": _("Failed"),
    }.get(state, state)


def _colour(row: OutboxRow) -> QColor | None:
    return {
        "pending": QColor("#c98a00"),
        "delivered": QColor("#2e7d32"),
        "failed": QColor("#c62828"),
    }.get(row.state)


class OutboxModel(ObjectTableModel[OutboxRow]):
    """The outbox: message, study, version, F/C, state, attempts, ACK, last attempt, error."""

    columns: Sequence[Column[OutboxRow]] = (
        Column(lambda: _("Message"), lambda r: str(r.id), lambda r: r.id, numeric=True),
        Column(lambda: _("Study"), lambda r: str(r.study_id), lambda r: r.study_id, numeric=True),
        Column(lambda: _("Version"), lambda r: str(r.version_no), numeric=True),
        Column(lambda: _("Result status"), lambda r: r.result_status),
        Column(lambda: _("State"), lambda r: outbox_state_label(r.state), decoration=_colour),
        Column(
            lambda: _("Attempts"), lambda r: str(r.attempts), lambda r: r.attempts, numeric=True
        ),
        Column(lambda: _("ACK"), lambda r: r.ack_code),
        Column(
            lambda: _("Last attempt"), lambda r: (r.last_attempt_at or "")[:19].replace("T", " ")
        ),
        Column(
            lambda: _("Last error"),
            lambda r: "" if r.state == "delivered" or r.last_error == "sending" else r.last_error,
        ),
    )

    def tooltip(self, item: OutboxRow) -> str | None:
        """Return the control id (MSH-10) and the receiver's answer text."""
        return _("Control id {id}; answer: {text}").format(
            id=item.control_id, text=item.ack_text or "-"
        )


class OutboxPanel(Workspace):
    """The outbox table with Refresh, Send due now and Retry."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.model = OutboxModel()
        self.table = read_only_table(self.model)
        self.table.setObjectName("hl7Outbox")
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self.update_actions())
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.refresh_button = QPushButton()
        self.refresh_button.clicked.connect(self.refresh)
        self.deliver_button = QPushButton()
        self.deliver_button.clicked.connect(self.deliver)
        self.retry_button = QPushButton()
        self.retry_button.clicked.connect(self.retry)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.deliver_button)
        buttons.addWidget(self.retry_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.retranslate()
        self.update_actions()

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.note.setText(
            _(
                "Signed reports sent to the patient record (HL7 v2). A waiting message is"
                " tried again after its back-off; a failed one waits for Retry."
            )
        )
        self.refresh_button.setText(_("Refresh"))
        self.deliver_button.setText(_("Send due now"))
        self.retry_button.setText(_("Retry"))
        self.model.retranslate()

    def selected(self) -> OutboxRow | None:
        """Return the selected message, or None."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def update_actions(self) -> None:
        """Offer sending and retrying to a user who may send."""
        may_send = self.session.may(Permission.SEND)
        chosen = self.selected()
        self.deliver_button.setEnabled(may_send)
        self.retry_button.setEnabled(may_send and chosen is not None and chosen.state == "failed")

    def refresh(self) -> None:
        """Reload the outbox."""
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> list[OutboxRow]:
            return hl7_outbox(session)

        self.run(work, self._loaded)

    def _loaded(self, rows: list[OutboxRow]) -> None:
        self.model.set_rows(rows)
        self.update_actions()

    def deliver(self) -> None:
        """Try every message that is due."""
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> DeliveryReport:
            return deliver_outbox(session)

        def done(report: DeliveryReport) -> None:
            self.set_status(
                _("Delivered {d}, waiting {w}, failed {f}.").format(
                    d=report.delivered, w=report.waiting, f=report.failed
                )
            )
            self.refresh()

        self.run(work, done)

    def retry(self) -> None:
        """Queue the selected failed message again and try it."""
        chosen = self.selected()
        if chosen is None:
            return
        row = self.call(lambda s: retry_hl7(s, chosen.id))
        if row is not None:
            self.deliver()
