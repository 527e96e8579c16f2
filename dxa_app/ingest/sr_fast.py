"""A fast path for the content tree of a DICOM structured report.

pydicom turns every element of a nested sequence into objects on first use, which makes a
structured report (a content tree of a few hundred small elements nested eight deep) cost
about ten times a plain image to read. This module reads the raw bytes of one sequence
element (explicit VR, defined or undefined lengths) into plain :class:`SrItem` objects holding
decoded values by tag: text as ``str``, numbers as ``float``/``int``, sequences as lists.

It reads only what it fully understands: any other value representation, an implicit VR
or a multi-byte character set, a length that runs past its parent, or text that cannot be
decoded makes :func:`fast_sequence` return None, and the caller falls back to pydicom (which
then refuses a damaged file or notes an odd value as before). The file's structure was
already checked whole (nesting depth included) before pydicom parsed it.
"""

from __future__ import annotations

import struct
from functools import cache
from typing import Any, Final

from pydicom.charset import convert_encodings
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

__all__ = ["SrItem", "fast_sequence"]

_UNDEFINED: Final = 0xFFFFFFFF
_ITEM: Final = 0xFFFEE000
_ITEM_END: Final = 0xFFFEE00D
_SEQUENCE_END: Final = 0xFFFEE0DD
_LONG_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN"}) | {
    "UR",
    "UT",
    "UV",
}
#: Text kept as written apart from padding (no backslash splitting matters to the readers).
_ASCII_VRS: Final = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI", "UR"})
_CHARSET_VRS: Final = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
_NUMBER_TEXT_VRS: Final = frozenset({"DS", "IS"})
_BINARY: Final[dict[str, tuple[str, int]]] = {
    "FD": ("d", 8),
    "FL": ("f", 4),
    "US": ("H", 2),
    "SS": ("h", 2),
    "UL": ("I", 4),
    "SL": ("i", 4),
}
#: Single-byte character sets pydicom names by one Python codec (no ISO 2022 escapes).
_ISO2022: Final = frozenset({"iso2022_jp", "iso2022_jp_2", "iso-2022-jp", "iso_ir_87", "euc_kr"})


class _Unsupported(Exception):
    """The bytes hold something this fast path does not read; use pydicom."""


class SrItem:
    """One sequence item read by the fast path: its values by tag, already decoded.

    Parameters
    ----------
    values : dict
        Tag -> value (``str``, ``float``, ``int``, a list of numbers, or a list of
        :class:`SrItem` for a sequence); an empty numeric value is None.
    """

    __slots__ = ("values",)

    def __init__(self, values: dict[int, Any]) -> None:
        self.values = values

    def __contains__(self, tag: object) -> bool:
        return tag in self.values


def _codec(ds: Dataset) -> str:
    """The Python codec of the data set's text, or raise when it is not one single codec."""
    raw = ds._dict.get(0x00080005)  # type: ignore[call-overload]
    if raw is None:
        return "iso8859"
    value = ds[0x00080005].value
    codecs = convert_encodings(value)
    if len(codecs) != 1 or codecs[0].lower() in _ISO2022:
        raise _Unsupported
    return str(codecs[0])


@cache
def _vr_text(raw: bytes) -> str:
    """The two bytes of a value representation as text (a handful of distinct ones)."""
    return raw.decode("ascii", "replace")


