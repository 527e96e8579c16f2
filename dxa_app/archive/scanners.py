"""The scanners and sites table family: one home for every scanner and site look-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dxa_app.archive.database import Database
from dxa_app.errors import NotFoundError, UsageError
from dxa_app.i18n import _


@dataclass(frozen=True)
class ScannerRow:
    """One scanner with its site (code and name empty when it has none)."""

    id: int
    manufacturer: str
    model: str
    serial: str
    software_version: str
    station_name: str
    institution_name: str
    site_id: int | None
    site_code: str
    site_name: str


_SQL = (
    "SELECT sc.*, coalesce(si.code, '') AS site_code, coalesce(si.name, '') AS site_name"
    " FROM scanners sc LEFT JOIN sites si ON si.id = sc.site_id"
)


def _row(r: dict[str, Any]) -> ScannerRow:
    return ScannerRow(
        int(r["id"]),
        str(r["manufacturer"]),
        str(r["model"]),
        str(r["serial"]),
        str(r["software_version"] or ""),
        str(r["station_name"] or ""),
        str(r["institution_name"] or ""),
        r["site_id"],
        str(r["site_code"]),
        str(r["site_name"]),
    )


def scanner_rows(db: Database, *, site_id: int | None = None) -> list[ScannerRow]:
    """Return every scanner (of one site), ordered by site code and serial.

    Parameters
    ----------
    db : Database
        The open archive.
    site_id : int, optional
        Only this site's scanners.

    Returns
    -------
    list of ScannerRow
        The scanners.
    """
    where, params = ("WHERE sc.site_id = ?", [site_id]) if site_id is not None else ("", [])
    return [
        _row(r) for r in db.query(f"{_SQL} {where} ORDER BY site_code, sc.serial, sc.id", params)
    ]


def scanner_by_id(db: Database, scanner_id: int) -> ScannerRow:
    """Return one scanner by its archive id.

    Parameters
    ----------
    db : Database
        The open archive.
    scanner_id : int
        The id.

    Returns
    -------
    ScannerRow
        The scanner.

    Raises
    ------
    NotFoundError
        When there is no such scanner.
    """
    rows = list(db.query(f"{_SQL} WHERE sc.id = ?", [scanner_id]))
    if not rows:
        raise NotFoundError(_("No scanner {id}.").format(id=scanner_id), "")
    return _row(rows[0])


def scanner_ids_by_serial(db: Database) -> dict[str, int]:
    """Return scanner ids by serial (a serial shared by two scanners keeps the first id).

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    dict of str to int
        Serial to id.
    """
    out: dict[str, int] = {}
    for r in db.query("SELECT id, serial FROM scanners ORDER BY id"):
        out.setdefault(str(r["serial"]), int(r["id"]))
    return out


def serials_by_id(db: Database) -> dict[int, str]:
    """Return scanner serials by archive id.

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    dict of int to str
        Id to serial.
    """
    return {int(r["id"]): str(r["serial"]) for r in db.query("SELECT id, serial FROM scanners")}


def scanner_by_serial(db: Database, serial: str) -> ScannerRow:
    """Return the one scanner with ``serial``.

    Parameters
    ----------
    db : Database
        The open archive.
    serial : str
        The serial number as the scanner sends it.

    Returns
    -------
    ScannerRow
        The scanner.

    Raises
    ------
    NotFoundError
        When no scanner has that serial.
    UsageError
        When several scanners (of different makes or models) share it.
    """
    rows = [_row(r) for r in db.query(f"{_SQL} WHERE sc.serial = ? ORDER BY sc.id", [serial])]
    if not rows:
        raise NotFoundError(_("No scanner with serial {serial}.").format(serial=serial), "")
    if len(rows) > 1:
        raise UsageError(
            _("{n} scanners have the serial {serial}.").format(n=len(rows), serial=serial),
            _("Give the scanner by its archive id instead."),
        )
    return rows[0]


def scanner_id_by_identity(db: Database, manufacturer: str, model: str, serial: str) -> int | None:
    """Return the id of the scanner with this manufacturer, model and serial, or None.

    Parameters
    ----------
    db : Database
        The open archive.
    manufacturer, model, serial : str
        The scanner's identity.

    Returns
    -------
    int or None
        The id.
    """
    row = db.execute(
        "SELECT id FROM scanners WHERE manufacturer = ? AND model = ? AND serial = ?",
        [manufacturer, model, serial],
    ).fetchone()
    return None if row is None else int(row[0])


def sites_with_scanners(db: Database) -> list[tuple[int, str]]:
    """Return (id, code) of every site that has a scanner, by code.

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    list of (int, str)
        The sites.
    """
    return [
        (int(r["id"]), str(r["code"]))
        for r in db.query(
            "SELECT DISTINCT si.id, si.code FROM sites si JOIN scanners sc ON sc.site_id = si.id"
            " ORDER BY si.code"
        )
    ]


def move_scanners_to_site(db: Database, key: str, site_id: int) -> int:
    """Move the scanners whose serial, station or institution name is ``key`` to a site.

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    key : str
        Serial, station name or institution name.
    site_id : int
        The site.

    Returns
    -------
    int
        How many scanners were moved.
    """
    cur = db.execute(
        "UPDATE scanners SET site_id = ? WHERE serial = ? OR station_name = ?"
        " OR institution_name = ?",
        [site_id, key, key, key],
    )
    return int(cur.rowcount)


@dataclass(frozen=True)
class SoftwareVersionRow:
    """A software version seen on a scanner: when it was first and last seen, what it followed.

    A row whose ``previous`` is not empty is a software change on that scanner: the event
    QC and calibration look at (a vendor's software change can move BMD).
    """

    scanner_id: int
    serial: str
    software_version: str
    previous: str
    first_seen: str
    last_seen: str
    first_source_key: str
    recorded_at: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "scanner_id": self.scanner_id,
            "serial": self.serial,
            "software_version": self.software_version,
            "previous": self.previous,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "first_source_key": self.first_source_key,
            "recorded_at": self.recorded_at,
        }


def software_versions(db: Database, scanner_id: int | None = None) -> list[SoftwareVersionRow]:
    """Return the software versions of each scanner in the order they were first seen.

    Parameters
    ----------
    db : Database
        The open archive.
    scanner_id : int, optional
        Only this scanner.

    Returns
    -------
    list of SoftwareVersionRow
        By scanner, then by the first scan with each version; ``previous`` is the version
        seen before on the same scanner (empty for its first).
    """
    where, params = ("WHERE v.scanner_id = ?", [scanner_id]) if scanner_id is not None else ("", [])
    rows = list(
        db.query(
            "SELECT v.*, sc.serial FROM scanner_software_versions v"
            f" JOIN scanners sc ON sc.id = v.scanner_id {where}"
            " ORDER BY v.scanner_id, v.first_seen, v.id",
            params,
        )
    )
    out: list[SoftwareVersionRow] = []
    previous: dict[int, str] = {}
    for r in rows:
        sid = int(r["scanner_id"])
        out.append(
            SoftwareVersionRow(
                sid,
                str(r["serial"]),
                str(r["software_version"]),
                previous.get(sid, ""),
                str(r["first_seen"]),
                str(r["last_seen"]),
                str(r["first_source_key"]),
                str(r["recorded_at"]),
            )
        )
        previous[sid] = str(r["software_version"])
    return out
