"""The screen lock's page: who is logged in, the password, Unlock and Log out.

After the idle time an administrator chose (:func:`dxa_app.services.settings.lock_minutes`,
default 10 minutes) without keyboard or mouse input anywhere in the application, the main
window (told by :class:`dxa_app.gui.idle.IdleWatcher`) swaps its workspaces for a
:class:`LockPage`: it shows only who is logged in, a password field, "Unlock" and "Log out".
The password is checked by the same service as the log-in
(:func:`dxa_app.services.auth.log_in`, audited), off the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dxa_app.gui.dialogs import describe
from dxa_app.gui.workspace import ProgressFn, Workspace
from dxa_app.i18n import _
from dxa_app.progress import CancelToken
from dxa_app.services.auth import Session, log_in


class LockPage(Workspace):
    """What the locked window shows: "Locked — <user>", the password, Unlock and Log out.

    Unlock checks the password with :func:`~dxa_app.services.auth.log_in` off the GUI thread;
    a refusal (a wrong password) is shown on the page, which stays. Nothing on the page shows
    patient data.

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    #: Emitted with the new session when the password was right.
    unlocked = Signal(object)
    #: Emitted when the user chose to log out instead.
    log_out_requested = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.setObjectName("lockPage")
        self.title_label = QLabel()
        self.title_label.setObjectName("lockTitle")
        self.title_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = QFont(self.title_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.title_label.setFont(font)
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("lockPassword")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setMinimumWidth(280)
        self.password_edit.returnPressed.connect(self.unlock)
        self.problem_label = QLabel()
        self.problem_label.setObjectName("lockProblem")
        self.problem_label.setStyleSheet("color: #c62828")
        self.problem_label.setWordWrap(True)
        self.problem_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.problem_label.setVisible(False)
        self.unlock_button = QPushButton()
        self.unlock_button.setObjectName("unlockButton")
        self.unlock_button.setDefault(True)
        self.unlock_button.clicked.connect(self.unlock)
        self.log_out_button = QPushButton()
        self.log_out_button.setObjectName("lockLogOut")
        self.log_out_button.clicked.connect(self.log_out_requested.emit)

        box = QFrame()
        box.setObjectName("lockBox")
        box.setFrameShape(QFrame.Shape.StyledPanel)
        box_layout = QVBoxLayout(box)
        box_layout.setContentsMargins(32, 24, 32, 24)
        box_layout.setSpacing(12)
        box_layout.addWidget(self.title_label)
        box_layout.addWidget(self.password_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.unlock_button)
        buttons.addWidget(self.log_out_button)
        box_layout.addLayout(buttons)
        box_layout.addWidget(self.problem_label)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(box)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)
        self.retranslate()

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.title_label.setText(_("Locked — {user}").format(user=self.session.display_name))
        self.password_edit.setPlaceholderText(_("Password"))
        self.unlock_button.setText(_("Unlock"))
        self.log_out_button.setText(_("Log out"))

    def update_actions(self) -> None:
        """Offer Unlock unless the password is being checked."""
        self.unlock_button.setEnabled(not self.busy())

    def show_problem(self, message: str) -> None:
        """Show why the window stays locked; clear the password for the next try."""
        self.problem_label.setText(message)
        self.problem_label.setVisible(True)
        self.password_edit.clear()
        self.password_edit.setFocus()

    def unlock(self) -> None:
        """Check the password typed (the log-in service, audited); unlock when it is right."""
        if self.busy():
            return
        archive, username = self.session.archive, self.session.username
        password = self.password_edit.text()
        self.problem_label.setVisible(False)

        def work(_progress: ProgressFn, _cancel: CancelToken) -> Session:
            return log_in(archive, username, password)

        def done(session: Session) -> None:
            self.password_edit.clear()
            self.update_actions()
            self.unlocked.emit(session)

        def refused(exc: BaseException) -> None:
            self.report_error(exc, dialog=False)
            message, remedy = describe(exc)
            self.show_problem(f"{message} {remedy}".strip())

        self.run(work, done, on_error=refused)
        self.update_actions()
