"""The physician workspace: worklist, report preview (QtPdf), VFA entry, edit, sign, amend, send.

Beside the worklist, two tabs for the selected study: the report (preview, editor, PACS) and
the VFA entry (:class:`~dxa_app.gui.vfa_panel.VfaPanel`, the same panel as the technician's),
so a physician reads the vertebrae of the study they report on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QItemSelection, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dxa_app.gui.common import EmptyHint, PasswordDialog, read_only_table
from dxa_app.gui.dialogs import describe
from dxa_app.gui.labels import format_date
from dxa_app.gui.outbox_panel import OutboxPanel
from dxa_app.gui.pacs_form import PacsForm
from dxa_app.gui.physician_models import WorklistModel
from dxa_app.gui.risk_panel import RecallPanel, RiskPanel
from dxa_app.gui.table_model import PageFetch
from dxa_app.gui.vfa_panel import VfaPanel
from dxa_app.gui.workspace import Job, ProgressFn, Workspace
from dxa_app.i18n import _, current_language
from dxa_app.progress import CancelToken
from dxa_app.services.auth import Permission, Session
from dxa_app.services.pacs import (
    PacsTarget,
    SendResult,
    pacs_target,
    send_report,
)
from dxa_app.services.patient_record import OutboxRow, send_hl7
from dxa_app.services.reporting import (
    ReportVersion,
    amend_report,
    edit_draft,
    open_report,
    sign_report,
)
from dxa_app.services.workbench import study_detail
from dxa_app.services.worklist import (
    DEFAULT_DAYS,
    PERIODS,
    PendingReport,
    WorklistChoices,
    WorklistFilter,
    count_older_pending,
    count_pending_reports,
    pending_reports,
    worklist_choices,
)


@dataclass(frozen=True)
class WorklistPage:
    """The worklist as a background task found it: its page fetch, first page and size.

    ``older`` counts the waiting studies from before the chosen period (the empty list says
    so); ``choices`` are the sites and scanners the filters offer.
    """

    fetch: PageFetch[PendingReport]
    first: list[PendingReport]
    total: int
    older: int = 0
    choices: WorklistChoices | None = None
    generation: int = 0


#: The period combo's value for "every date" (a combo's data cannot be None).
ALL_DATES = 0


def period_text(days: int | None) -> str:
    """Return the worklist period's label, e.g. "Last 30 days" (None: every date)."""
    if days is None:
        return _("All dates")
    if days == 365:
        return _("Last year")
    return _("Last {n} days").format(n=days)


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
        self.body.insertWidget(1, self.reason_edit)
        self.tab_order(self.reason_edit, self.password_edit)

    def reason(self) -> str:
        """Return the reason typed."""
        return self.reason_edit.text()


