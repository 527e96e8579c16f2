"""Installable reference tables: a versioned T or Z table that applies from a scan date.

The knowledge centre chooses the national references (the spine table shipped with the
program is a provisional placeholder). A centre analyst or an administrator installs a table
from a CSV (or the JSON form of ``resources/reference``) with the date of the first scan it
applies to; it is stored append-only with its source, version and status, so every stored
score keeps naming the table that made it and a scan before the date keeps its old table on
rescore. Tables also travel in the centre's signed corrections (``centre publish``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from calibration.reference import ReferenceTable, reference_from_csv, reference_from_dict
from dxa_app.archive import write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.references import (
    InstalledTable,
    add_installed,
    find_installed,
    installed_tables,
)
from dxa_app.archive.scanners import scanner_rows
from dxa_app.errors import NotFoundError, UsageError
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting, confirm_password, record

if TYPE_CHECKING:
    from dxa_app.services.impact import ChangePreview

__all__ = [
    "InstalledTable",
    "install_reference",
    "list_references",
    "preview_reference",
    "read_reference_file",
]

#: The largest reference file read (a Z table of every region, sex and age band is ~20 kB).
MAX_REFERENCE_BYTES = 1024 * 1024


def read_reference_file(path: Path) -> ReferenceTable:
    """Read and validate a reference table file (CSV ``# dxa-reference-table v1`` or JSON).

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    ReferenceTable
        The validated table.

    Raises
    ------
    NotFoundError
        When the file does not exist.
    UsageError
        When it is not a valid reference table (the message says what is wrong).
    """
    try:
        if path.stat().st_size > MAX_REFERENCE_BYTES:
            raise UsageError(
                _("{name} is too large for a reference table.").format(name=path.name), ""
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFoundError(
            _("The file {name} does not exist.").format(name=path.name), ""
        ) from exc
    except UnicodeDecodeError as exc:
        raise UsageError(
            _("{name} is not a UTF-8 text file.").format(name=path.name),
            _("Save the table as UTF-8 CSV."),
        ) from exc
    try:
        if text.lstrip("\ufeff").lstrip().startswith("{"):
            return reference_from_dict(json.loads(text))
        return reference_from_csv(text)
    except (ValueError, TypeError) as exc:
        raise UsageError(
            _("{name} is not a valid reference table: {reason}").format(name=path.name, reason=exc),
            _("See docs/calibration.md for the CSV format."),
        ) from exc


def _apply(
    table: ReferenceTable, valid_from: dt.date, by: str, origin: str
) -> Callable[[Database], tuple[set[int], set[str], set[str]]]:
    def apply(db: Database) -> tuple[set[int], set[str], set[str]]:
        if find_installed(db, table.name, table.version, table.purpose) is not None:
            raise UsageError(
                _("Reference table {name} {version} ({purpose}) is already installed.").format(
                    name=table.name, version=table.version, purpose=table.purpose
                ),
                _("Give the new table a new version."),
            )
        add_installed(db, table, valid_from=valid_from.isoformat(), by=by, origin=origin)
        scanners = scanner_rows(db)
        return {s.id for s in scanners}, {s.serial for s in scanners}, set(table.regions)

    return apply


def preview_reference(session: Session, path: Path, *, valid_from: dt.date) -> ChangePreview:
    """Return what installing a reference table would change (nothing changes).

    Parameters
    ----------
    session : Session
        The centre analyst or administrator about to install.
    path : Path
        The table file.
    valid_from : datetime.date
        The first scan date it would apply to.

    Returns
    -------
    ChangePreview
        Scanners, regions, studies, and how many stored diagnoses would change category on
        rescore.
    """
    from dxa_app.services.impact import simulate

    table = read_reference_file(path)
    with acting(session, Permission.REFERENCE_INSTALL) as db:
        return simulate(db, _apply(table, valid_from, "preview", ""))


def install_reference(
    session: Session, path: Path, *, valid_from: dt.date, password: str, reason: str
) -> InstalledTable:
    """Install a versioned T or Z table from a scan date (password, reason); audited.

    Parameters
    ----------
    session : Session
        The acting centre analyst or administrator.
    path : Path
        The table file (CSV or JSON).
    valid_from : datetime.date
        The first scan date it applies to; earlier scans keep their table.
    password : str
        The user's password, typed again.
    reason : str
        Why (stored in the audit log with the impact).

    Returns
    -------
    InstalledTable
        The stored table.

    Raises
    ------
    UsageError
        Without a reason, for an invalid file, or a name and version already installed.
    PermissionDeniedError
        Unless the user is a centre analyst or an administrator with the right password.
    """
    from dxa_app.services.impact import simulate

    why = reason.strip()
    if not why:
        raise UsageError(
            _("Say why (a reason is stored with the decision)."),
            _("Give it with --reason, or in the dialog."),
        )
    table = read_reference_file(path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with acting(session, Permission.REFERENCE_INSTALL) as db:
        confirm_password(db, session, password)
        impact = simulate(db, _apply(table, valid_from, "preview", ""))
        origin = _("installed from {file}").format(file=path.name)
        with write_transaction(db):
            _apply(table, valid_from, session.username, origin)(db)
            installed = find_installed(db, table.name, table.version, table.purpose)
            assert installed is not None
            record(
                db,
                session,
                "reference_install",
                entity="reference_table",
                entity_id=installed.id,
                details={
                    **installed.to_dict(),
                    "file": path.name,
                    "sha256": sha,
                    "reason": why,
                    "impact": impact.to_dict(),
                },
            )
        return installed


def list_references(session: Session) -> list[InstalledTable]:
    """Return the installed reference tables, newest start first.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    list of InstalledTable
        Every installed table (the shipped defaults are not listed).
    """
    with acting(session, Permission.VIEW) as db:
        return installed_tables(db)
