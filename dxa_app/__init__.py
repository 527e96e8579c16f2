"""The DXA calibration and reporting application (everything except calibration/ and reports/)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from functools import cache
from types import ModuleType


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


class _WithoutNumpy(importlib.abc.Loader):
    """A module's own loader, run with numpy and pandas hidden ("import numpy" fails)."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def __getattr__(self, name: str) -> object:  # resources, source: the module's loader
        return getattr(self.loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        """Let the module's own loader create it."""
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        """Run the module with numpy and pandas hidden when they are not loaded yet."""
        hidden = [m for m in ("numpy", "pandas") if m not in sys.modules]
        for m in hidden:
            sys.modules[m] = None  # type: ignore[assignment]  # "import m" raises ImportError
        try:
            self.loader.exec_module(module)
        finally:
            for m in hidden:
                if sys.modules.get(m) is None:
                    del sys.modules[m]


class _SqliteUtilsWithoutNumpy(importlib.abc.MetaPathFinder):
    """Import sqlite_utils, when first asked for, without numpy and pandas (about 0.1 s).

    sqlite_utils imports them only to name their number types as column types of the tables
    it creates from Python values; the archive creates every table with SQL (migrations) and
    reads and writes with SQL, so it never uses that. A command that needs numpy (a fit, a
    plot) imports it later as usual; when numpy is already loaded nothing is changed. The
    import itself waits until something needs the archive library, so a window shows first.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """Find sqlite_utils with the other finders and wrap its loader (once)."""
        if fullname != "sqlite_utils":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        if "numpy" in sys.modules:
            return None
        for finder in sys.meta_path:  # the path finder, or a frozen bundle's importer
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if isinstance(spec, importlib.machinery.ModuleSpec):
                if spec.loader is not None:
                    spec.loader = _WithoutNumpy(spec.loader)
                return spec
        return None


if "sqlite_utils" not in sys.modules:
    sys.meta_path.insert(0, _SqliteUtilsWithoutNumpy())
