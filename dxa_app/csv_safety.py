"""Cells of the CSV files the program writes, escaped against spreadsheet formula injection."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any, Final

__all__ = [
    "FORMULA_STARTS",
    "SafeDictWriter",
    "SafeWriter",
    "escape_cell",
    "escape_row",
    "unescape_cell",
]

FORMULA_STARTS: Final = "=+-@\t\r"
"""First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection)."""

#: A text cell that starts, after any apostrophes, with a formula character.
_RISKY: Final = re.compile(r"'*[=+\-@\t\r]")
#: A number as the program writes it (decimal point or comma, optional sign and exponent):
#: its leading minus or plus is data, never a formula.
_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")
#: An escaped cell: one apostrophe added before a cell that _RISKY matches.
_ESCAPED: Final = re.compile(r"'+[=+\-@\t\r]")


def escape_cell(value: Any) -> Any:
    """Return a cell safe to open in a spreadsheet: a formula-like text gets a leading ``'``.

    Text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (after
    any apostrophes, so that the escape can be undone exactly) is prefixed with ``'``; a
    number, also written as text (``"-0.5"``, ``"-1,2"``), is left alone: its sign is data.

    Parameters
    ----------
    value : Any
        The cell: text, a number, None or any value ``csv.writer`` turns into text.

    Returns
    -------
    Any
        The value unchanged, or the escaped text.

    Examples
    --------
    >>> escape_cell("=1+2")
    "'=1+2"
    >>> escape_cell("-0.5")
    '-0.5'
    """
    if not isinstance(value, str) or not _RISKY.match(value) or _NUMBER.fullmatch(value):
        return value
    return "'" + value


def unescape_cell(text: str) -> str:
    """Return the text :func:`escape_cell` was given (for the program's own CSV readers).

    Parameters
    ----------
    text : str
        A cell of a CSV file the program wrote.

    Returns
    -------
    str
        The cell without the apostrophe that :func:`escape_cell` added.
    """
    return text[1:] if _ESCAPED.match(text) and not _NUMBER.fullmatch(text) else text


def escape_row(row: Iterable[Any]) -> list[Any]:
    """Return the cells of one row, each through :func:`escape_cell`.

    Parameters
    ----------
    row : Iterable[Any]
        The cells.

    Returns
    -------
    list
        The escaped cells.
    """
    return [escape_cell(v) for v in row]


class SafeWriter:
    """A ``csv.writer`` whose every cell goes through :func:`escape_cell`.

    Parameters
    ----------
    fh : IO[str]
        The text stream (opened with ``newline=""``).
    **fmt : Any
        Dialect and format parameters of ``csv.writer`` (``delimiter``, ``lineterminator``...).
    """

    def __init__(self, fh: IO[str], **fmt: Any) -> None:
        self._writer = csv.writer(fh, **fmt)

    def writerow(self, row: Iterable[Any]) -> None:
        """Write one row.

        Parameters
        ----------
        row : Iterable[Any]
            The cells.
        """
        self._writer.writerow(escape_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Write rows.

        Parameters
        ----------
        rows : Iterable[Iterable[Any]]
            The rows.
        """
        for row in rows:
            self.writerow(row)


class SafeDictWriter:
    """A ``csv.DictWriter`` whose every cell (and header) goes through :func:`escape_cell`.

    Parameters
    ----------
    fh : IO[str]
        The text stream (opened with ``newline=""``).
    fieldnames : Sequence[str]
        The columns, in order.
    **fmt : Any
        Further parameters of ``csv.DictWriter`` (``restval``, ``lineterminator``...).
    """

    def __init__(self, fh: IO[str], fieldnames: Sequence[str], **fmt: Any) -> None:
        self._fieldnames = list(fieldnames)
        self._writer = csv.DictWriter(fh, self._fieldnames, **fmt)

    def writeheader(self) -> None:
        """Write the header row."""
        self._writer.writerow({f: escape_cell(f) for f in self._fieldnames})

    def writerow(self, row: Mapping[str, Any]) -> None:
        """Write one row.

        Parameters
        ----------
        row : Mapping[str, Any]
            Cells by column; a missing column is written as ``restval``.
        """
        self._writer.writerow({k: escape_cell(v) for k, v in row.items()})
