"""Errors for people: a cause and what to do, the technical details folded away, never clipped.

The expected mistakes of a first day (a wrong signing password, an empty PACS host, a missing
archive file, a wrong log-in) come from the real services; what the dialogs show is checked
on real widgets (offscreen).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from dxa_app import i18n
from dxa_app.domain import Role
from dxa_app.errors import ArchiveError, DxaError, PermissionDeniedError, UsageError
from dxa_app.gui import dialogs
from dxa_app.gui.login import LoginDialog
from dxa_app.gui.main_window import MainWindow
from dxa_app.i18n import _
from dxa_app.services import auth
from dxa_app.services.pacs import PacsTarget, set_pacs_target
from tests.gui.gui_fixtures import SampleArchive
from tests.sessions import session_as

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


def _caught(call: Callable[[], object]) -> BaseException:
    """Run ``call()`` and return what it raised (with its traceback)."""
    try:
        call()
    except BaseException as exc:  # the test inspects whatever was raised
        return exc
    raise AssertionError("expected an exception")


def _not_clipped(label: QLabel) -> bool:
    """A word-wrapped label is as tall as its text needs at its width."""
    return label.height() >= label.heightForWidth(label.width())


def _dialog_for(qtbot: QtBot, exc: BaseException) -> dialogs.ErrorDialog:
    message, remedy = dialogs.describe(exc)
    dialog = dialogs.ErrorDialog(message, remedy, dialogs.format_details(exc))
    qtbot.addWidget(dialog)
    dialog.show()  # never exec(): a test must not block
    qtbot.waitExposed(dialog)
    return dialog


def test_a_wrong_signing_password_is_a_message_with_the_details_folded_away(
    qtbot: QtBot, sample_archive: SampleArchive
) -> None:
    i18n.set_language("da")
    doc = session_as(sample_archive.path, Role.PHYSICIAN, "doc")

    def confirm() -> None:
        with auth.acting(doc, auth.Permission.VIEW) as db:
            auth.confirm_password(db, doc, "not my password")

    exc = _caught(confirm)
    assert isinstance(exc, PermissionDeniedError)
    dialog = _dialog_for(qtbot, exc)
    assert dialog.message_label.text() == "Forkert adgangskode."
    assert dialog.remedy_label.isVisible() and dialog.remedy_label.text()
    assert not dialog.details_view.isVisible()  # no traceback in the face of a user
    dialog.details_button.click()  # support asks: unfold
    assert dialog.details_view.isVisible()
    assert "PermissionDeniedError" in dialog.details_view.toPlainText()
    dialog.details_button.click()
    assert not dialog.details_view.isVisible()
    dialog.copy_button.click()
    assert "Traceback" in QGuiApplication.clipboard().text()
    assert _not_clipped(dialog.message_label) and _not_clipped(dialog.remedy_label)


def test_an_unexpected_error_also_keeps_its_traceback_folded(qtbot: QtBot) -> None:
    dialog = _dialog_for(qtbot, _caught(lambda: [][1]))
    assert dialog.message_label.text() == _("An unexpected error occurred.")
    assert not dialog.details_view.isVisible()
    assert "IndexError" in dialog.details


def test_an_empty_pacs_host_says_what_to_fill_in(
    qtbot: QtBot, sample_archive: SampleArchive
) -> None:
    i18n.set_language("da")
    admin = session_as(sample_archive.path, Role.ADMIN, "anne")
    exc = _caught(lambda: set_pacs_target(admin, PacsTarget("", 104, "PACS")))
    assert isinstance(exc, UsageError)
    dialog = _dialog_for(qtbot, exc)
    assert "vært" in dialog.message_label.text()
    assert "Udfyld" in dialog.remedy_label.text()
    assert not dialog.details_view.isVisible()


def test_a_missing_archive_gives_advice_for_the_screen_not_the_command_line(
    qtbot: QtBot, settings: QSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    i18n.set_language("da")
    missing = tmp_path / "afdeling.dxa.sqlite"
    exc = _caught(lambda: auth.has_users(missing))
    assert isinstance(exc, ArchiveError)
    assert "demo" in exc.remedy  # the command line keeps its own advice
    message, remedy = dialogs.describe(exc)
    assert "afdeling.dxa.sqlite" in message
    assert "demo" not in remedy and "Kør" not in remedy
    assert "Åbn arkiv" in remedy and "Nyt arkiv" in remedy

    window = MainWindow(settings, login=None)
    qtbot.addWidget(window)
    capsys.readouterr()
    assert not window.open_archive(missing)
    err = capsys.readouterr().err
    assert "afdeling.dxa.sqlite" in err and "Åbn arkiv" in err
    assert "Kør 'demo'" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (FileNotFoundError(errno.ENOENT, "No such file", "/data/scan.dcm"), "/data/scan.dcm"),
        (PermissionError(errno.EACCES, "Permission denied", "/backup"), "/backup"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), None),
        (OSError(errno.ENOSPC, "No space left on device"), None),
    ],
)
def test_ordinary_mishaps_get_a_plain_explanation(exc: OSError, expected: str | None) -> None:
    i18n.set_language("en")
    message, remedy = dialogs.describe(exc)
    assert dialogs.is_expected(exc)
    assert message != _("An unexpected error occurred.") and remedy
    assert "Errno" not in message
    if expected is not None:
        assert expected in message


def test_the_log_in_refusal_is_not_clipped(qtbot: QtBot, sample_archive: SampleArchive) -> None:
    i18n.set_language("da")
    session_as(sample_archive.path, Role.TECHNICIAN, "tekla")
    dialog = LoginDialog(sample_archive.path)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.username_edit.setText("tekla")
    dialog.password_edit.setText("forkert")
    assert not dialog.submit()
    label = dialog.error_label
    qtbot.waitUntil(label.isVisible)
    assert label.text().startswith(_("Wrong user name or password."))
    assert _not_clipped(label)
    # a longer refusal (the services' lock-out text is longer) still fits
    dialog.show_problem(" ".join([label.text()] * 4))
    assert _not_clipped(label)
    assert _not_clipped(dialog.archive_label)


def test_every_dxa_error_has_a_screen_remedy() -> None:
    assert DxaError("m", "r").screen_remedy == "r"
    assert DxaError("m", "r", screen_remedy="s").screen_remedy == "s"
