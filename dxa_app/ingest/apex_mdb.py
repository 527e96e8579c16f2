"""Reader of the Hologic APEX database PatScan.mdb and of its CSV table export.

Three ways in, one table mapping (:mod:`dxa_app.ingest.apex_map`):

* a folder with one ``<TABLE>.csv`` per table, in mdb-export's shape;
* ``PatScan.mdb`` with Debian's mdbtools (``mdb-tables``, ``mdb-export``) on Linux;
* ``PatScan.mdb`` through ODBC and Microsoft's Access driver (:mod:`dxa_app.ingest.apex_odbc`)
  on Windows, where mdbtools does not exist (and wherever mdbtools is missing but the driver
  is installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

from dxa_app.domain import ImportNote, ParsedSource
from dxa_app.errors import ImportProblemError
from dxa_app.i18n import _
from dxa_app.ingest import apex_odbc
from dxa_app.ingest.apex_map import (
    DEFAULT_MODEL,
    MDB_DATE_FORMAT,
    REQUIRED_TABLES,
    TABLES,
    ParsedTable,
    apex_database_scope,
    apex_qc_source_key,
    apex_scan_source_key,
    apex_study_uid,
    build,
    parse_table,
)
from dxa_app.ingest.base import FileReader, FolderReader, Reader
from dxa_app.ingest.files import binary_lines, check_size, open_regular

__all__ = [
    "DEFAULT_MODEL",
    "FOLDER_READER",
    "FOLDER_READER_NAME",
    "MDB_DATE_FORMAT",
    "READER",
    "READER_NAME",
    "REQUIRED_TABLES",
    "TABLES",
    "ApexFolderReader",
    "ApexMdbReader",
    "apex_database_scope",
    "apex_qc_source_key",
    "apex_scan_source_key",
    "apex_study_uid",
    "mdb_backend",
    "read_folder",
    "read_mdb",
]

READER_NAME: Final = "apex_mdb"
FOLDER_READER_NAME: Final = "apex_folder"

MDB_SIGNATURES: Final[tuple[bytes, ...]] = (b"Standard Jet DB", b"Standard ACE DB")
MDBTOOLS_TIMEOUT_S: Final = 300


def _parse_all(
    path: Path,
    reader_name: str,
    sources: Mapping[str, tuple[str, Iterable[bytes]]],
    other_tables: Sequence[str],
    institution_name: str,
) -> ParsedSource:
    """Parse the tables (canonical name -> (label, lines as bytes, read once)) and map them."""
    notes: list[ImportNote] = []
    if other_tables:
        notes.append(
            ImportNote(
                _("Tables not read: {tables}.").format(tables=", ".join(sorted(other_tables)))
            )
        )
    unknown: dict[str, list[str]] = {}
    try:
        tables: dict[str, ParsedTable] = {
            name: parse_table(name, label, chunks, unknown, notes)
            for name, (label, chunks) in sources.items()
        }
    finally:  # a table left half read (a broken table) stops its mdb-export now
        for _label, chunks in sources.values():
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
    if unknown:
        notes.append(
            ImportNote(
                _("Columns not read: {columns}.").format(
                    columns="; ".join(
                        f"{t}: {', '.join(cols)}" for t, cols in sorted(unknown.items())
                    )
                )
            )
        )
    return build(path, reader_name, tables, notes, institution_name)


_CANONICAL: Final[Mapping[str, str]] = {t.lower(): t for t in TABLES}


# ---------------------------------------------------------------------------
# source B: a folder of per-table CSV files


def _table_files(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """Return the CSV file of each known table (case-insensitive) and the other tables."""
    found: dict[str, Path] = {}
    others: list[str] = []
    for file in sorted(folder.iterdir()):
        if not file.is_file() or file.suffix.lower() != ".csv" or file.name.startswith("."):
            continue
        name = _CANONICAL.get(file.stem.lower())
        if name is None:
            others.append(file.stem)
            continue
        if name in found:
            raise ImportProblemError(
                _("{folder}: two files hold table {table}: {a} and {b}.").format(
                    folder=folder.name, table=name, a=found[name].name, b=file.name
                ),
                _("Keep one file per table."),
            )
        found[name] = file
    return found, others


def read_folder(path: Path, *, institution_name: str = "") -> ParsedSource:
    """Read a folder of APEX tables exported with mdb-export (one ``<TABLE>.csv`` per table).

    Parameters
    ----------
    path : Path
        The folder; it must hold ``PATIENT.csv`` and ``ScanAnalysis.csv`` (any case).
    institution_name : str, optional
        The institution to record for the scanner; by default the SystemId table's (if
        any), else ``""`` (and a note).

    Returns
    -------
    ParsedSource
        One StudyRecord per patient visit (scans with analysis results only), one
        PhantomScanRecord per QC phantom scan, the database's scope, and notes: unknown
        dates, what was not read, and an error for each scan or patient that failed.

    Raises
    ------
    ImportProblemError
        When a required table or column is missing, a table file is too large
        (``resources/ingest/file_limits.json``) or is not CSV. A bad value (a number or
        date that cannot be understood, an implausible measurement in
        ``resources/ingest/plausible_measurements.json``) never fails the source: a bad
        date is unknown, any other bad cell fails its scan (or its patient's row, and with
        it the patient's scans), with an error note naming file, line and column.
    """
    try:
        files, others = _table_files(path)
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    sources = {name: (file.name, _file_lines(file)) for name, file in files.items()}
    return _parse_all(path, FOLDER_READER_NAME, sources, others, institution_name)


def _unreadable(path: Path, exc: OSError) -> ImportProblemError:
    return ImportProblemError(
        _("{file} could not be read: {error}").format(file=path, error=exc.strerror or str(exc))
    )


def _file_lines(file: Path) -> Iterator[bytes]:
    """Yield the lines of one table file (a regular file within the table size limit)."""
    try:
        with open_regular(file) as fh:
            check_size(os.fstat(fh.fileno()).st_size, "apex_table_csv", file.name)
            yield from binary_lines(fh, file.name, fmt="apex_table_csv")
    except OSError as exc:
        raise _unreadable(file, exc) from exc


# ---------------------------------------------------------------------------
# source A: PatScan.mdb through mdbtools


def _mdbtools() -> tuple[str, str]:
    tables, export = shutil.which("mdb-tables"), shutil.which("mdb-export")
    if tables is None or export is None:
        raise ImportProblemError(
            _(
                "Cannot read Access databases (.mdb): the mdbtools programs mdb-tables and"
                " mdb-export were not found."
            ),
            _("Install mdbtools (Debian package mdbtools) and import again."),
        )
    return tables, export


def _summary(stderr: bytes) -> str:
    lines = [x.strip() for x in stderr.decode("utf-8", errors="replace").splitlines()]
    text = "; ".join(x for x in lines if x)
    return (text[:300] + "…") if len(text) > 300 else text or "-"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    locale_all = env.pop("LC_ALL", None)
    if locale_all:
        env.setdefault("LC_CTYPE", locale_all)
    env["LC_NUMERIC"] = "C"  # decimal point, not comma
    env["LC_TIME"] = "C"
    return env


def _run(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # fixed programs, no shell
        command, capture_output=True, timeout=MDBTOOLS_TIMEOUT_S, check=False, env=_env()
    )


def _export_lines(command: list[str], label: str) -> Iterator[bytes]:
    """Yield the lines mdb-export prints, as it prints them (the table is never held whole).

    The program is stopped when it runs longer than :data:`MDBTOOLS_TIMEOUT_S`, when its
    output passes the table size limit, or when the caller stops reading.
    """
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(  # fixed programs, no shell
            command, stdout=subprocess.PIPE, stderr=errors, env=_env()
        ) as proc,
    ):
        timer = threading.Timer(MDBTOOLS_TIMEOUT_S, proc.kill)
        timer.start()
        finished = False
        try:
            assert proc.stdout is not None
            yield from binary_lines(proc.stdout, label, fmt="apex_table_csv")
            finished = True
        finally:
            timer.cancel()
            if not finished:
                proc.kill()
            returncode = proc.wait()
        if returncode != 0:
            errors.seek(0)
            why = _summary(errors.read(64 * 1024))
            if returncode < 0:
                why = _("stopped after {seconds} s").format(seconds=MDBTOOLS_TIMEOUT_S)
            raise ImportProblemError(
                _("{file}: mdb-export failed: {error}").format(file=label, error=why),
                _("Check that the file is an undamaged copy of APEX's PatScan.mdb."),
            )


def mdb_backend() -> str:
    """Return how ``.mdb`` files are read here: ``"mdbtools"`` or ``"odbc"``.

    Windows has no mdbtools: ODBC with Microsoft's Access driver. Elsewhere mdbtools when
    ``mdb-tables`` and ``mdb-export`` are found, else ODBC when an Access ODBC driver is
    registered, else ``"mdbtools"`` (whose error names the package to install).

    Returns
    -------
    str
        The backend :func:`read_mdb` uses by default.
    """
    if sys.platform == "win32":
        return "odbc"
    if shutil.which("mdb-tables") and shutil.which("mdb-export"):
        return "mdbtools"
    return "odbc" if apex_odbc.access_driver() is not None else "mdbtools"


def read_mdb(
    path: Path,
    *,
    institution_name: str = "",
    backend: str | None = None,
    odbc_driver: str | None = None,
) -> ParsedSource:
    """Read an APEX ``PatScan.mdb`` (mdbtools on Linux, ODBC on Windows).

    With mdbtools each needed table is exported with ``mdb-export -D/-T``
    :data:`MDB_DATE_FORMAT`; with ODBC each is selected through Microsoft's Access driver
    and written out in the same CSV shape (:mod:`dxa_app.ingest.apex_odbc`). Either way the
    tables are read row by row (keeping only the columns this reader uses) and mapped
    exactly as :func:`read_folder` maps a CSV folder. The database may be as large as the
    Access format allows (``apex_mdb`` in ``resources/ingest/file_limits.json``); each
    table's text is bounded by ``apex_table_csv``.

    Parameters
    ----------
    path : Path
        The database file (a copy; APEX should not be writing to it).
    institution_name : str, optional
        As for :func:`read_folder`.
    backend : str, optional
        ``"mdbtools"`` or ``"odbc"``; by default :func:`mdb_backend`.
    odbc_driver : str, optional
        With ``"odbc"``: the ODBC driver, by default the installed Access driver (see
        :func:`dxa_app.ingest.apex_odbc.connect`).

    Returns
    -------
    ParsedSource
        As for :func:`read_folder`.

    Raises
    ------
    ImportProblemError
        When neither mdbtools nor an Access ODBC driver is there, the file is not a
        readable Access database or is too large, or a table fails as for
        :func:`read_folder`.
    """
    try:
        with open_regular(path) as fh:
            check_size(os.fstat(fh.fileno()).st_size, "apex_mdb", path.name)
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    if (backend or mdb_backend()) == "odbc":
        return _read_odbc(path, institution_name, odbc_driver)
    tables_exe, export_exe = _mdbtools()
    try:
        listing = _run([tables_exe, "-1", str(path)])
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ImportProblemError(
            _("unreadable .mdb file {path}: {error}").format(path=path, error=exc),
        ) from exc
    if listing.returncode != 0:
        raise ImportProblemError(
            _("unreadable .mdb file {path}: {error}").format(
                path=path, error=_summary(listing.stderr)
            ),
            _("Check that the file is an undamaged copy of APEX's PatScan.mdb."),
        )
    names = [n.strip() for n in listing.stdout.decode("utf-8", "replace").splitlines()]
    wanted, others = _wanted(names)
    sources: dict[str, tuple[str, Iterable[bytes]]] = {}
    for canonical, actual in wanted.items():
        label = _("{file} (table {table})").format(file=path.name, table=actual)
        command = [export_exe, "-D", MDB_DATE_FORMAT, "-T", MDB_DATE_FORMAT, str(path), actual]
        sources[canonical] = (label, _export_lines(command, label))
    try:
        return _parse_all(path, READER_NAME, sources, others, institution_name)
    except OSError as exc:
        raise ImportProblemError(
            _("unreadable .mdb file {path}: {error}").format(path=path, error=exc),
        ) from exc


def _wanted(names: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Return the database's name of each table this reader uses, and the other tables."""
    wanted: dict[str, str] = {}
    others: list[str] = []
    for name in names:
        if not name:
            continue
        canonical = _CANONICAL.get(name.lower())
        if canonical is None:
            others.append(name)
        else:
            wanted.setdefault(canonical, name)
    return wanted, others


def _read_odbc(path: Path, institution_name: str, driver: str | None) -> ParsedSource:
    """Read the database through ODBC (see :mod:`dxa_app.ingest.apex_odbc`)."""
    with apex_odbc.connect(path, driver) as database:
        wanted, others = _wanted(database.table_names())
        sources: dict[str, tuple[str, Iterable[bytes]]] = {}
        for canonical, actual in wanted.items():
            label = _("{file} (table {table})").format(file=path.name, table=actual)
            sources[canonical] = (label, database.table_lines(actual, label))
        return _parse_all(path, READER_NAME, sources, others, institution_name)


# ---------------------------------------------------------------------------
# the reader objects


def _is_mdb(head: bytes) -> bool:
    """Return True when the file starts with the Jet/ACE signature (bytes 4-18)."""
    return head[4:19] in MDB_SIGNATURES


class ApexMdbReader(FileReader):
    """The :class:`~dxa_app.ingest.base.Reader` of APEX ``PatScan.mdb``; see :func:`read_mdb`."""

    def __init__(self) -> None:
        super().__init__(READER_NAME, _is_mdb, read_mdb)


class ApexFolderReader:
    """The :class:`~dxa_app.ingest.base.FolderReader` of a folder of APEX table CSV files."""

    name: str = FOLDER_READER_NAME

    def sniff_folder(self, path: Path) -> bool:
        """Return True when the folder holds ``PATIENT.csv`` and ``ScanAnalysis.csv`` (any case).

        Parameters
        ----------
        path : Path
            The folder.

        Returns
        -------
        bool
            Whether this reader should handle the folder as one source.
        """
        try:
            names = {f.name.lower() for f in path.iterdir() if f.is_file()}
        except OSError:
            return False
        return all(f"{t.lower()}.csv" in names for t in REQUIRED_TABLES)

    def read(self, path: Path) -> ParsedSource:
        """Parse the folder; see :func:`read_folder`.

        Parameters
        ----------
        path : Path
            The folder.

        Returns
        -------
        ParsedSource
            What the tables hold.
        """
        return read_folder(path)


READER: Final[Reader] = ApexMdbReader()
"""The file reader instance the import registry uses."""

FOLDER_READER: Final[FolderReader] = ApexFolderReader()
"""The folder reader instance the import registry uses."""
