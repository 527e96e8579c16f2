"""The national scale in force and the installed T and Z reference tables.

:class:`ReferencesPanel` lists the installed tables and installs a new one from a scan date
(centre analyst or administrator: the impact preview, a reason and the password, audited by
:func:`dxa_app.services.references.install_reference`); the administration workspace shows it
too. :class:`ScaleTab` is the centre's tab: the national scale in force, the choice between the
reference scanner's scale and the ESP-certified one (centre analyst), and the panel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from calibration.reference import ReferenceTable
from dxa_app.domain import scanner_label
from dxa_app.errors import DxaError
from dxa_app.gui.common import read_only_table
from dxa_app.gui.decision import DecisionDialog
from dxa_app.gui.table_model import Column, ObjectTableModel
from dxa_app.gui.workspace import ProgressFn, Workspace
from dxa_app.i18n import _
from dxa_app.progress import CancelToken
from dxa_app.services.auth import Permission, Session
from dxa_app.services.calibration import NationalScale, national_scale, set_national_scale
from dxa_app.services.impact import ChangePreview
from dxa_app.services.references import (
    InstalledTable,
    install_reference,
    list_references,
    preview_reference,
    read_reference_file,
)
from dxa_app.services.workbench import ScannerChoice, scanner_choices


def scale_text(scale: NationalScale) -> str:
    """Return the sentence naming the national scale in force (as ``centre scale`` prints it).

    Parameters
    ----------
    scale : NationalScale
        The scale.

    Returns
    -------
    str
        E.g. "National scale version 2: the reference scanner HZA-1.".
    """
    if scale.scale == "esp":
        return _(
            "National scale version {n}: ESP-certified (spine: European Spine Phantom; hip: in"
            " vivo to {serial})."
        ).format(n=scale.version, serial=scale.hip_anchor or "-")
    return _("National scale version {n}: the reference scanner {serial}.").format(
        n=scale.version, serial=scale.reference or "-"
    )


class ReferenceTableModel(ObjectTableModel[InstalledTable]):
    """Installed tables: T or Z, name, version, status, from, regions, source, installed."""

    COL_PURPOSE, COL_NAME, COL_VERSION, COL_STATUS, COL_FROM = range(5)

    columns: Sequence[Column[InstalledTable]] = (
        Column(lambda: _("T or Z"), lambda t: t.table.purpose),
        Column(lambda: _("Name"), lambda t: t.table.name),
        Column(lambda: _("Version"), lambda t: t.table.version),
        Column(lambda: _("Status"), lambda t: t.table.status),
        Column(lambda: _("For scans from"), lambda t: t.valid_from),
        Column(lambda: _("Regions"), lambda t: ", ".join(sorted(t.table.regions))),
        Column(lambda: _("Source"), lambda t: t.table.source),
        Column(lambda: _("Installed"), lambda t: f"{t.installed_at[:10]} {t.installed_by}".strip()),
        Column(lambda: _("Origin"), lambda t: t.origin),
    )


@dataclass(frozen=True)
class _Proposal:
    """A table file read and what installing it would change."""

    path: Path
    valid_from: dt.date
    table: ReferenceTable
    impact: ChangePreview


class ReferencesPanel(Workspace):
    """The installed reference tables; install one from a scan date (centre or admin).

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    #: Emitted after a table was installed (the scores of later scans change on rescore).
    installed = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        #: The open install dialog (what would change, reason, password).
        self.install_dialog: DecisionDialog | None = None
        self.loaded = False
        self.box = QGroupBox()
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.table_model = ReferenceTableModel(parent=self)
        self.table_view = read_only_table(self.table_model)
        self.table_view.setObjectName("referenceTable")
        self.empty_label = QLabel()
        self.empty_label.setWordWrap(True)
        self.from_label = QLabel()
        self.from_edit = QDateEdit()
        self.from_edit.setObjectName("referenceFrom")
        self.from_edit.setCalendarPopup(True)
        self.from_edit.setDisplayFormat("yyyy-MM-dd")
        self.from_edit.setDate(QDate.currentDate())
        self.install_button = QPushButton()
        self.install_button.setObjectName("installReference")
        self.install_button.clicked.connect(self.choose_file)
        box_layout = QVBoxLayout(self.box)
        box_layout.addWidget(self.note_label)
        box_layout.addWidget(self.table_view, 1)
        row = QHBoxLayout()
        row.addWidget(self.empty_label)
        row.addStretch(1)
        row.addWidget(self.from_label)
        row.addWidget(self.from_edit)
        row.addWidget(self.install_button)
        box_layout.addLayout(row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.box)
        self.retranslate()
        self.update_actions()

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.box.setTitle(_("Reference tables (T and Z)"))
        self.note_label.setText(
            _(
                "A table applies to scans from its date; earlier scans keep the table they"
                " were scored with. Tables published by the knowledge centre arrive with its"
                " corrections."
            )
        )
        self.empty_label.setText(_("No installed reference tables (the shipped defaults apply)."))
        self.from_label.setText(_("For scans from"))
        self.install_button.setText(_("Install a table…"))
        self.table_model.retranslate()

    def update_actions(self) -> None:
        """Offer installing only to a role that may install (the service checks again)."""
        may = self.session.may(Permission.REFERENCE_INSTALL)
        self.install_button.setEnabled(may and self.install_dialog is None)
        self.from_edit.setEnabled(may)

    def valid_from(self) -> dt.date:
        """Return the first scan date chosen for a new table."""
        d = self.from_edit.date()
        return dt.date(d.year(), d.month(), d.day())

    # -- loading --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the installed tables."""
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> list[InstalledTable]:
            return list_references(session)

        self.run(work, self._loaded)

    def _loaded(self, rows: list[InstalledTable]) -> None:
        self.table_model.set_rows(rows)
        self.table_view.resizeColumnsToContents()
        self.empty_label.setVisible(not rows)
        self.loaded = True

    # -- installing -----------------------------------------------------------------------
    def choose_file(self) -> None:
        """Ask for a table file (CSV or JSON) and install it from the chosen date."""
        path, _selected = QFileDialog.getOpenFileName(
            self,
            _("Choose a reference table"),
            "",
            _("Reference tables (*.csv *.json);;All files (*)"),
        )
        if path:
            self.install_file(Path(path), self.valid_from())

    def install_file(self, path: Path, valid_from: dt.date) -> None:
        """Read the table, show what installing it would change, then ask reason and password.

        Parameters
        ----------
        path : Path
            The table (``# dxa-reference-table v1`` CSV, or JSON); the service validates it.
        valid_from : datetime.date
            The first scan date it applies to.
        """
        session, source = self.session, Path(path)

        def preview(_progress: ProgressFn, _cancel: CancelToken) -> _Proposal:
            table = read_reference_file(source)
            impact = preview_reference(session, source, valid_from=valid_from)
            return _Proposal(source, valid_from, table, impact)

        self.run(preview, self._ask)

    def _ask(self, p: _Proposal) -> None:
        t = p.table
        question = _(
            "Install the {purpose} reference {name} {version} ({status}) for scans from {date}?"
        ).format(
            purpose=t.purpose,
            name=t.name,
            version=t.version,
            status=t.status,
            date=p.valid_from.isoformat(),
        )
        notes = [
            _("Source: {source}.").format(source=t.source),
            _("Earlier scans keep the table they were scored with."),
        ]
        dialog = DecisionDialog(question, _("Install reference table"), p.impact, self, notes=notes)
        dialog.submitted.connect(lambda password: self._install(p, password, dialog))
        dialog.finished.connect(lambda _r: self._closed(dialog))
        self.install_dialog = dialog
        self.update_actions()
        dialog.open()

    def _closed(self, dialog: DecisionDialog) -> None:
        if self.install_dialog is dialog:
            self.install_dialog = None
        self.update_actions()

    def _install(self, p: _Proposal, password: str, dialog: DecisionDialog) -> None:
        session, reason = self.session, dialog.reason()

        def work(_progress: ProgressFn, _cancel: CancelToken) -> InstalledTable:
            return install_reference(
                session, p.path, valid_from=p.valid_from, password=password, reason=reason
            )

        def done(t: InstalledTable) -> None:
            dialog.accept()
            self.set_status(
                _(
                    "Installed {purpose} reference {name} {version} for scans from {date};"
                    " rescore to re-express the studies (old scores keep their table)."
                ).format(
                    purpose=t.table.purpose,
                    name=t.table.name,
                    version=t.table.version,
                    date=t.valid_from,
                )
            )
            self.refresh()
            self.installed.emit()

        def refused(exc: BaseException) -> None:
            message = exc.message if isinstance(exc, DxaError) else str(exc)
            dialog.show_problem(message)

        self.run(work, done, on_error=refused)


