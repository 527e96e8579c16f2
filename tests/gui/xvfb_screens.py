"""Run under a real X server: log in as each user, walk every workspace at each screen size.

Usage: python -m tests.gui.xvfb_screens ARCHIVE OUTDIR LANG SIZES IDS USER:PASSWORD [...]

``LANG`` is the language the application starts in (``da`` or ``en``), ``SIZES`` a comma list
such as ``1366x768,1920x1080`` and ``IDS`` a JSON file with the catalogue's English messages
(to find those left untranslated on a Danish screen). Each user logs in through the real
dialog; every page (workspace tab and inner tab) is drawn once per size, by the first user who
sees it (``<lang>-<size>-<n>-<page>.png``), the texts of every page are checked, and so are the
labels and buttons Qt can tell are clipped. The About box, the log-in dialog with a refusal,
an error dialog and the lock page are drawn too. The findings go to
``OUTDIR/<lang>-problems.json``: ``{"codes": [...], "untranslated": [...], "clipped": [...]}``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QWidget

from dxa_app.errors import PermissionDeniedError
from dxa_app.gui import dialogs
from dxa_app.gui.login import LoginDialog
from dxa_app.gui.main_window import MainWindow
from dxa_app.gui.qt_locale import install_qt_language
from dxa_app.i18n import _, set_language
from dxa_app.services.auth import Session
from tests.gui.screen_texts import code_like, settle, untranslated, visible_texts, walk

#: How long the X server gets to paint a page before it is grabbed (seconds).
PAINT = 0.25


def _paint(app: QApplication, seconds: float = PAINT) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def clipped(root: QWidget) -> list[str]:
    """Return the visible labels and buttons narrower than their one-line text needs.

    Only what Qt can tell: a label without word wrap (or a push button) whose size hint is
    wider than the widget itself.
    """
    found: list[str] = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not widget.isVisible():
            continue
        if isinstance(widget, QLabel):
            if widget.wordWrap() or not widget.text().strip():
                continue
            text = widget.text()
        elif isinstance(widget, QPushButton):
            text = widget.text()
            if not text.strip():
                continue
        else:
            continue
        need, have = widget.sizeHint().width(), widget.width()
        if need > have + 2:
            found.append(f"{text!r} ({have} of {need} px)")
    return found


def _window_fits(window: QWidget, width: int, height: int) -> list[str]:
    """A window whose minimum size exceeds the screen is cut off by the screen."""
    hint = window.minimumSizeHint()
    if hint.width() > width or hint.height() > height:
        return [f"window needs at least {hint.width()}x{hint.height()} on {width}x{height}"]
    return []


def _size(text: str) -> tuple[int, int]:
    width, height = text.split("x")
    return int(width), int(height)


def main(argv: list[str]) -> int:
    """Walk every page as each user at each size; save screenshots and the findings."""
    archive, outdir, lang = Path(argv[0]), Path(argv[1]), argv[2]
    sizes = [_size(text) for text in argv[3].split(",")]
    english_ids: set[str] = set(json.loads(Path(argv[4]).read_text(encoding="utf-8")))
    users = argv[5:]
    outdir.mkdir(parents=True, exist_ok=True)
    app = QApplication(["dxa"])
    set_language(lang)
    install_qt_language(lang)
    dialogs.set_dialogs_enabled(False)  # a refusal never waits for a click here
    pending = list(users)
    problems: dict[str, list[str]] = {"codes": [], "untranslated": [], "clipped": []}
    drawn: set[str] = set()
    count = [0]
    screen = app.primaryScreen()

    def shoot(name: str, widget: QWidget, size: tuple[int, int]) -> None:
        """Grab what the X screen shows of ``widget`` (a top-level window)."""
        _paint(app)
        geo = widget.frameGeometry()
        path = outdir / f"{lang}-{size[0]}x{size[1]}-{count[0]:02d}-{name}.png"
        screen.grabWindow(0, geo.x(), geo.y(), geo.width(), geo.height()).save(str(path), "PNG")
        count[0] += 1
        print(path)

    def check(where: str, widget: QWidget) -> None:
        texts = visible_texts(widget)
        problems["codes"] += [f"{where}: {t}" for t in code_like(texts, lang)]
        if lang == "da":
            problems["untranslated"] += [f"{where}: {t}" for t in untranslated(texts, english_ids)]
        problems["clipped"] += [f"{where}: {t}" for t in clipped(widget)]

    def login(path: Path, window: QWidget) -> Session | None:
        if not pending:
            return None
        user, password = pending.pop(0).split(":", 1)
        dialog = LoginDialog(path, window)
        dialog.username_edit.setText(user)
        dialog.password_edit.setText(password)
        return dialog.session if dialog.submit() else None

    settings = QSettings(str(outdir / f"{lang}-ui.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, login=login)
    window.move(0, 0)
    if not window.open_archive(archive):
        print("could not open the archive", file=sys.stderr)
        return 2
    window.show()

    def busy() -> bool:
        return any(getattr(w, "busy", lambda: False)() for w in window.workspaces.values())

    first_user = True
    while window.session is not None:
        settle(app, busy)
        for key, widget in window.workspaces.items():  # readable page names
            widget.setObjectName(widget.objectName() or key)
        for size in sizes:
            window.resize(*size)
            settle(app, busy)
            tag = f"{size[0]}x{size[1]}"
            problems["clipped"] += [f"{tag}: {t}" for t in _window_fits(window, *size)]

            def page(name: str, size: tuple[int, int] = size, tag: str = tag) -> None:
                name = name.replace("mainSplitter", "patients")
                check(f"{tag} {name}", window)
                if f"{tag}-{name}" not in drawn:
                    drawn.add(f"{tag}-{name}")
                    shoot(name, window, size)

            walk(window, window.tabs, app, busy, page)
        if first_user:  # the dialogs once per size, with the first user's window behind
            first_user = False
            for size in sizes:
                window.resize(*size)
                _dialogs(window, app, size, shoot, check)
            if window.lock():
                for size in sizes:
                    window.resize(*size)
                    check(f"{size[0]}x{size[1]} lock", window)
                    shoot("lock", window, size)
        if window.may_change_settings():  # the administrator's settings dialog, every page
            for size in sizes:
                window.resize(*size)
                _settings(window, app, size, shoot, check)
        window.log_out()  # the next user logs in (none left: the loop ends)
    window.close()
    report = outdir / f"{lang}-problems.json"
    report.write_text(json.dumps(problems, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


def _settings(
    window: MainWindow,
    app: QApplication,
    size: tuple[int, int],
    shoot: Callable[[str, QWidget, tuple[int, int]], None],
    check: Callable[[str, QWidget], None],
) -> None:
    """Draw each page of the settings dialog (File > Settings…)."""
    tag = f"{size[0]}x{size[1]}"
    window.settings_action.trigger()
    dialog = window.settings_dialog
    assert dialog is not None
    settle(app, dialog.busy)
    for i, name in enumerate(("pacs", "receiver", "backup", "lock")):
        dialog.tabs.setCurrentIndex(i)
        _paint(app)
        check(f"{tag} settings-{name}", dialog)
        shoot(f"settings-{name}", dialog, size)
    dialog.close()
    _paint(app)


def _dialogs(
    window: MainWindow,
    app: QApplication,
    size: tuple[int, int],
    shoot: Callable[[str, QWidget, tuple[int, int]], None],
    check: Callable[[str, QWidget], None],
) -> None:
    """Draw the About box, the log-in dialog with a refusal and an error dialog."""
    tag = f"{size[0]}x{size[1]}"
    about = window.make_about_box()
    about.show()
    _paint(app)
    check(f"{tag} about", about)
    shoot("about", about, size)
    about.close()
    about.deleteLater()

    assert window.archive_path is not None
    login = LoginDialog(window.archive_path, window)
    login.username_edit.setText("nobody")
    login.password_edit.setText("wrong")
    login.show()
    login.submit()
    _paint(app)
    check(f"{tag} login", login)
    shoot("login", login, size)
    login.close()
    login.deleteLater()

    exc = PermissionDeniedError(
        _("Wrong password."), _("Type your own log-in password to confirm.")
    )
    message, remedy = dialogs.describe(exc)
    error = dialogs.ErrorDialog(message, remedy, "Traceback (most recent call last): ...", window)
    error.show()
    _paint(app)
    check(f"{tag} error", error)
    shoot("error", error, size)
    error.close()
    error.deleteLater()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
