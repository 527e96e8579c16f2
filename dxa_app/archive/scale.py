"""The national scale the centre chose: versioned, append-only (the national_scales table)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dxa_app.archive.database import Database
from dxa_app.archive.db import get_setting, now_iso

#: The archive setting naming the national reference scanner (its serial).
REFERENCE_SCANNER_KEY = "national_reference_scanner"
#: The two national scales.
SCALES = ("reference", "esp")


@dataclass(frozen=True)
class NationalScale:
    """Which scale is national, and which scanner's readings define it.

    ``"reference"``: the reference scanner's scale for every region (its ESP line takes the
    spine from the phantom's certified scale to it; the hip is calibrated in vivo onto it).
    ``"esp"``: the spine on the European Spine Phantom's certified scale (every scanner,
    the reference included, through its own ESP line), the hip on ``hip_anchor``'s scale
    (an ESP-calibrated scanner whose hip readings define the national hip), other scanners
    linked to it through in-vivo chains.
    """

    version: int
    scale: str
    reference: str
    hip_anchor: str
    set_at: str = ""
    set_by: str = ""
    reason: str = ""
    origin: str = ""

    def anchor_serial(self, group: str | None) -> str:
        """Return the serial of the scanner whose readings are the scale for a region group."""
        if self.scale == "reference":
            return self.reference
        return self.hip_anchor if group in ("total_hip", "femoral_neck") else ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return dict(self.__dict__)


def current_scale(db: Database) -> NationalScale:
    """Return the national scale in force (version 0: the reference scale of the setting).

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    NationalScale
        The latest version; before any was set, the reference-scanner scale (today's
        behaviour) with the reference scanner as the hip anchor.
    """
    reference = str(get_setting(db, REFERENCE_SCANNER_KEY) or "")
    rows = list(db.query("SELECT * FROM national_scales ORDER BY version DESC, id DESC LIMIT 1"))
    if not rows:
        return NationalScale(0, "reference", reference, reference)
    r = rows[0]
    return NationalScale(
        int(r["version"]),
        str(r["scale"]),
        reference,
        str(r["hip_anchor_serial"] or reference),
        str(r["set_at"]),
        str(r["set_by"]),
        str(r["reason"]),
        str(r["origin"]),
    )


def add_scale(
    db: Database,
    *,
    scale: str,
    hip_anchor: str,
    by: str,
    reason: str,
    origin: str = "",
    version: int | None = None,
) -> NationalScale:
    """Store a new version of the national scale (append-only) and return it.

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    scale : str
        ``"reference"`` or ``"esp"``.
    hip_anchor : str
        Serial of the hip anchor (the ESP scale); "" for the reference scanner.
    by, reason, origin : str
        Who, why, and where it came from (a centre publication at a site).
    version : int, optional
        The version (a site takes the centre's); default the next one.

    Returns
    -------
    NationalScale
        The scale now in force.
    """
    if version is None:
        version = current_scale(db).version + 1
    db.execute(
        "INSERT INTO national_scales (version, scale, hip_anchor_serial, reason, origin, set_by,"
        " set_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [version, scale, hip_anchor, reason, origin, by, now_iso()],
    )
    return current_scale(db)