@dataclass(frozen=True)
class _ScaleData:
    """The scale in force and the scanners that can anchor the hip."""

    scale: NationalScale
    scanners: list[ScannerChoice]


class ScaleTab(Workspace):
    """The national scale in force and its choice (centre analyst); the reference tables.

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    #: Emitted after the centre chose a new scale (new steps are fitted for it).
    scale_changed = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.data: _ScaleData | None = None
        #: The open dialog choosing a scale (reason, password).
        self.scale_dialog: DecisionDialog | None = None
        self.scale_box = QGroupBox()
        self.scale_label = QLabel()
        self.scale_label.setObjectName("nationalScale")
        self.scale_label.setWordWrap(True)
        self.scale_note = QLabel()
        self.scale_note.setWordWrap(True)
        self.choice_label = QLabel()
        self.scale_combo = QComboBox()
        self.scale_combo.setObjectName("scaleChoice")
        self.scale_combo.addItem("", "reference")
        self.scale_combo.addItem("", "esp")
        self.scale_combo.currentIndexChanged.connect(lambda _i: self.update_actions())
        self.anchor_label = QLabel()
        self.anchor_combo = QComboBox()
        self.anchor_combo.setObjectName("hipAnchor")
        self.set_button = QPushButton()
        self.set_button.setObjectName("setScale")
        self.set_button.clicked.connect(self.ask_scale)
        box = QVBoxLayout(self.scale_box)
        box.addWidget(self.scale_label)
        box.addWidget(self.scale_note)
        row = QHBoxLayout()
        row.addWidget(self.choice_label)
        row.addWidget(self.scale_combo)
        row.addWidget(self.anchor_label)
        row.addWidget(self.anchor_combo, 1)
        row.addWidget(self.set_button)
        box.addLayout(row)
        self.references = ReferencesPanel(session)
        self.add_part(self.references)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scale_box)
        layout.addWidget(self.references, 1)
        self.retranslate()
        self.update_actions()

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.scale_box.setTitle(_("National scale"))
        self.scale_note.setText(
            _(
                "The reference scanner's scale: every region on the readings of the national"
                " reference scanner. The ESP-certified scale: the spine on the European Spine"
                " Phantom's certified values, the hip on an ESP-calibrated scanner that the"
                " other hips are linked to in vivo. After a change, fit and approve the new"
                " steps; the scale is published with the corrections and named in the report."
            )
        )
        self.choice_label.setText(_("Scale:"))
        self.scale_combo.setItemText(0, _("Reference scanner"))
        self.scale_combo.setItemText(1, _("ESP-certified"))
        self.anchor_label.setText(_("Hip anchor:"))
        self.set_button.setText(_("Set scale…"))
        if self.data is not None:
            self.scale_label.setText(scale_text(self.data.scale))
        self.references.retranslate()

    def update_actions(self) -> None:
        """Offer the choice to a centre analyst; the hip anchor only for the ESP scale."""
        may = self.session.may(Permission.CENTRE)
        esp = self.scale_combo.currentData() == "esp"
        self.scale_combo.setEnabled(may)
        self.anchor_combo.setEnabled(may and esp and self.anchor_combo.count() > 0)
        self.set_button.setEnabled(may and self.data is not None and self.scale_dialog is None)

    # -- loading --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the scale in force, the scanners and the installed tables."""
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> _ScaleData:
            return _ScaleData(national_scale(session), scanner_choices(session))

        self.run(work, self._loaded)
        self.references.refresh()

    def _loaded(self, data: _ScaleData) -> None:
        self.data = data
        self.scale_label.setText(scale_text(data.scale))
        self.scale_combo.blockSignals(True)
        self.scale_combo.setCurrentIndex(max(self.scale_combo.findData(data.scale.scale), 0))
        self.scale_combo.blockSignals(False)
        self.anchor_combo.clear()
        for s in data.scanners:
            scanner = scanner_label(s.manufacturer, s.model)
            self.anchor_combo.addItem(f"{s.serial} ({s.site}, {scanner})", s.serial)
        anchor = data.scale.hip_anchor or data.scale.reference
        self.anchor_combo.setCurrentIndex(max(self.anchor_combo.findData(anchor), 0))
        self.update_actions()

    # -- choosing the scale -----------------------------------------------------------------
    def chosen(self) -> tuple[str, str | None]:
        """Return the scale chosen in the form and its hip anchor (ESP only)."""
        scale = str(self.scale_combo.currentData())
        anchor = self.anchor_combo.currentData() if scale == "esp" else None
        return scale, None if anchor is None else str(anchor)

    def ask_scale(self) -> None:
        """Ask reason and password to make the chosen scale the national one."""
        scale, anchor = self.chosen()
        if scale == "esp":
            question = _("Make the ESP-certified scale national, with the hip in vivo to {serial}?")
        else:
            question = _("Make the reference scanner's scale national?")
        notes = [
            _(
                "Steps fitted for the scale in force stay until the new ones are approved: fit"
                " and approve after the change."
            )
        ]
        dialog = DecisionDialog(
            question.format(serial=anchor or "-"),
            _("National scale"),
            None,
            self,
            notes=notes,
        )
        dialog.submitted.connect(lambda password: self._set(scale, anchor, password, dialog))
        dialog.finished.connect(lambda _r: self._closed(dialog))
        self.scale_dialog = dialog
        self.update_actions()
        dialog.open()

    def _closed(self, dialog: DecisionDialog) -> None:
        if self.scale_dialog is dialog:
            self.scale_dialog = None
        self.update_actions()

    def _set(self, scale: str, anchor: str | None, password: str, dialog: DecisionDialog) -> None:
        session, reason = self.session, dialog.reason()

        def work(_progress: ProgressFn, _cancel: CancelToken) -> NationalScale:
            return set_national_scale(
                session, scale, hip_anchor=anchor, password=password, reason=reason
            )

        def done(now: NationalScale) -> None:
            dialog.accept()
            self.set_status(
                scale_text(now) + " " + _("Fit and approve the steps for the new scale.")
            )
            self.refresh()
            self.scale_changed.emit()

        def refused(exc: BaseException) -> None:
            message = exc.message if isinstance(exc, DxaError) else str(exc)
            dialog.show_problem(message)

        self.run(work, done, on_error=refused)
