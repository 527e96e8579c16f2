"""The DXA calibration and reporting application (everything except calibration/ and reports/)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dxa-app")
except PackageNotFoundError:  # frozen bundle without metadata, or a bare source tree
    __version__ = "0.1.0"
