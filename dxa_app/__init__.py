"""The DXA calibration and reporting application (everything except calibration/ and reports/)."""

from __future__ import annotations

import sys
from functools import cache


@cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dxa-app")
    except PackageNotFoundError:  # frozen bundle without metadata, or a bare source tree
        return "0.1.0"


def __getattr__(name: str) -> str:
    """Resolve ``__version__`` lazily (importlib.metadata is slow to import)."""
    if name == "__version__":
        return _version()
    raise AttributeError(name)


def _load_sqlite_utils_without_numpy() -> None:
    """Import sqlite_utils without letting it import numpy and pandas (about 0.1 s at start).

    sqlite_utils imports them only to name their number types as column types of the tables
    it creates from Python values; the archive creates every table with SQL (migrations) and
    reads and writes with SQL, so it never uses that. A command that needs numpy (a fit, a
    plot) imports it later as usual; when numpy is already loaded nothing is changed.
    """
    if "sqlite_utils" in sys.modules or "numpy" in sys.modules:
        return
    hidden = [m for m in ("numpy", "pandas") if m not in sys.modules]
    for m in hidden:
        sys.modules[m] = None  # type: ignore[assignment]  # "import m" raises ImportError
    try:
        import sqlite_utils  # noqa: F401
    finally:
        for m in hidden:
            del sys.modules[m]


_load_sqlite_utils_without_numpy()
