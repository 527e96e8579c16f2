"""The physician workspace: worklist, report preview (QtPdf), edit, sign, amend, send to PACS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QItemSelection, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from dxa_app.domain import Role
from dxa_app.gui.dialogs import describe, show_error
from dxa_app.gui.physician_models import WorklistModel
from dxa_app.gui.session import Session
from dxa_app.gui.tasks import TaskHandle, run_task
from dxa_app.i18n import _, current_language
from dxa_app.progress import CancelToken
from dxa_app.services.pacs import PacsTarget
from dxa_app.services.reporting import ReportVersion
from dxa_app.services.worklist import PendingReport

_Progress = Callable[[int, int, str], None]


def _open(session: Session) -> Any:
    from dxa_app.archive import open_archive

    return open_archive(session.archive, create=False)


class PasswordDialog(QDialog):
    """Re-enter the password to sign (shown with ``open()``; tests set the text and accept)."""

    def __init__(self, prompt: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Sign report"))
        layout = QVBoxLayout(self)
        self.prompt_label = QLabel(prompt)
        self.prompt_label.setWordWrap(True)
        layout.addWidget(self.prompt_label)
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText(_("Password"))
        layout.addWidget(self.password_edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def password(self) -> str:
        """Return the password typed."""
        return self.password_edit.text()


class AmendDialog(PasswordDialog):
    """The reason for an amendment and the password (the new text comes from the editor)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            _(
                "The amendment is a new signed version with the conclusion and recommendation"
                " now in the editor. Give the reason and re-enter your password."
            ),
            parent,
        )
        self.setWindowTitle(_("Amend report"))
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText(_("Reason for the amendment"))
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(1, self.reason_edit)

    def reason(self) -> str:
        """Return the reason typed."""
        return self.reason_edit.text()


