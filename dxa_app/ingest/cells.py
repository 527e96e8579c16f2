"""Rows, cells and CSV text of the tabular import formats, read one way with one message style."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import math
import re
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, NamedTuple, TypeVar

from dxa_app.csv_safety import unescape_cell
from dxa_app.domain import ImportNote
from dxa_app.errors import ImportProblemError
from dxa_app.i18n import _
from dxa_app.ingest.plausibility import Quantity, measurement_problem

__all__ = [
    "BOM",
    "CellParser",
    "CellRules",
    "CsvReader",
    "DateFormats",
    "Row",
    "Table",
    "When",
    "decode",
    "decode_lines",
    "fold",
    "line_list",
    "strip_controls",
    "vocabulary",
]

BOM: Final = "\ufeff"
"""The byte order mark some programs write before UTF-8 text."""

_E = TypeVar("_E", bound=StrEnum)
_D = TypeVar("_D", bool, None)


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: values by column name, with the file line it starts on."""

    line: int
    values: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Table:
    """One parsed table: its name, the ``label`` that names it in messages, and its rows."""

    name: str
    label: str
    rows: tuple[Row, ...]


class When(NamedTuple):
    """A date and time read from a cell, and whether its year had only two digits."""

    at: dt.datetime
    two_digit_year: bool


@dataclass(frozen=True, slots=True)
class DateFormats:
    """The accepted spellings of a date (or a date and time) in one format.

    Parameters
    ----------
    patterns : tuple of re.Pattern
        Tried in order against the whole cell; the first that matches decides. Named
        groups ``year``, ``month`` and ``day``, and optionally ``hour``, ``minute``,
        ``second`` and ``fraction`` (digits after the decimal point of the seconds).
    problem : Callable[[], str]
        Returns the translated problem with a ``{value}`` placeholder, e.g.
        ``lambda: _("'{value}' is not a date (YYYY-MM-DD)")``; called only on a bad value,
        so it is translated into the language in use then.
    pivot : int, optional
        A two-digit year below ``pivot`` is 20yy, any other 19yy (default 69, as POSIX
        ``strptime("%y")``).
    """

    patterns: tuple[re.Pattern[str], ...]
    problem: Callable[[], str]
    pivot: int = 69


_DEFAULT_TRUE: Final = frozenset({"1", "true", "yes", "y"})
_DEFAULT_FALSE: Final = frozenset({"0", "false", "no", "n"})


@dataclass(frozen=True, slots=True)
class CellRules:
    """How one format writes numbers and yes/no values.

    Parameters
    ----------
    decimal_comma : bool, optional
        Numbers may use a decimal comma instead of a point (never a thousands separator).
    missing : frozenset of float, optional
        Numbers that mean "no value" (APEX writes -1), read as None.
    point_zero_integers : bool, optional
        A whole number may end in a decimal point and zeros (``3.0``, as Access prints
        some whole-number columns).
    true_words, false_words : frozenset of str, optional
        The lower-case spellings of yes and no.
    """

    decimal_comma: bool = False
    missing: frozenset[float] = frozenset()
    point_zero_integers: bool = False
    true_words: frozenset[str] = field(default=_DEFAULT_TRUE)
    false_words: frozenset[str] = field(default=_DEFAULT_FALSE)


def fold(text: str) -> str:
    """Return a spelling folded for lookup: lower case, spaces, hyphens and slashes as ``_``.

    Parameters
    ----------
    text : str
        The cell or vocabulary word.

    Returns
    -------
    str
        The folded text, without leading or trailing ``_``.

    Examples
    --------
    >>> fold(" Lumbar-Spine ")
    'lumbar_spine'
    """
    folded = re.sub(r"[\s\-–/]+", "_", text.strip().lower())
    return folded.strip("_")


def vocabulary(enum: type[_E], aliases: Mapping[str, _E]) -> dict[str, _E]:
    """Return the folded spellings of an enum's members (values, names and aliases).

    Parameters
    ----------
    enum : type of StrEnum
        The members; each is known by its value and its name.
    aliases : Mapping[str, StrEnum]
        Further spellings.

    Returns
    -------
    dict[str, StrEnum]
        Folded spelling -> member, for :meth:`CellParser.choice`.
    """
    vocab: dict[str, _E] = {fold(member.value): member for member in enum}
    vocab.update({fold(member.name): member for member in enum})
    vocab.update({fold(k): v for k, v in aliases.items()})
    return vocab


