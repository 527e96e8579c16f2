"""Sites and scanners: list them, map a scanner to a site, name placeholder serials, software."""

from __future__ import annotations

from dataclasses import dataclass

from dxa_app.archive import get_setting, set_setting, write_transaction
from dxa_app.archive.scanners import (
    SoftwareVersionRow,
    move_scanners_to_site,
    scanner_rows,
    software_versions,
)
from dxa_app.archive.store import SERIAL_MAPPING_KEY, SITE_MAPPING_KEY, ensure_site
from dxa_app.domain import is_placeholder_serial
from dxa_app.errors import UsageError
from dxa_app.i18n import _
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


def map_serial(session: Session, scope: str, placeholder: str, serial: str) -> None:
    """Give the real serial of the scanner a source names only by a placeholder serial.

    A placeholder (``APEX``, ``000``, empty...) names no particular scanner, so the import
    refuses those scans rather than invent a scanner, and names the source's scope (e.g.
    ``apex:<database>``). With this mapping stored, later imports of that source put those
    scans on the scanner with ``serial``. Administrator only; audited.

    Parameters
    ----------
    session : Session
        The acting administrator.
    scope : str
        The source scope, as the import message names it.
    placeholder : str
        The placeholder serial, as the source gives it.
    serial : str
        The scanner's real serial number.

    Raises
    ------
    UsageError
        When ``serial`` is itself a placeholder, or the scope is empty.
    """
    serial = serial.strip()
    if not scope.strip() or is_placeholder_serial(serial):
        raise UsageError(
            _("'{serial}' is not a scanner serial number.").format(serial=serial),
            _("Give the serial printed on the scanner (and the source as the import names it)."),
        )
    with acting(session, Permission.SETTINGS) as db, write_transaction(db):
        mapping: dict[str, str] = dict(get_setting(db, SERIAL_MAPPING_KEY, {}) or {})
        mapping[f"{scope.strip()}|{placeholder.strip()}"] = serial
        set_setting(db, SERIAL_MAPPING_KEY, mapping)
        record(
            db,
            session,
            "serial_map",
            entity="scanner",
            entity_id=serial,
            details={"scope": scope.strip(), "placeholder": placeholder.strip()},
        )


@dataclass(frozen=True)
class SerialMapping:
    """One placeholder serial of one source, and the real serial given for it."""

    scope: str
    placeholder: str
    serial: str


def serial_mappings(session: Session) -> list[SerialMapping]:
    """Return the stored placeholder-serial mappings, by source.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    list of SerialMapping
        The mappings.
    """
    with acting(session, Permission.VIEW) as db:
        mapping: dict[str, str] = get_setting(db, SERIAL_MAPPING_KEY, {}) or {}
    out = []
    for key, serial in sorted(mapping.items()):
        scope, _sep, placeholder = key.rpartition("|")
        out.append(SerialMapping(scope, placeholder, serial))
    return out


def software_history(session: Session, scanner_id: int | None = None) -> list[SoftwareVersionRow]:
    """Return each scanner's software versions and changes (what QC and calibration check).

    Parameters
    ----------
    session : Session
        The logged-in user.
    scanner_id : int, optional
        Only this scanner.

    Returns
    -------
    list of SoftwareVersionRow
        By scanner and first-seen time; a row with a ``previous`` version is a change.
    """
    with acting(session, Permission.VIEW) as db:
        return software_versions(db, scanner_id)
