"""DICOM helpers shared by the vendor readers (file checks, identity, private elements, values).

Complete-file checking, patient/study/scanner extraction, private elements found through
their creator (never a fixed element number), and tolerant value parsing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import math
import re
import struct
import warnings
import zlib
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from stat import S_ISREG
from typing import Any, Final, TypeVar

from pydicom import config as pydicom_config
from pydicom import dcmread
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag
from pydicom.valuerep import validate_value

from dxa_app.cpr import normalise_cpr
from dxa_app.domain import (
    VERTEBRAE,
    AnalysisStatus,
    IdType,
    ImageRecord,
    ImportNote,
    Manufacturer,
    PatientIdentity,
    Region,
    RegionResult,
    ScannerIdentity,
    ScanType,
    Sex,
    Side,
    SourceIdentity,
    StudyInfo,
)
from dxa_app.errors import ImportProblemError
from dxa_app.i18n import _
from dxa_app.ingest.base import file_sha256, is_dicom_head
from dxa_app.ingest.files import max_bytes, max_sequence_depth, open_regular, read_bounded
from dxa_app.ingest.sr_fast import SrItem, fast_sequence

_T = TypeVar("_T")

_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_BE = "1.2.840.10008.1.2.2"
_DEFLATED_DATASET = "1.2.840.10008.1.2.1.99"  # (1.2.8.1 deflates image frames only)
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN"}
    | {
        b"UR",
        b"UT",
        b"UV",
    }
)
_UNDEFINED = 0xFFFFFFFF

#: Private creator spellings of Hologic (compared case-insensitively, stripped).
HOLOGIC_CREATORS: Final[frozenset[str]] = frozenset({"hologic", "hologic, inc."})

#: Modalities a DXA system writes ("" = not stated); CT, MR, MG... are never a DXA export.
DXA_MODALITIES: Final[frozenset[str]] = frozenset({"", "OT", "BMD", "CR", "DX", "SR", "DOC"})

#: SOP classes a DXA system writes besides SR: CR, DX, Secondary Capture, encapsulated PDF.
_DXA_SOP_CLASSES: Final[frozenset[str]] = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.1",  # CR Image
        "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image (presentation)
        "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray Image (processing)
        "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image
        "1.2.840.10008.5.1.4.1.1.7.1",  # Multi-frame Single Bit SC
        "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte SC
        "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame Grayscale Word SC
        "1.2.840.10008.5.1.4.1.1.7.4",  # Multi-frame True Color SC
        "1.2.840.10008.5.1.4.1.1.104.1",  # Encapsulated PDF
    }
)
_SR_CLASS_PREFIX: Final = "1.2.840.10008.5.1.4.1.1.88."


def dicom_problem(path: Path, reason: str) -> ImportProblemError:
    """Return the error of a DICOM file that cannot be imported.

    Parameters
    ----------
    path : Path
        The file.
    reason : str
        Why, already translated.

    Returns
    -------
    ImportProblemError
        With the path and the reason in the message.
    """
    return ImportProblemError(
        _("Cannot import DICOM file {path}: {reason}").format(path=path, reason=reason),
        _("Check that the file was copied completely, or export it again from the scanner."),
    )


class _Truncated(Exception):
    """The byte stream ends inside an element."""


class _Malformed(Exception):
    """The byte stream is not well-formed DICOM."""


class _TooDeep(Exception):
    """Sequences are nested deeper than the limit."""


class _TooLarge(Exception):
    """A deflated data set inflates to more than the size limit."""


@dataclass(slots=True)
class _Frame:
    """Where the walk is: in the elements of a data set or item, or in a sequence's items.

    ``end`` is the offset where a defined length ends, None for an undefined length (a
    delimiter ends it); ``datasets`` says whether a sequence's items hold data elements
    (False for the fragments of encapsulated pixel data).
    """

    items: bool
    end: int | None
    implicit: bool
    endian: str
    datasets: bool = True


def _implicit_is_sequence(group: int, elem: int) -> bool:
    """Return True when the dictionary says a tag (read with implicit VR) is a sequence."""
    try:
        return bool(dictionary_VR((group << 16) | elem) == "SQ")
    except KeyError:
        return False


@dataclass(frozen=True, slots=True)
class _Packs:
    """The compiled readers of one byte order (a format string is parsed on every call)."""

    hhi: Callable[[bytes, int], tuple[int, int, int]]
    hh: Callable[[bytes, int], tuple[int, int]]
    i: Callable[[bytes, int], tuple[int]]
    h: Callable[[bytes, int], tuple[int]]


def _packs(endian: str) -> _Packs:
    return _Packs(
        struct.Struct(endian + "HHI").unpack_from,
        struct.Struct(endian + "HH").unpack_from,
        struct.Struct(endian + "I").unpack_from,
        struct.Struct(endian + "H").unpack_from,
    )


_PACKS: Final = {"<": _packs("<"), ">": _packs(">")}


def _walk(data: bytes, pos: int, implicit: bool, endian: str, max_depth: int) -> int:
    """Walk the data elements from ``pos`` without recursion; sequences nest at most ``max_depth``.

    Every sequence is entered (of defined or undefined length, explicit ``SQ``, implicit VR
    by the dictionary, or ``UN`` of undefined length), so the nesting is known before
    pydicom parses the file (it recurses once per level).

    Raises
    ------
    _Truncated, _Malformed, _TooDeep
        When the data ends inside an element, is not well-formed, or nests too deeply.
    """
    size = len(data)
    stack = [_Frame(items=False, end=size, implicit=implicit, endian=endian)]
    depth = 0  # sequences (and encapsulated pixel data) on the stack

    def enter(frame: _Frame) -> None:
        nonlocal depth
        if frame.items:
            depth += 1
            if depth > max_depth:
                raise _TooDeep
        stack.append(frame)

    def leave() -> None:
        nonlocal depth
        if stack.pop().items:
            depth -= 1

    while stack:
        frame = stack[-1]
        if frame.end is not None and pos >= frame.end:
            if pos > frame.end:
                raise _Malformed("an element runs past the end of its item or sequence")
            leave()
            continue
        if pos + 8 > size:
            raise _Truncated
        packs = _PACKS[frame.endian]
        if frame.items:
            group, elem, length = packs.hhi(data, pos)
            pos += 8
            if group == 0xFFFE and elem == 0xE0DD:  # sequence delimiter
                leave()
            elif group != 0xFFFE or elem != 0xE000:  # not an item
                raise _Malformed(f"({group:04X},{elem:04X}) where a sequence item was expected")
            elif length == _UNDEFINED:
                if not frame.datasets:
                    raise _Malformed("a pixel data fragment of undefined length")
                enter(_Frame(False, None, frame.implicit, frame.endian))
            elif pos + length > size:
                raise _Truncated
            elif frame.datasets:
                enter(_Frame(False, pos + length, frame.implicit, frame.endian))
            else:
                pos += length  # a pixel data fragment
            continue
        group, elem = packs.hh(data, pos)
        if group == 0xFFFE and elem == 0xE00D:  # item delimiter
            pos += 8
            leave()
            continue
        vr = b""
        if frame.implicit or group == 0xFFFE:
            (length,) = packs.i(data, pos + 4)
            pos += 8
        else:
            vr = data[pos + 4 : pos + 6]
            if vr in _LONG_VRS:
                if pos + 12 > size:
                    raise _Truncated
                (length,) = packs.i(data, pos + 8)
                pos += 12
            else:
                (length,) = packs.h(data, pos + 6)
                pos += 8
        if length == _UNDEFINED:
            # an undefined-length UN holds an implicit VR little endian sequence; an
            # undefined-length OB/OW is encapsulated pixel data (fragments, no data sets)
            fragments = vr in (b"OB", b"OW") or (group == 0x7FE0 and elem == 0x0010)
            if vr == b"UN":
                enter(_Frame(True, None, True, "<"))
            else:
                enter(_Frame(True, None, frame.implicit, frame.endian, datasets=not fragments))
        elif pos + length > size:
            raise _Truncated
        elif vr == b"SQ" or (frame.implicit and _implicit_is_sequence(group, elem)):
            enter(_Frame(True, pos + length, frame.implicit, frame.endian))
        elif vr == b"UN" and _implicit_is_sequence(group, elem):
            enter(_Frame(True, pos + length, True, "<"))  # pydicom reads it as a sequence
        else:
            pos += length
    return pos


def _inflate(data: bytes, limit: int) -> bytes:
    """Return a deflated data set inflated, refusing one that inflates beyond ``limit``."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise _Malformed(f"deflated data: {exc}") from exc
    if len(out) > limit:
        raise _TooLarge
    return out


