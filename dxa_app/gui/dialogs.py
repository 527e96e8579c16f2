"""The friendly error dialog with "Copy details", and the switch that turns dialogs off.

Tests (and the ``--screenshot`` smoke run) must never block on a modal dialog: set the
environment variable ``DXA_NO_DIALOGS=1`` or call ``set_dialogs_enabled(False)``, and
errors are written to stderr instead.
"""

from __future__ import annotations

import os
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

    A :class:`DxaError` carries its own translated message and remedy; anything else is
    an unexpected error whose technical text goes into the details.
    """
    if isinstance(exc, DxaError):
        return exc.message, exc.remedy
    return (
        _("An unexpected error occurred."),
        _('Use "Copy details" and send the text to your DXA support contact.'),
    )


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
        Show the traceback in the dialog too (an expected refusal, e.g. a wrong password,
        is only a message: its details stay behind "Copy details").
    """

    def __init__(
        self,
        message: str,
        remedy: str,
        details: str,
        parent: QWidget | None = None,
        *,
        show_details: bool = True,
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
        self.details_view.setReadOnly(True)
        self.details_view.setVisible(bool(details) and show_details)
        layout.addWidget(self.details_view)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton(_("Copy details"))
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        # An ActionRole button must not close the dialog: handle it ourselves.
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, 360 if self.details_view.isVisibleTo(self) else 160)

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
        if not isinstance(exc, DxaError):
            lines.append(details.rstrip())
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
        return
    expected = isinstance(exc, DxaError)  # a message and a remedy, never a traceback
    ErrorDialog(message, remedy, details, parent, show_details=not expected).exec()
