"""The import's own decoding of raw DICOM text gives exactly what pydicom's decoding gives."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from dxa_app.ingest import dicom_common
from dxa_app.ingest.dicom_common import text_of, text_value

#: (keyword, VR) of one element per value representation the fast way decodes.
ELEMENTS = [
    ("PatientAge", "AS"),
    ("Modality", "CS"),
    ("StudyDate", "DA"),
    ("AcquisitionDateTime", "DT"),
    ("StudyTime", "TM"),
    ("StationAETitle", "AE"),
    ("StudyInstanceUID", "UI"),
    ("AccessionNumber", "SH"),
    ("PatientID", "LO"),
    ("StudyDescription", "LO"),
    ("ImageComments", "LT"),
    ("InstitutionAddress", "ST"),
    ("PixelDataProviderURL", "UR"),  # not a fast VR: pydicom decodes it
    ("SoftwareVersions", "LO"),
]


def _file(values: dict[str, bytes]) -> bytes:
    """An explicit-VR little-endian Part 10 file holding ``values`` as written bytes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _write(values)


def _write(values: dict[str, bytes]) -> bytes:
    ds = Dataset()
    for keyword, _vr in ELEMENTS:
        if keyword in values:
            setattr(ds, keyword, "x")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.7")
    meta.MediaStorageSOPInstanceUID = UID("1.2.3")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    # rewrite each value's bytes by reading the file raw and re-encoding the element
    raw = dcmread(io.BytesIO(buf.getvalue()))
    for keyword, value in values.items():
        raw[keyword].value = value  # bytes are written as they are
    out = io.BytesIO()
    raw.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _both(data: bytes, keyword: str) -> tuple[tuple[str, list[str]], tuple[str, list[str]]]:
    """(text, warnings) from the fast way and from pydicom, each on a fresh parse."""
    with warnings.catch_warnings(record=True) as fast_warned:
        warnings.simplefilter("always")
        fast = text_value(dcmread(io.BytesIO(data)), keyword)
    with warnings.catch_warnings(record=True) as slow_warned:
        warnings.simplefilter("always")
        ds = dcmread(io.BytesIO(data))
        slow = text_of(ds[keyword].value) if keyword in ds else ""
    return (fast, [str(w.message) for w in fast_warned]), (
        slow,
        [str(w.message) for w in slow_warned],
    )


PIECES = st.sampled_from(
    [b"A", b"b", b" ", b"\0", b"\\", b"1", b".", b"^", b"-", b"\xc3\xa6", b"\x1b", b"\t", b"\n"]
)


@settings(max_examples=300, deadline=None)
@given(
    index=st.integers(0, len(ELEMENTS) - 1),
    pieces=st.lists(PIECES, max_size=24),
)
def test_fast_text_equals_pydicom_text_and_warnings(index: int, pieces: list[bytes]) -> None:
    keyword, _vr = ELEMENTS[index]
    value = b"".join(pieces)
    if len(value) % 2:
        value += b" "  # DICOM values have even length
    data = _file({keyword: value})
    fast, slow = _both(data, keyword)
    assert fast == slow


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("Modality", b"OT "),
        ("SoftwareVersions", b"APEX 5.6\\Scanner 13.6 "),
        ("StudyInstanceUID", b"1.2.840.1\0"),
        ("PatientID", b" 010190-1234 "),
        ("StudyDescription", b"far too long a description for a LO element of 64 chars!! "),
        ("ImageComments", b"a\\b "),
        ("Modality", b"lower\\two"),
        ("StationAETitle", b" AE\\B\0"),
    ],
)
def test_known_values_read_alike(keyword: str, value: bytes) -> None:
    fast, slow = _both(_file({keyword: value}), keyword)
    assert fast == slow
    assert fast[0] != ""


def test_every_text_of_the_demo_files_reads_alike(demo_files: Path) -> None:
    """Every fast-decoded element of the demo DICOM files: same text, same warnings."""
    seen = 0
    for path in sorted(demo_files.rglob("*.dcm"))[:60]:
        data = path.read_bytes()
        fast_ds, slow_ds = dcmread(io.BytesIO(data)), dcmread(io.BytesIO(data))
        keywords = [e.keyword for e in dcmread(io.BytesIO(data)) if e.VR in dicom_common._FAST_VRS]
        for keyword in filter(None, keywords):
            with warnings.catch_warnings(record=True) as fast_warned:
                warnings.simplefilter("always")
                fast = text_value(fast_ds, keyword)
            with warnings.catch_warnings(record=True) as slow_warned:
                warnings.simplefilter("always")
                slow = text_of(slow_ds[keyword].value)
            assert fast == slow, (path.name, keyword)
            assert [str(w.message) for w in fast_warned] == [str(w.message) for w in slow_warned]
            seen += 1
    assert seen > 100