def _check_complete(data: bytes, max_depth: int, max_inflated: int) -> None:
    """Raise unless ``data`` is a complete Part 10 stream nesting sequences at most ``max_depth``.

    Raises
    ------
    _Truncated, _Malformed, _TooDeep, _TooLarge
        What is wrong.
    """
    pos = 132
    transfer_syntax = ""
    while pos + 8 <= len(data):
        group, elem = struct.unpack_from("<HH", data, pos)
        if group != 0x0002:
            break
        vr = data[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > len(data):
                raise _Truncated
            (length,) = struct.unpack_from("<I", data, pos + 8)
            pos += 12
        else:
            (length,) = struct.unpack_from("<H", data, pos + 6)
            pos += 8
        if length == _UNDEFINED or pos + length > len(data):
            raise _Truncated
        if elem == 0x0010:
            transfer_syntax = data[pos : pos + length].decode("ascii", "replace").strip("\0 ")
        pos += length
    if transfer_syntax == _DEFLATED_DATASET:
        # pydicom inflates the whole data set; inflate it here first, within the limit
        _walk(_inflate(data[pos:], max_inflated), 0, False, "<", max_depth)
        return
    implicit = transfer_syntax == _IMPLICIT_LE
    endian = ">" if transfer_syntax == _EXPLICIT_BE else "<"
    _walk(data, pos, implicit, endian, max_depth)


@contextmanager
def _captured_warnings(notes: list[ImportNote] | None) -> Iterator[None]:
    """Turn pydicom's warnings about odd values into import notes instead of warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    if notes is not None:
        for message in dict.fromkeys(str(w.message).split("\n")[0] for w in caught):
            notes.append(
                ImportNote(_("DICOM value not valid, read anyway: {detail}").format(detail=message))
            )


def _decode_all(ds: Dataset) -> None:
    """Convert every raw element of the dataset and its file meta to its value now."""
    meta = getattr(ds, "file_meta", None)
    for _elem in ds.iterall():
        pass
    if meta is not None:
        for _elem in meta.iterall():
            pass


def _too_deep(depth: int) -> str:
    return _(
        "its sequences are nested more than {depth} levels deep, more than any DXA export"
        " (damaged or hostile)"
    ).format(depth=depth)


@dataclass(slots=True)
class _Loaded:
    """One DICOM file read once: its bytes, its dataset (parsed, values decoded on use) or why not.

    ``key`` identifies the file's version (path, device, inode, size, modification time);
    ``warnings`` are pydicom's complaints while parsing, turned into notes on each load.
    """

    key: tuple[str, int, int, int, int]
    data: bytes = b""
    dataset: Dataset | None = None
    error: ImportProblemError | None = None
    warnings: tuple[str, ...] = ()
    _sha256: str = ""

    @property
    def sha256(self) -> str:
        """The SHA-256 (hex) of the bytes that were parsed."""
        if not self._sha256:
            self._sha256 = hashlib.sha256(self.data).hexdigest()
        return self._sha256


#: The file read last (each process holds one): the sniff, the reader and the image store
#: all use it, so a file is read and parsed once however many steps look at it.
_last_load: _Loaded | None = None


def _file_key(path: Path) -> tuple[str, int, int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _cached(path: Path) -> _Loaded | None:
    """Return the file read last when it is ``path`` and unchanged since, else None."""
    last = _last_load
    if last is None or last.key[0] != str(path):
        return None
    return last if _file_key(path) == last.key else None


def _parse(path: Path) -> _Loaded:
    """Read ``path`` once, check its structure without recursion, and parse it (not decode it)."""
    key = _file_key(path) or (str(path), 0, 0, 0, 0)
    try:
        data = read_bounded(path, "dicom", path.name)
    except OSError as exc:
        reason = _("the file cannot be read ({error})").format(error=exc)
        return _Loaded(key, error=dicom_problem(path, reason))
    except ImportProblemError as exc:
        return _Loaded(key, error=dicom_problem(path, exc.message))
    loaded = _Loaded(key, data)
    if not is_dicom_head(data):
        reason = _("not a DICOM Part 10 file (no 'DICM' after the preamble)")
        loaded.error = dicom_problem(path, reason)
        return loaded
    depth = max_sequence_depth()
    reason = ""
    try:
        _check_complete(data, depth, max_bytes("dicom"))
    except _Truncated:
        reason = _("the file is truncated (it ends inside an element)")
    except (_Malformed, struct.error) as exc:
        reason = _("the file is damaged ({error})").format(error=exc)
    except _TooDeep:
        reason = _too_deep(depth)
    except _TooLarge:
        reason = _("the deflated data set inflates to more than {limit} MiB").format(
            limit=max_bytes("dicom") >> 20
        )
    if reason:
        loaded.error = dicom_problem(path, reason)
        return loaded
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = dcmread(io.BytesIO(data))
            _decode_meta(ds)
    except RecursionError:  # the walk above should have refused it
        loaded.error = dicom_problem(path, _too_deep(depth))
        return loaded
    except Exception as exc:  # pydicom raises many kinds of errors on damaged input
        loaded.error = dicom_problem(path, _("the file is damaged ({error})").format(error=exc))
        return loaded
    loaded.warnings = tuple(str(w.message) for w in caught)
    if "Rows" in ds and "PixelData" not in ds and "FloatPixelData" not in ds:
        reason = _("the image has no pixel data (the file may be truncated)")
        loaded.error = dicom_problem(path, reason)
        return loaded
    loaded.dataset = ds
    return loaded


def _decode_meta(ds: Dataset) -> None:
    """Decode the file meta (a few elements, read by every step); the data set stays raw."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        for _elem in meta.iterall():
            pass


def _load(path: Path) -> _Loaded:
    """Return ``path`` read and parsed, from the last read when the file is unchanged."""
    global _last_load
    found = _cached(path)
    if found is None:
        found = _parse(path)
        _last_load = found
    return found


def loaded_bytes(path: Path, sha256: str) -> bytes | None:
    """Return the bytes of ``path`` as they were parsed, when they are still held, else None.

    Parameters
    ----------
    path : Path
        A DICOM file read by :func:`load_dataset`.
    sha256 : str
        The SHA-256 its image record names; the bytes are returned only when they match.

    Returns
    -------
    bytes or None
        The content that was parsed (so the image store keeps exactly what was read), or
        None when another file was read since.
    """
    last = _last_load
    if last is None or last.key[0] != str(path) or last.dataset is None:
        return None
    return last.data if last.sha256 == sha256 else None


def parsed_sha256(path: Path) -> str:
    """Return the SHA-256 of the bytes of ``path`` that were parsed (the file is read if not)."""
    last = _last_load
    if last is not None and last.key[0] == str(path) and last.dataset is not None:
        return last.sha256
    return file_sha256(path)


def load_dataset(path: Path, notes: list[ImportNote]) -> Dataset:
    """Read a whole DICOM Part 10 file once, refusing damaged or truncated files.

    The file is read and parsed once however many steps ask for it (the sniff of each
    reader, the reader, the image store): the last file is kept while it is unchanged.
    Its structure is checked whole, without recursion, before pydicom parses it; a
    value is decoded when a reader uses it (a value that cannot be decoded then fails
    the file in :func:`interpret`).

    Parameters
    ----------
    path : Path
        The file.
    notes : list of ImportNote
        Receives a note per invalid value pydicom complained about.

    Returns
    -------
    Dataset
        The dataset (shared: do not change it).

    Raises
    ------
    ImportProblemError
        When the file cannot be read, is not a regular file, is larger than the DICOM
        limit (``resources/ingest/file_limits.json``), is not DICOM, is truncated, nests
        sequences deeper than the limit (checked without recursion before pydicom parses
        the file) or lacks pixel data.
    """
    loaded = _load(path)
    if loaded.error is not None:
        raise loaded.error
    assert loaded.dataset is not None
    for message in dict.fromkeys(m.split("\n")[0] for m in loaded.warnings):
        notes.append(
            ImportNote(_("DICOM value not valid, read anyway: {detail}").format(detail=message))
        )
    return loaded.dataset


def interpret(path: Path, notes: list[ImportNote], build: Callable[[], _T]) -> _T:
    """Run ``build`` (which interprets a loaded dataset) with DICOM warnings turned into notes.

    Unexpected structure (a missing item, a value of the wrong type) becomes an
    :class:`~dxa_app.errors.ImportProblemError` naming the file, never half a result.

    Parameters
    ----------
    path : Path
        The file, for the message.
    notes : list of ImportNote
        Receives notes about invalid values.
    build : Callable[[], T]
        The interpretation step.

    Returns
    -------
    T
        What ``build`` returned.
    """
    try:
        with _captured_warnings(notes):
            return build()
    except ImportProblemError:
        raise
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise dicom_problem(
            path, _("the content is not understood ({error})").format(error=exc)
        ) from exc
    except RecursionError as exc:
        raise dicom_problem(path, _too_deep(max_sequence_depth())) from exc
    except Exception as exc:  # a value decoded on use that pydicom cannot decode
        raise dicom_problem(path, _("the file is damaged ({error})").format(error=exc)) from exc


#: Private groups every sniff reads, so that one read serves both vendor readers.
_SNIFF_GROUPS: Final[tuple[int, ...]] = (0x0021, 0x0023, 0x7003)


@cache
def _sniff_tags(groups: tuple[int, ...]) -> tuple[BaseTag, ...]:
    tags = [Tag(0x0008, 0x0070), Tag(0x0008, 0x0016), Tag(0x0008, 0x0060)]
    tags += [Tag(group, slot) for group in groups for slot in range(0x10, 0x100)]
    return tuple(tags)


_SniffKey = tuple[str, int, int, bytes, tuple[int, ...]]
#: The last sniff (file identity -> partial dataset): each vendor reader sniffs the same file.
_last_sniff: tuple[_SniffKey, Dataset | None] | None = None


def sniff_dataset(path: Path, head: bytes, private_groups: Sequence[int]) -> Dataset | None:
    """Read Manufacturer, SOP class, Modality and the private creators; None if not DICOM.

    The result of the last file is kept, so that the next reader's sniff of the same,
    unchanged file does not read it again.

    Parameters
    ----------
    path : Path
        The file.
    head : bytes
        Its first bytes.
    private_groups : Sequence[int]
        Odd groups whose private creators (gggg,0010-00FF) are read too.

    Returns
    -------
    Dataset or None
        The dataset :func:`load_dataset` returns (these values already decoded; do not
        change it), else a partial dataset of these values when the file cannot be parsed
        whole, or None when the file is not readable DICOM.
    """
    global _last_sniff
    if not is_dicom_head(head):
        return None
    groups = tuple(sorted({*_SNIFF_GROUPS, *private_groups}))
    try:
        stat = path.stat()
    except OSError:
        return None
    if not S_ISREG(stat.st_mode) or stat.st_size > max_bytes("dicom"):
        return None  # load_dataset says why
    loaded = _load(path)  # the file is read and parsed once, for the sniffs and the reader
    if loaded.dataset is not None and _sniff_values_decode(loaded.dataset, groups):
        return loaded.dataset
    # a file pydicom cannot parse whole: its header may still say which reader refuses it
    key: _SniffKey = (str(path), stat.st_mtime_ns, stat.st_size, head, groups)
    last = _last_sniff
    if last is not None and last[0] == key:
        return last[1]
    ds: Dataset | None
    try:
        with _captured_warnings(None):
            with open_regular(path) as fh:
                ds = dcmread(fh, stop_before_pixels=True, specific_tags=list(_sniff_tags(groups)))
            _decode_all(ds)  # later reads must neither warn nor raise
    except Exception:  # sniffing never raises
        ds = None
    _last_sniff = (key, ds)
    return ds


def _sniff_values_decode(ds: Dataset, groups: tuple[int, ...]) -> bool:
    """Decode the elements a sniff reads (maker, class, modality, creators); False if one fails."""
    wanted = {0x00080070, 0x00080016, 0x00080060}
    try:
        with _captured_warnings(None):
            for tag in map(int, ds.keys()):
                group, elem = tag >> 16, tag & 0xFFFF
                if tag in wanted or (group in groups and 0x10 <= elem <= 0xFF):
                    ds[tag]  # decodes the raw element in place (its warnings are the sniff's)
    except Exception:  # sniffing never raises
        return False
    return True


def is_foreign_instance(ds: Dataset) -> bool:
    """Return True for an instance no DXA system writes (a CT slice, an MR, a mammogram...).

    Decided by Modality and SOP Class UID (from the dataset, else the file meta); a file
    that states neither is not foreign.

    Parameters
    ----------
    ds : Dataset
        A dataset holding at least Modality and SOPClassUID when the file has them.

    Returns
    -------
    bool
        Whether the instance is of a kind a DXA scanner never exports.
    """
    if text_value(ds, "Modality").upper() not in DXA_MODALITIES:
        return True
    sop_class = text_value(ds, "SOPClassUID")
    if not sop_class:
        meta = getattr(ds, "file_meta", None)
        sop_class = text_of(meta.get("MediaStorageSOPClassUID")) if meta is not None else ""
    if not sop_class:
        return False
    return sop_class not in _DXA_SOP_CLASSES and not sop_class.startswith(_SR_CLASS_PREFIX)


def refuse_foreign(ds: Dataset, path: Path) -> None:
    """Raise, naming modality and maker, when the instance is of a kind no DXA system writes.

    Raises
    ------
    ImportProblemError
        When :func:`is_foreign_instance` says so.
    """
    if is_foreign_instance(ds):
        raise dicom_problem(
            path,
            _("DICOM {modality} from {manufacturer}, not a DXA export").format(
                modality=text_value(ds, "Modality") or "?",
                manufacturer=text_value(ds, "Manufacturer") or "?",
            ),
        )


def text_of(value: Any) -> str:
    """Return a DICOM value as stripped text (bytes decoded as UTF-8, multi-values joined).

    Parameters
    ----------
    value : Any
        An element value (str, bytes, PersonName, MultiValue, number or None).

    Returns
    -------
    str
        The text; multiple values are joined with a backslash.
    """
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip("\0 ")
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(text_of(v) for v in value)
    return str(value).strip()


@cache
def _keyword_tag(keyword: str) -> int | None:
    return tag_for_keyword(keyword)


def value_of(ds: Dataset | SrItem, keyword: str, default: Any = None) -> Any:
    """Return the value of element ``keyword`` of ``ds`` (``default`` when absent).

    What ``ds.get(keyword, default)`` returns, found by tag without pydicom's attribute
    machinery (an import reads some hundred elements per file); the element is decoded
    on this first use.

    Parameters
    ----------
    ds : Dataset or SrItem
        The dataset or sequence item (also one read by :func:`content_items`).
    keyword : str
        A DICOM keyword, e.g. ``"PatientID"``.
    default : Any
        Returned when the element is absent.

    Returns
    -------
    Any
        The element's value.
    """
    tag = _keyword_tag(keyword)
    if isinstance(ds, SrItem):
        return default if tag is None else ds.values.get(tag, default)
    if tag is None:
        return ds.get(keyword, default)
    elements = ds._dict  # the elements by tag (pydicom keeps raw ones until first use)
    elem = elements.get(tag)  # type: ignore[call-overload]
    if elem is None:
        return default
    if not isinstance(elem, DataElement):
        elem = ds[tag]
    return elem.value


def content_items(ds: Dataset) -> Sequence[Dataset | SrItem]:
    """Return the ContentSequence items of a structured report, read by the fast path if it can.

    The items are read with :func:`dxa_app.ingest.sr_fast.fast_sequence` (values decoded
    at once, far cheaper than pydicom's objects); when it cannot read them (another value
    representation, implicit VR, a multi-byte character set, damaged bytes) they come from
    pydicom as before. Read their values with :func:`value_of` and :func:`text_of`.

    Parameters
    ----------
    ds : Dataset
        The structured report.

    Returns
    -------
    sequence of Dataset or SrItem
        The items (empty when there is no content).
    """
    fast = fast_sequence(ds, 0x0040A730)
    if fast is not None:
        return fast
    return list(value_of(ds, "ContentSequence", []))


#: Value representations whose text :func:`text_value` reads from the raw bytes itself:
#: pydicom splits them on backslashes and right-strips padding; "text" ones are validated
#: per value (as pydicom does on reading), "single" ones are one value, validated whole.
_STRING_VRS: Final = frozenset({"AS", "CS", "DA", "DT", "TM"})
_TEXT_VRS: Final = frozenset({"SH", "LO", "UC"})
_SINGLE_VRS: Final = frozenset({"LT", "ST", "UT"})
_FAST_VRS: Final = _STRING_VRS | _TEXT_VRS | _SINGLE_VRS | {"AE", "UI"}


def _fast_text(elem: RawDataElement) -> bool:
    """Return whether :func:`_raw_text` reads this raw element (else pydicom decodes it)."""
    raw = elem.value
    return (
        elem.VR in _FAST_VRS
        and isinstance(raw, bytes)
        and bool(raw)
        and raw.isascii()
        and b"\x1b" not in raw
        and pydicom_config.data_element_callback is None
        and not (elem.VR in ("DA", "DT", "TM") and pydicom_config.datetime_conversion)
    )


def _element_text(ds: Dataset, tag: int) -> str:
    """The text of the element ``tag`` of ``ds`` (present), from its raw bytes when it can."""
    raw = ds._dict.get(tag)  # type: ignore[call-overload]
    if isinstance(raw, RawDataElement):
        fast = _raw_text(raw)
        if fast is not None:
            return fast
    return text_of(ds[tag].value)


def _raw_text(elem: RawDataElement) -> str | None:
    """The text :func:`text_of` gives for pydicom's value of a raw element, or None.

    Decoding a raw element through pydicom (hooks, converters, a new element object) costs
    five times what the import then does with the value; for plain ASCII of the string
    value representations the result is the same string, and pydicom's validation (its
    warnings become import notes) runs as on reading. None when the fast way does not
    apply (another VR, implicit VR, an empty value, non-ASCII bytes, ISO 2022 escapes, a
    callback set): the caller then asks pydicom. Each branch does what pydicom's converter
    of that VR does (``pydicom.values``), validation included; a test compares the two.
    """
    if not _fast_text(elem):  # an empty value: pydicom's empty value (None by configuration)
        return None
    vr = str(elem.VR)
    text = bytes(elem.value or b"").decode("ascii")
    mode = pydicom_config.settings.reading_validation_mode
    if vr in _STRING_VRS:  # convert_string: right-strip the whole, split
        values = text.rstrip(" \0").split("\\")
    elif vr == "UI":  # convert_UI: right-strip, split, each UID validated
        values = text.rstrip("\0 ").split("\\")
        for v in values:
            validate_value(vr, v, mode)
    elif vr == "AE":  # convert_AE_string: strip each value
        values = [v.strip() for v in text.split("\\")]
    elif vr in _SINGLE_VRS:  # convert_single_string: validated whole, then right-stripped
        validate_value(vr, text, mode)
        values = [text.rstrip("\0 ")]
    else:  # convert_text: split, each validated and right-stripped
        values = text.split("\\")
        for v in values:
            validate_value(vr, v, mode)
        values = [v.rstrip("\0 ") for v in values]
    return "\\".join(v.strip() for v in values)  # as text_of joins and strips


def text_value(ds: Dataset | SrItem, keyword: str) -> str:
    """Return the text of element ``keyword`` of ``ds`` ("" when absent)."""
    if isinstance(ds, Dataset):
        tag = _keyword_tag(keyword)
        if tag is not None:
            elem = ds._dict.get(tag)  # type: ignore[call-overload]
            if elem is None:  # absent: what value_of's default gives
                return ""
            if isinstance(elem, RawDataElement):
                fast = _raw_text(elem)
                if fast is not None:
                    return fast
    return text_of(value_of(ds, keyword))


def private_slots(ds: Dataset, group: int, creators: Collection[str]) -> list[int]:
    """Return the private block slots (0x10..0xFF) of ``group`` reserved by ``creators``.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    group : int
        An odd group number.
    creators : Collection[str]
        Accepted creator names, lower case (compared case-insensitively, stripped).

    Returns
    -------
    list of int
        The slots, in tag order.
    """
    first, last = (group << 16) | 0x10, (group << 16) | 0xFF
    found = []
    # ds.keys(): iterating a Dataset itself yields (decoded) elements, not tags
    for tag in sorted(t for t in map(int, ds.keys()) if first <= t <= last):
        if _element_text(ds, tag).lower() in creators:
            found.append(tag & 0xFF)
    return found


def find_private(
    ds: Dataset, group: int, offset: int, creators: Collection[str]
) -> DataElement | None:
    """Return the private element ``offset`` of ``group`` under any of ``creators``.

    The block is resolved through the private creator element, wherever it was put.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    group : int
        An odd group number.
    offset : int
        The element offset within the block (0x00..0xFF).
    creators : Collection[str]
        Accepted creator names, lower case.

    Returns
    -------
    DataElement or None
        The first match, or None.
    """
    for slot in private_slots(ds, group, creators):
        tag = Tag(group, (slot << 8) | offset)
        if tag in ds:
            elem: DataElement = ds[tag]
            return elem
    return None


def person_name(value: Any) -> str:
    """Return a DICOM PN (``Family^Given^Middle^Prefix^Suffix``) as ``"Given Middle Family"``.

    Parameters
    ----------
    value : Any
        A PersonName, a string or None.

    Returns
    -------
    str
        The display name; prefix and suffix are kept around it.
    """
    text = text_of(value).split("=")[0]
    parts = [p.strip() for p in text.split("^")] + [""] * 5
    family, given, middle, prefix, suffix = parts[:5]
    return " ".join(p for p in (prefix, given, middle, family, suffix) if p)


def parse_da(text: str) -> dt.date | None:
    """Return a DA value (``YYYYMMDD``, also legacy ``YYYY.MM.DD``) as a date, or None."""
    digits = text.strip().replace(".", "").replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?([+-]\d{4})?$")


def parse_dt(text: str) -> dt.datetime | None:
    """Return a DT value as a naive datetime (any UTC offset is dropped), or None.

    Parameters
    ----------
    text : str
        ``YYYYMMDDHHMMSS.FFFFFF&ZZXX``; trailing components may be missing.

    Returns
    -------
    datetime.datetime or None
        The datetime, or None when the text is no DT.
    """
    match = _DT.match(text.strip().replace(":", ""))
    if match is None:
        return None
    y, mo, d, h, mi, s, frac, _offset = match.groups()
    try:
        return dt.datetime(
            int(y),
            int(mo or 1),
            int(d or 1),
            int(h or 0),
            int(mi or 0),
            int(s or 0),
            int((frac or "0").ljust(6, "0")),
        )
    except ValueError:
        return None


def _date_time(date_text: str, time_text: str) -> dt.datetime | None:
    day = parse_da(date_text)
    if day is None:
        return None
    digits = time_text.strip().replace(":", "")
    return parse_dt(day.strftime("%Y%m%d") + digits) or dt.datetime.combine(day, dt.time())


def acquisition_datetime(ds: Dataset, notes: list[ImportNote]) -> dt.datetime | None:
    """Return when the instance was acquired, falling back from acquisition to content to study.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    notes : list of ImportNote
        Receives a note when a fallback was used.

    Returns
    -------
    datetime.datetime or None
        The naive local datetime, or None when no date is present at all.
    """
    found = parse_dt(text_value(ds, "AcquisitionDateTime"))
    if found is not None:
        return found
    for date_kw, time_kw in (
        ("AcquisitionDate", "AcquisitionTime"),
        ("ContentDate", "ContentTime"),
        ("SeriesDate", "SeriesTime"),
        ("StudyDate", "StudyTime"),
    ):
        found = _date_time(text_value(ds, date_kw), text_value(ds, time_kw))
        if found is not None:
            notes.append(
                ImportNote(
                    _(
                        "No AcquisitionDateTime; the acquisition time was taken from {source}."
                    ).format(source=date_kw),
                    "info",
                )
            )
            return found
    return None


def require_value(ds: Dataset, keyword: str, path: Path) -> str:
    """Return a required UID/ID element, or raise naming the file and the element.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    keyword : str
        The element keyword, e.g. ``"StudyInstanceUID"``.
    path : Path
        The file, for the message.

    Returns
    -------
    str
        The stripped value.
    """
    value = text_value(ds, keyword)
    if not value:
        raise dicom_problem(
            path, _("the required element {keyword} is missing or empty").format(keyword=keyword)
        )
    return value


def scanner_from(
    ds: Dataset, manufacturer: Manufacturer, notes: list[ImportNote]
) -> ScannerIdentity:
    """Return the scanner that wrote the dataset.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    manufacturer : Manufacturer
        The normalised manufacturer.
    notes : list of ImportNote
        Receives a warning when the serial number is missing.

    Returns
    -------
    ScannerIdentity
        Model, serial, software version, station and institution as written.
    """
    serial = text_value(ds, "DeviceSerialNumber")
    if not serial:
        notes.append(
            ImportNote(
                _("DeviceSerialNumber is missing; scanners of this model cannot be told apart.")
            )
        )
    return ScannerIdentity(
        manufacturer=manufacturer,
        model=text_value(ds, "ManufacturerModelName"),
        serial=serial,
        software_version=text_value(ds, "SoftwareVersions"),
        station_name=text_value(ds, "StationName"),
        institution_name=text_value(ds, "InstitutionName"),
    )


def patient_from(ds: Dataset, path: Path, notes: list[ImportNote]) -> PatientIdentity:
    """Return the patient of the dataset (CPR numbers normalised to ``DDMMYY-SSSS``).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    path : Path
        The file, for the error message.
    notes : list of ImportNote
        Receives a note about an unreadable birth date.

    Returns
    -------
    PatientIdentity
        The patient.

    Raises
    ------
    ImportProblemError
        When PatientID is missing.
    """
    identifier = require_value(ds, "PatientID", path)
    cpr = normalise_cpr(identifier)
    birth_text = text_value(ds, "PatientBirthDate")
    birth = parse_da(birth_text)
    if birth_text and birth is None:
        notes.append(
            ImportNote(
                _("PatientBirthDate '{value}' is not a date; ignored.").format(value=birth_text)
            )
        )
    sex_text = text_value(ds, "PatientSex").upper()
    sex = {"F": Sex.FEMALE, "M": Sex.MALE, "O": Sex.OTHER}.get(sex_text)
    return PatientIdentity(
        identifier=cpr or identifier,
        id_type=IdType.CPR if cpr else IdType.OTHER,
        name=person_name(ds.get("PatientName")),
        birth_date=birth,
        sex=sex,
        # a PatientID that is not a CPR number is only valid for its issuer (issue 13)
        scope="" if cpr else f"dicom:{text_value(ds, 'IssuerOfPatientID')}",
    )


def _float_or_none(text: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _finite_or_none(ds: Dataset, keyword: str, notes: list[ImportNote]) -> float | None:
    """Return a DS value as a number; NaN and infinities are ignored with a note."""
    text = text_value(ds, keyword)
    value = _float_or_none(text)
    if value is not None and not math.isfinite(value):
        notes.append(
            ImportNote(
                _("{keyword} '{value}' is not a finite number; ignored.").format(
                    keyword=keyword, value=text
                )
            )
        )
        return None
    return value


def study_from(ds: Dataset, path: Path, notes: list[ImportNote]) -> StudyInfo:
    """Return the study of the dataset (height from PatientSize in metres, weight in kg).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    path : Path
        The file, for the error message.
    notes : list of ImportNote
        Receives notes about fallbacks.

    Returns
    -------
    StudyInfo
        The study.

    Raises
    ------
    ImportProblemError
        When StudyInstanceUID is missing, or no study/series/acquisition/content date exists.
    """
    study_uid = require_value(ds, "StudyInstanceUID", path)
    study_date = parse_da(text_value(ds, "StudyDate"))
    if study_date is None:
        when = acquisition_datetime(ds, [])
        if when is None:
            raise dicom_problem(path, _("the file holds no study or acquisition date"))
        study_date = when.date()
        notes.append(ImportNote(_("No StudyDate; the acquisition date was used."), "info"))
    height = _finite_or_none(ds, "PatientSize", notes)
    if height is not None:
        if height > 3.0:  # some systems write centimetres
            notes.append(ImportNote(_("PatientSize looks like centimetres; read as such."), "info"))
        else:
            height = height * 100.0
        height = round(height, 4)
    return StudyInfo(
        study_uid=study_uid,
        study_date=study_date,
        accession=text_value(ds, "AccessionNumber"),
        referrer=person_name(ds.get("ReferringPhysicianName")),
        indication=text_value(ds, "AdmittingDiagnosesDescription"),
        height_cm=height or None,
        weight_kg=_finite_or_none(ds, "PatientWeight", notes) or None,
    )


def image_record(
    ds: Dataset,
    path: Path,
    kind: str,
    note: str,
    *,
    analysis: AnalysisStatus | None = None,
    analysis_detail: str = "",
    side: Side | None = None,
) -> ImageRecord:
    """Return the ImageRecord of an instance (SOP UIDs, size, file, what the modality recorded).

    Besides the SOP UIDs, size, file path and SHA-256 the record keeps the body part
    (BodyPartExamined), the protocol (ProtocolName, else PerformedProcedureStepDescription),
    the software version that made this instance (SoftwareVersions) and the exposure and
    dose attributes (:func:`exposure_from`).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    path : Path
        The file.
    kind : str
        What the instance is (``"vfa"``, ``"hip_image"``, ``"sr"``, ...).
    note : str
        A note kept with the image.
    analysis : AnalysisStatus, optional
        What became of the vendor analysis data the instance carried.
    analysis_detail : str
        When the analysis was not understood: the private creator and element present.
    side : Side, optional
        The side the reader found (Laterality, ImageLaterality or the protocol name);
        by default Laterality, else ImageLaterality.

    Returns
    -------
    ImageRecord
        The record.
    """

    def _int(keyword: str) -> int | None:
        value = ds.get(keyword)
        return int(value) if isinstance(value, int) else None

    return ImageRecord(
        sop_instance_uid=text_value(ds, "SOPInstanceUID"),
        sop_class_uid=text_value(ds, "SOPClassUID"),
        kind=kind,
        rows=_int("Rows"),
        columns=_int("Columns"),
        bits_allocated=_int("BitsAllocated"),
        file_path=str(path),
        sha256=parsed_sha256(path),
        note=note,
        side=side if side is not None else laterality_of(ds),
        body_part=text_value(ds, "BodyPartExamined"),
        protocol=text_value(ds, "ProtocolName")
        or text_value(ds, "PerformedProcedureStepDescription"),
        software_version=text_value(ds, "SoftwareVersions"),
        exposure=exposure_from(ds),
        analysis=analysis,
        analysis_detail=analysis_detail,
    )


def laterality_of(ds: Dataset) -> Side | None:
    """Return the side in Laterality, else ImageLaterality (``L``/``R``), or None."""
    for keyword in ("Laterality", "ImageLaterality"):
        value = text_value(ds, keyword).upper()
        if value in ("L", "R"):
            return Side(value)
    return None


#: Exposure and dose attributes kept per image (the EU Euratom directive 2013/59 asks for the
#: patient exposure in the report); read at the top level and in ExposureDoseSequence items.
EXPOSURE_KEYWORDS: Final[tuple[str, ...]] = (
    "KVP",
    "XRayTubeCurrent",
    "XRayTubeCurrentInmA",
    "XRayTubeCurrentInuA",
    "ExposureTime",
    "ExposureTimeInms",
    "ExposureTimeInuS",
    "Exposure",
    "ExposureInmAs",
    "ExposureInuAs",
    "RadiationMode",
    "FilterType",
    "FilterMaterial",
    "ImageAndFluoroscopyAreaDoseProduct",
    "EntranceDose",
    "EntranceDoseInmGy",
    "ExposedArea",
    "OrganDose",
    "OrganExposed",
    "DistanceSourceToDetector",
    "DistanceSourceToPatient",
    "DistanceSourceToEntrance",
    "RelativeXRayExposure",
    "ExposureIndex",
    "TargetExposureIndex",
    "DeviationIndex",
    "TotalNumberOfExposures",
    "CommentsOnRadiationDose",
)


@cache
def _exposure_tags() -> tuple[tuple[str, int], ...]:
    """:data:`EXPOSURE_KEYWORDS` with their tags."""
    return tuple((k, tag) for k in EXPOSURE_KEYWORDS if (tag := _keyword_tag(k)) is not None)


def exposure_from(ds: Dataset) -> tuple[tuple[str, str], ...]:
    """Return the exposure and dose attributes the modality recorded, as written.

    Parameters
    ----------
    ds : Dataset
        The dataset.

    Returns
    -------
    tuple of (str, str)
        ``(keyword, value)`` pairs in :data:`EXPOSURE_KEYWORDS` order, top level first, then
        each ExposureDoseSequence item's as ``ExposureDoseSequence[n].Keyword`` (n from 1).
        Absent and empty attributes are left out.
    """
    out: list[tuple[str, str]] = []

    def take(item: Dataset, prefix: str) -> None:
        present = item._dict  # most of the keywords are absent: skip them by tag
        for keyword, tag in _exposure_tags():
            if tag in present:
                value = text_value(item, keyword)
                if value:
                    out.append((prefix + keyword, value))

    take(ds, "")
    for n, item in enumerate(ds.get("ExposureDoseSequence") or [], start=1):
        take(item, f"ExposureDoseSequence[{n}].")
    return tuple(out)


def source_identity_from(ds: Dataset) -> SourceIdentity:
    """Return the patient and study identity of a dataset exactly as the modality sent it.

    Nothing is normalised: PatientID keeps its form (``0101509990`` stays without a
    hyphen), PatientName and ReferringPhysicianName keep their PN text (``^`` components,
    ``=`` groups), dates and times keep their DA/TM text.

    Parameters
    ----------
    ds : Dataset
        The dataset.

    Returns
    -------
    SourceIdentity
        The identity, ``source="dicom"``.
    """
    return SourceIdentity(
        source="dicom",
        patient_id=text_value(ds, "PatientID"),
        study_uid=text_value(ds, "StudyInstanceUID"),
        issuer_of_patient_id=text_value(ds, "IssuerOfPatientID"),
        patient_name=text_value(ds, "PatientName"),
        character_set=text_value(ds, "SpecificCharacterSet"),
        birth_date=text_value(ds, "PatientBirthDate"),
        sex=text_value(ds, "PatientSex"),
        accession=text_value(ds, "AccessionNumber"),
        study_id=text_value(ds, "StudyID"),
        study_date=text_value(ds, "StudyDate"),
        study_time=text_value(ds, "StudyTime"),
        referring_physician=text_value(ds, "ReferringPhysicianName"),
    )


def tag_text(tag: int) -> str:
    """Return a tag as ``(gggg,eeee)``."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


@dataclass(frozen=True, slots=True)
class PrivateElement:
    """A private data element found through its creator."""

    creator: str
    tag: int
    vr: str
    value: Any

    @property
    def offset(self) -> int:
        """The element offset within its block (0x00..0xFF)."""
        return self.tag & 0xFF

    @property
    def size(self) -> int:
        """The length of the value (bytes, or characters of text)."""
        value = self.value
        if isinstance(value, bytes | str):
            return len(value)
        return len(text_of(value))

    def describe(self) -> str:
        """Return ``CREATOR (gggg,eeee)``, e.g. ``HOLOGIC (0021,1101)``."""
        return f"{self.creator} {tag_text(self.tag)}"

    def text(self) -> str:
        """Return the value as text (bytes decoded as UTF-8, else Latin-1)."""
        value = self.value
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8").strip("\0 ")
            except UnicodeDecodeError:
                return value.decode("latin-1").strip("\0 ")
        return text_of(value)


def private_elements(ds: Dataset) -> list[PrivateElement]:
    """Return every private data element of the top level with the creator of its block.

    Private creator elements themselves are left out; an element whose block has no
    creator gets the creator ``"?"``.

    Parameters
    ----------
    ds : Dataset
        The dataset.

    Returns
    -------
    list of PrivateElement
        In tag order.
    """
    out: list[PrivateElement] = []
    # tags as ints (iterating a Dataset yields elements; BaseTag compares in Python)
    for tag in sorted(map(int, ds.keys())):
        group, elem = tag >> 16, tag & 0xFFFF
        if group % 2 == 0 or elem < 0x1000 or group <= 0x0008:
            continue
        element: DataElement = ds[tag]
        out.append(PrivateElement(private_creator(ds, tag), tag, str(element.VR), element.value))
    return out


def private_creator(ds: Dataset, tag: int) -> str:
    """Return the creator of the private block an element is in ("?" when it has none).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    tag : int
        A private element's tag (odd group, element 0x1000 or above).

    Returns
    -------
    str
        The text of the block's private creator element, or ``"?"``.
    """
    creator_tag = (tag & 0xFFFF0000) | ((tag & 0xFFFF) >> 8)
    return _element_text(ds, creator_tag) if creator_tag in ds._dict else "?"


def looks_like_results(text: str) -> bool:
    """Return True when private text may hold analysis results (XML, tables, BMD values)."""
    stripped = text.lstrip("\ufeff \r\n\t")
    lower = stripped.lower()
    return stripped.startswith("<") or "bmd" in lower or "result" in lower or len(stripped) >= 64


def _levels(regions: Collection[Region]) -> str:
    return ",".join(r.value for r in VERTEBRAE if r in regions) or "-"


def label_spine_total(
    results: Sequence[RegionResult], where: str, notes: list[ImportNote]
) -> tuple[RegionResult, ...]:
    """Label an AP spine total from the vertebrae actually included (as the APEX reader does).

    A total over L1-L4 stays ``L1-L4``; with L1 excluded (L2, L3 and L4 included) it is
    ``L2-L4`` (when the source also gave an ``L2-L4`` row, that row is kept and the total is
    not stored twice); over any other set of vertebrae no region stands for it, so the
    vertebrae are imported and the total is named in a note with its numbers, never
    stored as ``L1-L4``. A total without vertebra rows stays ``L1-L4``.

    Parameters
    ----------
    results : sequence of RegionResult
        The results of one AP spine scan.
    where : str
        The scan, for the notes.
    notes : list of ImportNote
        Receives a note when the total was relabelled or left out.

    Returns
    -------
    tuple of RegionResult
        The results, the total relabelled or left out.
    """
    total = next((r for r in results if r.region is Region.L1_L4), None)
    vertebrae = [r for r in results if r.region.is_vertebra]
    if total is None or not vertebrae:
        return tuple(results)
    included = {r.region for r in vertebrae if r.included}
    if included == set(VERTEBRAE):
        return tuple(results)
    others = tuple(r for r in results if r is not total)
    if included == {Region.L2, Region.L3, Region.L4}:
        if any(r.region is Region.L2_L4 for r in others):
            notes.append(
                ImportNote(
                    _(
                        "{where}: L1 is excluded, so the spine total is L2-L4; the L2-L4 row"
                        " of the source was kept and the total not stored twice."
                    ).format(where=where),
                    "info",
                )
            )
            return others
        notes.append(
            ImportNote(
                _("{where}: L1 is excluded, so the spine total is labelled L2-L4.").format(
                    where=where
                ),
                "info",
            )
        )
        return tuple(
            dataclasses.replace(r, region=Region.L2_L4) if r is total else r for r in results
        )
    bmd = "-" if total.bmd_g_cm2 is None else f"{total.bmd_g_cm2:.3f}"
    notes.append(
        ImportNote(
            _(
                "{where}: the spine total (BMD {bmd} g/cm², T {t}, Z {z}) is over {levels},"
                " which no region stands for; only the vertebrae were imported."
            ).format(
                where=where,
                bmd=bmd,
                t="-" if total.vendor_t is None else f"{total.vendor_t:.1f}",
                z="-" if total.vendor_z is None else f"{total.vendor_z:.1f}",
                levels=_levels(included),
            )
        )
    )
    return others


def parse_number(text: str) -> float | None:
    """Return a vendor number (``"0,812"`` or ``"0.812"``), or None for blank/dash/garbage."""
    cleaned = text.strip().replace(",", ".")
    if cleaned in ("", "-", "--", "n/a", "N/A", "NA"):
        return None
    try:
        return float(cleaned)
    except ValueError:
        return None


def parse_flag(text: str) -> bool | None:
    """Return a yes/no flag (1/0, yes/no, true/false, y/n, x); None when blank or unknown."""
    value = text.strip().lower()
    if value in ("1", "yes", "y", "true", "t", "x", "included", "ja", "j"):
        return True
    if value in ("0", "no", "n", "false", "f", "excluded", "nej"):
        return False
    return None


_REGIONS_ANY: Final[dict[str, Region]] = {
    **{r.value.lower(): r for r in Region},
    "l1": Region.L1,
    "l2": Region.L2,
    "l3": Region.L3,
    "l4": Region.L4,
    "l1-l4": Region.L1_L4,
    "l2-l4": Region.L2_L4,
    "neck": Region.FEMORAL_NECK,
    "troch": Region.TROCHANTER,
    "inter": Region.INTERTROCHANTER,
    "intertroch": Region.INTERTROCHANTER,
    "wards": Region.WARDS,
    "ward's": Region.WARDS,
    "r 1/3": Region.RADIUS_33,
    "1/3": Region.RADIUS_33,
    "radius 1/3": Region.RADIUS_33,
    "r ud": Region.RADIUS_UD,
    "ud": Region.RADIUS_UD,
    "radius ud": Region.RADIUS_UD,
    "r total": Region.RADIUS_TOTAL,
    "radius total": Region.RADIUS_TOTAL,
}


def region_of(
    name: str, scan_type: ScanType, by_type: dict[ScanType, dict[str, Region]]
) -> Region | None:
    """Return the Region of a vendor region name, or None when unknown.

    Parameters
    ----------
    name : str
        The vendor's region name (case-insensitive).
    scan_type : ScanType
        The scan it belongs to (decides what ``Total`` means).
    by_type : dict
        Scan-type specific names (lower case); looked up before the common names.

    Returns
    -------
    Region or None
        The region.
    """
    key = " ".join(name.strip().lower().split())
    return by_type.get(scan_type, {}).get(key) or _REGIONS_ANY.get(key)