class _Reader:
    """Reads explicit VR items from ``data`` (little or big endian) into SrItems."""

    def __init__(self, data: bytes, little: bool, codec: str) -> None:
        self.data = data
        self.end = "<" if little else ">"
        self.codec = codec
        # compiled once (a format string is parsed again on every struct call)
        self._hh = struct.Struct(self.end + "HH").unpack_from
        self._i = struct.Struct(self.end + "I").unpack_from
        self._h = struct.Struct(self.end + "H").unpack_from

    def _u16(self, pos: int) -> int:
        return int(self._h(self.data, pos)[0])

    def _u32(self, pos: int) -> int:
        return int(self._i(self.data, pos)[0])

    def _tag(self, pos: int) -> int:
        group, elem = self._hh(self.data, pos)
        return int((group << 16) | elem)

    def items(self, pos: int, stop: int | None) -> tuple[list[SrItem], int]:
        """Read items from ``pos`` until ``stop`` (defined length) or a sequence delimiter."""
        out: list[SrItem] = []
        while stop is None or pos < stop:
            if pos + 8 > len(self.data):
                raise _Unsupported
            tag, length = self._tag(pos), self._u32(pos + 4)
            pos += 8
            if tag == _SEQUENCE_END:
                if stop is not None:
                    raise _Unsupported
                return out, pos
            if tag != _ITEM:
                raise _Unsupported
            item_stop = None if length == _UNDEFINED else pos + length
            values, pos = self.elements(pos, item_stop)
            out.append(SrItem(values))
        if pos != stop:
            raise _Unsupported
        return out, pos

    def elements(self, pos: int, stop: int | None) -> tuple[dict[int, Any], int]:
        """Read the elements of one item from ``pos`` until ``stop`` or an item delimiter."""
        values: dict[int, Any] = {}
        data = self.data
        while stop is None or pos < stop:
            if pos + 8 > len(data):
                raise _Unsupported
            tag = self._tag(pos)
            if tag == _ITEM_END:
                if stop is not None:
                    raise _Unsupported
                return values, pos + 8
            vr = _vr_text(data[pos + 4 : pos + 6])
            if vr in _LONG_VRS:
                length = self._u32(pos + 8)
                pos += 12
            else:
                length = self._u16(pos + 6)
                pos += 8
            if vr == "SQ":
                seq_stop = None if length == _UNDEFINED else pos + length
                values[tag], pos = self.items(pos, seq_stop)
                continue
            if length == _UNDEFINED or pos + length > (len(data) if stop is None else stop):
                raise _Unsupported
            values[tag] = self.value(vr, data[pos : pos + length])
            pos += length
        if pos != stop:
            raise _Unsupported
        return values, pos

    def value(self, vr: str, raw: bytes) -> Any:
        """Decode one value as pydicom would for the readers' purposes."""
        if vr in _ASCII_VRS:
            return raw.decode("ascii").strip("\0 ")
        if vr in _CHARSET_VRS:
            return raw.decode(self.codec).rstrip("\0 ")
        if vr in _NUMBER_TEXT_VRS:
            text = raw.decode("ascii").strip("\0 ")
            return text or None
        if vr in _BINARY:
            code, size = _BINARY[vr]
            if len(raw) % size:
                raise _Unsupported
            numbers = list(struct.unpack(f"{self.end}{len(raw) // size}{code}", raw))
            if not numbers:
                return None
            return numbers[0] if len(numbers) == 1 else numbers
        raise _Unsupported


def fast_sequence(ds: Dataset, tag: int) -> list[SrItem] | None:
    """Return the items of the sequence ``tag`` of ``ds`` read by the fast path, or None.

    Parameters
    ----------
    ds : Dataset
        A data set read from a file (the sequence still in its raw form).
    tag : int
        The sequence's tag, e.g. ``0x0040A730`` (ContentSequence).

    Returns
    -------
    list of SrItem or None
        The items, or None when the element is absent, already decoded, of implicit VR,
        in a multi-byte character set or holds anything the fast path does not read.
    """
    raw = ds._dict.get(tag)  # type: ignore[call-overload]
    if not isinstance(raw, RawDataElement) or raw.is_implicit_VR or raw.VR != "SQ":
        return None
    if not isinstance(raw.value, bytes):
        return None
    try:
        reader = _Reader(raw.value, raw.is_little_endian, _codec(ds))
        items, _end = reader.items(0, len(raw.value))
    except (_Unsupported, struct.error, UnicodeDecodeError, LookupError, ValueError):
        return None
    return items
