"""The administration workspace: users and the site's settings kept in the archive.

Users: list, add, deactivate or reactivate, reset a password, change the role. Settings: the
PACS for signed reports, the scanners the DICOM receiver accepts, the physicians' certificates
trusted for PAdES signatures, and the idle time after which every workstation locks. Reference
tables: the installed T and Z tables, and installing a new one from a scan date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dxa_app.domain import Role
from dxa_app.errors import UsageError
from dxa_app.gui.centre_references import ReferencesPanel
from dxa_app.gui.common import FormDialog, read_only_table, set_form_labels
from dxa_app.gui.dialogs import describe
from dxa_app.gui.labels import role_label
from dxa_app.gui.settings_dialog import LockTimePage, PacsPage, ReceiverPage
from dxa_app.gui.table_model import Column, ObjectTableModel
from dxa_app.gui.workspace import ProgressFn, Workspace
from dxa_app.i18n import _
from dxa_app.progress import CancelToken
from dxa_app.services.auth import Permission, Session, User
from dxa_app.services.signers import trust_signer, trusted_signers
from dxa_app.services.users import (
    add_user,
    change_role,
    list_users,
    reset_password,
    set_active,
)

#: The roles an administrator can give, in the order of the role lists.
ROLES = (Role.TECHNICIAN, Role.PHYSICIAN, Role.CENTRE_ANALYST, Role.ADMIN)


class UserTableModel(ObjectTableModel[User]):
    """Users: log-in name, full name, role, active."""

    COL_USERNAME, COL_NAME, COL_ROLE, COL_ACTIVE = range(4)

    columns: Sequence[Column[User]] = (
        Column(lambda: _("User name"), lambda u: u.username),
        Column(lambda: _("Full name"), lambda u: u.display_name),
        Column(lambda: _("Role"), lambda u: role_label(u.role)),
        Column(lambda: _("Active"), lambda u: _("yes") if u.active else _("no")),
    )


class ResetPasswordDialog(FormDialog):
    """A new password for a user, typed twice; stays open until the service agrees.

    OK emits :attr:`submitted` with the password when both fields agree (else the problem
    shows inside); the workspace closes the dialog when the password is stored, or shows the
    service's refusal inside it. Shown with ``open()``.

    Parameters
    ----------
    username : str
        Whose password is reset.
    parent : QWidget, optional
        The owner.
    """

    #: Emitted with the new password when OK is pressed and both fields agree.
    submitted = Signal(str)

    def __init__(self, username: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.username = username
        self.setWindowTitle(_("Reset password"))
        self.prompt_label = QLabel(
            _("Type a new password for {name} (at least 8 characters).").format(name=username)
        )
        self.prompt_label.setWordWrap(True)
        self.body.addWidget(self.prompt_label)
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText(_("New password"))
        self.repeat_edit = QLineEdit()
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_edit.setPlaceholderText(_("Repeat password"))
        self.body.addWidget(self.password_edit)
        self.body.addWidget(self.repeat_edit)
        self.tab_order(self.password_edit, self.repeat_edit)

    def submit(self) -> None:
        """Hand the password to the workspace when both fields agree."""
        if self.password_edit.text() != self.repeat_edit.text():
            self.show_problem(_("The two passwords differ."))
            return
        self.error_label.setVisible(False)
        self.ok_button.setEnabled(False)
        self.submitted.emit(self.password_edit.text())

    def show_problem(self, message: str) -> None:
        """Show why the password was not set and let the user try again."""
        super().show_problem(message)
        self.ok_button.setEnabled(True)
        self.password_edit.setFocus()


@dataclass(frozen=True)
class _Loaded:
    """What :meth:`AdminWorkspace.refresh` reads (what the role may see)."""

    users: list[User]
    signers: list[dict[str, Any]] | None = None


class AdminWorkspace(Workspace):
    """Users and settings: what an administrator manages (the services check the role).

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    #: Emitted with the idle time (minutes) an administrator stored (the window uses it).
    lock_minutes_changed = Signal(int)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.reset_dialog: ResetPasswordDialog | None = None
        #: The certificates trusted from this workspace (subject, SHA-256), newest last.
        self.trusted: list[dict[str, Any]] = []
        self.users_box = QGroupBox()
        self.user_model = UserTableModel(parent=self)
        self.user_view = read_only_table(self.user_model)
        self.user_view.setObjectName("userTable")
        self.user_view.selectionModel().selectionChanged.connect(
            lambda *_a: self._selection_changed()
        )
        self.active_button = QPushButton()
        self.active_button.clicked.connect(self.toggle_selected)
        self.reset_button = QPushButton()
        self.reset_button.setObjectName("resetPassword")
        self.reset_button.clicked.connect(self.ask_reset_password)
        self.new_role_label = QLabel()
        self.new_role_combo = QComboBox()
        self.new_role_combo.setObjectName("newRole")
        for role in ROLES:
            self.new_role_combo.addItem(role_label(role), str(role))
        self.new_role_combo.currentIndexChanged.connect(lambda _i: self.update_actions())
        self.role_button = QPushButton()
        self.role_button.setObjectName("changeRole")
        self.role_button.clicked.connect(self.change_selected_role)
        self.username_edit = QLineEdit()
        self.display_name_edit = QLineEdit()
        self.role_combo = QComboBox()
        for role in ROLES:
            self.role_combo.addItem(role_label(role), str(role))
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_edit = QLineEdit()
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.add_button = QPushButton()
        self.add_button.clicked.connect(self.add)
        self.add_form = QFormLayout()
        for field in (
            self.username_edit,
            self.display_name_edit,
            self.role_combo,
            self.password_edit,
            self.repeat_edit,
        ):
            self.add_form.addRow(QLabel(), field)  # texts set in retranslate()
        self.add_form.addRow(self.add_button)
        users_layout = QHBoxLayout(self.users_box)
        table_side = QVBoxLayout()
        table_side.addWidget(self.user_view, 1)
        user_buttons = QHBoxLayout()
        user_buttons.addWidget(self.active_button)
        user_buttons.addWidget(self.reset_button)
        user_buttons.addStretch(1)
        user_buttons.addWidget(self.new_role_label)
        user_buttons.addWidget(self.new_role_combo)
        user_buttons.addWidget(self.role_button)
        table_side.addLayout(user_buttons)
        users_layout.addLayout(table_side, 2)
        users_layout.addLayout(self.add_form, 1)

        # the settings dialog's own pages (one home for each setting, two places to reach it)
        self.pacs_page = PacsPage(session)
        self.receiver_page = ReceiverPage(session)
        self.lock_page = LockTimePage(session)
        for page in (self.pacs_page, self.receiver_page, self.lock_page):
            self.add_part(page)
        self.lock_page.lock_minutes_changed.connect(self.lock_minutes_changed)

        self.signers_box = QGroupBox()
        self.signers_note = QLabel()
        self.signers_note.setWordWrap(True)
        self.trust_button = QPushButton()
        self.trust_button.clicked.connect(self.choose_signer_certificate)
        self.trusted_label = QLabel()
        self.trusted_label.setWordWrap(True)
        self.trusted_list = QListWidget()
        self.trusted_list.setObjectName("trustedSigners")
        self.trusted_list.setVisible(False)
        self.trusted_label.setVisible(False)
        signers_layout = QVBoxLayout(self.signers_box)
        signers_layout.addWidget(self.signers_note)
        trust_row = QHBoxLayout()
        trust_row.addWidget(self.trust_button)
        trust_row.addStretch(1)
        signers_layout.addLayout(trust_row)
        signers_layout.addWidget(self.trusted_label)
        signers_layout.addWidget(self.trusted_list, 1)
        signers_layout.addStretch(1)  # keeps the note at the top while the list is hidden

        self.references = ReferencesPanel(session)
        self.add_part(self.references)
        self.references.setVisible(session.may(Permission.REFERENCE_INSTALL))

        may_settings = session.may(Permission.SETTINGS)
        self.users_box.setVisible(session.may(Permission.USERS))
        for box in (self.pacs_page, self.receiver_page, self.signers_box, self.lock_page):
            box.setVisible(may_settings)
        self.status_label = self.make_status_label()
        settings_row = QHBoxLayout()
        settings_row.addWidget(self.pacs_page, 3)
        settings_row.addWidget(self.receiver_page, 2)
        right = QVBoxLayout()
        right.addWidget(self.signers_box, 1)
        right.addWidget(self.lock_page)
        settings_row.addLayout(right, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.users_box, 1)
        layout.addLayout(settings_row)
        layout.addWidget(self.references)
        layout.addWidget(self.status_label)
        self.retranslate()
        self.update_actions()

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.users_box.setTitle(_("Users"))
        set_form_labels(
            self.add_form,
            (_("User name"), _("Full name"), _("Role"), _("Password"), _("Repeat password")),
        )
        for combo in (self.role_combo, self.new_role_combo):
            for i in range(combo.count()):
                combo.setItemText(i, role_label(Role(str(combo.itemData(i)))))
        self.add_button.setText(_("Add user"))
        self.reset_button.setText(_("Reset password…"))
        self.new_role_label.setText(_("New role"))
        self.role_button.setText(_("Change role"))
        for page in (self.pacs_page, self.receiver_page, self.lock_page):
            page.retranslate()
        self.signers_box.setTitle(_("Trusted signer certificates"))
        self.signers_note.setText(
            _(
                "Physicians' certificates that PAdES signatures are verified against; kept in"
                " the key folder, outside the archive."
            )
        )
        self.trust_button.setText(_("Trust a certificate…"))
        self.trusted_label.setText(_("Trusted certificates:"))
        self.user_model.retranslate()
        self.references.retranslate()
        self.update_actions()

    def selected_user(self) -> User | None:
        """Return the user selected in the table, or None."""
        rows = self.user_view.selectionModel().selectedRows()
        return self.user_model.row_at(rows[0].row()) if rows else None

    def update_actions(self) -> None:
        """Offer what fits the selected user (never deactivating one's own account)."""
        user = self.selected_user()
        self.active_button.setText(
            _("Reactivate") if user is not None and not user.active else _("Deactivate")
        )
        self.active_button.setEnabled(user is not None and user.username != self.session.username)
        self.reset_button.setEnabled(user is not None)
        self.new_role_combo.setEnabled(user is not None)
        self.role_button.setEnabled(user is not None and self._chosen_role() != user.role)

    def _chosen_role(self) -> Role:
        return Role(str(self.new_role_combo.currentData()))

    def _selection_changed(self) -> None:
        user = self.selected_user()
        if user is not None:
            self.new_role_combo.blockSignals(True)
            self.new_role_combo.setCurrentIndex(self.new_role_combo.findData(str(user.role)))
            self.new_role_combo.blockSignals(False)
        self.update_actions()

    # -- loading --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the users and the stored settings (what the role may see)."""
        session = self.session
        may_users = session.may(Permission.USERS)
        may_settings = session.may(Permission.SETTINGS)

        def work(_progress: ProgressFn, _cancel: CancelToken) -> _Loaded:
            users = list_users(session) if may_users else []
            return _Loaded(users, trusted_signers(session) if may_settings else None)

        self.run(work, self._loaded)
        if may_settings:
            for page in (self.pacs_page, self.receiver_page, self.lock_page):
                page.refresh()
        if session.may(Permission.REFERENCE_INSTALL):
            self.references.refresh()

    def _loaded(self, result: _Loaded) -> None:
        selected = self.selected_user()
        self.user_model.set_rows(result.users)
        self.user_view.resizeColumnsToContents()
        if selected is not None:
            row = self.user_model.find_row(lambda u: u.username == selected.username)
            if row is not None:
                self.user_view.selectRow(row)
        if result.signers is not None:
            self.trusted = list(result.signers)
            self.trusted_list.clear()
            for cert in self.trusted:
                self.trusted_list.addItem(
                    f"{cert.get('subject', '')} — SHA-256 {str(cert.get('sha256', ''))[:16]}…"
                )
            self.trusted_list.setVisible(bool(self.trusted))
            self.trusted_label.setVisible(bool(self.trusted))
        self.update_actions()

    # -- actions --------------------------------------------------------------------------
    def add(self) -> None:
        """Add the user in the form (the service checks the name and the password)."""
        if self.password_edit.text() != self.repeat_edit.text():
            self.set_status(_("The two passwords differ."))
            return
        session = self.session
        name, display = self.username_edit.text(), self.display_name_edit.text().strip()
        role, password = Role(str(self.role_combo.currentData())), self.password_edit.text()

        def work(_progress: ProgressFn, _cancel: CancelToken) -> User:
            return add_user(session, name, role, password, display_name=display)

        def done(user: User) -> None:
            for edit in (
                self.username_edit,
                self.display_name_edit,
                self.password_edit,
                self.repeat_edit,
            ):
                edit.clear()
            self.set_status(
                _("User {name} added as {role}.").format(
                    name=user.username, role=role_label(user.role)
                )
            )
            self.refresh()

        self.run(work, done)

    def toggle_selected(self) -> None:
        """Deactivate the selected user, or reactivate an inactive one."""
        user = self.selected_user()
        if user is not None:
            self.set_user_active(user.username, not user.active)

    def set_user_active(self, username: str, active: bool) -> None:
        """Deactivate or reactivate a user (audited by the service)."""
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> User:
            return set_active(session, username, active)

        def done(user: User) -> None:
            text = _("User {name} reactivated.") if user.active else _("User {name} deactivated.")
            self.set_status(text.format(name=user.username))
            self.refresh()

        self.run(work, done)

    def ask_reset_password(self) -> ResetPasswordDialog | None:
        """Ask (non-blocking) for a new password of the selected user; OK resets it."""
        user = self.selected_user()
        if user is None:
            return None
        dialog = ResetPasswordDialog(user.username, self)
        dialog.submitted.connect(
            lambda password: self.reset_password(user.username, password, dialog)
        )
        self.reset_dialog = dialog
        dialog.open()
        return dialog

    def reset_password(
        self, username: str, password: str, dialog: ResetPasswordDialog | None = None
    ) -> None:
        """Set a new password for a user (administrator; audited, the password never is).

        Parameters
        ----------
        username : str
            The user.
        password : str
            The new password (the service checks its length).
        dialog : ResetPasswordDialog, optional
            The open dialog: closed when stored, shows the refusal otherwise.
        """
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> User:
            return reset_password(session, username, password)

        def done(user: User) -> None:
            if dialog is not None:
                dialog.accept()
            self.set_status(_("New password set for {name}.").format(name=user.username))

        def refused(exc: BaseException) -> None:
            if dialog is None or not dialog.isVisible():
                self.report_error(exc)
                return
            self.report_error(exc, dialog=False)
            message, remedy = describe(exc)
            dialog.show_problem(f"{message} {remedy}".strip())

        self.run(work, done, on_error=refused)

    def change_selected_role(self) -> None:
        """Give the selected user the role chosen beside the table."""
        user = self.selected_user()
        if user is not None:
            self.change_role(user.username, self._chosen_role())

    def change_role(self, username: str, role: Role) -> None:
        """Give a user another role (the service keeps the last active administrator).

        Parameters
        ----------
        username : str
            The user.
        role : Role
            The new role.
        """
        session = self.session

        def work(_progress: ProgressFn, _cancel: CancelToken) -> User:
            return change_role(session, username, role)

        def done(user: User) -> None:
            self.set_status(
                _("{name} is now {role}.").format(name=user.username, role=role_label(user.role))
            )
            self.refresh()

        self.run(work, done, on_error=self._refused_and_reload)

    def _refused_and_reload(self, exc: BaseException) -> None:
        """Show a refusal and reload, so the form shows what is stored."""
        self.report_error(exc)
        self.refresh()

    # -- settings ---------------------------------------------------------------------------
    def choose_signer_certificate(self) -> None:
        """Ask for a physician's certificate file (PEM) and trust it."""
        path, _selected = QFileDialog.getOpenFileName(
            self,
            _("Choose a physician's certificate"),
            "",
            _("Certificates (*.pem *.crt *.cer);;All files (*)"),
        )
        if path:
            self.trust_signer_file(Path(path))

    def trust_signer_file(self, path: Path) -> None:
        """Add the certificate in ``path`` to the site's trust list (administrator; audited).

        Parameters
        ----------
        path : Path
            A PEM certificate (the service refuses anything else).
        """
        session, source = self.session, Path(path)

        def work(_progress: ProgressFn, _cancel: CancelToken) -> dict[str, Any]:
            try:
                pem = source.read_bytes()
            except OSError as exc:
                raise UsageError(
                    _("Cannot read {path}: {error}").format(path=source, error=exc.strerror),
                    "",
                ) from exc
            return trust_signer(session, pem)

        def done(result: dict[str, Any]) -> None:
            self.trusted.append(result)
            fingerprint = str(result.get("sha256", ""))[:16]
            self.trusted_list.addItem(f"{result.get('subject', '')} — SHA-256 {fingerprint}…")
            self.trusted_list.setVisible(True)
            self.trusted_label.setVisible(True)
            self.set_status(
                _("Trusted {subject} (SHA-256 {fingerprint}…).").format(
                    subject=result.get("subject", ""), fingerprint=fingerprint
                )
            )

        self.run(work, done)
