"""The administration workspace: the archive's users (list, add, deactivate) and the PACS."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dxa_app.domain import Role
from dxa_app.gui.common import read_only_table, set_form_labels
from dxa_app.gui.labels import role_label
from dxa_app.gui.pacs_form import PacsForm
from dxa_app.gui.table_model import Column, ObjectTableModel
from dxa_app.gui.workspace import ProgressFn, Workspace
from dxa_app.i18n import _
from dxa_app.progress import CancelToken
from dxa_app.services.auth import Permission, Session, User
from dxa_app.services.pacs import PacsTarget, pacs_target, set_pacs_target
from dxa_app.services.users import add_user, list_users, set_active


class UserTableModel(ObjectTableModel[User]):
    """Users: log-in name, full name, role, active."""

    COL_USERNAME, COL_NAME, COL_ROLE, COL_ACTIVE = range(4)

    columns: Sequence[Column[User]] = (
        Column(lambda: _("User name"), lambda u: u.username),
        Column(lambda: _("Full name"), lambda u: u.display_name),
        Column(lambda: _("Role"), lambda u: role_label(u.role)),
        Column(lambda: _("Active"), lambda u: _("yes") if u.active else _("no")),
    )


class AdminWorkspace(Workspace):
    """Users and settings: what an administrator manages (the services check the role).

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.users_box = QGroupBox()
        self.user_model = UserTableModel(parent=self)
        self.user_view = read_only_table(self.user_model)
        self.user_view.setObjectName("userTable")
        self.user_view.selectionModel().selectionChanged.connect(lambda *_a: self.update_actions())
        self.active_button = QPushButton()
        self.active_button.clicked.connect(self.toggle_selected)
        self.username_edit = QLineEdit()
        self.display_name_edit = QLineEdit()
        self.role_combo = QComboBox()
        for role in (Role.TECHNICIAN, Role.PHYSICIAN, Role.CENTRE_ANALYST, Role.ADMIN):
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
        table_side.addWidget(self.active_button)
        users_layout.addLayout(table_side, 2)
        users_layout.addLayout(self.add_form, 1)

        self.pacs_box = PacsForm()
        self.save_pacs_button = QPushButton()
        self.save_pacs_button.clicked.connect(self.save_pacs)
        pacs_buttons = QHBoxLayout()
        pacs_buttons.addStretch(1)
        pacs_buttons.addWidget(self.save_pacs_button)
        self.pacs_box.add_row(pacs_buttons)

        self.users_box.setVisible(session.may(Permission.USERS))
        self.pacs_box.setVisible(session.may(Permission.SETTINGS))
        self.status_label = self.make_status_label()
        layout = QVBoxLayout(self)
        layout.addWidget(self.users_box, 1)
        layout.addWidget(self.pacs_box)
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
        for i in range(self.role_combo.count()):
            self.role_combo.setItemText(i, role_label(Role(str(self.role_combo.itemData(i)))))
        self.add_button.setText(_("Add user"))
        self.pacs_box.retranslate()
        self.pacs_box.setTitle(_("PACS for signed reports"))
        self.pacs_box.set_note(_("Stored in the archive: every workstation sends there."))
        self.save_pacs_button.setText(_("Save"))
        self.user_model.retranslate()
        self.update_actions()

    def selected_user(self) -> User | None:
        """Return the user selected in the table, or None."""
        rows = self.user_view.selectionModel().selectedRows()
        return self.user_model.row_at(rows[0].row()) if rows else None

    def update_actions(self) -> None:
        """Offer (de)activating the selected user; never one's own account."""
        user = self.selected_user()
        self.active_button.setText(
            _("Reactivate") if user is not None and not user.active else _("Deactivate")
        )
        self.active_button.setEnabled(user is not None and user.username != self.session.username)

    # -- loading --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the users and the stored PACS address (what the role may see)."""
        session = self.session
        may_users = session.may(Permission.USERS)
        may_settings = session.may(Permission.SETTINGS)

        def work(
            _progress: ProgressFn, _cancel: CancelToken
        ) -> tuple[list[User], PacsTarget | None]:
            users = list_users(session) if may_users else []
            return users, pacs_target(session) if may_settings else None

        self.run(work, self._loaded)

    def _loaded(self, result: tuple[list[User], PacsTarget | None]) -> None:
        users, target = result
        selected = self.selected_user()
        self.user_model.set_rows(users)
        self.user_view.resizeColumnsToContents()
        if selected is not None:
            row = self.user_model.find_row(lambda u: u.username == selected.username)
            if row is not None:
                self.user_view.selectRow(row)
        if target is not None:
            self.pacs_box.show_target(target)
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

    def save_pacs(self) -> None:
        """Store the PACS address for every workstation (audited by the service)."""
        session, target = self.session, self.pacs_box.target()

        def work(_progress: ProgressFn, _cancel: CancelToken) -> PacsTarget:
            return set_pacs_target(session, target)

        def done(stored: PacsTarget) -> None:
            self.pacs_box.show_target(stored)
            self.set_status(_("The PACS address is stored for every workstation."))

        self.run(work, done)
