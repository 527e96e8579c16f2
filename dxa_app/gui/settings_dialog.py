"""The administrator's settings in one dialog: the PACS, the receiver, backup and the screen lock.

Edit > Settings… (administrators only) opens :class:`SettingsDialog`. Each page is a small
:class:`~dxa_app.gui.workspace.Workspace` that loads and stores its setting through the existing
services (:mod:`dxa_app.services.pacs`, :mod:`~dxa_app.services.receiving`,
:mod:`~dxa_app.services.backup`, :mod:`~dxa_app.services.settings`); the services check the role
again and write the audit log. The settings are stored in the archive, so every workstation uses
them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dxa_app.gui.archive_tasks import format_size
from dxa_app.gui.pacs_form import PacsForm
from dxa_app.gui.workspace import ProgressFn, Workspace
from dxa_app.i18n import _
from dxa_app.progress import CancelToken
from dxa_app.services.auth import Permission, Session
from dxa_app.services.backup import BackupResult, backup_archive
from dxa_app.services.pacs import PacsTarget, pacs_target, set_pacs_target
from dxa_app.services.receiving import allow_caller, allowed_callers
from dxa_app.services.settings import MAX_LOCK_MINUTES, lock_minutes, set_lock_minutes

#: How many folder backups the backup page keeps by default.
DEFAULT_KEEP = 7


def _note() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    return label


class PacsPage(Workspace):
    """The PACS signed reports are sent to, stored for every workstation."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.pacs_box = PacsForm()
        self.save_button = QPushButton()
        self.save_button.setObjectName("savePacs")
        self.save_button.clicked.connect(lambda _checked=False: self.save())
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.save_button)
        self.pacs_box.add_row(row)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pacs_box)
        layout.addStretch(1)

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.pacs_box.retranslate()
        self.pacs_box.setTitle(_("PACS for signed reports"))
        self.pacs_box.set_note(_("Stored in the archive: every workstation sends there."))
        self.save_button.setText(_("Save"))

    def refresh(self) -> None:
        """Show the stored PACS address."""
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> PacsTarget | None:
            return pacs_target(session)

        def done(target: PacsTarget | None) -> None:
            if target is not None:
                self.pacs_box.show_target(target)

        self.run(work, done)

    def save(self) -> None:
        """Store the PACS address for every workstation (audited by the service)."""
        session, target = self.session, self.pacs_box.target()

        def work(_progress: ProgressFn, _cancel: CancelToken) -> PacsTarget:
            return set_pacs_target(session, target)

        def done(stored: PacsTarget) -> None:
            self.pacs_box.show_target(stored)
            self.set_status(_("The PACS address is stored for every workstation."))

        self.run(work, done)


