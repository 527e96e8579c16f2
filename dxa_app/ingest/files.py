"""Input files opened safely: regular files only, each format within its size limit."""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import IO, Any, Final, Literal

from dxa_app.errors import ImportProblemError
from dxa_app.i18n import _
from dxa_app.resources import resource_path

__all__ = [
    "LIMITS_FILE",
    "FileFormat",
    "binary_lines",
    "check_size",
    "file_limits",
    "max_bytes",
    "max_line_bytes",
    "max_sequence_depth",
    "not_regular_reason",
    "open_regular",
    "read_bounded",
    "special_kind",
]

LIMITS_FILE: Final = ("ingest", "file_limits.json")
"""Where the limits are kept, below ``resources/``."""

FileFormat = Literal["dicom", "generic_csv", "apex_mdb", "apex_table_csv"]
"""The formats that have a size limit of their own."""

_MIB: Final = 1 << 20
#: Read-only, never waiting for a writer (a FIFO), never becoming the controlling terminal.
_OPEN_FLAGS: Final = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_BINARY", 0)
)


@cache
def file_limits() -> dict[str, Any]:
    """Return the versioned input limits (``resources/ingest/file_limits.json``).

    Returns
    -------
    dict
        ``max_file_mib`` per format, ``max_csv_line_kib``, ``max_dicom_sequence_depth``,
        with version and source notes.
    """
    data: dict[str, Any] = json.loads(resource_path(*LIMITS_FILE).read_text(encoding="utf-8"))
    return data


def max_bytes(fmt: FileFormat) -> int:
    """Return the largest file of a format that is read, in bytes.

    Parameters
    ----------
    fmt : FileFormat
        The format.

    Returns
    -------
    int
        The limit.
    """
    return int(file_limits()["max_file_mib"][fmt]) * _MIB


def max_line_bytes() -> int:
    """Return the longest line of a CSV file that is read, in bytes."""
    return int(file_limits()["max_csv_line_kib"]) * 1024


def max_sequence_depth() -> int:
    """Return how deeply DICOM sequences may nest before a file is refused."""
    return int(file_limits()["max_dicom_sequence_depth"])


def _format_name(fmt: FileFormat) -> str:
    return {
        "dicom": _("DICOM files"),
        "generic_csv": _("generic CSV files"),
        "apex_mdb": _("APEX databases (.mdb)"),
        "apex_table_csv": _("APEX tables (CSV)"),
    }[fmt]


def special_kind(mode: int) -> str | None:
    """Return what a file is when it is neither a regular file nor a folder, else None.

    Parameters
    ----------
    mode : int
        ``st_mode`` of the file (of the link's target for a symbolic link).

    Returns
    -------
    str or None
        E.g. "a named pipe (FIFO)", translated.
    """
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return _("a named pipe (FIFO)")
    if stat.S_ISCHR(mode):
        return _("a character device")
    if stat.S_ISBLK(mode):
        return _("a block device")
    if stat.S_ISSOCK(mode):
        return _("a socket")
    return _("a special file")


def not_regular_reason(path: Path, mode: int) -> str | None:
    """Return why a file is not read when it is no regular file or folder, else None.

    Parameters
    ----------
    path : Path
        The file, named in the reason.
    mode : int
        Its ``st_mode`` (following a symbolic link).

    Returns
    -------
    str or None
        The reason, translated.
    """
    kind = special_kind(mode)
    if kind is None:
        return None
    return _("{path} is {kind}, not a regular file; it was not opened.").format(
        path=path, kind=kind
    )


def open_regular(path: Path) -> IO[bytes]:
    """Open a regular file for reading in binary mode; refuse anything else.

    The file is opened without waiting (a FIFO put in its place since it was checked does
    not block) and checked on the open descriptor, so what is read is the regular file.

    Parameters
    ----------
    path : Path
        The file (a symbolic link is followed).

    Returns
    -------
    IO[bytes]
        The open file; the caller closes it.

    Raises
    ------
    OSError
        When the file cannot be opened.
    ImportProblemError
        When it is not a regular file.
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        reason = not_regular_reason(path, mode)
        if reason is not None:
            raise ImportProblemError(reason)
        return os.fdopen(fd, "rb")  # O_NONBLOCK does not change how a regular file reads
    except BaseException:
        os.close(fd)
        raise


def check_size(size: int, fmt: FileFormat, label: str) -> None:
    """Refuse a file larger than its format's limit.

    Parameters
    ----------
    size : int
        The file's size in bytes.
    fmt : FileFormat
        Its format.
    label : str
        Names the file in the message.

    Raises
    ------
    ImportProblemError
        Naming the size and the limit.
    """
    limit = max_bytes(fmt)
    if size > limit:
        raise ImportProblemError(
            _(
                "{file} is too large to import: {size} MiB; the limit for {format} is {limit} MiB."
            ).format(
                file=label,
                size=math.ceil(size / _MIB),
                format=_format_name(fmt),
                limit=limit // _MIB,
            ),
            _(
                "Check that this is the right file; split a larger export. The limits are"
                " in resources/ingest/file_limits.json."
            ),
        )


def read_bounded(path: Path, fmt: FileFormat, label: str) -> bytes:
    """Return the content of a regular file that is within its format's size limit.

    Parameters
    ----------
    path : Path
        The file.
    fmt : FileFormat
        Its format (decides the limit).
    label : str
        Names the file in messages.

    Returns
    -------
    bytes
        The whole content (never more than the limit is read).

    Raises
    ------
    OSError
        When the file cannot be read.
    ImportProblemError
        When it is not a regular file or is too large.
    """
    with open_regular(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        check_size(size, fmt, label)
        limit = max_bytes(fmt)
        # read what the file holds (asking for the limit would allocate the limit first)
        data = fh.read(size + 1)
        if len(data) > size:  # it grew since: read on, never more than the limit
            data += fh.read(limit + 1 - len(data))
    check_size(len(data), fmt, label)  # it grew while being read
    return data


def binary_lines(fh: IO[bytes], label: str, *, fmt: FileFormat) -> Iterator[bytes]:
    """Yield the lines of a binary stream (ends kept), within the line and size limits.

    Parameters
    ----------
    fh : IO[bytes]
        The stream (a file or a pipe).
    label : str
        Names the source in messages.
    fmt : FileFormat
        Its format: the whole stream may not be longer than that format's limit.

    Yields
    ------
    bytes
        One line, ending in ``\\n`` except perhaps the last.

    Raises
    ------
    ImportProblemError
        When a line is longer than the line limit, or the stream than the size limit.
    """
    line_limit = max_line_bytes()
    total = 0
    number = 0
    while chunk := fh.readline(line_limit + 1):
        number += 1
        total += len(chunk)
        if len(chunk) > line_limit:
            raise ImportProblemError(
                _("{file}, line {line}: the line is longer than {limit} KiB.").format(
                    file=label, line=number, limit=line_limit // 1024
                ),
                _("Check that this is a CSV file with one row per line."),
            )
        check_size(total, fmt, label)
        yield chunk
