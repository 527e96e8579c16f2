"""Progress callback protocol and cancel token shared by services, CLI and GUI (no Qt)."""

from __future__ import annotations

import threading
from typing import Protocol

from dxa_app.errors import CancelledError
from dxa_app.i18n import _


class Progress(Protocol):
    """Receives progress reports from a long-running service call."""

    def __call__(self, done: int, total: int, message: str) -> None:
        """Report that ``done`` of ``total`` units are finished."""


def no_progress(done: int, total: int, message: str) -> None:
    """Progress callback that ignores every report."""


class CancelToken:
    """A thread-safe flag a caller sets to ask a running service to stop.

    Services call :meth:`raise_if_cancelled` between units of work, so a cancel
    never leaves a half-written unit behind.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the running job to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether a cancel was requested."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`CancelledError` when a cancel was requested."""
        if self._event.is_set():
            raise CancelledError(_("Cancelled by the user."), "")
