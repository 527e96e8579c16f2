"""Run under a real X server: log in through the real dialog, screenshot every workspace tab.

Usage: python -m tests.gui.xvfb_screens ARCHIVE USER PASSWORD OUTDIR
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QWidget

from dxa_app.gui.login import LoginDialog
from dxa_app.gui.main_window import MainWindow
from dxa_app.gui.session import Session


def _settle(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def main(argv: list[str]) -> int:
    """Log in, show each tab, save ``<outdir>/<n>-<tab>.png`` from the X screen."""
    archive, user, password, outdir = Path(argv[0]), argv[1], argv[2], Path(argv[3])
    outdir.mkdir(parents=True, exist_ok=True)
    app = QApplication(["dxa"])

    def login(path: Path, window: QWidget) -> Session | None:
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
    _settle(app, 1.0)
    screen = app.primaryScreen()
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        _settle(app, 0.8)
        name = window.tabs.tabText(i).replace("&", "").replace(" ", "_").lower()
        shot = screen.grabWindow(0, 0, 0, 1280, 860)
        path = outdir / f"{i}-{name}.png"
        shot.save(str(path), "PNG")
        print(path)
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