def _at(match: re.Match[str], pivot: int) -> When:
    """Return the date and time the named groups of a date pattern hold."""
    groups = match.groupdict()
    year_text = groups["year"]
    year = int(year_text)
    two_digit = len(year_text) == 2
    if two_digit:
        year += 2000 if year < pivot else 1900
    fraction = groups.get("fraction") or ""
    at = dt.datetime(
        year,
        int(groups["month"]),
        int(groups["day"]),
        int(groups.get("hour") or 0),
        int(groups.get("minute") or 0),
        int(groups.get("second") or 0),
        int(fraction.ljust(6, "0")) if fraction else 0,
    )
    return When(at, two_digit)


@dataclass(frozen=True, slots=True)
class CellParser:
    """Reads the cells of one table, raising errors that name table, line and column.

    Parameters
    ----------
    label : str
        Names the table in messages (a file name, or a database and table).
    rules : CellRules, optional
        How the format writes numbers and yes/no values.
    """

    label: str
    rules: CellRules = CellRules()

    def fail(self, row: Row, column: str, problem: str) -> ImportProblemError:
        """Return the error for a bad value.

        Parameters
        ----------
        row : Row
            The row holding the value.
        column : str
            Its column.
        problem : str
            What is wrong, translated.

        Returns
        -------
        ImportProblemError
            ``"{file}, line {line}, column '{column}': {problem}"``, with a remedy.
        """
        return ImportProblemError(
            _("{file}, line {line}, column '{column}': {problem}").format(
                file=self.label, line=row.line, column=column, problem=problem
            ),
            _("Correct the value in the file and import it again."),
        )

    def text(self, row: Row, column: str, *, required: bool = False) -> str:
        """Return the stripped text of a cell.

        Parameters
        ----------
        row : Row
            The row.
        column : str
            The column; a column the row does not have reads as empty.
        required : bool, optional
            Whether an empty cell is an error.

        Returns
        -------
        str
            The text, ``""`` when empty.
        """
        value = row.values.get(column, "").strip()
        if required and not value:
            raise self.fail(row, column, _("a value is required"))
        return value

    def required_text(self, row: Row, column: str) -> str:
        """Return the stripped text of a cell that must not be empty.

        Parameters
        ----------
        row : Row
            The row.
        column : str
            The column.

        Returns
        -------
        str
            The text, never empty.
        """
        return self.text(row, column, required=True)

    def number(
        self,
        row: Row,
        column: str,
        *,
        required: bool = False,
        missing: Collection[float] | None = None,
    ) -> float | None:
        """Return a decimal number.

        Parameters
        ----------
        row : Row
            The row.
        column : str
            The column.
        required : bool, optional
            Whether an empty cell is an error.
        missing : Collection[float], optional
            The numbers that mean "no value" here; by default those of the rules.

        Returns
        -------
        float or None
            The number; None when the cell is empty or holds a "no value" number.
        """
        value = self.text(row, column, required=required)
        if not value:
            return None
        candidate = value.replace(",", ".") if self.rules.decimal_comma else value
        try:
            number = float(candidate)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or "_" in candidate:
            hint = (
                _("'{value}' is not a number (decimal comma or point, no thousands separator)")
                if self.rules.decimal_comma
                else _("'{value}' is not a number (use a decimal point)")
            )
            raise self.fail(row, column, hint.format(value=value))
        if number in (self.rules.missing if missing is None else missing):
            return None
        return number

    def measurement(
        self,
        row: Row,
        column: str,
        quantity: Quantity,
        *,
        required: bool = False,
        missing: Collection[float] | None = None,
    ) -> float | None:
        """Return a measured value that must lie in its plausible range.

        Parameters
        ----------
        row : Row
            The row.
        column : str
            The column.
        quantity : Quantity
            What the column measures (its range is in
            ``resources/ingest/plausible_measurements.json``).
        required : bool, optional
            Whether an empty cell is an error.
        missing : Collection[float], optional
            As for :meth:`number`; a "no value" number is None, never refused.

        Returns
        -------
        float or None
            The value; None when the cell is empty or holds a "no value" number.
        """
        number = self.number(row, column, required=required, missing=missing)
        if number is None:
            return None
        problem = measurement_problem(quantity, number, self.text(row, column))
        if problem is not None:
            raise self.fail(row, column, problem)
        return number

    def integer(self, row: Row, column: str) -> int | None:
        """Return a whole number (a count or a code).

        Parameters
        ----------
        row : Row
            The row.
        column : str
            The column.

        Returns
        -------
        int or None
            The number; None when the cell is empty or holds a "no value" number.
        """
        value = self.text(row, column)
        if not value:
            return None
        pattern = r"[+-]?\d+(?:\.0*)?" if self.rules.point_zero_integers else r"[+-]?\d+"
        if not re.fullmatch(pattern, value):
            raise self.fail(row, column, _("'{value}' is not a whole number").format(value=value))
        number = int(value.partition(".")[0])
        return None if number in self.rules.missing else number

    def flag(self, row: Row, column: str, default: _D) -> bool | _D:
        """Return a yes/no value, spelled as the rules allow.

        Parameters
        ----------
        row : Row
            The row.
        column : str
            The column.
        default : bool or None
            The value of an empty cell.

        Returns
        -------
        bool or None
            True or False; ``default`` when the cell is empty.
        """
        value = self.text(row, column).lower()
        if not value:
            return default
        if value in self.rules.true_words:
            return True
        if value in self.rules.false_words:
            return False
        raise self.fail(row, column, _("'{value}' is not 1 or 0").format(value=value))

    def when(
        self, row: Row, column: str, formats: DateFormats, *, required: bool = False
    ) -> When | None:
        """Return a date or a date and time, and whether its year had two digits.

        Parameters
        ----------
        row : Row
            The row.
        column : str
            The column.
        formats : DateFormats
            The accepted spellings.
        required : bool, optional
            Whether an empty cell is an error.

        Returns
        -------
        When or None
            The time (midnight when the cell holds a date only); None when empty.
        """
        value = self.text(row, column, required=required)
        if not value:
            return None
        match = next((m for p in formats.patterns if (m := p.fullmatch(value))), None)
        if match is not None:
            with contextlib.suppress(ValueError):
                return _at(match, formats.pivot)
        raise self.fail(row, column, formats.problem().format(value=value))

    def date(
        self, row: Row, column: str, formats: DateFormats, *, required: bool = False
    ) -> dt.date | None:
        """Return a date.

        Parameters
        ----------
        row : Row
            The row.
        column : str
            The column.
        formats : DateFormats
            The accepted spellings.
        required : bool, optional
            Whether an empty cell is an error.

        Returns
        -------
        datetime.date or None
            The date; None when the cell is empty.
        """
        found = self.when(row, column, formats, required=required)
        return None if found is None else found.at.date()

    def datetime(self, row: Row, column: str, formats: DateFormats) -> dt.datetime:
        """Return a date and time that must be given.

        Parameters
        ----------
        row : Row
            The row.
        column : str
            The column.
        formats : DateFormats
            The accepted spellings.

        Returns
        -------
        datetime.datetime
            The date and time.
        """
        found = self.when(row, column, formats, required=True)
        assert found is not None
        return found.at

    def choice(
        self, row: Row, column: str, vocab: Mapping[str, _E], *, required: bool = False
    ) -> _E | None:
        """Return the enum member a cell names.

        Parameters
        ----------
        row : Row
            The row.
        column : str
            The column.
        vocab : Mapping[str, StrEnum]
            Folded spelling -> member (see :func:`vocabulary`).
        required : bool, optional
            Whether an empty cell is an error.

        Returns
        -------
        StrEnum or None
            The member; None when the cell is empty.
        """
        value = self.text(row, column, required=required)
        if not value:
            return None
        member = vocab.get(fold(value))
        if member is None:
            allowed = ", ".join(dict.fromkeys(str(m.value) for m in vocab.values()))
            raise self.fail(
                row,
                column,
                _("'{value}' is not one of: {allowed}").format(value=value, allowed=allowed),
            )
        return member

    def required_choice(self, row: Row, column: str, vocab: Mapping[str, _E]) -> _E:
        """Return the enum member a cell that must not be empty names.

        Parameters
        ----------
        row : Row
            The row.
        column : str
            The column.
        vocab : Mapping[str, StrEnum]
            Folded spelling -> member (see :func:`vocabulary`).

        Returns
        -------
        StrEnum
            The member.
        """
        member = self.choice(row, column, vocab, required=True)
        assert member is not None
        return member


