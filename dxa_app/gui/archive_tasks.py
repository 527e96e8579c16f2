"""The window's archive-wide actions for the logged-in user: back up and restore the archive.

:class:`ArchiveTasks` runs :func:`dxa_app.services.backup.backup_archive` and
:func:`~dxa_app.services.backup.restore_archive` off the GUI thread; its status line sits in
the main window's status bar. The file dialogs and the restore confirmation belong to the main
window (File menu), which hands the chosen path in, so tests give the path directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from dxa_app.gui.tasks import TaskHandle
from dxa_app.gui.workspace import ProgressFn, Workspace
from dxa_app.i18n import _, current_language
from dxa_app.progress import CancelToken
from dxa_app.services.auth import Permission, Session
from dxa_app.services.backup import BackupResult, backup_archive, restore_archive


def format_size(n_bytes: int) -> str:
    """Return a file size for people: kB below a megabyte, else MB with one decimal.

    Parameters
    ----------
    n_bytes : int
        The size in bytes.

    Returns
    -------
    str
        E.g. ``"3.2 MB"`` (``"3,2 MB"`` in Danish).
    """
    if n_bytes < 1_000_000:
        text = f"{max(n_bytes, 0) / 1000:.0f} kB"
    else:
        text = f"{n_bytes / 1_000_000:.1f} MB"
    return text.replace(".", ",") if current_language() == "da" else text


class ArchiveTasks(Workspace):
    """Back up or restore the session's archive; shows its last status in the status bar.

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    #: Emitted with the :class:`~dxa_app.services.backup.BackupResult` of a written backup.
    backed_up = Signal(object)
    #: Emitted with the service's answer (restored file, safety copy) after a restore.
    restored = Signal(object)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.setObjectName("archiveTasks")
        self.message_label = QLabel()
        self.message_label.setObjectName("archiveTaskStatus")
        self.status_changed.connect(self.message_label.setText)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message_label)

    def may_back_up(self) -> bool:
        """Return whether the role may copy the archive (the service checks again)."""
        return self.session.may(Permission.BACKUP)

    def may_restore(self) -> bool:
        """Return whether the role may replace the archive with a backup."""
        return self.session.may(Permission.RESTORE)

    def backup(self, dest: Path) -> TaskHandle:
        """Write a checked copy of the archive to ``dest`` off the GUI thread.

        Parameters
        ----------
        dest : Path
            The new backup file (the service refuses an existing file or the archive).

        Returns
        -------
        TaskHandle
            The running task.
        """
        session, target = self.session, Path(dest)

        def work(_progress: ProgressFn, _cancel: CancelToken) -> BackupResult:
            return backup_archive(session, target)

        def done(result: BackupResult) -> None:
            self.set_status(
                _("Backup written: {path} ({size}).").format(
                    path=result.path, size=format_size(result.bytes)
                )
            )
            self.backed_up.emit(result)

        self.set_status(_("Writing the backup…"))
        return self.run(work, done)

    def restore(self, src: Path) -> TaskHandle:
        """Replace the archive's content with the checked backup ``src`` off the GUI thread.

        Parameters
        ----------
        src : Path
            The backup file (the service checks it before anything is replaced).

        Returns
        -------
        TaskHandle
            The running task.
        """
        session, source = self.session, Path(src)

        def work(_progress: ProgressFn, _cancel: CancelToken) -> dict[str, Any]:
            return restore_archive(session, source)

        def done(result: dict[str, Any]) -> None:
            self.set_status(
                _("Restored from {src}; the archive before is kept as {safety}.").format(
                    src=result.get("restored_from", source),
                    safety=result.get("safety_copy", ""),
                )
            )
            self.restored.emit(result)

        self.set_status(_("Restoring the archive…"))
        return self.run(work, done)
