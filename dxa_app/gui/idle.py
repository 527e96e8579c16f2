"""Idle time over the whole application: the signal that locks the window.

Qt only (no services), so the main window can make it before any service is imported.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

#: The events that count as the user's input (anything else, e.g. a repaint, does not).
INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.KeyRelease,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonRelease,
        QEvent.Type.MouseButtonDblClick,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TouchUpdate,
        QEvent.Type.TabletPress,
        QEvent.Type.TabletMove,
        QEvent.Type.InputMethod,
    }
)

#: Milliseconds in a minute (the archive stores the idle time in minutes).
MINUTE_MS = 60_000


class IdleWatcher(QObject):
    """Emit :attr:`idle` once after ``timeout_ms`` without input anywhere in the application.

    It watches the application's events (an event filter on the QApplication) only while it
    is started, and notes the time of the last keyboard, mouse, wheel or touch input that came
    from the window system. One single-shot timer checks at the moment the idle time would
    end, and waits for the rest when there was input meanwhile.

    Parameters
    ----------
    parent : QObject, optional
        The owner (the main window).
    """

    #: Emitted once when the idle time has passed (start again after unlocking).
    idle = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timeout_ms = 10 * MINUTE_MS
        #: ``time.monotonic()`` of the last input (or of the start).
        self.last_input = time.monotonic()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._check)
        self._filtering = False

    @property
    def active(self) -> bool:
        """Whether the watcher counts the idle time now."""
        return self._filtering

    def start(self, timeout_ms: int) -> None:
        """Count the idle time afresh: :attr:`idle` after ``timeout_ms`` without input.

        Parameters
        ----------
        timeout_ms : int
            The idle time in milliseconds (at least 1).
        """
        self.timeout_ms = max(int(timeout_ms), 1)
        self.last_input = time.monotonic()
        app = QApplication.instance()
        if not self._filtering and app is not None:
            app.installEventFilter(self)
            self._filtering = True
        self._timer.start(self.timeout_ms)

    def stop(self) -> None:
        """Stop counting (no session, or the window is locked)."""
        self._timer.stop()
        app = QApplication.instance()
        if self._filtering and app is not None:
            app.removeEventFilter(self)
        self._filtering = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Note the time of the user's input; never consume an event."""
        if event.type() in INPUT_EVENTS and event.spontaneous():
            self.last_input = time.monotonic()
        return False

    def _check(self) -> None:
        if not self._filtering:
            return
        left = self.timeout_ms - (time.monotonic() - self.last_input) * 1000.0
        if left > 0:  # there was input meanwhile (or the timer was early): wait for the rest
            self._timer.start(max(int(left) + 1, 1))
            return
        self.stop()
        self.idle.emit()