#: Invisible characters that only hide or reorder text: C0 controls but tab, line feed and
#: carriage return; DEL; and the bidirectional formatting characters (Trojan Source).
_CONTROLS: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def strip_controls(text: str) -> tuple[str, frozenset[str]]:
    """Return text without NUL, other control and bidirectional formatting characters.

    Parameters
    ----------
    text : str
        The text of a cell or element.

    Returns
    -------
    tuple of (str, frozenset of str)
        The text without them, and the removed characters as ``U+XXXX`` (empty when the
        text was clean).

    Examples
    --------
    >>> strip_controls("Søs\u202e Ærø\x00")
    ('Søs Ærø', frozenset({'U+0000', 'U+202E'}))
    """
    found = _CONTROLS.findall(text)
    if not found:
        return text, frozenset()
    return _CONTROLS.sub("", text), frozenset(f"U+{ord(c):04X}" for c in found)


def line_list(lines: Sequence[int], shown: int = 10) -> str:
    """Return line numbers for a message: ``"3, 8, 12"``, at most ``shown`` then a count.

    Parameters
    ----------
    lines : Sequence[int]
        The line numbers, in order.
    shown : int, optional
        How many to name.

    Returns
    -------
    str
        E.g. ``"3, 8, 12 and 40 more"`` (translated).
    """
    text = ", ".join(str(n) for n in lines[:shown])
    if len(lines) > shown:
        return _("{lines} and {n} more").format(lines=text, n=len(lines) - shown)
    return text


