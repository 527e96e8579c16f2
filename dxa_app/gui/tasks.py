"""Run a service off the GUI thread with progress and cancel; deliver the result on the GUI thread.

A service takes ``progress`` and ``cancel`` arguments (dxa_app.progress), never Qt objects.
:func:`run_task` runs it on a QThreadPool and calls ``on_done(result)`` or ``on_error(exc)`` back
on the GUI thread (the Anki QueryOp pattern), so the window never freezes. Services open their
own archive connection inside the worker (SQLite connections belong to one thread).
"""

from __future__ import annotations

import contextlib
import gc
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, QTimer, Signal, Slot
from PySide6.QtWidgets import QProgressBar, QPushButton

from dxa_app.errors import CancelledError
from dxa_app.progress import CancelToken

#: A unit of work: ``fn(progress, cancel) -> result``.
Work = Callable[[Callable[[int, int, str], None], CancelToken], Any]


class _Signals(QObject):
    progress = Signal(int, int, str)
    done = Signal(object)
    failed = Signal(object, str)
    cancelled = Signal()


class _Runnable(QRunnable):
    def __init__(self, work: Work, signals: _Signals, token: CancelToken) -> None:
        super().__init__()
        self.work = work
        self.signals = signals
        self.token = token
        self.setAutoDelete(True)

    def run(self) -> None:
        def progress(done: int, total: int, message: str) -> None:
            self.signals.progress.emit(done, total, message)

        try:
            result = self.work(progress, self.token)
        except CancelledError:
            self.signals.cancelled.emit()
        except BaseException as exc:  # delivered to the GUI thread, shown there
            self.signals.failed.emit(exc, traceback.format_exc())
        else:
            self.signals.done.emit(result)


@dataclass
class TaskHandle:
    """A running task: cancel it, or ask whether it has finished."""

    token: CancelToken
    signals: _Signals
    finished: bool = False
    result: Any = None
    error: BaseException | None = None
    _keep: list[Any] = field(default_factory=list)

    def cancel(self) -> None:
        """Ask the task to stop at its next check (work already done stays done)."""
        self.token.cancel()


#: How often the GUI thread looks whether Python's cycle collector is due (milliseconds).
GC_INTERVAL_MS: Final = 250
#: The name of that timer, a child of the application.
_GC_TIMER: Final = "dxa-gc-on-gui-thread"


def collect_due_garbage() -> int:
    """Collect the generations whose counts have passed gc's thresholds, as gc itself would.

    Returns
    -------
    int
        The number of unreachable objects found (0 when nothing was due).
    """
    counts, thresholds = gc.get_count(), gc.get_threshold()
    if counts[0] <= thresholds[0]:
        return 0
    generation = 0
    if counts[1] > thresholds[1]:
        generation = 2 if counts[2] > thresholds[2] else 1
    return gc.collect(generation)


def collect_garbage_on_gui_thread() -> None:
    """Let Python's cycle collector run on the GUI thread only (once per application).

    A collection runs on whichever thread allocates when it is due. On a worker thread it may
    free the wrapper of a Qt object, and Qt then takes that object's lock while the GUI
    thread, holding the interpreter lock, waits for the same lock to delete a widget: both
    threads stop for good. A CI run hung so: a report send's worker collected inside
    highdicom while the GUI thread deleted a menu. So automatic collection is switched off,
    and a timer on the GUI thread collects whenever it is due (the pattern of pyqtgraph's
    ``GarbageCollector``). Call it on the GUI thread; :func:`run_task` does.
    """
    app = QCoreApplication.instance()
    if app is None or app.findChild(QTimer, _GC_TIMER) is not None:
        return
    gc.disable()
    # what exists now (modules, classes, the window) lives as long as the app: a full
    # collection need not walk it again (it took 120-180 ms on the GUI thread in a 2,000-file
    # import's first second, bench_gui_responsiveness.py)
    gc.freeze()
    timer = QTimer(app)
    timer.setObjectName(_GC_TIMER)
    timer.timeout.connect(collect_due_garbage)
    timer.start(GC_INTERVAL_MS)


