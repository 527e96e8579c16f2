"""The one base of every workspace and panel: the session, its tasks, errors and status.

A :class:`Workspace` holds the logged-in user's :class:`~dxa_app.services.auth.Session` and
runs services with it: :meth:`Workspace.run` off the GUI thread (through
:func:`dxa_app.gui.tasks.run_task`), :meth:`Workspace.call` for a quick read on the GUI
thread. Both show a failure the same way: the service's message in the status line and in the
friendly error dialog. The services check the role and write the audit log; a workspace only
greys out what ``session.may`` says the role cannot do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QWidget

from dxa_app.errors import DxaError
from dxa_app.gui.dialogs import describe, show_error
from dxa_app.gui.tasks import TaskHandle, run_task
from dxa_app.progress import CancelToken
from dxa_app.services.auth import Session

T = TypeVar("T")

#: The progress callback a worker is given: ``progress(done, total, message)``.
ProgressFn = Callable[[int, int, str], None]
#: A unit of work for :meth:`Workspace.run`: ``work(progress, cancel) -> result``.
Job = Callable[[ProgressFn, CancelToken], T]


class Workspace(QWidget):
    """A widget that acts for the logged-in user: runs services, shows their errors.

    Parameters
    ----------
    session : Session
        The logged-in user and archive; every service is called with it.
    parent : QWidget, optional
        The owner.
    """

    #: Emitted with a short status text after each finished action or failure.
    status_changed = Signal(str)
    #: Emitted with the exception when a service call failed.
    error_raised = Signal(object)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        #: The task started last (None before the first).
        self.handle: TaskHandle | None = None
        #: The last error a service raised here (or in a part), None before any.
        self.last_error: BaseException | None = None
        self.status_text = ""
        self._tasks: list[TaskHandle] = []
        self._parts: list[Workspace] = []

    # -- parts --------------------------------------------------------------------------
    def add_part(self, part: Workspace) -> Workspace:
        """Make ``part`` (a tab or panel) report its status and errors through this one."""
        self._parts.append(part)
        part.status_changed.connect(self.set_status)
        part.error_raised.connect(self._part_failed)
        return part

    def _part_failed(self, exc: object) -> None:
        if isinstance(exc, BaseException):
            self.last_error = exc
            self.error_raised.emit(exc)

    # -- state --------------------------------------------------------------------------
    def busy(self) -> bool:
        """Return whether a service call started here (or in a part) is still running."""
        self._tasks = [t for t in self._tasks if not t.finished]
        return bool(self._tasks) or any(part.busy() for part in self._parts)

    def cancel_tasks(self) -> None:
        """Ask every service call still running here (and in the parts) to stop (at exit)."""
        for task in self._tasks:
            if not task.finished:
                task.cancel()
        for part in self._parts:
            part.cancel_tasks()

    def set_status(self, text: str) -> None:
        """Show a short status text (emitted to whoever shows it)."""
        self.status_text = text
        self.status_changed.emit(text)

    def make_status_label(self) -> QLabel:
        """Return a new word-wrapped label that shows this workspace's status texts."""
        label = QLabel(self.status_text)
        label.setObjectName("statusLine")
        label.setWordWrap(True)
        self.status_changed.connect(label.setText)
        return label

    def update_actions(self) -> None:
        """Enable or disable the buttons after a change (a workspace overrides it)."""

    # -- errors -------------------------------------------------------------------------
    def report_error(self, exc: BaseException, *, dialog: bool = True) -> None:
        """Show a service's failure: the status line and (``dialog``) the error dialog.

        Parameters
        ----------
        exc : BaseException
            The error; a :class:`DxaError` shows its message and remedy, never a traceback.
        dialog : bool
            Also show the friendly error dialog (stderr when dialogs are off).
        """
        self.last_error = exc
        message, remedy = describe(exc)
        self.set_status(f"{message} {remedy}".strip())
        self.error_raised.emit(exc)
        if dialog:
            show_error(exc, self)
        self.update_actions()

    # -- running services ---------------------------------------------------------------
    def run(
        self,
        work: Job[T],
        on_done: Callable[[T], None],
        *,
        on_error: Callable[[BaseException], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        progress_bar: QProgressBar | None = None,
        cancel_button: QPushButton | None = None,
    ) -> TaskHandle:
        """Run ``work(progress, cancel)`` off the GUI thread; ``on_done(result)`` on it.

        Parameters
        ----------
        work : Callable
            Calls one service with :attr:`session`; it must not touch widgets.
        on_done : Callable
            Called with the result on the GUI thread.
        on_error : Callable, optional
            Called with the exception instead of :meth:`report_error`.
        on_cancelled : Callable, optional
            Called when the work stopped because of a cancel.
        progress_bar, cancel_button : optional
            Shown and updated while the work runs (see :func:`run_task`).

        Returns
        -------
        TaskHandle
            The running task (also kept as :attr:`handle`).
        """

        def failed(exc: BaseException, _details: str) -> None:
            if on_error is not None:
                on_error(exc)
            else:
                self.report_error(exc)

        handle = run_task(
            work,
            on_done=on_done,
            on_error=failed,
            on_cancelled=on_cancelled,
            progress_bar=progress_bar,
            cancel_button=cancel_button,
            owner=self,
        )
        self.handle = handle
        self._tasks.append(handle)
        return handle

    def call(self, action: Callable[[Session], T]) -> T | None:
        """Run a quick service call on the GUI thread; None (and the error shown) on failure.

        Parameters
        ----------
        action : Callable
            ``action(session) -> result``.

        Returns
        -------
        object or None
            The result, or None when a :class:`DxaError` was shown.
        """
        try:
            return action(self.session)
        except DxaError as exc:
            self.report_error(exc)
            return None