def decode_lines(
    label: str, chunks: Iterable[bytes], notes: list[ImportNote], *, first_line: int = 1
) -> Iterator[str]:
    """Yield the text lines of a file, each line decoded on its own: UTF-8, else Windows-1252.

    A file in one encoding gives at most one note (Windows-1252 as a whole, as before); a
    UTF-8 file with some Windows-1252 lines keeps its UTF-8 lines and names the others.
    The notes are added when the last line has been read.

    Parameters
    ----------
    label : str
        Names the file in the note.
    chunks : Iterable[bytes]
        The file's content in pieces that end at line ends (e.g. ``fh.readline()``).
    notes : list of ImportNote
        Receives the note about Windows-1252 lines.
    first_line : int, optional
        The number of the first line.

    Yields
    ------
    str
        One line, its line end kept (lines end at ``\r\n``, ``\n`` or ``\r``); no byte
        order mark.
    """
    line = first_line
    utf8_letters = 0  # UTF-8 lines with characters beyond ASCII
    fallback: list[int] = []
    first = True
    for chunk in chunks:
        if first:
            chunk = chunk.removeprefix(b"\xef\xbb\xbf")
        try:
            text = chunk.decode("utf-8")
            utf8_letters += not chunk.isascii()
        except UnicodeDecodeError:
            text = chunk.decode("cp1252", errors="replace")
            fallback.append(line)
        if first:
            text = text.removeprefix(BOM)
            first = False
        for piece in io.StringIO(text, newline=""):
            line += 1
            yield piece
    if fallback and not utf8_letters:
        notes.append(
            ImportNote(
                _(
                    "{file} is not UTF-8; it was read as Windows-1252 (check the letters æ, ø, å)."
                ).format(file=label)
            )
        )
    elif fallback:
        notes.append(
            ImportNote(
                _(
                    "{file}: line {lines} is not UTF-8 like the rest of the file; it was read"
                    " as Windows-1252 (check the letters æ, ø, å there)."
                ).format(file=label, lines=line_list(fallback))
            )
        )


def decode(label: str, raw: bytes, notes: list[ImportNote]) -> str:
    """Return the text of a file, each line UTF-8, else Windows-1252 (with a note); no BOM.

    Parameters
    ----------
    label : str
        Names the file in the note.
    raw : bytes
        The file's content.
    notes : list of ImportNote
        Receives the note when some or all lines are not UTF-8 (see :func:`decode_lines`).

    Returns
    -------
    str
        The text, without a leading byte order mark.
    """
    return "".join(decode_lines(label, raw.splitlines(keepends=True), notes))


