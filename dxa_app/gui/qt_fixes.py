"""Work-arounds for bugs of the Qt binding, applied once when the GUI package is imported.

PySide6 6.12.0 returns ``None`` from every Qt method without a result (``setText``,
``setValue``, ...), ``True`` from ``SignalInstance.emit`` and ``True`` or ``False`` from
``SignalInstance.disconnect`` without adding a reference, so each such call from Python takes
one reference from ``None``, ``True`` or ``False``. Python 3.12 and later keep them forever
(immortal objects); on Python 3.11 their counts reach zero after enough calls (an import of a
few thousand files updates the progress bar that often; every failed disconnect, which only
warns, takes one from ``False``) and the interpreter aborts ("none_dealloc: deallocating
None", "bool_dealloc: deallocating True or False"), while working or, when the last
references go, at exit. :func:`apply` detects each bug with a probe and gives the object
concerned a reference count no run of the application can use up, which is what later
Pythons do.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

#: References added to an object the binding drops references of (2**40 calls: never reached).
SPARE_REFERENCES = 1 << 40
_PROBE_CALLS = 16
_applied: dict[str, bool] = {}


class _Probe(QObject):
    ping = Signal()


def _drops(target: object, call: object) -> bool:
    """Return whether calling ``call()`` takes a reference from ``target`` each time."""
    assert callable(call)
    before = sys.getrefcount(target)
    for _ in range(_PROBE_CALLS):
        call()
    return sys.getrefcount(target) <= before - _PROBE_CALLS


def emit_drops_true() -> bool:
    """Return whether emitting a signal from Python takes a reference from ``True``."""
    probe = _Probe()
    try:
        return _drops(True, probe.ping.emit)
    finally:
        probe.deleteLater()


def disconnect_drops_false() -> bool:
    """Return whether a failed ``disconnect`` from Python takes a reference from ``False``."""
    import warnings

    probe = _Probe()
    try:
        with warnings.catch_warnings():  # "Failed to disconnect": the probe's purpose
            warnings.simplefilter("ignore")
            return _drops(False, probe.ping.disconnect)
    finally:
        probe.deleteLater()


def void_call_drops_none() -> bool:
    """Return whether a Qt method without a result takes a reference from ``None``."""
    probe = QObject()
    try:
        return _drops(None, lambda: probe.setObjectName("probe"))
    finally:
        probe.deleteLater()


def _spare(target: object) -> None:
    refcount = ctypes.c_ssize_t.from_address(id(target))  # ob_refcnt: the first field
    refcount.value += SPARE_REFERENCES


def apply() -> dict[str, bool]:
    """Give ``None``, ``True`` and ``False`` spare references where the binding drops them.

    Only on Python < 3.12 (later Pythons never free them) and only for a bug the probe
    finds; applied once per process, later calls return the first answer.

    Returns
    -------
    dict of str to bool
        ``{"None": applied, "True": applied, "False": applied}``.
    """
    if not _applied:
        old_python = sys.version_info < (3, 12)
        _applied["None"] = old_python and void_call_drops_none()
        _applied["True"] = old_python and emit_drops_true()
        _applied["False"] = old_python and disconnect_drops_false()
        if _applied["None"]:
            _spare(None)
        if _applied["True"]:
            _spare(True)
        if _applied["False"]:
            _spare(False)
    return dict(_applied)
