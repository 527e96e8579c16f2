"""Run under a real X server: log in through the real dialog as each user, screenshot each tab.

Usage: python -m tests.gui.xvfb_screens ARCHIVE OUTDIR USER:PASSWORD [USER:PASSWORD ...]

Each workspace is drawn once, by the first user who sees it (``<n>-<workspace>.png``); the
first user's window is also drawn locked (``<n>-lock.png``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QWidget

from dxa_app.gui.login import LoginDialog
from dxa_app.gui.main_window import MainWindow
from dxa_app.services.auth import Session


def _settle(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def main(argv: list[str]) -> int:
    """Log in as each user, show each tab not drawn yet, save it from the X screen."""
    archive, outdir, users = Path(argv[0]), Path(argv[1]), argv[2:]
    outdir.mkdir(parents=True, exist_ok=True)
    app = QApplication(["dxa"])
    pending = list(users)

    def login(path: Path, window: QWidget) -> Session | None:
        if not pending:
            return None
        user, password = pending.pop(0).split(":", 1)
        dialog = LoginDialog(path, window)
        dialog.username_edit.setText(user)
        dialog.password_edit.setText(password)
        return dialog.session if dialog.submit() else None

    settings = QSettings(str(outdir / "ui.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, login=login)
    window.resize(1280, 860)
    window.move(0, 0)
    if not window.open_archive(archive):
        print("could not open the archive", file=sys.stderr)
        return 2
    window.show()
    screen = app.primaryScreen()
    drawn: list[str] = []
    while window.session is not None:
        _settle(app, 1.0)
        keys = {window.tabs.indexOf(w): key for key, w in window.workspaces.items()}
        for i in range(window.tabs.count()):
            key = keys.get(i, "patients")
            if key in drawn:
                continue
            window.tabs.setCurrentIndex(i)
            _settle(app, 0.8)
            path = outdir / f"{len(drawn)}-{key}.png"
            screen.grabWindow(0, 0, 0, 1280, 860).save(str(path), "PNG")
            drawn.append(key)
            print(path)
        if "lock" not in drawn and window.lock():  # the lock page, once
            _settle(app, 0.8)
            path = outdir / f"{len(drawn)}-lock.png"
            screen.grabWindow(0, 0, 0, 1280, 860).save(str(path), "PNG")
            drawn.append("lock")
            print(path)
        window.log_out()  # the next user logs in (none left: the loop ends)
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