class CsvReader:
    """Reads the header row and then the data rows of CSV text, in the file's own lines.

    Every cell loses its invisible control characters (:func:`strip_controls`; a note per
    column names the lines) and the formula escape the program's CSV writers add
    (:func:`dxa_app.csv_safety.unescape_cell`).

    Parameters
    ----------
    lines : Iterable[str]
        The text from the header row on (lines keep their line ends); read once, lazily.
    label : str
        Names the file in messages.
    delimiter : str, optional
        The separator of cells.
    first_line : int, optional
        The file line of the header row (1 when the text is the whole file).
    notes : list of ImportNote, optional
        Receives the notes about removed characters when the last row has been read.
    """

    def __init__(
        self,
        lines: Iterable[str],
        label: str,
        *,
        delimiter: str = ",",
        first_line: int = 1,
        notes: list[ImportNote] | None = None,
    ) -> None:
        self.label = label
        self._reader = csv.reader(lines, delimiter=delimiter, strict=True)
        self._first_line = first_line
        self._done = 0  # physical lines read before the current record
        self._notes = notes
        self._removed: dict[str, tuple[list[int], set[str]]] = {}

    @contextlib.contextmanager
    def _csv_errors(self) -> Iterator[None]:
        try:
            yield
        except csv.Error as exc:
            raise ImportProblemError(
                _("{file}, line {line}: the line is not valid CSV ({error}).").format(
                    # the line the broken record starts on: an open quote may run on for lines
                    file=self.label,
                    line=self._first_line + self._done,
                    error=exc,
                )
            ) from exc

    def header(self, normalise: Callable[[str], str]) -> list[str] | None:
        """Return the column names of the first record; a name given twice is an error.

        Parameters
        ----------
        normalise : Callable[[str], str]
            Turns a header cell into the column name.

        Returns
        -------
        list[str] or None
            The column names in order (``""`` for an empty header cell); None when the
            text holds no record at all.
        """
        with self._csv_errors():
            first = next(self._reader, None)
        if first is None:
            return None
        self._done = self._reader.line_num
        header = [normalise(strip_controls(cell)[0]) for cell in first]
        seen: set[str] = set()
        for column in header:
            if column and column in seen:
                raise ImportProblemError(
                    _("{file}: column '{column}' appears twice in the header row.").format(
                        file=self.label, column=column
                    )
                )
            seen.add(column)
        return header

    def _cell(self, text: str, line: int, column: str) -> str:
        clean, removed = strip_controls(text)
        if removed:
            lines, chars = self._removed.setdefault(column, ([], set()))
            if not lines or lines[-1] != line:
                lines.append(line)
            chars.update(removed)
        return unescape_cell(clean)

    def _removed_notes(self) -> None:
        if self._notes is None:
            return
        for column, (lines, chars) in self._removed.items():
            self._notes.append(
                ImportNote(
                    _(
                        "{file}, column '{column}': invisible control characters ({chars})"
                        " were removed from the text on line {lines}."
                    ).format(
                        file=self.label,
                        column=column,
                        chars=", ".join(sorted(chars)),
                        lines=line_list(lines),
                    )
                )
            )
        self._removed.clear()

    def iter_rows(
        self,
        header: Sequence[str],
        *,
        keep: Container[str] | None,
        width_remedy: str,
        row_problems: dict[int, str] | None = None,
    ) -> Iterator[Row]:
        """Yield the data rows after the header, one at a time; blank lines are skipped.

        Parameters
        ----------
        header : Sequence[str]
            The column names (see :meth:`header`).
        keep : Container[str] or None
            The columns to keep in each row; None keeps every named column.
        width_remedy : str
            The remedy, translated, when a row has more values than the header has columns.
        row_problems : dict of int to str, optional
            When given, a row with more values than the header has columns does not stop
            the reading: it is yielded all the same and its problem is put here under its
            line (the caller fails that row); without it the row raises.

        Yields
        ------
        Row
            Each row with its values by column name and the file line it starts on.
        """
        with self._csv_errors():
            for cells in self._reader:
                line = self._first_line + self._done
                self._done = self._reader.line_num
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
                    problem = _(
                        "{file}, line {line}: the row has {found} values but the header has"
                        " {expected} columns."
                    ).format(file=self.label, line=line, found=len(cells), expected=len(header))
                    if row_problems is None:
                        raise ImportProblemError(problem, width_remedy)
                    row_problems[line] = problem
                yield Row(
                    line,
                    {
                        name: self._cell(cell, line, name)
                        for name, cell in zip(header, cells, strict=False)
                        if name and (keep is None or name in keep)
                    },
                )
        self._removed_notes()

    def rows(
        self,
        header: Sequence[str],
        *,
        keep: Container[str] | None,
        width_remedy: str,
        row_problems: dict[int, str] | None = None,
    ) -> tuple[Row, ...]:
        """Return the data rows after the header; blank lines are skipped.

        Parameters
        ----------
        header : Sequence[str]
            The column names (see :meth:`header`).
        keep : Container[str] or None
            The columns to keep in each row; None keeps every named column.
        width_remedy : str
            The remedy, translated, when a row has more values than the header has columns.
        row_problems : dict of int to str, optional
            As for :meth:`iter_rows`.

        Returns
        -------
        tuple of Row
            Each row with its values by column name and the file line it starts on.
        """
        return tuple(
            self.iter_rows(header, keep=keep, width_remedy=width_remedy, row_problems=row_problems)
        )
