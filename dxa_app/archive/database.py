"""The open archive: one SQLite connection, statements, rows as dicts, nested transactions.

The archive needs four things of a database object: run a statement, read rows as
dicts, group writes in a transaction (a savepoint when nested), and close. This class does
those on the standard library's ``sqlite3`` with the semantics the archive was written
against (those of sqlite-utils 3.38-4.x ``Database.execute``, ``query`` and ``atomic``), so a
command does not load sqlite-utils with its numpy, click, dateutil and pluggy (about
0.1 s of every command's start) for three methods.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

__all__ = ["Database", "dedupe_keys"]

Parameters = Sequence[Any] | dict[str, Any]

#: First keywords of the statements :meth:`Database.query` runs (they return rows).
_ROW_KEYWORDS: Final = frozenset({"SELECT", "WITH", "VALUES", "PRAGMA", "EXPLAIN"})
#: Statements that begin or end a transaction themselves (``execute`` leaves them alone).
_TRANSACTION_KEYWORDS: Final = frozenset(
    {"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}
)


def first_keyword(sql: str) -> str:
    """Return the first keyword of a statement, upper case, after blanks and comments.

    Parameters
    ----------
    sql : str
        One SQL statement.

    Returns
    -------
    str
        The keyword, or "" when there is none.
    """
    i, n = 0, len(sql)
    while i < n:
        if sql[i].isspace() or sql[i] in ";\ufeff":
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            break
    start = i
    while i < n and (sql[i].isalpha() or sql[i] == "_"):
        i += 1
    return sql[start:i].upper()


#: :func:`first_keyword` of the statements run so far (the archive's are a few hundred texts,
#: most run thousands of times: a rescore asks it some 40 times per study).
_keyword_of: Final = functools.lru_cache(maxsize=1024)(first_keyword)


def dedupe_keys(keys: Iterable[str]) -> list[str]:
    """Return column names made unique: a repeated name gets ``_2``, ``_3``... (as sqlite-utils).

    Parameters
    ----------
    keys : Iterable[str]
        The column names of a result, in order.

    Returns
    -------
    list of str
        The names, later repeats renamed to a suffix no other column has.
    """
    names = list(keys)
    taken = set(names)
    if len(taken) == len(names):
        return names
    seen: set[str] = set()
    out: list[str] = []
    for key in names:
        if key in seen:
            new, suffix = key, 2
            while new in seen or new in taken:
                new = f"{key}_{suffix}"
                suffix += 1
            key = new
        seen.add(key)
        out.append(key)
    return out


class Database:
    """An open SQLite connection with the archive's statement, row and transaction helpers.

    Parameters
    ----------
    conn : sqlite3.Connection
        The connection (the archive opens it in autocommit mode, ``isolation_level=None``).
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Parameters | None = None) -> sqlite3.Cursor:
        """Run one statement and return its cursor.

        A write outside a transaction is committed at once, whatever the connection's mode;
        inside a transaction it becomes part of it.

        Parameters
        ----------
        sql : str
            The statement.
        parameters : sequence or dict, optional
            Its ``?`` or ``:name`` parameters.

        Returns
        -------
        sqlite3.Cursor
            The cursor, its rows not yet fetched.
        """
        conn = self.conn
        was_in_transaction = conn.in_transaction
        try:
            cursor = conn.execute(sql) if parameters is None else conn.execute(sql, parameters)
        except Exception:
            if not was_in_transaction and conn.in_transaction:
                conn.execute("ROLLBACK")  # the failed statement opened an implicit transaction
            raise
        if (
            not was_in_transaction
            and conn.in_transaction
            and cursor.description is None
            and _keyword_of(sql) not in _TRANSACTION_KEYWORDS
        ):
            conn.execute("COMMIT")  # a driver in its legacy mode opened one implicitly
        return cursor

    def query(self, sql: str, params: Parameters | None = None) -> Iterator[dict[str, Any]]:
        """Run a statement that returns rows; iterate them as dicts by column name.

        The statement runs when this is called; rows are fetched as they are iterated.
        Repeated column names are made unique (see :func:`dedupe_keys`).

        Parameters
        ----------
        sql : str
            A ``SELECT`` (or ``WITH``, ``VALUES``, ``PRAGMA``, ``EXPLAIN``) statement.
        params : sequence or dict, optional
            Its parameters.

        Returns
        -------
        Iterator of dict
            One dict per row.

        Raises
        ------
        ValueError
            For a statement of another kind (it is not run: a query never writes).
        """
        if _keyword_of(sql) not in _ROW_KEYWORDS:
            raise ValueError("query() runs statements that return rows; use execute()")
        cursor = self.execute(sql, params)
        if cursor.description is None:
            raise ValueError("query() runs statements that return rows; use execute()")
        keys = dedupe_keys(d[0] for d in cursor.description)
        return (dict(zip(keys, row, strict=True)) for row in cursor)

    @contextlib.contextmanager
    def atomic(self, *, immediate: bool = False) -> Iterator[Database]:
        """Group statements in a transaction, or in a savepoint inside an open one.

        On an exception everything in the block is undone and the exception propagates;
        a commit that fails (the archive busy past the timeout) is undone too.

        Parameters
        ----------
        immediate : bool
            Begin with ``BEGIN IMMEDIATE``: take the write lock at the start.

        Yields
        ------
        Database
            This database.
        """
        conn = self.conn
        if conn.in_transaction:
            savepoint = f"dxa_{secrets.token_hex(8)}"
            conn.execute(f"SAVEPOINT {savepoint}")
            try:
                yield self
            except BaseException:
                if conn.in_transaction:  # a RAISE(ROLLBACK) trigger may have ended it all
                    conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                    conn.execute(f"RELEASE SAVEPOINT {savepoint}")
                raise
            else:
                conn.execute(f"RELEASE SAVEPOINT {savepoint}")
            return
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield self
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            try:
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def table_names(self) -> list[str]:
        """Return the names of the tables."""
        rows = self.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