class PhysicianWorkspace(Workspace):
    """The physician's workspace: read, edit, sign and send the standardized DXA report.

    Every action is one service call with the session, off the GUI thread
    (:meth:`Workspace.run`); the services check the role (and, for signing, the password)
    and write the audit log. A refusal is shown as the service's message in the status
    line and in the error dialog, or inside the password dialog while it is open.

    The PACS form shows the address an administrator stored (Administration workspace); a
    physician sends to what the form says, and a change is for that send only: the default
    is a site setting, never changed while sending a report.

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.current_study: int | None = None
        self.current_version: ReportVersion | None = None
        self.sign_dialog: PasswordDialog | None = None
        self.amend_dialog: AmendDialog | None = None
        self.discard_box: QMessageBox | None = None
        self._preview_generation = 0
        self._pdf_buffer: QBuffer | None = None

        self.model = WorklistModel(parent=self)
        self.table = read_only_table(self.model)
        self.table.setObjectName("worklistTable")
        self.worklist_hint = EmptyHint(self.table)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.include_signed = QCheckBox()
        self.include_signed.toggled.connect(lambda _checked: self.refresh())
        self.refresh_button = QPushButton()
        self.refresh_button.clicked.connect(self.refresh)
        self.worklist_label = QLabel()
        #: The filters, applied in the archive: the period (last 30 days first), site, scanner.
        self.period_combo = QComboBox()
        self.period_combo.setObjectName("worklistPeriod")
        for days in PERIODS:
            self.period_combo.addItem("", ALL_DATES if days is None else days)
        self.period_combo.setCurrentIndex(self.period_combo.findData(DEFAULT_DAYS))
        self.site_combo = QComboBox()
        self.site_combo.setObjectName("worklistSite")
        self.site_combo.addItem("", "")
        self.scanner_combo = QComboBox()
        self.scanner_combo.setObjectName("worklistScanner")
        self.scanner_combo.addItem("", None)
        for combo in (self.period_combo, self.site_combo, self.scanner_combo):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(8)
            combo.currentIndexChanged.connect(lambda _i: self.refresh())
        #: One click to every date, shown when the period is empty but older studies wait.
        self.older_button = QPushButton()
        self.older_button.setObjectName("worklistShowOlder")
        self.older_button.clicked.connect(lambda _checked=False: self.set_period(None))
        self.older_button.hide()
        self._older = 0
        self._worklist_generation = 0

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
        self.save_button.clicked.connect(lambda _checked=False: self.save_draft())
        self.sign_button = QPushButton()
        self.sign_button.clicked.connect(self.ask_sign)
        self.amend_button = QPushButton()
        self.amend_button.clicked.connect(self.ask_amend)

        self.pacs_box = PacsForm()
        self.send_button = QPushButton()
        self.send_button.clicked.connect(self.send_to_pacs)
        self.record_button = QPushButton()
        self.record_button.setObjectName("sendToRecord")
        self.record_button.clicked.connect(self.send_to_record)
        #: The stored PACS address is used; the fields unfold only to send elsewhere once.
        self.address_toggle = QToolButton()
        self.address_toggle.setObjectName("pacsAddressToggle")
        self.address_toggle.setCheckable(True)
        self.address_toggle.toggled.connect(self.pacs_box.show_fields)
        pacs_buttons = QHBoxLayout()
        pacs_buttons.addWidget(self.send_button)
        pacs_buttons.addWidget(self.record_button)
        pacs_buttons.addWidget(self.address_toggle)
        self.pacs_box.add_row(pacs_buttons)
        self.pacs_box.show_fields(False)

        self.status_label = self.make_status_label()

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.worklist_label, 1)
        top.addWidget(self.include_signed)
        top.addWidget(self.refresh_button)
        left_layout.addLayout(top)
        filters = QHBoxLayout()
        filters.addWidget(self.period_combo, 1)
        filters.addWidget(self.site_combo, 1)
        filters.addWidget(self.scanner_combo, 2)
        left_layout.addLayout(filters)
        left_layout.addWidget(self.table)
        left_layout.addWidget(self.older_button)

        preview = QWidget()
        middle_layout = QVBoxLayout(preview)
        middle_layout.setContentsMargins(0, 4, 0, 0)
        selectors = QHBoxLayout()
        selectors.addWidget(self.lang_label)
        selectors.addWidget(self.lang_combo)
        selectors.addWidget(self.level_label)
        selectors.addWidget(self.level_combo)
        selectors.addStretch(1)
        middle_layout.addLayout(selectors)
        middle_layout.addWidget(self.pdf_view, 1)
        self.vfa_panel = VfaPanel(session, chosen_in="worklist")
        self.vfa_panel.setObjectName("physicianVfa")
        self.add_part(self.vfa_panel)
        self.vfa_panel.saved.connect(self._vfa_saved)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 4, 0, 0)
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

        #: The selected study's report: the preview beside the editor and the PACS form.
        self.report_page = QSplitter(Qt.Orientation.Horizontal)
        self.report_page.addWidget(preview)
        self.report_page.addWidget(right)
        self.report_page.setStretchFactor(0, 3)
        self.report_page.setStretchFactor(1, 2)
        # in a scroll area: the panel's buttons must not widen the window past the screen
        self.vfa_scroll = QScrollArea()
        self.vfa_scroll.setWidgetResizable(True)
        self.vfa_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.vfa_scroll.setWidget(self.vfa_panel)
        self.middle_tabs = QTabWidget()
        self.middle_tabs.setObjectName("physicianStudyTabs")
        self.middle_tabs.addTab(self.report_page, "")
        self.middle_tabs.addTab(self.vfa_scroll, "")
        #: The study's questionnaire, FRAX and the suggestions to keep or drop.
        self.risk_panel = RiskPanel(session)
        self.add_part(self.risk_panel)
        self.risk_panel.saved.connect(self._risk_saved)
        self.risk_scroll = QScrollArea()
        self.risk_scroll.setWidgetResizable(True)
        self.risk_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.risk_scroll.setWidget(self.risk_panel)
        self.middle_tabs.addTab(self.risk_scroll, "")
        #: Patients due for DXA within a chosen period.
        self.recall_panel = RecallPanel(session)
        self.add_part(self.recall_panel)
        self.middle_tabs.addTab(self.recall_panel, "")
        #: The HL7 outbox: what went to the patient record, and its state per message.
        self.outbox_panel = OutboxPanel(session)
        self.outbox_panel.setObjectName("physicianOutbox")
        self.add_part(self.outbox_panel)
        self.middle_tabs.addTab(self.outbox_panel, "")
        self.middle_tabs.currentChanged.connect(lambda _i: self._follow_study_in_vfa())
        self.middle_tabs.currentChanged.connect(lambda _i: self._follow_study_in_risk())

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.middle_tabs)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 5)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status_label)

        self.retranslate()
        self.update_actions()

    # -- state ----------------------------------------------------------------------------
    def _lang(self) -> str:
        return str(self.lang_combo.currentData())

    def _level(self) -> str:
        return str(self.level_combo.currentData())

    def _is_signed(self) -> bool:
        v = self.current_version
        return v is not None and v.status != "draft"

    def update_actions(self) -> None:
        """Offer what the role may do with the shown report (the services check again)."""
        shown = self.current_study is not None and self.current_version is not None
        signed = self._is_signed()
        may_edit = self.session.may(Permission.DRAFT_EDIT)
        may_sign = self.session.may(Permission.SIGN)
        self.save_button.setEnabled(shown and may_edit and not signed)
        self.sign_button.setEnabled(shown and may_sign and not signed)
        self.amend_button.setEnabled(shown and may_sign and signed)
        self.send_button.setEnabled(shown and signed and self.session.may(Permission.SEND))
        self.record_button.setEnabled(shown and signed and self.session.may(Permission.SEND))
        self.conclusion_edit.setReadOnly(not (may_edit or may_sign))
        self.recommendation_edit.setReadOnly(not (may_edit or may_sign))

    # -- texts ----------------------------------------------------------------------------
    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.worklist_label.setText(_("Studies waiting for a report (oldest first)"))
        self.include_signed.setText(_("Include signed"))
        for i in range(self.period_combo.count()):
            days = int(self.period_combo.itemData(i))
            self.period_combo.setItemText(i, period_text(days or None))
        self.period_combo.setToolTip(_("Which study dates the worklist shows"))
        self.site_combo.setItemText(0, _("All sites"))
        self.site_combo.setToolTip(_("Only the studies of this site"))
        self.scanner_combo.setItemText(0, _("All scanners"))
        self.scanner_combo.setToolTip(_("Only the studies of this scanner"))
        self._update_worklist_hint()
        self.refresh_button.setText(_("Refresh"))
        self.lang_label.setText(_("Report language:"))
        self.lang_combo.setItemText(0, _("Danish"))
        self.lang_combo.setItemText(1, _("English"))
        self.level_label.setText(_("Level:"))
        self.level_combo.setItemText(0, _("A (minimum)"))
        self.level_combo.setItemText(1, _("B (extended)"))
        self.level_combo.setItemData(0, _("A (required minimum)"), Qt.ItemDataRole.ToolTipRole)
        self.level_combo.setToolTip(
            _("Level A is the required minimum report; level B adds the images and more detail.")
        )
        self.conclusion_label.setText(_("Conclusion"))
        self.recommendation_label.setText(_("Recommendation"))
        self.save_button.setText(_("Save draft"))
        self.sign_button.setText(_("Sign…"))
        self.amend_button.setText(_("Amend…"))
        self.pacs_box.retranslate()
        self.pacs_box.set_note(
            _(
                "The address an administrator stored is filled in; a change here is used"
                " for this send only."
            )
        )
        self.send_button.setText(_("Send signed report"))
        self.address_toggle.setText(_("Address…"))
        self.address_toggle.setToolTip(_("Show the PACS address (to send elsewhere this once)"))
        self.middle_tabs.setTabText(0, _("Report"))
        self.middle_tabs.setTabText(1, _("VFA"))
        self.middle_tabs.setTabText(2, _("Risk factors and suggestions"))
        self.middle_tabs.setTabText(3, _("Recall list"))
        self.middle_tabs.setTabText(4, _("Patient record (HL7)"))
        self.record_button.setText(_("Send to patient record"))
        self.outbox_panel.retranslate()
        self.vfa_panel.retranslate()
        self.risk_panel.retranslate()
        self.recall_panel.retranslate()
        self.model.retranslate()

    # -- worklist -------------------------------------------------------------------------
    def worklist_filter(self) -> WorklistFilter:
        """Return the period, site and scanner chosen above the worklist."""
        days = int(self.period_combo.currentData() or ALL_DATES)
        scanner = self.scanner_combo.currentData()
        return WorklistFilter(
            days=days or None,
            site=str(self.site_combo.currentData() or ""),
            scanner_id=int(scanner) if scanner is not None else None,
        )

    def set_period(self, days: int | None) -> None:
        """Show the last ``days`` days (None: every date); the worklist reloads."""
        index = self.period_combo.findData(ALL_DATES if days is None else days)
        if index >= 0:
            self.period_combo.setCurrentIndex(index)

    def _update_worklist_hint(self) -> None:
        """Say why the worklist is empty: nothing waits, or only studies older than the period."""
        days = self.worklist_filter().days
        if self._older and days is not None:
            self.worklist_hint.set_text(
                _(
                    "No unsigned studies in the last {days} days – {n} older: choose a longer"
                    " period."
                ).format(days=days, n=self._older)
            )
            self.older_button.setText(_("Show all dates ({n} older studies)").format(n=self._older))
        else:
            self.worklist_hint.set_text(
                _(
                    "No studies wait for a report. New studies appear here after a technician"
                    " imports them; tick Include signed to see the signed reports."
                )
            )
        self.older_button.setVisible(bool(self._older) and self.model.rowCount() == 0)

    def refresh(self) -> None:
        """Reload the worklist (its first page and how many wait) and the stored PACS address."""
        session, include_signed = self.session, self.include_signed.isChecked()
        where = self.worklist_filter()
        key, descending = self.model.sort_key()
        page = self.model.page_size
        self._worklist_generation += 1
        generation = self._worklist_generation

        def fetch(offset: int, limit: int, key: str, descending: bool) -> list[PendingReport]:
            return pending_reports(
                session,
                include_signed=include_signed,
                where=where,
                sort=key or "date",
                descending=descending,
                offset=offset,
                limit=limit,
            )

        def work(
            _progress: ProgressFn, _cancel: CancelToken
        ) -> tuple[WorklistPage, PacsTarget | None]:
            first = fetch(0, page, key, descending)
            n = count_pending_reports(session, include_signed=include_signed, where=where)
            older = (
                count_older_pending(session, where, include_signed=include_signed)
                if not first
                else 0
            )
            choices = worklist_choices(session)
            loaded = WorklistPage(fetch, first, n, older, choices, generation)
            return loaded, pacs_target(session)

        self.run(work, self._worklist_loaded)
        self.outbox_panel.refresh()

    def _set_choices(self, choices: WorklistChoices) -> None:
        """Fill the site and scanner filters, keeping what is chosen (without a reload)."""
        for combo, items in (
            (self.site_combo, [(code, code) for code in choices.sites]),
            (self.scanner_combo, [(c.label, c.id) for c in choices.scanners]),
        ):
            chosen = combo.currentData()
            combo.blockSignals(True)
            while combo.count() > 1:
                combo.removeItem(1)
            for text, data in items:
                combo.addItem(text, data)
            combo.setCurrentIndex(max(combo.findData(chosen), 0))
            combo.blockSignals(False)

    def _worklist_loaded(self, result: tuple[WorklistPage, PacsTarget | None]) -> None:
        loaded, target = result
        if loaded.generation != self._worklist_generation:
            return  # a newer filter's answer is on its way
        if loaded.choices is not None:
            self._set_choices(loaded.choices)
        self.model.set_source(loaded.fetch, loaded.first)
        self._older = loaded.older
        self._update_worklist_hint()
        if target is not None and not self.pacs_box.host.text():
            self.pacs_box.show_target(target)
        if self.current_study is not None:
            row = self.model.row_of_study(self.current_study)
            if row is not None:
                self.table.blockSignals(True)
                self.table.selectRow(row)
                self.table.blockSignals(False)
        self.set_status(_("{n} studies on the worklist.").format(n=loaded.total))

    def _selection_changed(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        study = self.model.row_at(rows[0].row()).study_id
        if study == self.current_study:
            return
        if self.has_unsaved_text():
            self.ask_discard(study)
            return
        self.select_study(study)

    def has_unsaved_text(self) -> bool:
        """Return whether the editor holds a conclusion or recommendation not yet saved."""
        v = self.current_version
        if v is None or v.status != "draft":
            return False
        return (
            self._edited("conclusion", self.conclusion_edit.toPlainText()) is not None
            or self._edited("recommendation", self.recommendation_edit.toPlainText()) is not None
        )

    def ask_discard(self, next_study: int) -> QMessageBox:
        """Ask what becomes of unsaved text before another study is shown (non-blocking).

        Save stores the draft first, Discard drops the text, Cancel stays on the study.
        """
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(_("Unsaved conclusion"))
        box.setText(
            _(
                "The conclusion or recommendation of study {id} has changes that are not saved."
            ).format(id=self.current_study)
        )
        box.setInformativeText(_("Save them in the draft before showing the next study?"))
        box.setStandardButtons(
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        self.discard_box = box

        def answered(result: int) -> None:
            self.discard_box = None
            if result == int(QMessageBox.StandardButton.Save):
                self.save_draft(then=lambda: self.select_study(next_study))
            elif result == int(QMessageBox.StandardButton.Discard):
                self.select_study(next_study)
            else:
                self._reselect(self.current_study)

        box.finished.connect(answered)
        box.open()
        return box

    def _reselect(self, study_id: int | None) -> None:
        """Select the row of ``study_id`` again without reacting to the change."""
        for row in range(self.model.rowCount()):
            if self.model.row_at(row).study_id == study_id:
                self.table.blockSignals(True)
                self.table.selectionModel().blockSignals(True)
                self.table.selectRow(row)
                self.table.selectionModel().blockSignals(False)
                self.table.blockSignals(False)
                return

    def select_study(self, study_id: int) -> None:
        """Show a study's report: the draft (made from the rules when new) or the signed PDF."""
        self.current_study = study_id
        self.current_version = None
        self.update_actions()
        self.load_preview()
        self._follow_study_in_vfa()
        self._follow_study_in_risk()

    # -- VFA ------------------------------------------------------------------------------
    def show_vfa(self) -> None:
        """Show the VFA entry of the selected study, with the level column focused."""
        self.middle_tabs.setCurrentWidget(self.vfa_scroll)
        self._follow_study_in_vfa()
        self.vfa_panel.level_list.setFocus()

    def _follow_study_in_vfa(self) -> None:
        """Start a VFA reading of the selected study when the VFA tab shows another one."""
        study = self.current_study
        if (
            self.middle_tabs.currentWidget() is not self.vfa_scroll
            or study is None
            or self.vfa_panel.study_id == study
        ):
            return
        row = self.model.row_of_study(study)
        if row is not None:
            p = self.model.row_at(row)
            description = (
                f"{format_date(p.study_date)} — {p.patient_name} ({p.patient_identifier})"
                f" — {p.serial}"
            )
            self.vfa_panel.set_study(study, p.study_uid, description)
            return
        detail = self.call(lambda session: study_detail(session, study))  # not on the worklist
        if detail is not None:
            scores = detail.scores
            self.vfa_panel.set_study(
                study, scores.study_uid, f"{scores.study_date} — {scores.patient}"
            )

    def show_risk(self) -> None:
        """Show the selected study's risk factors, FRAX and suggestions."""
        self.middle_tabs.setCurrentWidget(self.risk_scroll)
        self._follow_study_in_risk()

    def _follow_study_in_risk(self) -> None:
        """Load the selected study into the risk tab when it is shown and shows another one."""
        study = self.current_study
        if (
            self.middle_tabs.currentWidget() is not self.risk_scroll
            or study is None
            or self.risk_panel.study_id == study
        ):
            return
        self.risk_panel.set_study(study)

    def _risk_saved(self) -> None:
        """The questionnaire, FRAX or decisions changed: the draft report shows them."""
        if not self._is_signed():
            self.load_preview()

    def _vfa_saved(self, reading_id: int) -> None:
        """A VFA reading was stored: the draft report shows it."""
        self.set_status(_("Saved as reading {id}.").format(id=reading_id))
        if not self._is_signed():
            self.load_preview()

    # -- preview --------------------------------------------------------------------------
    def load_preview(self) -> None:
        """Render the current study's report in the chosen language and level."""
        study = self.current_study
        if study is None:
            return
        session, lang, level = self.session, self._lang(), self._level()
        self._preview_generation += 1
        generation = self._preview_generation

        def work(_progress: ProgressFn, _cancel: CancelToken) -> tuple[ReportVersion, bytes]:
            return open_report(session, study, lang=lang, level=level)

        def done(result: tuple[ReportVersion, bytes]) -> None:
            if generation == self._preview_generation:
                self._show_report(*result)

        self.set_status(_("Rendering the report…"))
        self.run(work, done)

    def _show_report(self, version: ReportVersion, pdf: bytes) -> None:
        self.current_version = version
        self.conclusion_edit.setPlainText(str(version.content.get("conclusion", "")))
        self.recommendation_edit.setPlainText(str(version.content.get("recommendation", "")))
        self.show_pdf(pdf)
        self.update_actions()
        if version.status == "draft":
            self.set_status(
                _("Draft version {v} of study {id}.").format(
                    v=version.version_no, id=version.study_id
                )
            )
        else:
            self.set_status(
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
    def _edited(self, key: str, text: str) -> str | None:
        """Return the editor's text when it differs from the shown version (None: unchanged)."""
        v = self.current_version
        return None if v is not None and str(v.content.get(key, "")) == text else text

    def save_draft(self, then: Callable[[], None] | None = None) -> None:
        """Store the edited conclusion and recommendation in the draft and re-render it.

        ``then`` runs once the draft is saved (e.g. showing the next study).
        """
        study = self.current_study
        if study is None:
            return
        session, lang, level = self.session, self._lang(), self._level()
        conclusion = self.conclusion_edit.toPlainText()
        recommendation = self.recommendation_edit.toPlainText()
        self._preview_generation += 1

        def work(_progress: ProgressFn, _cancel: CancelToken) -> tuple[ReportVersion, bytes]:
            return edit_draft(
                session,
                study,
                lang=lang,
                level=level,
                conclusion=conclusion,
                recommendation=recommendation,
            )

        def done(result: tuple[ReportVersion, bytes]) -> None:
            self._show_report(*result)
            self.set_status(_("Draft saved."))
            self.refresh()
            if then is not None:
                then()

        self.run(work, done)

    def signed_text(self) -> str:
        """Return what a signature would sign: the conclusion and recommendation in the editor."""
        return "\n\n".join(
            f"{title}\n{text.strip() or '-'}"
            for title, text in (
                (_("Conclusion"), self.conclusion_edit.toPlainText()),
                (_("Recommendation"), self.recommendation_edit.toPlainText()),
            )
        )

    def ask_sign(self) -> PasswordDialog:
        """Ask for the password (non-blocking dialog); OK signs, a refusal shows inside it.

        The dialog shows the conclusion and recommendation that will be signed.
        """
        dialog = PasswordDialog(
            _("Re-enter the password of {name} to sign the report.").format(
                name=self.session.display_name
            ),
            self,
            signed_text=self.signed_text(),
        )
        dialog.submitted.connect(lambda password: self.sign(password, dialog))
        self.sign_dialog = dialog
        dialog.open()
        return dialog

    def sign(self, password: str, dialog: PasswordDialog | None = None) -> None:
        """Sign the current draft (the service checks the role and the password).

        The text in the editor is saved with the signature when it differs from the draft,
        so what is signed is what the physician sees.

        Parameters
        ----------
        password : str
            The password typed again.
        dialog : PasswordDialog, optional
            The open password dialog: closed when signed, shows a refusal otherwise.
        """
        study = self.current_study
        if study is None:
            return
        session, lang, level = self.session, self._lang(), self._level()
        shown = self.current_version
        conclusion = self._edited("conclusion", self.conclusion_edit.toPlainText())
        recommendation = self._edited("recommendation", self.recommendation_edit.toPlainText())
        new_lang = lang if shown is None or shown.lang != lang else None
        new_level = level if shown is None or shown.level != level else None

        def work(_progress: ProgressFn, _cancel: CancelToken) -> ReportVersion:
            return sign_report(
                session,
                study,
                password=password,
                conclusion=conclusion,
                recommendation=recommendation,
                lang=new_lang,
                level=new_level,
            )

        self._run_signing(work, dialog, _("Signed version {v} of study {id}."))

    def ask_amend(self) -> AmendDialog:
        """Ask for the amendment reason and password (non-blocking dialog)."""
        dialog = AmendDialog(self)
        dialog.submitted.connect(lambda password: self.amend(password, dialog.reason(), dialog))
        self.amend_dialog = dialog
        dialog.open()
        return dialog

    def amend(self, password: str, reason: str, dialog: PasswordDialog | None = None) -> None:
        """Amend the signed report with the text now in the editor and a reason."""
        study = self.current_study
        if study is None:
            return
        session = self.session
        conclusion = self.conclusion_edit.toPlainText()
        recommendation = self.recommendation_edit.toPlainText()

        def work(_progress: ProgressFn, _cancel: CancelToken) -> ReportVersion:
            return amend_report(
                session,
                study,
                password=password,
                reason=reason,
                conclusion=conclusion,
                recommendation=recommendation,
            )

        self._run_signing(work, dialog, _("Amendment version {v} of study {id} signed."))

    def _run_signing(
        self, work: Job[ReportVersion], dialog: PasswordDialog | None, done_text: str
    ) -> None:
        """Run a signature; close the dialog and show the new version, or the refusal."""

        def done(version: ReportVersion) -> None:
            if dialog is not None:
                dialog.accept()
            text = done_text.format(v=version.version_no, id=version.study_id)
            if self.session.may(Permission.SEND):  # offered at once: one click sends it
                text += " " + _("Send it to the patient record with 'Send to patient record'.")
            self.set_status(text)
            self.load_preview()
            self.refresh()

        self.run(work, done, on_error=lambda exc: self._refused(exc, dialog))

    def _refused(self, exc: BaseException, dialog: PasswordDialog | None) -> None:
        """Show a refused signature in the open password dialog, else like any error."""
        if dialog is None or not dialog.isVisible():
            self.report_error(exc)
            return
        self.report_error(exc, dialog=False)
        message, remedy = describe(exc)
        dialog.show_problem(f"{message} {remedy}".strip())

    def send_to_record(self) -> None:
        """Queue the signed report for the patient record (HL7 v2) and deliver it now."""
        study = self.current_study
        if study is None:
            return
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> list[OutboxRow]:
            return send_hl7(session, study)

        def done(rows: list[OutboxRow]) -> None:
            newest = rows[0] if rows else None
            if newest is not None and newest.state == "delivered":
                self.set_status(
                    _("The report of study {id} was delivered to the patient record.").format(
                        id=study
                    )
                )
            else:
                self.set_status(
                    _(
                        "The report of study {id} is in the HL7 outbox; it is sent again"
                        " after its back-off (see the Patient record tab)."
                    ).format(id=study)
                )
            self.outbox_panel.refresh()

        self.set_status(_("Sending to the patient record…"))
        self.run(work, done)

    def pacs_target(self) -> PacsTarget:
        """Return the PACS address in the form."""
        return self.pacs_box.target()

    def send_to_pacs(self) -> None:
        """Send the signed report to the PACS address in the form (for this send only)."""
        study = self.current_study
        if study is None:
            return
        session, target = self.session, self.pacs_target()

        def work(_progress: ProgressFn, _cancel: CancelToken) -> SendResult:
            return send_report(session, study, target)

        def done(result: SendResult) -> None:
            if result.ok:
                self.set_status(
                    _("Sent the signed report of study {id} to {ae}.").format(
                        id=study, ae=result.target.called_ae
                    )
                )
            else:
                self.set_status(
                    _("PACS refused the report of study {id} (status {status:#06x}).").format(
                        id=study, status=result.status
                    )
                )

        self.set_status(_("Sending to PACS…"))
        self.run(work, done)
