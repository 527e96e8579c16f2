"""The DXA calibration and reporting application (everything except calibration/ and reports/)."""

from __future__ import annotations

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