class ReceiverPage(Workspace):
    """The scanners (calling AE titles) the DICOM receiver accepts."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.box = QGroupBox()
        self.note = _note()
        self.caller_list = QListWidget()
        self.caller_list.setObjectName("settingsCallerList")
        self.caller_list.itemSelectionChanged.connect(self.update_actions)
        self.caller_edit = QLineEdit()
        self.caller_edit.setObjectName("settingsCallerEdit")
        self.caller_edit.setMaxLength(16)
        self.caller_edit.returnPressed.connect(lambda: self.allow(self.caller_edit.text()))
        self.add_button = QPushButton()
        self.add_button.clicked.connect(lambda _checked=False: self.allow(self.caller_edit.text()))
        self.remove_button = QPushButton()
        self.remove_button.clicked.connect(lambda _checked=False: self.remove_selected())
        box_layout = QVBoxLayout(self.box)
        box_layout.addWidget(self.note)
        box_layout.addWidget(self.caller_list, 1)
        row = QHBoxLayout()
        row.addWidget(self.caller_edit, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        box_layout.addLayout(row)
        layout = QVBoxLayout(self)
        layout.addWidget(self.box, 1)
        self.update_actions()

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.box.setTitle(_("Scanners the receiver accepts"))
        self.note.setText(
            _("The calling AE title of each scanner that may send DICOM to this archive.")
        )
        self.caller_edit.setPlaceholderText(_("AE title"))
        self.add_button.setText(_("Add"))
        self.remove_button.setText(_("Remove"))

    def update_actions(self) -> None:
        """Offer Remove only with a scanner selected."""
        self.remove_button.setEnabled(bool(self.caller_list.selectedItems()))

    def _show(self, callers: list[str]) -> None:
        self.caller_list.clear()
        self.caller_list.addItems(callers)
        self.update_actions()

    def refresh(self) -> None:
        """Show the registered scanners."""
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> list[str]:
            return allowed_callers(session)

        self.run(work, self._show)

    def allow(self, ae_title: str, *, remove: bool = False) -> None:
        """Register (or ``remove``) a scanner's calling AE title; the service checks and audits.

        Parameters
        ----------
        ae_title : str
            The scanner's own AE title.
        remove : bool
            Unregister it instead.
        """
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> list[str]:
            return allow_caller(session, ae_title, remove=remove)

        def done(callers: list[str]) -> None:
            self._show(callers)
            ae = ae_title.strip()
            if remove:
                self.set_status(_("Scanner {ae} removed.").format(ae=ae))
            else:
                self.caller_edit.clear()
                self.set_status(_("Scanner {ae} registered.").format(ae=ae))

        self.run(work, done)

    def remove_selected(self) -> None:
        """Unregister the selected AE title."""
        items = self.caller_list.selectedItems()
        if items:
            self.allow(items[0].text(), remove=True)


class BackupPage(Workspace):
    """Back up the archive into a folder (keeping the newest copies) or restore a backup."""

    #: Asked to restore from a backup (the main window asks for the file and confirms).
    restore_requested = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.box = QGroupBox()
        self.note = _note()
        self.folder_edit = QLineEdit()
        self.folder_edit.setObjectName("backupFolder")
        self.folder_edit.setText(str(Path(session.archive).parent / "backup"))
        self.browse_button = QPushButton()
        self.browse_button.clicked.connect(lambda _checked=False: self.choose_folder())
        self.keep_spin = QSpinBox()
        self.keep_spin.setObjectName("backupKeep")
        self.keep_spin.setRange(1, 365)
        self.keep_spin.setValue(DEFAULT_KEEP)
        self.backup_button = QPushButton()
        self.backup_button.setObjectName("backupNow")
        self.backup_button.clicked.connect(lambda _checked=False: self.back_up())
        self.restore_button = QPushButton()
        self.restore_button.setObjectName("restoreBackup")
        self.restore_button.clicked.connect(lambda _checked=False: self.restore_requested.emit())
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)
        self.folder_label = QLabel()
        self.keep_label = QLabel()
        self.form = QFormLayout()
        self.form.addRow(self.folder_label, folder_row)
        self.form.addRow(self.keep_label, self.keep_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.backup_button)
        buttons.addStretch(1)
        buttons.addWidget(self.restore_button)
        box_layout = QVBoxLayout(self.box)
        box_layout.addWidget(self.note)
        box_layout.addLayout(self.form)
        box_layout.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.box)
        layout.addStretch(1)
        self.backup_button.setEnabled(session.may(Permission.BACKUP))
        self.restore_button.setEnabled(session.may(Permission.RESTORE))

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.box.setTitle(_("Backup to a folder"))
        self.note.setText(
            _(
                "A backup is a checked copy of the archive and its image store. Backups to a"
                " folder are named by date and time; the oldest beyond the number kept are"
                " removed."
            )
        )
        self.folder_label.setText(_("Folder"))
        self.keep_label.setText(_("Copies kept"))
        self.browse_button.setText(_("Choose…"))
        self.backup_button.setText(_("Back up now"))
        self.restore_button.setText(_("&Restore from backup…"))

    def choose_folder(self) -> None:
        """Ask for the backup folder."""
        folder = QFileDialog.getExistingDirectory(self, _("Backup folder"), self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def back_up(self) -> None:
        """Write a checked backup into the folder, keeping the newest copies (audited)."""
        session = self.session
        folder, keep = Path(self.folder_edit.text().strip()), self.keep_spin.value()

        def work(_progress: ProgressFn, _cancel: CancelToken) -> BackupResult:
            folder.mkdir(parents=True, exist_ok=True)
            return backup_archive(session, folder=folder, keep=keep)

        def done(result: BackupResult) -> None:
            self.set_status(
                _("Backup written: {path} ({size}).").format(
                    path=result.path, size=format_size(result.bytes)
                )
            )

        self.set_status(_("Writing the backup…"))
        self.run(work, done)


class LockTimePage(Workspace):
    """The idle time after which every workstation locks its window."""

    #: Emitted with the idle time (minutes) just stored (the main window uses it at once).
    lock_minutes_changed = Signal(int)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.box = QGroupBox()
        self.label = QLabel()
        self.spin = QSpinBox()
        self.spin.setObjectName("settingsLockMinutes")
        self.spin.setRange(1, MAX_LOCK_MINUTES)
        self.spin.setValue(10)
        self.save_button = QPushButton()
        self.save_button.setObjectName("saveLockMinutes")
        self.save_button.clicked.connect(lambda _checked=False: self.save(self.spin.value()))
        self.note = _note()
        row = QHBoxLayout()
        row.addWidget(self.label)
        row.addWidget(self.spin)
        row.addStretch(1)
        row.addWidget(self.save_button)
        box_layout = QVBoxLayout(self.box)
        box_layout.addLayout(row)
        box_layout.addWidget(self.note)
        layout = QVBoxLayout(self)
        layout.addWidget(self.box)
        layout.addStretch(1)

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.box.setTitle(_("Screen lock"))
        self.label.setText(_("Lock the window after"))
        self.spin.setSuffix(_(" minutes"))
        self.note.setText(
            _("without keyboard or mouse input; stored in the archive for every workstation.")
        )
        self.save_button.setText(_("Save"))

    def refresh(self) -> None:
        """Show the stored idle time."""
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> int:
            return lock_minutes(session)

        self.run(work, self.spin.setValue)

    def save(self, minutes: int) -> None:
        """Store the idle time for every workstation (administrator; audited by the service).

        Parameters
        ----------
        minutes : int
            1 to :data:`~dxa_app.services.settings.MAX_LOCK_MINUTES` (the service checks).
        """
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> int:
            return set_lock_minutes(session, minutes)

        def done(stored: int) -> None:
            self.spin.setValue(stored)
            self.set_status(
                _("The window locks after {n} minutes without input, on every workstation.").format(
                    n=stored
                )
            )
            self.lock_minutes_changed.emit(stored)

        self.run(work, done)


class SettingsDialog(QDialog):
    """The administrator's settings on one dialog's pages: PACS, receiver, backup, screen lock.

    Parameters
    ----------
    session : Session
        The logged-in administrator (the services refuse anyone else).
    parent : QWidget, optional
        The main window.
    """

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.session = session
        self.pacs_page = PacsPage(session)
        self.receiver_page = ReceiverPage(session)
        self.backup_page = BackupPage(session)
        self.lock_page = LockTimePage(session)
        self.pages: tuple[Workspace, ...] = (
            self.pacs_page,
            self.receiver_page,
            self.backup_page,
            self.lock_page,
        )
        self.tabs = QTabWidget()
        self.tabs.setObjectName("settingsPages")
        for page in self.pages:
            self.tabs.addTab(page, "")
        self.status_label = QLabel()
        self.status_label.setObjectName("statusLine")
        self.status_label.setWordWrap(True)
        for page in self.pages:
            page.status_changed.connect(self.status_label.setText)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)
        self.resize(640, 460)
        self.retranslate()
        for page in self.pages:
            refresh = getattr(page, "refresh", None)
            if callable(refresh):
                refresh()

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.setWindowTitle(_("Settings"))
        for i, title in enumerate((_("PACS"), _("Receiver"), _("Backup"), _("Screen lock"))):
            self.tabs.setTabText(i, title)
        for page in self.pages:
            retranslate = getattr(page, "retranslate", None)
            if callable(retranslate):
                retranslate()
        close = self.buttons.button(QDialogButtonBox.StandardButton.Close)
        if close is not None:
            close.setText(_("Close"))

    def busy(self) -> bool:
        """Return whether a page's service call is still running."""
        return any(page.busy() for page in self.pages)