class PhysicianWorkspace(QWidget):
    """The physician's workspace: read, edit, sign and send the standardized DXA report.

    Every action runs a service off the GUI thread (:func:`run_task`); the services check the
    role and write the audit log. Errors are shown as a friendly message in the status line
    and through :func:`show_error` (a dialog, or stderr when dialogs are off).

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
        self.current_study: int | None = None
        self.current_version: ReportVersion | None = None
        self.last_error: BaseException | None = None
        self.sign_dialog: PasswordDialog | None = None
        self.amend_dialog: AmendDialog | None = None
        self._tasks: list[TaskHandle] = []
        self._preview_generation = 0
        self._pdf_buffer: QBuffer | None = None

        self.model = WorklistModel(parent=self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.include_signed = QCheckBox()
        self.include_signed.toggled.connect(lambda _checked: self.refresh())
        self.refresh_button = QPushButton()
        self.refresh_button.clicked.connect(self.refresh)
        self.worklist_label = QLabel()

        self.lang_combo = QComboBox()
        self.lang_combo.addItem("", "da")
        self.lang_combo.addItem("", "en")
        self.lang_combo.setCurrentIndex(max(self.lang_combo.findData(current_language()), 0))
        self.level_combo = QComboBox()
        self.level_combo.addItem("", "A")
        self.level_combo.addItem("", "B")
        self.lang_combo.currentIndexChanged.connect(lambda _i: self.load_preview())
        self.level_combo.currentIndexChanged.connect(lambda _i: self.load_preview())
        self.lang_label = QLabel()
        self.level_label = QLabel()

        self.pdf_document = QPdfDocument(self)
        self.pdf_view = QPdfView(self)
        self.pdf_view.setDocument(self.pdf_document)
        self.pdf_view.setPageMode(QPdfView.PageMode.MultiPage)
        self.pdf_view.setZoomMode(QPdfView.ZoomMode.FitToWidth)

        self.conclusion_edit = QPlainTextEdit()
        self.recommendation_edit = QPlainTextEdit()
        self.conclusion_label = QLabel()
        self.recommendation_label = QLabel()
        self.save_button = QPushButton()
        self.save_button.clicked.connect(self.save_draft)
        self.sign_button = QPushButton()
        self.sign_button.clicked.connect(self.ask_sign)
        self.amend_button = QPushButton()
        self.amend_button.clicked.connect(self.ask_amend)

        self.pacs_box = QGroupBox()
        self.pacs_host = QLineEdit()
        self.pacs_port = QSpinBox()
        self.pacs_port.setRange(1, 65535)
        self.pacs_port.setValue(104)
        self.pacs_ae = QLineEdit()
        self.pacs_calling_ae = QLineEdit("DXA")
        self.send_button = QPushButton()
        self.send_button.clicked.connect(self.send_to_pacs)
        self.pacs_form = QFormLayout(self.pacs_box)
        for field_widget in (self.pacs_host, self.pacs_port, self.pacs_ae, self.pacs_calling_ae):
            self.pacs_form.addRow(QLabel(), field_widget)  # texts set in retranslate()
        self.pacs_form.addRow(self.send_button)

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.worklist_label, 1)
        top.addWidget(self.include_signed)
        top.addWidget(self.refresh_button)
        left_layout.addLayout(top)
        left_layout.addWidget(self.table)

        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        selectors = QHBoxLayout()
        selectors.addWidget(self.lang_label)
        selectors.addWidget(self.lang_combo)
        selectors.addWidget(self.level_label)
        selectors.addWidget(self.level_combo)
        selectors.addStretch(1)
        middle_layout.addLayout(selectors)
        middle_layout.addWidget(self.pdf_view, 1)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.conclusion_label)
        right_layout.addWidget(self.conclusion_edit)
        right_layout.addWidget(self.recommendation_label)
        right_layout.addWidget(self.recommendation_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.sign_button)
        buttons.addWidget(self.amend_button)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.pacs_box)
        right_layout.addStretch(1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(middle)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status_label)

        self.retranslate()
        self._update_buttons()
        self.refresh()

    # -- state ----------------------------------------------------------------------------
    def busy(self) -> bool:
        """Return whether a service call started here is still running."""
        self._tasks = [t for t in self._tasks if not t.finished]
        return bool(self._tasks)

    def _run(self, work: Callable[[Any], Any], on_done: Callable[[Any], None]) -> TaskHandle:
        """Run ``work(db)`` on an archive connection of its own, off the GUI thread."""
        session = self.session

        def task(progress: _Progress, cancel: CancelToken) -> Any:
            db = _open(session)
            try:
                return work(db)
            finally:
                db.close()

        handle = run_task(task, on_done=on_done, on_error=self._failed)
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

    def _lang(self) -> str:
        return str(self.lang_combo.currentData())

    def _level(self) -> str:
        return str(self.level_combo.currentData())

    def _is_signed(self) -> bool:
        v = self.current_version
        return v is not None and v.status != "draft"

    def _update_buttons(self) -> None:
        has_study = self.current_study is not None
        physician = self.session.role is Role.PHYSICIAN
        signed = self._is_signed()
        self.save_button.setEnabled(has_study and physician and not signed)
        self.sign_button.setEnabled(has_study and physician and not signed)
        self.amend_button.setEnabled(has_study and physician and signed)
        self.send_button.setEnabled(has_study and signed)
        self.conclusion_edit.setReadOnly(not physician)
        self.recommendation_edit.setReadOnly(not physician)

    # -- texts ----------------------------------------------------------------------------
    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.worklist_label.setText(_("Studies waiting for a report (oldest first)"))
        self.include_signed.setText(_("Include signed"))
        self.refresh_button.setText(_("Refresh"))
        self.lang_label.setText(_("Report language:"))
        self.lang_combo.setItemText(0, _("Danish"))
        self.lang_combo.setItemText(1, _("English"))
        self.level_label.setText(_("Level:"))
        self.level_combo.setItemText(0, _("A (required minimum)"))
        self.level_combo.setItemText(1, _("B (extended)"))
        self.conclusion_label.setText(_("Conclusion"))
        self.recommendation_label.setText(_("Recommendation"))
        self.save_button.setText(_("Save draft"))
        self.sign_button.setText(_("Sign…"))
        self.amend_button.setText(_("Amend…"))
        self.pacs_box.setTitle(_("Send to PACS"))
        for row, text in enumerate((_("Host"), _("Port"), _("PACS AE title"), _("Our AE title"))):
            label = self.pacs_form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            widget = label.widget() if label is not None else None
            if isinstance(widget, QLabel):
                widget.setText(text)
        self.send_button.setText(_("Send signed report"))
        self.model.retranslate()

    # -- worklist -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the worklist and the PACS address from the archive."""
        include_signed = self.include_signed.isChecked()

        def work(db: Any) -> tuple[list[PendingReport], PacsTarget | None]:
            from dxa_app.services.pacs import pacs_target
            from dxa_app.services.worklist import pending_reports

            return pending_reports(db, include_signed=include_signed), pacs_target(db)

        self._run(work, self._worklist_loaded)

    def _worklist_loaded(self, result: tuple[list[PendingReport], PacsTarget | None]) -> None:
        rows, target = result
        self.model.set_rows(rows)
        if target is not None and not self.pacs_host.text():
            self.pacs_host.setText(target.host)
            self.pacs_port.setValue(target.port)
            self.pacs_ae.setText(target.called_ae)
            self.pacs_calling_ae.setText(target.calling_ae)
        if self.current_study is not None:
            row = self.model.row_of_study(self.current_study)
            if row is not None:
                self.table.blockSignals(True)
                self.table.selectRow(row)
                self.table.blockSignals(False)
        self._status(_("{n} studies on the worklist.").format(n=len(rows)))

    def _selection_changed(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        study = self.model.row_at(rows[0].row()).study_id
        if study != self.current_study:
            self.select_study(study)

    def select_study(self, study_id: int) -> None:
        """Show a study's report: the draft (made from the rules when new) or the signed PDF."""
        self.current_study = study_id
        self.current_version = None
        self._update_buttons()
        self.load_preview()

    # -- preview --------------------------------------------------------------------------
    def load_preview(self) -> None:
        """Render the current study's report in the chosen language and level."""
        study = self.current_study
        if study is None:
            return
        lang, level, user = self._lang(), self._level(), self.session.username
        self._preview_generation += 1
        generation = self._preview_generation

        def work(db: Any) -> tuple[ReportVersion, bytes]:
            from dxa_app.services.reporting import latest_version, save_draft, stored_pdf

            latest = latest_version(db, study)
            if latest is not None and latest.status != "draft":
                return latest, stored_pdf(db, latest.id)
            return save_draft(db, study, lang=lang, level=level, by=user)

        def done(result: tuple[ReportVersion, bytes]) -> None:
            if generation == self._preview_generation:
                self._show_report(*result)

        self._status(_("Rendering the report…"))
        self._run(work, done)

    def _show_report(self, version: ReportVersion, pdf: bytes) -> None:
        self.current_version = version
        self.conclusion_edit.setPlainText(str(version.content.get("conclusion", "")))
        self.recommendation_edit.setPlainText(str(version.content.get("recommendation", "")))
        self.show_pdf(pdf)
        self._update_buttons()
        if version.status == "draft":
            self._status(
                _("Draft version {v} of study {id}.").format(
                    v=version.version_no, id=version.study_id
                )
            )
        else:
            self._status(
                _("Version {v} of study {id} is signed by {user} ({at}).").format(
                    v=version.version_no,
                    id=version.study_id,
                    user=version.signed_by or "",
                    at=version.signed_at or "",
                )
            )

    def show_pdf(self, pdf: bytes) -> None:
        """Load PDF bytes into the preview (through a QBuffer that lives as long as needed)."""
        old = self._pdf_buffer
        self.pdf_document.close()
        buffer = QBuffer(self)
        buffer.setData(QByteArray(pdf))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self._pdf_buffer = buffer
        self.pdf_document.load(buffer)
        if old is not None:
            old.close()
            old.deleteLater()

    def preview_image(self, page: int = 0, width: int = 600) -> QImage:
        """Return one page of the preview as an image on white (QtPdf renders transparent)."""
        size = self.pdf_document.pagePointSize(page)
        height = round(width * size.height() / size.width()) if size.width() > 0 else width
        rendered = self.pdf_document.render(page, QSize(width, height))
        image = QImage(width, height, QImage.Format.Format_RGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        painter.drawImage(0, 0, rendered)
        painter.end()
        return image

    # -- actions --------------------------------------------------------------------------
    def save_draft(self) -> None:
        """Store the edited conclusion and recommendation in the draft and re-render it."""
        study = self.current_study
        if study is None:
            return
        lang, level = self._lang(), self._level()
        conclusion = self.conclusion_edit.toPlainText()
        recommendation = self.recommendation_edit.toPlainText()
        user, role = self.session.username, self.session.role
        self._preview_generation += 1

        def work(db: Any) -> tuple[ReportVersion, bytes]:
            from dxa_app.services.worklist import save_edited_draft

            return save_edited_draft(
                db,
                study,
                lang=lang,
                level=level,
                conclusion=conclusion,
                recommendation=recommendation,
                user=user,
                role=role,
            )

        def done(result: tuple[ReportVersion, bytes]) -> None:
            self._show_report(*result)
            self._status(_("Draft saved."))
            self.refresh()

        self._run(work, done)

    def ask_sign(self) -> None:
        """Ask for the password (non-blocking dialog); accepting it signs the draft."""
        dialog = PasswordDialog(
            _("Re-enter the password of {name} to sign the report.").format(
                name=self.session.display_name or self.session.username
            ),
            self,
        )
        dialog.accepted.connect(lambda: self.sign(dialog.password()))
        self.sign_dialog = dialog
        dialog.open()

    def sign(self, password: str) -> None:
        """Sign the current draft after checking the password and the physician role.

        The text in the editor is saved first when it differs from the draft, so what is
        signed is what the physician sees.
        """
        study = self.current_study
        if study is None:
            return
        lang, level = self._lang(), self._level()
        conclusion = self.conclusion_edit.toPlainText()
        recommendation = self.recommendation_edit.toPlainText()
        username = self.session.username

        def work(db: Any) -> ReportVersion:
            from dxa_app.services.reporting import latest_version, sign
            from dxa_app.services.users import require_role
            from dxa_app.services.worklist import save_edited_draft

            user = require_role(db, username, password, Role.PHYSICIAN)
            latest = latest_version(db, study)
            if (
                latest is not None
                and latest.status == "draft"
                and (
                    latest.content.get("conclusion") != conclusion
                    or latest.content.get("recommendation") != recommendation
                    or latest.lang != lang
                    or latest.level != level
                )
            ):
                save_edited_draft(
                    db,
                    study,
                    lang=lang,
                    level=level,
                    conclusion=conclusion,
                    recommendation=recommendation,
                    user=user.username,
                    role=user.role,
                )
            return sign(db, study, user=user.username, role=user.role)

        def done(version: ReportVersion) -> None:
            self._status(
                _("Signed version {v} of study {id}.").format(
                    v=version.version_no, id=version.study_id
                )
            )
            self.load_preview()
            self.refresh()

        self._run(work, done)

    def ask_amend(self) -> None:
        """Ask for the amendment reason and password (non-blocking dialog)."""
        dialog = AmendDialog(self)
        dialog.accepted.connect(lambda: self.amend(dialog.password(), dialog.reason()))
        self.amend_dialog = dialog
        dialog.open()

    def amend(self, password: str, reason: str) -> None:
        """Amend the signed report with the text now in the editor and a reason."""
        study = self.current_study
        if study is None:
            return
        conclusion = self.conclusion_edit.toPlainText()
        recommendation = self.recommendation_edit.toPlainText()
        username = self.session.username

        def work(db: Any) -> ReportVersion:
            from dxa_app.services.reporting import amend
            from dxa_app.services.users import require_role

            user = require_role(db, username, password, Role.PHYSICIAN)
            return amend(
                db,
                study,
                user=user.username,
                role=user.role,
                reason=reason,
                conclusion=conclusion,
                recommendation=recommendation,
            )

        def done(version: ReportVersion) -> None:
            self._status(
                _("Amendment version {v} of study {id} signed.").format(
                    v=version.version_no, id=version.study_id
                )
            )
            self.load_preview()
            self.refresh()

        self._run(work, done)

    def pacs_target(self) -> PacsTarget:
        """Return the PACS address in the form."""
        return PacsTarget(
            self.pacs_host.text(),
            self.pacs_port.value(),
            self.pacs_ae.text(),
            self.pacs_calling_ae.text(),
        )

    def send_to_pacs(self) -> None:
        """Store the PACS address in the archive and send the signed report there."""
        study = self.current_study
        if study is None:
            return
        target, user = self.pacs_target(), self.session.username

        def work(db: Any) -> Any:
            from dxa_app.services.pacs import send_signed_report, set_pacs_target

            stored = set_pacs_target(db, target, by=user)
            return send_signed_report(db, study, stored, user=user)

        def done(result: Any) -> None:
            if result.ok:
                self._status(
                    _("Sent the signed report of study {id} to {ae}.").format(
                        id=study, ae=target.called_ae
                    )
                )
            else:
                self._status(
                    _("PACS refused the report of study {id} (status {status:#06x}).").format(
                        id=study, status=result.status
                    )
                )

        self._status(_("Sending to PACS…"))
        self._run(work, done)
