"""Published cross-vendor BMD equations (sBMD, Hologic-equivalent) as versioned data."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["Equation", "equation_from_dict", "load_equations", "to_hologic_equivalent"]

MANUFACTURERS = ("Hologic", "GE Lunar", "Norland")
OUTPUTS = ("sBMD", "Hologic-equivalent")


@dataclass(frozen=True)
class Equation:
    """``output = intercept + slope * BMD`` for one manufacturer and region (g/cm2)."""

    name: str
    version: str
    manufacturer: Literal["Hologic", "GE Lunar", "Norland"]
    region: str
    intercept: float
    slope: float
    output: Literal["sBMD", "Hologic-equivalent"]
    source: str
    status: str

    def apply(self, x: float) -> float:
        """Convert a manufacturer BMD (g/cm2) to the equation's output scale (g/cm2).

        Parameters
        ----------
        x : float
            BMD on this manufacturer's scanner, g/cm2.

        Returns
        -------
        float
            ``intercept + slope * x`` (sBMD in g/cm2; multiply by 1000 for mg/cm2).
        """
        return self.intercept + self.slope * x

    def invert(self, y: float) -> float:
        """Convert back from the output scale to this manufacturer's BMD.

        Parameters
        ----------
        y : float
            Value on the output scale (g/cm2).

        Returns
        -------
        float
            ``(y - intercept) / slope``.
        """
        return (y - self.intercept) / self.slope

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form.

        Returns
        -------
        dict
            All fields.
        """
        return dict(self.__dict__)


def equation_from_dict(data: Mapping[str, Any]) -> Equation:
    """Build and validate one equation from its JSON form.

    Parameters
    ----------
    data : mapping
        Fields of :class:`Equation`.

    Returns
    -------
    Equation
        The validated equation.

    Raises
    ------
    ValueError
        On a missing or invalid field.
    """
    texts: dict[str, str] = {}
    for key in ("name", "version", "manufacturer", "region", "output", "source", "status"):
        v = data.get(key)
        if not isinstance(v, str) or not v.strip():
            raise ValueError(f"equation field {key!r} must be a non-empty string")
        texts[key] = v
    manufacturer = texts["manufacturer"]
    if manufacturer not in MANUFACTURERS:
        raise ValueError(f"unknown manufacturer {manufacturer!r}; expected one of {MANUFACTURERS}")
    output = texts["output"]
    if output not in OUTPUTS:
        raise ValueError(f"unknown output {output!r}; expected one of {OUTPUTS}")
    nums: dict[str, float] = {}
    for key in ("intercept", "slope"):
        v = data.get(key)
        if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
            raise ValueError(f"equation {texts['name']!r}: {key} must be a number")
        nums[key] = float(v)
    if nums["slope"] <= 0:
        raise ValueError(f"equation {texts['name']!r}: slope must be positive")
    return Equation(
        name=texts["name"],
        version=texts["version"],
        manufacturer="Hologic"
        if manufacturer == "Hologic"
        else "GE Lunar"
        if manufacturer == "GE Lunar"
        else "Norland",
        region=texts["region"],
        intercept=nums["intercept"],
        slope=nums["slope"],
        output="sBMD" if output == "sBMD" else "Hologic-equivalent",
        source=texts["source"],
        status=texts["status"],
    )


def load_equations(path: Path) -> list[Equation]:
    """Load equations from a JSON file ``{"equations": [...]}`` (or a bare list).

    Parameters
    ----------
    path : Path
        The JSON file.

    Returns
    -------
    list of Equation
        The validated equations in file order.

    Raises
    ------
    ValueError
        If the file is invalid (the message names the file).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        items = data.get("equations") if isinstance(data, Mapping) else data
        if not isinstance(items, list):
            raise ValueError("expected a list of equations")
        return [equation_from_dict(e) for e in items]
    except (json.JSONDecodeError, ValueError) as exc:
        raise ValueError(f"invalid equation file {path}: {exc}") from exc


def _one(
    equations: Sequence[Equation], manufacturer: str, region: str, output: str
) -> Equation | None:
    found = [
        e
        for e in equations
        if e.manufacturer == manufacturer and e.region == region and e.output == output
    ]
    if len(found) > 1:
        names = ", ".join(f"{e.name} {e.version}" for e in found)
        raise ValueError(
            f"several {manufacturer} {output} equations for {region} ({names}); "
            "pass only the chosen equation set"
        )
    return found[0] if found else None


def to_hologic_equivalent(
    bmd: float,
    region: str,
    equations: Sequence[Equation],
    *,
    manufacturer: Literal["GE Lunar", "Norland"] = "GE Lunar",
) -> float:
    """Convert a GE Lunar or Norland BMD to a Hologic-equivalent BMD with published equations.

    Chains manufacturer -> sBMD -> Hologic (inverting the Hologic sBMD equation) when both
    sBMD equations exist for the region; otherwise uses a direct ``"Hologic-equivalent"``
    equation of that manufacturer. Published equations are population-level defaults (SEE
    4-7 % in Fan 2010), not a substitute for the scanner's own cross-calibration.

    Parameters
    ----------
    bmd : float
        BMD measured on a scanner of ``manufacturer`` (g/cm2).
    region : str
        ``"total_hip"``, ``"femoral_neck"``, ``"L1-L4"``... as named in the equation data.
    equations : sequence of Equation
        One equation set (e.g. from :func:`load_equations`).
    manufacturer : {"GE Lunar", "Norland"}, optional
        The scanner's manufacturer (default GE Lunar).

    Returns
    -------
    float
        Hologic-equivalent BMD in g/cm2.

    Raises
    ------
    KeyError
        If no equation path exists for the manufacturer and region.
    ValueError
        If the set holds several candidate equations for the same step.

    Examples
    --------
    >>> lunar = Equation("x", "1", "GE Lunar", "femoral_neck", -0.023, 0.939, "sBMD", "s", "s")
    >>> holo = Equation("x", "1", "Hologic", "femoral_neck", 0.019, 1.087, "sBMD", "s", "s")
    >>> round(to_hologic_equivalent(0.800, "femoral_neck", [lunar, holo]), 4)
    0.6524
    """
    own = _one(equations, manufacturer, region, "sBMD")
    holo = _one(equations, "Hologic", region, "sBMD")
    if own is not None and holo is not None:
        return holo.invert(own.apply(bmd))
    direct = _one(equations, manufacturer, region, "Hologic-equivalent")
    if direct is not None:
        return direct.apply(bmd)
    raise KeyError(f"no {manufacturer} -> Hologic equation path for region {region!r}")
