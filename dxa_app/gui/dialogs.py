"""The friendly error dialog with "Copy details", and the switch that turns dialogs off.

Tests (and the ``--screenshot`` smoke run) must never block on a modal dialog: set the
environment variable ``DXA_NO_DIALOGS=1`` or call ``set_dialogs_enabled(False)``, and
errors are written to stderr instead.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import traceback
from types import TracebackType

from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dxa_app.errors import DxaError
from dxa_app.i18n import _

NO_DIALOGS_ENV = "DXA_NO_DIALOGS"

_enabled: list[bool] = [True]


def set_dialogs_enabled(enabled: bool) -> None:
    """Switch error dialogs on or off for the whole process (off: errors go to stderr)."""
    _enabled[0] = enabled


def dialogs_enabled() -> bool:
    """Return whether errors are shown in dialogs (False in tests and smoke runs)."""
    env = os.environ.get(NO_DIALOGS_ENV, "").strip().lower()
    return _enabled[0] and env not in ("1", "true", "yes", "on")


def describe(exc: BaseException) -> tuple[str, str]:
    """Return the (message, remedy) to show a user for an exception.

    A :class:`DxaError` carries its own translated message and remedy (the one for the
    screen when it differs from the command line's). Ordinary mishaps outside our code (a
    file that is gone, a folder one may not write, a PACS that does not answer) get a plain
    explanation; anything else is an unexpected error whose technical text goes into the
    details.
    """
    if isinstance(exc, DxaError):
        return exc.message, exc.screen_remedy
    explained = _explain_os_error(exc)
    if explained is not None:
        return explained
    return (
        _("An unexpected error occurred."),
        _('Use "Copy details" and send the text to your DXA support contact.'),
    )


def is_expected(exc: BaseException) -> bool:
    """Return whether ``exc`` is an ordinary refusal or mishap (not a fault in the program)."""
    return isinstance(exc, DxaError) or _explain_os_error(exc) is not None


def _explain_os_error(exc: BaseException) -> tuple[str, str] | None:
    """Return (message, remedy) for the operating-system errors a user can put right."""
    name = str(getattr(exc, "filename", None) or "")
    if isinstance(exc, FileNotFoundError):
        return (
            _("The file {path} does not exist.").format(path=name)
            if name
            else _("A file the program needs does not exist."),
            _("Check the name and the folder, or choose the file again."),
        )
    if isinstance(exc, PermissionError):
        return (
            _("You may not read or write {path}.").format(path=name)
            if name
            else _("You may not read or write a file the program needs."),
            _("Choose a folder you may write to, or ask your IT department for access."),
        )
    if isinstance(exc, IsADirectoryError):
        return (
            _("{path} is a folder, not a file.").format(path=name or "?"),
            _("Choose a file inside the folder."),
        )
    if isinstance(exc, socket.gaierror):
        return (
            _("The computer name could not be found on the network."),
            _("Check the host name, or ask your IT department for the right address."),
        )
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return (
            _("The other computer did not answer."),
            _("Check the host and port, and that the other system is running; then try again."),
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return (
            _("The disk is full."),
            _("Free some space or choose another disk, then try again."),
        )
    return None


def format_details(
    exc: BaseException,
    tb: TracebackType | None = None,
) -> str:
    """Return the technical details (the traceback) of an exception as text."""
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


class ErrorDialog(QDialog):
    """A friendly error dialog: what went wrong, what to do, and the technical details.

    Parameters
    ----------
    message : str
        What went wrong (translated).
    remedy : str
        What the user can do (translated; may be empty).
    details : str
        The traceback; "Copy details" puts it on the clipboard.
    parent : QWidget, optional
        The owner window.
    show_details : bool
        Open with the traceback unfolded. By default it is folded away behind "Details for
        support" (and always on the clipboard with "Copy details").
    """

    def __init__(
        self,
        message: str,
        remedy: str,
        details: str,
        parent: QWidget | None = None,
        *,
        show_details: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Error"))
        self.details = details
        layout = QVBoxLayout(self)
        self.message_label = QLabel(message)
        self.message_label.setWordWrap(True)
        font = QFont(self.message_label.font())
        font.setBold(True)
        self.message_label.setFont(font)
        layout.addWidget(self.message_label)
        self.remedy_label = QLabel(remedy)
        self.remedy_label.setWordWrap(True)
        self.remedy_label.setVisible(bool(remedy))
        layout.addWidget(self.remedy_label)
        self.details_view = QPlainTextEdit(details)
        self.details_view.setObjectName("errorDetails")
        self.details_view.setReadOnly(True)
        self.details_view.setVisible(bool(details) and show_details)
        layout.addWidget(self.details_view, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        # The technical text is folded away: support asks for it, a user rarely needs it.
        self.details_button = QPushButton(_("Details for support"))
        self.details_button.setCheckable(True)
        self.details_button.setChecked(self.details_view.isVisibleTo(self))
        self.details_button.setEnabled(bool(details))
        self.details_button.toggled.connect(self.set_details_shown)
        buttons.addButton(self.details_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button = QPushButton(_("Copy details"))
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        # An ActionRole button must not close the dialog: handle it ourselves.
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._layout = layout
        self.resize(560, 360)
        self._fit()

    def _fit(self) -> None:
        """As tall as the text needs (never clipped); taller with the details unfolded."""
        self._layout.activate()
        needed = self._layout.totalHeightForWidth(self.width())
        self.resize(
            self.width(), max(needed, 360) if self.details_view.isVisibleTo(self) else needed
        )

    def set_details_shown(self, shown: bool) -> None:
        """Unfold (or fold away) the technical details."""
        self.details_view.setVisible(shown)
        self._fit()

    def copy_details(self) -> None:
        """Put the message, remedy and traceback on the clipboard."""
        text = "\n".join(
            part
            for part in (self.message_label.text(), self.remedy_label.text(), self.details)
            if part
        )
        QGuiApplication.clipboard().setText(text)


def show_error(
    exc: BaseException,
    parent: QWidget | None = None,
    tb: TracebackType | None = None,
) -> None:
    """Show an error to the user: a modal dialog, or stderr when dialogs are off.

    Parameters
    ----------
    exc : BaseException
        The error; a :class:`DxaError` shows its message and remedy.
    parent : QWidget, optional
        The window the dialog belongs to.
    tb : TracebackType, optional
        The traceback (defaults to ``exc.__traceback__``).
    """
    message, remedy = describe(exc)
    details = format_details(exc, tb)
    if not dialogs_enabled() or QApplication.instance() is None:
        lines = [_("Error: {message}").format(message=message)]
        if remedy:
            lines.append(remedy)
        if not is_expected(exc):
            lines.append(details.rstrip())
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
        return
    ErrorDialog(message, remedy, details, parent).exec()  # the traceback folded away
