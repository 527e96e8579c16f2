from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication, QImage
from pytestqt.qtbot import QtBot

from dxa_app.errors import ArchiveError, PermissionDeniedError
from dxa_app.gui import app as gui_app
from dxa_app.gui import dialogs
from dxa_app.i18n import _
from tests.gui.gui_fixtures import SampleArchive

pytestmark = [
    pytest.mark.gui,
    # the offscreen platform plugin warns about every shown top-level window
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


def _raise_and_catch(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_excepthook_reports_dxa_error_without_dialog(
    qtbot: QtBot, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not dialogs.dialogs_enabled()
    exc = _raise_and_catch(ArchiveError("Arkivet er låst.", "Luk det andet program."))
    gui_app.excepthook(type(exc), exc, exc.__traceback__)  # must not raise
    err = capsys.readouterr().err
    assert "Arkivet er låst." in err
    assert "Luk det andet program." in err
    assert "Traceback" not in err  # a DxaError is a message, not a crash


def test_excepthook_reports_unexpected_error_with_traceback(
    qtbot: QtBot, capsys: pytest.CaptureFixture[str]
) -> None:
    exc = _raise_and_catch(ZeroDivisionError("boom"))
    gui_app.excepthook(type(exc), exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert _("An unexpected error occurred.") in err
    assert "ZeroDivisionError: boom" in err
    assert "Traceback" in err


def test_install_excepthook_returns_previous() -> None:
    before = sys.excepthook
    previous = gui_app.install_excepthook()
    try:
        assert sys.excepthook is gui_app.excepthook
        assert previous is before
    finally:
        sys.excepthook = previous


def test_dialogs_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(dialogs.NO_DIALOGS_ENV)
    assert dialogs.dialogs_enabled()
    dialogs.set_dialogs_enabled(False)
    try:
        assert not dialogs.dialogs_enabled()
    finally:
        dialogs.set_dialogs_enabled(True)
    monkeypatch.setenv(dialogs.NO_DIALOGS_ENV, "1")
    assert not dialogs.dialogs_enabled()


def test_error_dialog_copy_details(qtbot: QtBot) -> None:
    exc = _raise_and_catch(ArchiveError("Arkivet er låst.", "Luk det andet program."))
    message, remedy = dialogs.describe(exc)
    dialog = dialogs.ErrorDialog(message, remedy, dialogs.format_details(exc))
    qtbot.addWidget(dialog)
    dialog.show()  # not exec(): never block a test
    qtbot.waitExposed(dialog)
    assert dialog.message_label.text() == "Arkivet er låst."
    assert dialog.remedy_label.text() == "Luk det andet program."
    dialog.copy_button.click()
    assert dialog.isVisible()  # "Copy details" does not close the dialog
    copied = QGuiApplication.clipboard().text()
    assert "Arkivet er låst." in copied
    assert "Traceback" in copied and "ArchiveError" in copied
    dialog.reject()
    assert not dialog.isVisible()


def test_parser_options() -> None:
    args = gui_app.build_parser().parse_args(
        ["--archive", "a.sqlite", "--screenshot", "s.png", "--lang", "en", "--debug"]
    )
    assert args.archive == Path("a.sqlite")
    assert args.screenshot == Path("s.png")
    assert args.lang == "en"
    assert args.debug


def test_screenshot_run(sample_archive: SampleArchive, tmp_path: Path) -> None:
    """`main --archive A --screenshot PNG` starts, renders the window and exits 0."""
    png = tmp_path / "window.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DXA_SETTINGS_DIR=str(tmp_path / "s"))
    code = "import sys; from dxa_app.gui.app import main; raise SystemExit(main(sys.argv[1:]))"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "--archive",
            str(sample_archive.path),
            "--screenshot",
            str(png),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(png))
    assert not image.isNull()
    assert image.width() > 300 and image.height() > 200
    # the archive is remembered as the last one
    settings_file = tmp_path / "s" / "dxa.ini"
    assert str(sample_archive.path.resolve()) in settings_file.read_text(encoding="utf-8")


def test_screenshot_run_with_missing_archive(tmp_path: Path) -> None:
    """A bad archive is reported on stderr and the smoke run still finishes."""
    png = tmp_path / "window.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DXA_SETTINGS_DIR=str(tmp_path / "s"))
    env.pop("DXA_NO_DIALOGS", None)  # --screenshot alone must switch dialogs off
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from dxa_app.gui.app import main; raise SystemExit(main(sys.argv[1:]))",
            "--archive",
            str(tmp_path / "nope.dxa.sqlite"),
            "--screenshot",
            str(png),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "nope.dxa.sqlite" in proc.stderr
    assert png.is_file()


def test_an_expected_refusal_shows_no_traceback(qtbot: QtBot) -> None:
    exc = _raise_and_catch(PermissionDeniedError("Wrong password.", "Type it again."))
    message, remedy = dialogs.describe(exc)
    dialog = dialogs.ErrorDialog(message, remedy, dialogs.format_details(exc), show_details=False)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.message_label.text() == "Wrong password."
    assert not dialog.details_view.isVisible()  # a message, not a traceback
    dialog.copy_button.click()
    assert "Traceback" in QGuiApplication.clipboard().text()  # still there for support
    dialog.reject()
