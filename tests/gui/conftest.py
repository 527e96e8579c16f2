"""Fixtures for the Qt tests: offscreen platform, isolated QSettings, no dialogs, an archive."""

from __future__ import annotations

import os

# Before any Qt import: no display needed, never block on a dialog.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DXA_NO_DIALOGS", "1")

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from dxa_app import i18n
from tests.gui.gui_fixtures import SampleArchive, build_sample_archive


@pytest.fixture(autouse=True, scope="session")
def _no_real_qsettings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Any QSettings made without an explicit file lands in a throw-away folder."""
    folder = str(tmp_path_factory.mktemp("qsettings"))
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, folder)


@pytest.fixture(autouse=True)
def _isolated_ui(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Per test: settings under tmp_path, dialogs off, language restored afterwards."""
    monkeypatch.setenv("DXA_SETTINGS_DIR", str(tmp_path / "settings"))
    monkeypatch.setenv("DXA_NO_DIALOGS", "1")
    lang = i18n.current_language()
    yield
    i18n.set_language(lang)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    """A QSettings INI file under tmp_path."""
    return QSettings(str(tmp_path / "settings" / "dxa.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def sample_archive(tmp_path: Path) -> SampleArchive:
    """A fresh archive with 3 patients and 5 studies (Danish names, fake CPR numbers)."""
    return build_sample_archive(tmp_path / "sample.dxa.sqlite")
