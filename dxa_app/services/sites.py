"""Sites and scanners: list them, and map a scanner (serial, station or institution) to a site."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dxa_app.archive import get_setting, open_archive, set_setting, write_transaction
from dxa_app.archive.db import audit
from dxa_app.archive.store import SITE_MAPPING_KEY, ensure_site


@dataclass(frozen=True)
class ScannerInfo:
    """A scanner as listed under its site."""

    id: int
    manufacturer: str
    model: str
    serial: str
    software_version: str
    station_name: str
    institution_name: str
    site_code: str


def list_scanners(archive: str | Path) -> list[ScannerInfo]:
    """Return every scanner with its site code, ordered by site and serial."""
    db = open_archive(archive, create=False)
    try:
        return [
            ScannerInfo(
                r["id"],
                r["manufacturer"],
                r["model"],
                r["serial"],
                r["software_version"],
                r["station_name"],
                r["institution_name"],
                r["code"] or "",
            )
            for r in db.query(
                "SELECT sc.*, si.code FROM scanners sc LEFT JOIN sites si ON si.id = sc.site_id"
                " ORDER BY si.code, sc.serial"
            )
        ]
    finally:
        db.close()


def map_site(
    archive: str | Path, key: str, site_code: str, site_name: str = "", *, username: str = ""
) -> int:
    """Map scanners whose serial, station name or institution name is ``key`` to a site.

    The mapping is stored in the archive (so later imports follow it) and applied to the
    scanners already known. Raw measurements are not touched.

    Parameters
    ----------
    archive : str or Path
        The archive file.
    key : str
        A scanner serial, station name or institution name.
    site_code : str
        The site's code (created when new).
    site_name : str
        The site's full name (used when the site is created).
    username : str
        Who made the change (audit log).

    Returns
    -------
    int
        How many known scanners were moved to the site.
    """
    db = open_archive(archive)
    try:
        with write_transaction(db):
            mapping: dict[str, str] = dict(get_setting(db, SITE_MAPPING_KEY, {}) or {})
            mapping[key] = site_code
            set_setting(db, SITE_MAPPING_KEY, mapping)
            site_id = ensure_site(db, site_code, site_name)
            cur = db.execute(
                "UPDATE scanners SET site_id = ? WHERE serial = ? OR station_name = ?"
                " OR institution_name = ?",
                [site_id, key, key, key],
            )
            moved = int(cur.rowcount)
            audit(
                db,
                "site_map",
                username=username,
                entity="site",
                entity_id=site_code,
                details={"key": key, "scanners_moved": moved},
            )
        return moved
    finally:
        db.close()