def run_task(
    work: Work,
    *,
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException, str], None] | None = None,
    on_cancelled: Callable[[], None] | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    progress_bar: QProgressBar | None = None,
    cancel_button: QPushButton | None = None,
    pool: QThreadPool | None = None,
    owner: QObject | None = None,
) -> TaskHandle:
    """Run ``work`` on the thread pool and call back on the GUI thread.

    Parameters
    ----------
    work : Callable
        ``work(progress, cancel) -> result``; it must not touch Qt widgets.
    on_done : Callable
        Called with the result, on the GUI thread.
    on_error : Callable, optional
        Called with the exception and its traceback text; default: the error dialog.
    on_cancelled : Callable, optional
        Called when the work stopped because of a cancel.
    on_progress : Callable, optional
        Called with (done, total, message) on the GUI thread.
    progress_bar : QProgressBar, optional
        Shown while running and updated from the progress reports.
    cancel_button : QPushButton, optional
        Enabled while running; clicking it cancels.
    pool : QThreadPool, optional
        Default: the global pool.
    owner : QObject, optional
        The widget the callbacks belong to. When it has been deleted by the time the work
        ends (its window closed, the user logged out), nothing is called back: the result
        is kept on the handle only.

    Returns
    -------
    TaskHandle
        The running task.
    """
    collect_garbage_on_gui_thread()  # before any worker runs Python beside the GUI thread
    token = CancelToken()
    signals = _Signals()
    handle = TaskHandle(token, signals)
    #: Non-empty while the cancel button is connected to this task.
    connected: list[bool] = []

    def gone() -> bool:
        return owner is not None and not shiboken6.isValid(owner)

    def finish() -> None:
        handle.finished = True
        if progress_bar is not None and shiboken6.isValid(progress_bar):
            progress_bar.setVisible(False)
        if cancel_button is not None and connected and shiboken6.isValid(cancel_button):
            connected.clear()  # disconnect once: a failed disconnect costs a reference of False
            cancel_button.setEnabled(False)
            with contextlib.suppress(RuntimeError, TypeError):
                cancel_button.clicked.disconnect(handle.cancel)

    @Slot(int, int, str)
    def progressed(done: int, total: int, message: str) -> None:
        if gone():
            return
        if progress_bar is not None and shiboken6.isValid(progress_bar):
            if total > 0:
                progress_bar.setRange(0, total)
                progress_bar.setValue(done)
                progress_bar.setFormat(f"%v / %m  {message[-60:]}")
            else:  # a step of unknown length: the bar keeps moving (busy)
                progress_bar.setRange(0, 0)
                progress_bar.setFormat(message[-60:])
        if on_progress is not None:
            on_progress(done, total, message)

    @Slot(object)
    def done(result: Any) -> None:
        handle.result = result
        finish()
        if not gone():
            on_done(result)

    @Slot(object, str)
    def failed(exc: BaseException, details: str) -> None:
        handle.error = exc
        finish()
        if gone():
            return
        if on_error is not None:
            on_error(exc, details)
        else:
            from dxa_app.gui.dialogs import show_error

            show_error(exc, None, exc.__traceback__)

    @Slot()
    def cancelled() -> None:
        finish()
        if on_cancelled is not None and not gone():
            on_cancelled()

    signals.progress.connect(progressed)
    signals.done.connect(done)
    signals.failed.connect(failed)
    signals.cancelled.connect(cancelled)
    handle._keep.extend([progressed, done, failed, cancelled])
    if progress_bar is not None:
        # busy (a moving bar) until the work says how much there is: a job that never
        # reports progress never looks stuck at 0 %
        progress_bar.setRange(0, 0)
        progress_bar.setVisible(True)
    if cancel_button is not None:
        cancel_button.setEnabled(True)
        cancel_button.clicked.connect(handle.cancel)
        connected.append(True)
    (pool or QThreadPool.globalInstance()).start(_Runnable(work, signals, token))
    return handle
