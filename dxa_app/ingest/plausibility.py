"""Plausible ranges of imported measurements (resources/ingest/plausible_measurements.json)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Literal

from dxa_app.i18n import _
from dxa_app.resources import resource_path

__all__ = [
    "PLAUSIBILITY_FILE",
    "PlausibleRange",
    "Quantity",
    "measurement_problem",
    "plausible_ranges",
]

PLAUSIBILITY_FILE: Final = ("ingest", "plausible_measurements.json")
"""Where the ranges are kept, below ``resources/``."""

Quantity = Literal["bmd_g_cm2", "bmc_g", "area_cm2", "t_score", "z_score", "uncertainty_g_cm2"]
"""The measurements that have a plausible range."""


@dataclass(frozen=True, slots=True)
class PlausibleRange:
    """The closed range of values accepted for one quantity, and its unit."""

    low: float
    high: float
    unit: str

    def __str__(self) -> str:
        return f"{self.low:g} – {self.high:g} {self.unit}".strip()


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resource_path(*PLAUSIBILITY_FILE).read_text(encoding="utf-8"))
    return data


@cache
def plausible_ranges() -> Mapping[str, PlausibleRange]:
    """Return the accepted range of every quantity (product limits, not clinical reference).

    Returns
    -------
    Mapping[str, PlausibleRange]
        Quantity name (e.g. ``"bmd_g_cm2"``) -> range.
    """
    return {
        name: PlausibleRange(float(q["min"]), float(q["max"]), str(q.get("unit", "")))
        for name, q in _data()["quantities"].items()
    }


def measurement_problem(quantity: Quantity, value: float, text: str | None = None) -> str | None:
    """Return what is wrong with a measured value, or None when it is plausible.

    Parameters
    ----------
    quantity : Quantity
        What was measured.
    value : float
        The value, in the unit of the range.
    text : str, optional
        The value as the source wrote it, shown in the message (default: ``value``).

    Returns
    -------
    str or None
        The problem, translated: not a finite number, or outside the plausible range.

    Examples
    --------
    >>> measurement_problem("bmd_g_cm2", 0.812) is None
    True
    """
    shown = text if text is not None else f"{value:g}"
    if not math.isfinite(value):
        return _("'{value}' is not a finite number").format(value=shown)
    limits = plausible_ranges()[quantity]
    if limits.low <= value <= limits.high:
        return None
    return _("{value} is outside the plausible range {range} (product limit)").format(
        value=shown, range=limits
    )
