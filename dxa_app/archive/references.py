"""The reference-tables family: T and Z tables installed by the centre, each from a date."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from calibration.reference import ReferenceTable, reference_from_dict
from dxa_app.archive.database import Database
from dxa_app.archive.db import now_iso

#: ``region`` and ``sex`` of a stored table: it holds every region and sex in ``data``.
WHOLE = "*"


@dataclass(frozen=True)
class InstalledTable:
    """An installed reference table and from which scan date it applies."""

    id: int
    table: ReferenceTable
    valid_from: str
    installed_at: str
    installed_by: str
    origin: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary (without the bands)."""
        t = self.table
        return {
            "id": self.id,
            "name": t.name,
            "version": t.version,
            "purpose": t.purpose,
            "unit_system": t.unit_system,
            "source": t.source,
            "status": t.status,
            "regions": sorted(t.regions),
            "valid_from": self.valid_from,
            "installed_at": self.installed_at,
            "installed_by": self.installed_by,
            "origin": self.origin,
        }


def _row(r: dict[str, Any]) -> InstalledTable:
    return InstalledTable(
        int(r["id"]),
        reference_from_dict(json.loads(r["data"])),
        str(r["valid_from"]),
        str(r["installed_at"]),
        str(r["installed_by"]),
        str(r["origin"]),
    )


def find_installed(db: Database, name: str, version: str, purpose: str) -> InstalledTable | None:
    """Return an installed table by name, version and purpose (None when not installed)."""
    rows = list(
        db.query(
            "SELECT * FROM reference_tables WHERE name = ? AND version = ? AND purpose = ?"
            " AND region = ? AND sex = ?",
            [name, version, purpose, WHOLE, WHOLE],
        )
    )
    return _row(rows[0]) if rows else None


def add_installed(
    db: Database, table: ReferenceTable, *, valid_from: str, by: str, origin: str
) -> int:
    """Store a reference table that applies to scans from ``valid_from`` on (append-only).

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    table : ReferenceTable
        The validated table.
    valid_from : str
        ISO date of the first scan it applies to.
    by : str
        Who installed it.
    origin : str
        Where it came from ("installed from FILE", "published by the centre ...").

    Returns
    -------
    int
        The row id.
    """
    cur = db.execute(
        "INSERT INTO reference_tables (name, version, purpose, region, sex, unit_system, source,"
        " status, data, installed_at, valid_from, installed_by, origin)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            table.name,
            table.version,
            table.purpose,
            WHOLE,
            WHOLE,
            table.unit_system,
            table.source,
            table.status,
            json.dumps(table.to_dict(), ensure_ascii=False, sort_keys=True),
            now_iso(),
            valid_from,
            by,
            origin,
        ],
    )
    return int(cur.lastrowid or 0)


def installed_tables(
    db: Database, purpose: str | None = None, on: str | None = None
) -> list[InstalledTable]:
    """Return installed tables, newest start first (those applying on ``on`` when given).

    Parameters
    ----------
    db : Database
        The open archive.
    purpose : str, optional
        ``"T"`` or ``"Z"``.
    on : str, optional
        An ISO scan date: only tables with ``valid_from <= on``.

    Returns
    -------
    list of InstalledTable
        Ordered by start date, then installation, newest first (the first one covering a
        region is the one that applies).
    """
    where, params = ["region = ? AND sex = ?"], [WHOLE, WHOLE]
    if purpose is not None:
        where.append("purpose = ?")
        params.append(purpose)
    if on is not None:
        where.append("valid_from <= ?")
        params.append(on[:10])
    return [
        _row(r)
        for r in db.query(
            f"SELECT * FROM reference_tables WHERE {' AND '.join(where)}"
            " ORDER BY valid_from DESC, id DESC",
            params,
        )
    ]
