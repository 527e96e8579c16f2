"""The versioned code table of the record out (``resources/record/dxa_codes.json``).

Each code carries a status: ``CHECKED`` (found in two independent published sources) or
``UNVERIFIED`` (to be confirmed against the LOINC release). A region without a LOINC code
goes out with a local code in the table's local system.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from dxa_app.resources import resource_path

#: The code table file below resources/.
TABLE = ("record", "dxa_codes.json")


@dataclass(frozen=True)
class Code:
    """One code: value, display, system (``LN`` for LOINC or ``local``) and status."""

    code: str
    display: str
    system: str
    status: str

    @property
    def loinc(self) -> bool:
        """Return whether the code is a LOINC code."""
        return self.system == "LN"


@functools.cache
def table() -> dict[str, Any]:
    """Return the code table as read from its file (read once).

    Returns
    -------
    dict
        The parsed JSON.
    """
    data: dict[str, Any] = json.loads(resource_path(*TABLE).read_text(encoding="utf-8"))
    return data


def version() -> str:
    """Return the code table's version."""
    return str(table()["version"])


def local_system(kind: str) -> str:
    """Return the local code system: ``hl7v2`` (``99DXA``) or ``fhir`` (a URI)."""
    return str(table()["local_system"][kind])


def report_code(name: str) -> Code:
    """Return a report-level code (``panel``, ``impression``, ``pdf``, ``category`` ...)."""
    e = table()["report"][name]
    return Code(e["code"], e["display"], e.get("system", "LN"), e["status"])


def region_code(region: str, side: str | None, kind: str, label: str) -> Code:
    """Return the code of one region's BMD, T or Z, LOINC when the table has one.

    Parameters
    ----------
    region : str
        The region code (``L1-L4``, ``total_hip`` ...).
    side : str or None
        ``L``, ``R`` or None; a side-specific code is preferred when the table has one.
    kind : str
        ``bmd``, ``t`` or ``z``.
    label : str
        The region's display name (used for a local code's display).

    Returns
    -------
    Code
        The code.
    """
    regions = table()["regions"]
    for key in (f"{region}:{side}" if side else None, region):
        if key is not None and key in regions and kind in regions[key]:
            e = regions[key][kind]
            return Code(e["code"], e["display"], "LN", e["status"])
    what = {"bmd": "[Mass/Area] Bone density", "t": "[T-score]", "z": "[Z-score]"}[kind]
    suffix = f"-{side}" if side else ""
    return Code(
        f"DXA-{kind.upper()}-{region}{suffix}", f"DXA {label} {what}", "local", "UNVERIFIED"
    )


def category_code(category: str) -> Code:
    """Return the local code of a WHO/ISCD category."""
    e = table()["categories"].get(category)
    if e is None:
        return Code(category, category, "local", "UNVERIFIED")
    return Code(e["code"], e["display"], "local", e["status"])
