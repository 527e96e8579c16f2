"""QSettings for UI state only: window geometry, splitter, last archive, language.

Settings that change behaviour live in the archive (the CLI must see them), never here.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANISATION = "DXA-DK"
APPLICATION = "dxa"
SETTINGS_DIR_ENV = "DXA_SETTINGS_DIR"

KEY_GEOMETRY = "window/geometry"
KEY_STATE = "window/state"
KEY_SPLITTER = "window/splitter"
KEY_LAST_ARCHIVE = "archive/last"
KEY_LANGUAGE = "ui/language"


def make_settings(directory: str | Path | None = None) -> QSettings:
    """Return the UI settings store.

    Parameters
    ----------
    directory : str or Path, optional
        Keep the settings in ``<directory>/dxa.ini`` instead of the user's
        platform store. When not given, the environment variable ``DXA_SETTINGS_DIR``
        is used if set (tests set it so they never touch the real settings).

    Returns
    -------
    QSettings
        An INI-file store under ``directory``, or the native store of organisation
        "DXA-DK", application "dxa".
    """
    folder = directory if directory is not None else os.environ.get(SETTINGS_DIR_ENV) or None
    if folder is not None:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        return QSettings(str(path / "dxa.ini"), QSettings.Format.IniFormat)
    return QSettings(ORGANISATION, APPLICATION)


def read_str(settings: QSettings, key: str) -> str:
    """Return a string setting, or ``""`` when unset or not a string."""
    value = settings.value(key)
    return value if isinstance(value, str) else ""
