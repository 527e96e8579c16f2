"""Log-in dialog and first-run dialog ("create the first user"); both give a Session."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from dxa_app.archive import open_archive
from dxa_app.domain import Role
from dxa_app.errors import DxaError
from dxa_app.gui.session import Session
from dxa_app.i18n import _
from dxa_app.services import accounts
from dxa_app.services.users import User


def role_label(role: Role) -> str:
    """Return the translated name of a role."""
    labels = {
        Role.TECHNICIAN: _("Technician"),
        Role.PHYSICIAN: _("Physician"),
        Role.CENTRE_ANALYST: _("Centre analyst"),
        Role.ADMIN: _("Administrator"),
    }
    return labels.get(role, str(role))


def _session(archive: Path, user: User) -> Session:
    return Session(archive, user.username, user.display_name, user.role)


class _AccountDialog(QDialog):
    """Common parts: the archive line, a form, an inline error label, OK / Cancel."""

    def __init__(self, archive: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.session: Session | None = None
        layout = QVBoxLayout(self)
        self.archive_label = QLabel(_("Archive: {path}").format(path=archive))
        self.archive_label.setWordWrap(True)
        layout.addWidget(self.archive_label)
        self.form = QFormLayout()
        layout.addLayout(self.form)
        self.error_label = QLabel()
        self.error_label.setObjectName("loginError")
        self.error_label.setStyleSheet("color: #c62828")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        layout.addWidget(self.error_label)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def show_problem(self, message: str) -> None:
        """Show a problem inside the dialog (never a second modal box)."""
        self.error_label.setText(message)
        self.error_label.setVisible(True)

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
        self.username_edit = QLineEdit()
        self.username_edit.setObjectName("username")
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.form.addRow(_("User name"), self.username_edit)
        self.form.addRow(_("Password"), self.password_edit)

    def submit(self) -> bool:
        """Check the name and password (audited); accept on success, else show why."""
        try:
            db = open_archive(self.archive, create=False)
            try:
                user = accounts.log_in(db, self.username_edit.text(), self.password_edit.text())
            finally:
                db.close()
        except DxaError as exc:
            self.password_edit.clear()
            self.show_problem(f"{exc.message} {exc.remedy}".strip())
            return False
        self.session = _session(self.archive, user)
        self.accept()
        return True


class FirstUserDialog(_AccountDialog):
    """First run: the archive has no users; create the first one (normally an administrator).

    Parameters
    ----------
    archive : Path
        The archive without users.
    parent : QWidget, optional
        The owner window.
    """

    def __init__(self, archive: Path, parent: QWidget | None = None) -> None:
        super().__init__(archive, parent)
        self.setWindowTitle(_("Create the first user"))
        intro = QLabel(
            _(
                "This archive has no users yet. Create the first user; an administrator"
                " can add the others."
            )
        )
        intro.setWordWrap(True)
        self.form.addRow(intro)
        self.username_edit = QLineEdit()
        self.display_name_edit = QLineEdit()
        self.role_combo = QComboBox()
        for role in (Role.ADMIN, Role.TECHNICIAN, Role.PHYSICIAN, Role.CENTRE_ANALYST):
            self.role_combo.addItem(role_label(role), str(role))
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_edit = QLineEdit()
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.form.addRow(_("User name"), self.username_edit)
        self.form.addRow(_("Full name"), self.display_name_edit)
        self.form.addRow(_("Role"), self.role_combo)
        self.form.addRow(_("Password"), self.password_edit)
        self.form.addRow(_("Repeat password"), self.repeat_edit)

    def submit(self) -> bool:
        """Create the user (audited) and accept; show the problem when that fails."""
        if self.password_edit.text() != self.repeat_edit.text():
            self.show_problem(_("The two passwords differ."))
            return False
        try:
            db = open_archive(self.archive)
            try:
                user = accounts.create_first_user(
                    db,
                    self.username_edit.text(),
                    Role(str(self.role_combo.currentData())),
                    self.password_edit.text(),
                    display_name=self.display_name_edit.text().strip(),
                )
                accounts.log_in(db, user.username, self.password_edit.text())
            finally:
                db.close()
        except DxaError as exc:
            self.show_problem(f"{exc.message} {exc.remedy}".strip())
            return False
        self.session = _session(self.archive, user)
        self.accept()
        return True


def make_account_dialog(archive: Path, parent: QWidget | None = None) -> _AccountDialog:
    """Return the log-in dialog, or the first-run dialog when the archive has no users.

    Raises
    ------
    DxaError
        When the archive does not exist or cannot be opened.
    """
    db = open_archive(archive, create=False)
    try:
        first_run = not accounts.has_users(db)
    finally:
        db.close()
    return FirstUserDialog(archive, parent) if first_run else LoginDialog(archive, parent)


def ask_login(archive: Path, parent: QWidget | None = None) -> Session | None:
    """Run the log-in (or first-run) dialog modally; return the session, None when cancelled.

    Only the application's start and File > Open use this; tests build the dialogs and call
    :meth:`LoginDialog.submit` instead, so no modal loop ever blocks a test.
    """
    dialog = make_account_dialog(archive, parent)
    dialog.exec()
    session = dialog.session
    dialog.deleteLater()
    return session
