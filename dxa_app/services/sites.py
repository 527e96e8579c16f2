"""Sites and scanners: list them, and map a scanner (serial, station or institution) to a site."""

from __future__ import annotations

from dataclasses import dataclass

from dxa_app.archive import get_setting, set_setting, write_transaction
from dxa_app.archive.scanners import move_scanners_to_site, scanner_rows
from dxa_app.archive.store import SITE_MAPPING_KEY, ensure_site
from dxa_app.services.auth import Permission, Session, acting, record


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


def list_scanners(session: Session) -> list[ScannerInfo]:
    """Return every scanner with its site code, ordered by site and serial.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    list of ScannerInfo
        The scanners.
    """
    with acting(session, Permission.VIEW) as db:
        return [
            ScannerInfo(
                r.id,
                r.manufacturer,
                r.model,
                r.serial,
                r.software_version,
                r.station_name,
                r.institution_name,
                r.site_code,
            )
            for r in scanner_rows(db)
        ]


def map_site(session: Session, key: str, site_code: str, site_name: str = "") -> int:
    """Map scanners whose serial, station name or institution name is ``key`` to a site.

    The mapping is stored in the archive (so later imports follow it) and applied to the
    scanners already known. Raw measurements are not touched. Administrator only.

    Parameters
    ----------
    session : Session
        The acting administrator.
    key : str
        A scanner serial, station name or institution name.
    site_code : str
        The site's code (created when new).
    site_name : str
        The site's full name (used when the site is created).

    Returns
    -------
    int
        How many known scanners were moved to the site.
    """
    with acting(session, Permission.SETTINGS) as db, write_transaction(db):
        mapping: dict[str, str] = dict(get_setting(db, SITE_MAPPING_KEY, {}) or {})
        mapping[key] = site_code
        set_setting(db, SITE_MAPPING_KEY, mapping)
        site_id = ensure_site(db, site_code, site_name)
        moved = move_scanners_to_site(db, key, site_id)
        record(
            db,
            session,
            "site_map",
            entity="site",
            entity_id=site_code,
            details={"key": key, "scanners_moved": moved},
        )
    return moved
