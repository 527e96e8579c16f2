"""Log-in dialog and first-run dialog ("create the administrator"); both give a Session."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QWidget

from dxa_app.errors import DxaError
from dxa_app.gui.common import FormDialog
from dxa_app.i18n import _
from dxa_app.services import auth
from dxa_app.services.auth import Session


class _AccountDialog(FormDialog):
    """Common parts: the archive line and a form above the problem line and OK / Cancel.

    The user-name field has the focus when the dialog opens, Tab goes down the form and
    Enter anywhere in it presses OK (the default button).
    """

    def __init__(self, archive: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.session: Session | None = None
        self.archive_label = QLabel(_("Archive: {path}").format(path=archive))
        self.archive_label.setWordWrap(True)
        self.body.addWidget(self.archive_label)
        self.form = QFormLayout()
        self.body.addLayout(self.form)
        self.error_label.setObjectName("loginError")
        self.username_edit = QLineEdit()
        self.username_edit.setObjectName("username")
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)

    def show_error(self, exc: DxaError) -> None:
        """Show a service's refusal inside the dialog."""
        self.show_problem(f"{exc.message} {exc.remedy}".strip())

    def submit(self) -> bool:
        """Check the input; accept the dialog and return True when a session was made."""
        raise NotImplementedError


class LoginDialog(_AccountDialog):
    """Ask for user name and password and check them against the archive's users.

    Parameters
    ----------
    archive : Path
        The archive to log in to.
    parent : QWidget, optional
        The owner window.
    """

    def __init__(self, archive: Path, parent: QWidget | None = None) -> None:
        super().__init__(archive, parent)
        self.setWindowTitle(_("Log in"))
        self.form.addRow(_("User name"), self.username_edit)
        self.form.addRow(_("Password"), self.password_edit)
        self.tab_order(self.username_edit, self.password_edit)

    def submit(self) -> bool:
        """Check the name and password (audited); accept on success, else show why."""
        try:
            session = auth.log_in(
                self.archive, self.username_edit.text(), self.password_edit.text()
            )
        except DxaError as exc:
            self.password_edit.clear()
            self.show_error(exc)
            self.password_edit.setFocus()
            return False
        self.session = session
        self.accept()
        return True


class FirstUserDialog(_AccountDialog):
    """First run: the archive has no users; create the first one, the administrator.

    Parameters
    ----------
    archive : Path
        The archive without users (created when the file does not exist yet).
    parent : QWidget, optional
        The owner window.
    """

    def __init__(self, archive: Path, parent: QWidget | None = None) -> None:
        super().__init__(archive, parent)
        self.setWindowTitle(_("Create the administrator"))
        intro = QLabel(
            _(
                "This archive has no users yet. The first user is the administrator, who"
                " then adds the other users: technicians, physicians and centre analysts."
            )
        )
        intro.setObjectName("firstUserIntro")
        intro.setWordWrap(True)
        self.form.addRow(intro)
        self.display_name_edit = QLineEdit()
        self.repeat_edit = QLineEdit()
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.form.addRow(_("User name"), self.username_edit)
        self.form.addRow(_("Full name"), self.display_name_edit)
        self.form.addRow(_("Password"), self.password_edit)
        self.form.addRow(_("Repeat password"), self.repeat_edit)
        self.tab_order(
            self.username_edit, self.display_name_edit, self.password_edit, self.repeat_edit
        )

    def submit(self) -> bool:
        """Create the administrator (audited) and log in; show the problem when that fails."""
        if self.password_edit.text() != self.repeat_edit.text():
            self.show_problem(_("The two passwords differ."))
            return False
        try:
            session = auth.create_first_user(
                self.archive,
                self.username_edit.text(),
                self.password_edit.text(),
                display_name=self.display_name_edit.text().strip(),
            )
        except DxaError as exc:
            self.show_error(exc)
            return False
        self.session = session
        self.accept()
        return True


def make_account_dialog(archive: Path, parent: QWidget | None = None) -> _AccountDialog:
    """Return the log-in dialog, or the first-run dialog for an archive without users.

    A file that does not exist yet (File > New archive) gets the first-run dialog; the
    archive is created when its administrator is.

    Raises
    ------
    DxaError
        When the file exists but is not an archive, or cannot be opened.
    """
    first_run = not archive.exists() or not auth.has_users(archive)
    return FirstUserDialog(archive, parent) if first_run else LoginDialog(archive, parent)


def ask_login(archive: Path, parent: QWidget | None = None) -> Session | None:
    """Run the log-in (or first-run) dialog modally; return the session, None when cancelled.

    Only the application's start and File > Open use this; tests build the dialogs and drive
    them (keys or :meth:`LoginDialog.submit`), so no modal loop ever blocks a test.
    """
    dialog = make_account_dialog(archive, parent)
    dialog.exec()
    session = dialog.session
    dialog.deleteLater()
    return session
