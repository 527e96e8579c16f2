"""The reader protocol every ingest module implements, and helpers shared by readers."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from dxa_app.domain import ParsedSource
from dxa_app.ingest.files import open_regular

SNIFF_BYTES = 4096


class FolderReader(Protocol):
    """A source that is a whole folder (e.g. an APEX database exported as one CSV per table).

    ``sniff_folder`` decides from the folder's file names; ``read`` parses the folder as one
    source, stored in one transaction.
    """

    name: str

    def sniff_folder(self, path: Path) -> bool:
        """Return True when this reader should handle the folder as one source."""

    def read(self, path: Path) -> ParsedSource:
        """Parse the whole folder."""


class Reader(Protocol):
    """One source format: ``sniff`` decides cheaply, ``read`` parses fully.

    ``read`` raises :class:`dxa_app.errors.ImportProblemError` with a clear, translated
    message when the file is damaged, not what ``sniff`` thought, larger than its format's
    limit (``resources/ingest/file_limits.json``) or holds a measurement outside its
    plausible range (``resources/ingest/plausible_measurements.json``); it never returns
    half a result, and never reads a whole file into memory that is not bounded by such a
    limit. The text it returns holds no NUL, control or bidirectional formatting
    characters (removed, with a note). What it did not understand goes into
    ``ParsedSource.notes``.
    """

    name: str

    def sniff(self, path: Path, head: bytes) -> bool:
        """Return True when this reader should handle the file (``head``: first bytes)."""

    def read(self, path: Path) -> ParsedSource:
        """Parse the whole file."""


class FileReader:
    """A :class:`Reader` made of a test of a file's first bytes and a function that parses it.

    Parameters
    ----------
    name : str
        The reader's name, recorded with each import.
    claims : Callable[[bytes], bool]
        Returns whether the first bytes of a file show it is of this format.
    parse : Callable[[Path], ParsedSource]
        Parses a whole file (see :meth:`Reader.read`).
    """

    name: str

    def __init__(
        self, name: str, claims: Callable[[bytes], bool], parse: Callable[[Path], ParsedSource]
    ) -> None:
        self.name = name
        self._claims = claims
        self._parse = parse

    def sniff(self, path: Path, head: bytes) -> bool:
        """Return True when this reader should handle the file.

        Parameters
        ----------
        path : Path
            The file (not opened).
        head : bytes
            Its first bytes.

        Returns
        -------
        bool
            What ``claims`` says of ``head``.
        """
        return self._claims(head)

    def read(self, path: Path) -> ParsedSource:
        """Parse the whole file with ``parse``.

        Parameters
        ----------
        path : Path
            The file.

        Returns
        -------
        ParsedSource
            What the file holds.
        """
        return self._parse(path)


def file_sha256(path: Path) -> str:
    """Return the SHA-256 hex digest of a file's content."""
    h = hashlib.sha256()
    with open_regular(path) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_dicom_head(head: bytes) -> bool:
    """Return True when ``head`` starts like a DICOM Part 10 file (preamble + 'DICM')."""
    return len(head) >= 132 and head[128:132] == b"DICM"
