"""Read PatScan.mdb through ODBC with Microsoft's Access driver (Windows, where mdbtools is not).

Chosen over a pure-Python Access parser (see the comment at ``pyodbc`` in pyproject.toml and
docs/apex-import.md): Microsoft's own engine reads what APEX, which uses the same engine,
wrote; pyodbc is a widely used, maintained DB-API module. Each table is selected whole and
written out, row by row, in mdb-export's CSV shape (dates as ``YYYY-MM-DD HH:MM:SS``), so the
one table mapping (:mod:`dxa_app.ingest.apex_map`) reads it exactly as it reads mdb-export's
output. pyodbc is imported only here, when a database is read this way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol

from dxa_app.errors import ImportProblemError
from dxa_app.i18n import _
from dxa_app.ingest.files import check_size, max_line_bytes

__all__ = ["ACCESS_DRIVERS", "AccessDatabase", "access_driver", "connect", "connection_string"]

ACCESS_DRIVERS: Final[tuple[str, ...]] = (
    "Microsoft Access Driver (*.mdb, *.accdb)",  # Access Database Engine (ACE), 64 or 32 bit
    "Microsoft Access Driver (*.mdb)",  # the Jet 4.0 driver of 32-bit Windows
)
"""ODBC drivers that read Access databases, in order of preference."""
FETCH_ROWS: Final = 500
DATE_FORMAT: Final = "%Y-%m-%d %H:%M:%S"


class _Cursor(Protocol):
    description: Any

    def execute(self, sql: str) -> Any: ...

    def fetchmany(self, size: int) -> Sequence[Sequence[Any]]: ...

    def tables(self, *, tableType: str) -> Any: ...

    def close(self) -> None: ...


class _Connection(Protocol):
    def cursor(self) -> _Cursor: ...

    def close(self) -> None: ...


def _pyodbc() -> Any:
    try:
        import pyodbc
    except ImportError:
        return None
    return pyodbc


def access_driver() -> str | None:
    """Return the name of an installed Access ODBC driver, or None.

    Returns
    -------
    str or None
        The first of :data:`ACCESS_DRIVERS` that ODBC knows; None without one (or without
        pyodbc).
    """
    pyodbc = _pyodbc()
    if pyodbc is None:
        return None
    try:
        installed = set(pyodbc.drivers())
    except pyodbc.Error:
        return None
    return next((d for d in ACCESS_DRIVERS if d in installed), None)


def connection_string(path: Path, driver: str) -> str:
    """Return the ODBC connection string that opens ``path`` read-only with ``driver``.

    Parameters
    ----------
    path : Path
        The database file.
    driver : str
        An Access ODBC driver (see :func:`access_driver`), or another file-database driver
        (the tests read an SQLite copy of the tables through the SQLite ODBC driver).

    Returns
    -------
    str
        ``DRIVER={...};DBQ=<path>;ReadOnly=1`` for an Access driver (``Database=<path>``
        for any other).
    """
    key = "DBQ" if driver in ACCESS_DRIVERS else "Database"
    return f"DRIVER={{{driver}}};{key}={path.resolve()};ReadOnly=1"


def _text(value: object) -> str:
    """Return one cell as mdb-export prints it: text quoted, dates ISO, NULL empty."""
    if value is None or isinstance(value, bytes | bytearray | memoryview):
        return ""  # NULL, and binary (OLE) values, which the reader never uses
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.strftime(DATE_FORMAT)
    if isinstance(value, dt.date):
        return f"{value:%Y-%m-%d} 00:00:00"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int | decimal.Decimal):
        return str(value)
    return '"' + str(value).replace('"', '""') + '"'


def _quoted(table: str) -> str:
    return "[" + table.replace("]", "]]") + "]"


class AccessDatabase:
    """An open Access database: its table names and each table as mdb-export-shaped lines."""

    def __init__(self, connection: _Connection, label: str, errors: type[Exception]) -> None:
        self._connection = connection
        self._label = label
        self._errors = errors

    def __enter__(self) -> AccessDatabase:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(self._errors):
            self._connection.close()

    def _fail(self, exc: Exception) -> ImportProblemError:
        return ImportProblemError(
            _("unreadable .mdb file {path}: {error}").format(path=self._label, error=exc),
            _("Check that the file is an undamaged copy of APEX's PatScan.mdb."),
        )

    def table_names(self) -> list[str]:
        """Return the names of the database's user tables.

        Returns
        -------
        list of str
            The tables, as the database spells them.
        """
        try:
            cursor = self._connection.cursor()
            names = [str(r.table_name) for r in cursor.tables(tableType="TABLE")]
            cursor.close()
        except self._errors as exc:
            raise self._fail(exc) from exc
        return names

    def table_lines(self, table: str, label: str) -> Iterator[bytes]:
        """Yield one table as mdb-export prints it: the header row, then one line per row.

        Parameters
        ----------
        table : str
            The table, as :meth:`table_names` spells it.
        label : str
            Names the table in messages.

        Yields
        ------
        bytes
            UTF-8 lines ending in ``\\n``; the whole table within the ``apex_table_csv``
            size limit and each line within the line limit.
        """
        line_limit = max_line_bytes()
        total = 0
        number = 0
        try:
            cursor = self._connection.cursor()
            cursor.execute(f"SELECT * FROM {_quoted(table)}")  # a name the catalogue gave
            header = ",".join(str(d[0]) for d in cursor.description)
            lines: Iterator[str] = _rows_as_lines(header, cursor.fetchmany)
            for text in lines:
                chunk = (text + "\n").encode("utf-8")
                number += 1
                total += len(chunk)
                if len(chunk) > line_limit:
                    raise ImportProblemError(
                        _("{file}, line {line}: the line is longer than {limit} KiB.").format(
                            file=label, line=number, limit=line_limit // 1024
                        )
                    )
                check_size(total, "apex_table_csv", label)
                yield chunk
            cursor.close()
        except self._errors as exc:
            raise self._fail(exc) from exc


def _rows_as_lines(header: str, fetch: Callable[[int], Sequence[Sequence[Any]]]) -> Iterator[str]:
    yield header
    while rows := fetch(FETCH_ROWS):
        for row in rows:
            yield ",".join(_text(v) for v in row)


def connect(path: Path, driver: str | None = None) -> AccessDatabase:
    """Open an Access database read-only through ODBC.

    Parameters
    ----------
    path : Path
        The ``.mdb`` file.
    driver : str, optional
        The ODBC driver; by default the installed Access driver (:func:`access_driver`).
        Another driver is for tests (an SQLite copy of the tables through the SQLite ODBC
        driver runs every line of this module except Microsoft's driver itself).

    Returns
    -------
    AccessDatabase
        The open database (close it, or use it as a context manager).

    Raises
    ------
    ImportProblemError
        When pyodbc or an Access ODBC driver is missing (the remedy names Microsoft's
        Access Database Engine), or the file cannot be opened.
    """
    pyodbc = _pyodbc()
    driver = driver or access_driver()
    if pyodbc is None or driver is None:
        raise ImportProblemError(
            _(
                "Cannot read Access databases (.mdb) here: neither mdbtools nor Microsoft's"
                " Access ODBC driver was found."
            ),
            _(
                "On Windows install Microsoft's Access Database Engine (2016 Redistributable,"
                " of the same 64/32 bit as this program); on Linux install mdbtools (Debian"
                " package mdbtools). Then import again."
            ),
        )
    try:
        connection = pyodbc.connect(connection_string(path, driver), autocommit=True)
    except pyodbc.Error as exc:
        raise ImportProblemError(
            _("unreadable .mdb file {path}: {error}").format(path=path, error=exc),
            _("Check that the file is an undamaged copy of APEX's PatScan.mdb."),
        ) from exc
    return AccessDatabase(connection, str(path), pyodbc.Error)
