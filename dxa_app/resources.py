"""Find files under resources/ from a source checkout and from a frozen (PyInstaller) bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """Return the folder that holds the application's resources.

    Returns
    -------
    Path
        ``<bundle>/resources`` when frozen by PyInstaller (``sys._MEIPASS``),
        else ``resources/`` at the top of the source tree.
    """
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root is not None:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    """Return the path of one resource file, e.g. ``resource_path("locale", "da.po")``.

    Parameters
    ----------
    *parts : str
        Path components below the resources folder.

    Returns
    -------
    Path
        The absolute path (it is not checked for existence).
    """
    return resources_dir().joinpath(*parts)
