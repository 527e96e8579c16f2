"""Start the desktop application: QApplication, excepthook, log-in, main window, event loop.

The exit is orderly (:func:`run_window`): once the event loop ends, the background work is
cancelled and waited for, the idle watcher stops, and the main window is deleted while the
QApplication still exists, so no Qt object or worker thread is left for the interpreter's own
teardown.

``main(["--archive", PATH])`` opens an archive after the log-in dialog (the first-run dialog
when the archive has no users); ``--screenshot PNG`` renders the window to a PNG once it is
shown and exits (for tests, CI and ``make run`` smoke checks; it skips the log-in, so it
shows the window with the archive chosen but no patient data).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QThreadPool, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from dxa_app.errors import DxaError
from dxa_app.gui import settings as ui_settings
from dxa_app.gui.dialogs import set_dialogs_enabled, show_error
from dxa_app.gui.main_window import MainWindow, app_version
from dxa_app.gui.qt_locale import install_qt_language
from dxa_app.gui.tasks import collect_garbage_on_gui_thread
from dxa_app.i18n import LANGUAGES, _, current_language, set_language

if TYPE_CHECKING:
    from dxa_app.services.auth import Session

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]


def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """Show an uncaught exception in the friendly error dialog (stderr when dialogs are off).

    A :class:`dxa_app.errors.DxaError` shows its message and remedy; anything else shows
    a generic message with the traceback behind "Copy details". Ctrl+C keeps Python's
    default behaviour.
    """
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    try:
        app = QApplication.instance()
        parent = app.activeWindow() if isinstance(app, QApplication) else None
        show_error(exc, parent, tb)
    except Exception:  # the hook itself must never raise
        sys.__excepthook__(exc_type, exc, tb)


def install_excepthook() -> ExceptHook:
    """Install :func:`excepthook` as ``sys.excepthook`` and return the previous hook."""
    previous: ExceptHook = sys.excepthook
    sys.excepthook = excepthook
    return previous


def login_dialog(archive: Path, parent: QWidget) -> Session | None:
    """Ask who logs in to ``archive`` with the modal log-in (or first-run) dialog.

    Returns
    -------
    Session or None
        The session, or None when the user cancelled or the archive cannot be read.
    """
    from dxa_app.gui.login import ask_login

    try:
        return ask_login(archive, parent)
    except DxaError as exc:
        show_error(exc, parent)
        return None


#: How long the exit waits for background work (a service call) to stop, in milliseconds.
EXIT_WAIT_MS = 15_000


def shut_down(app: QApplication, window: QWidget | None) -> None:
    """Tear the window down in order before the interpreter does (after the event loop).

    The running service calls are asked to stop and waited for (a worker thread must not
    run Python while the interpreter finalizes), the idle watcher stops, and the window and
    its children are deleted while the QApplication still exists.

    Parameters
    ----------
    app : QApplication
        The application (its event loop has ended).
    window : QWidget, optional
        The main window (None when it was never made).
    """
    from dxa_app.gui.workspace import Workspace

    if window is not None:
        for workspace in window.findChildren(Workspace):
            workspace.cancel_tasks()
        watcher = getattr(window, "idle_watcher", None)
        if watcher is not None:
            watcher.stop()
    pool = QThreadPool.globalInstance()
    pool.clear()  # queued work never starts
    if not pool.waitForDone(EXIT_WAIT_MS):
        logging.getLogger(__name__).warning("background work still runs at exit")
    if window is not None:
        window.close()
        window.deleteLater()
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def run_window(app: QApplication, window: QWidget) -> int:
    """Run the event loop until the window quits, then shut down in order.

    Parameters
    ----------
    app : QApplication
        The application.
    window : QWidget
        The main window (shown).

    Returns
    -------
    int
        The event loop's exit code.
    """
    try:
        return app.exec()
    finally:
        shut_down(app, window)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the GUI's command-line options."""
    parser = argparse.ArgumentParser(prog="dxa", description=_("DXA bone density"))
    parser.add_argument(
        "--archive", type=Path, metavar="PATH", help=_("open this archive file at start")
    )
    parser.add_argument("--lang", choices=LANGUAGES, help=_("language of the window (da or en)"))
    parser.add_argument("--debug", action="store_true", help=_("log debug messages to stderr"))
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="PNG",
        help=_("save a picture of the window to PNG once it is shown, then exit"),
    )
    return parser


def _initial_archive(option: Path | None, last: str) -> Path | None:
    if option is not None:
        return option
    if last and Path(last).is_file():
        return Path(last)
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the desktop application.

    Parameters
    ----------
    argv : list of str, optional
        Command-line options without the program name (default ``sys.argv[1:]``):
        ``--archive PATH``, ``--lang da|en``, ``--debug`` and ``--screenshot PNG``.

    Returns
    -------
    int
        The exit code: 0 on a normal exit, 1 when the screenshot could not be written.
    """
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(["dxa"])
    collect_garbage_on_gui_thread()
    app.setOrganizationName(ui_settings.ORGANISATION)
    app.setApplicationName(ui_settings.APPLICATION)
    app.setApplicationVersion(app_version())
    previous_hook = install_excepthook()
    if args.screenshot is not None:
        set_dialogs_enabled(False)  # a smoke run must never wait for a click
    try:
        settings = ui_settings.make_settings()
        lang = args.lang or ui_settings.read_str(settings, ui_settings.KEY_LANGUAGE)
        if lang in LANGUAGES:
            set_language(lang)
        install_qt_language(current_language())
        # a smoke run never waits for a log-in (and so shows no patient data)
        window = MainWindow(settings, login=None if args.screenshot is not None else login_dialog)
        archive = _initial_archive(
            args.archive, ui_settings.read_str(settings, ui_settings.KEY_LAST_ARCHIVE)
        )
        window.show()
        if archive is not None:
            # the window shows first; the archive (and the log-in) follow on the next loop turn
            chosen = archive
            QTimer.singleShot(0, lambda: window.open_archive(chosen))
        result = [0]
        if args.screenshot is not None:
            target: Path = args.screenshot

            def shoot() -> None:
                if not window.grab().save(str(target), "PNG"):
                    show_error(OSError(_("Cannot write {path}.").format(path=target)))
                    result[0] = 1
                window.close()
                app.quit()

            QTimer.singleShot(0, shoot)
        code = run_window(app, window)
        return result[0] or code
    finally:
        sys.excepthook = previous_hook
