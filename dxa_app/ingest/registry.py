"""Sniff a file and pick the reader that understands it."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

from dxa_app.i18n import _
from dxa_app.ingest.base import SNIFF_BYTES, FolderReader, Reader, is_dicom_head
from dxa_app.ingest.files import open_regular

#: Reader modules, asked in this order; each exposes a module-level ``READER``.
READER_MODULES: tuple[str, ...] = (
    "dxa_app.ingest.dicom_hologic",
    "dxa_app.ingest.dicom_ge",
    "dxa_app.ingest.generic_csv",
    "dxa_app.ingest.apex_mdb",
)


#: Modules whose module-level ``FOLDER_READER`` reads a whole folder as one source.
FOLDER_READER_MODULES: tuple[str, ...] = ("dxa_app.ingest.apex_mdb",)


@cache
def folder_readers() -> tuple[FolderReader, ...]:
    """Return every reader that takes a whole folder as one source."""
    return tuple(importlib.import_module(n).FOLDER_READER for n in FOLDER_READER_MODULES)


def folder_reader_for(path: Path) -> FolderReader | None:
    """Return the reader that claims the folder ``path`` as one source, or None."""
    for reader in folder_readers():
        if reader.sniff_folder(path):
            return reader
    return None


@cache
def readers() -> tuple[Reader, ...]:
    """Return every available reader, in sniffing order."""
    found: list[Reader] = []
    for name in READER_MODULES:
        module = importlib.import_module(name)
        found.append(module.READER)
    return tuple(found)


def read_head(path: Path) -> bytes:
    """Return the first bytes of a regular file (for sniffing); only those are read.

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    bytes
        At most :data:`~dxa_app.ingest.base.SNIFF_BYTES` bytes.

    Raises
    ------
    OSError
        When the file cannot be opened.
    ImportProblemError
        When it is not a regular file (a FIFO, a device, a socket); it is opened without
        waiting and nothing is read from it.
    """
    with open_regular(path) as fh:
        return fh.read(SNIFF_BYTES)


def reader_for(path: Path, head: bytes | None = None) -> Reader | FolderReader | None:
    """Return the reader that claims ``path`` (a file, or a folder source), or None.

    Parameters
    ----------
    path : Path
        The file to classify.
    head : bytes, optional
        Its first bytes, when already read.
    """
    if path.is_dir():
        return folder_reader_for(path)
    data = read_head(path) if head is None else head
    for reader in readers():
        if reader.sniff(path, data):
            return reader
    return None


def describe_unclaimed(path: Path, head: bytes) -> tuple[bool, str]:
    """Say why no reader claimed a file: (damaged, reason).

    A DICOM file that cannot be parsed is damaged (a failure); a readable DICOM file of
    another kind names its modality and manufacturer; anything else is not a DXA export.
    """
    if not head:
        return False, _("the file is empty, so not a DXA export")
    if not is_dicom_head(head):
        if path.suffix.lower() in (".dcm", ".dicom"):
            return False, _("not a DICOM file (no 'DICM' marker), so not a DXA export")
        return False, _("not a DXA export this program can read")
    from dxa_app.domain import ImportNote
    from dxa_app.errors import ImportProblemError
    from dxa_app.ingest.dicom_common import load_dataset

    notes: list[ImportNote] = []
    try:
        ds = load_dataset(path, notes)
        modality = str(ds.get("Modality", "") or "?")
        maker = str(ds.get("Manufacturer", "") or "?")
    except ImportProblemError as exc:
        return True, exc.message
    except Exception as exc:  # a header value pydicom cannot decode
        return True, _("the file is damaged ({error})").format(error=exc)
    return False, _("DICOM {modality} from {manufacturer}, not a DXA export").format(
        modality=modality, manufacturer=maker
    )
