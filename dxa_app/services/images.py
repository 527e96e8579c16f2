"""A study's stored images: their files in the image store, and the patient exposure recorded.

The EU Euratom directive 2013/59 asks that the report give information on the patient's
exposure; the scanner records it per image (kV, tube current, exposure time, entrance dose,
dose-area product). :func:`study_exposure` returns what each image recorded and
:func:`exposure_line` makes the report's one-line summary of it.

:func:`study_image_pixels` reads each stored image's pixels (pydicom, the modality LUT applied)
for the study view's viewer, :func:`window` maps them to 8-bit grey for a window/level, and
:func:`gray_png` encodes that grey image for the level-B report.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pydicom
import pydicom.errors
from pydicom.multival import MultiValue

from dxa_app.archive.images import store_folder
from dxa_app.archive.studies import ImageRow, study_id_for, study_images
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting
from reports.labels import recorded_number, side_label

#: Dose attributes printed in the report, with their units (in this order; the first found
#: per image is printed, with the technique factors only when no dose attribute exists).
_DOSE_UNITS: Final[tuple[tuple[str, str], ...]] = (
    ("ImageAndFluoroscopyAreaDoseProduct", "dGy·cm²"),
    ("EntranceDoseInmGy", "mGy"),
    ("EntranceDose", "dGy"),
    ("OrganDose", "Gy"),
)
_TECHNIQUE_UNITS: Final[tuple[tuple[str, str], ...]] = (
    ("KVP", "kV"),
    ("XRayTubeCurrentInuA", "µA"),
    ("XRayTubeCurrent", "mA"),
    ("ExposureTime", "ms"),
)


@dataclass(frozen=True)
class ImageExposure:
    """The exposure and dose attributes one image recorded.

    ``attributes`` are ``(DICOM keyword, value)`` pairs as the modality wrote them;
    ExposureDoseSequence items are keyed ``ExposureDoseSequence[n].Keyword``.
    """

    sop_instance_uid: str
    kind: str
    body_part: str
    protocol: str
    side: str | None
    software_version: str
    attributes: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "sop_instance_uid": self.sop_instance_uid,
            "kind": self.kind,
            "body_part": self.body_part,
            "protocol": self.protocol,
            "side": self.side,
            "software_version": self.software_version,
            "attributes": dict(self.attributes),
        }


def _exposure_of(row: ImageRow) -> ImageExposure:
    return ImageExposure(
        row.sop_instance_uid,
        row.kind,
        row.body_part,
        row.protocol,
        row.side,
        row.software_version,
        row.exposure,
    )


def exposures_of(rows: Sequence[ImageRow]) -> list[ImageExposure]:
    """Return the exposure of each image row that recorded any (no archive access)."""
    return [_exposure_of(r) for r in rows if r.exposure]


def study_exposure(session: Session, study: str | int) -> list[ImageExposure]:
    """Return the exposure and dose attributes each image of a study recorded.

    Parameters
    ----------
    session : Session
        The logged-in user.
    study : str or int
        The study's archive id or Study Instance UID.

    Returns
    -------
    list of ImageExposure
        One per image that recorded any exposure attribute, in import order.

    Raises
    ------
    NotFoundError
        When the study does not exist.
    """
    with acting(session, Permission.VIEW) as db:
        return exposures_of(study_images(db, study_id_for(db, study)))


def _value(attributes: dict[str, str], keyword: str) -> str | None:
    """The value of ``keyword`` at the top level, else in the first exposure item."""
    if keyword in attributes:
        return attributes[keyword]
    for key, value in attributes.items():
        if key.endswith("." + keyword):
            return value
    return None


def _quantity(keyword: str, translate: Callable[[str], str]) -> str:
    """Return a dose or technique attribute's name in words (the keyword when unknown)."""
    words = {
        "ImageAndFluoroscopyAreaDoseProduct": translate("dose-area product"),
        "EntranceDoseInmGy": translate("entrance dose"),
        "EntranceDose": translate("entrance dose"),
        "OrganDose": translate("organ dose"),
        "KVP": translate("tube voltage"),
        "XRayTubeCurrentInuA": translate("tube current"),
        "XRayTubeCurrent": translate("tube current"),
        "ExposureTime": translate("exposure time"),
    }
    return words.get(keyword, keyword)


def _where(e: ImageExposure, translate: Callable[[str], str]) -> str:
    """Return what an image shows in words: its body part (and side), else its protocol."""
    parts = {
        "LSPINE": translate("lumbar spine"),
        "SPINE": translate("spine"),
        "TSPINE": translate("thoracic spine"),
        "HIP": translate("hip"),
        "FOREARM": translate("forearm"),
        "ARM": translate("forearm"),
        "WHOLEBODY": translate("whole body"),
    }
    part = parts.get((e.body_part or "").upper().replace(" ", ""))
    if part is None:
        return e.protocol or e.body_part or e.kind
    side = side_label(e.side, translate) if e.side else ""
    return f"{part}, {side}" if side else part


def exposure_text(
    attributes: Sequence[tuple[str, str]], translate: Callable[[str], str], lang: str = "en"
) -> str:
    """Return one image's recorded exposure in words, e.g. "entrance dose 0,146 mGy, ...".

    Parameters
    ----------
    attributes : sequence of (str, str)
        ``(DICOM keyword, value)`` pairs as stored; an item of a sequence is named
        ``Sequence[1].Keyword``.
    translate : Callable[[str], str]
        The translator of the language shown.
    lang : str
        That language (``da`` writes a decimal comma).

    Returns
    -------
    str
        The quantities with their units, the dose first; unknown attributes keep their
        keyword (never dropped).
    """
    units = dict(_DOSE_UNITS + _TECHNIQUE_UNITS)
    order = [k for k, _unit in _DOSE_UNITS + _TECHNIQUE_UNITS]
    shown: list[tuple[int, str]] = []
    for keyword, value in attributes:
        plain = keyword.rsplit(".", 1)[-1]
        rank = order.index(plain) if plain in order else len(order)
        unit = units.get(plain, "")
        text = f"{_quantity(plain, translate)} {recorded_number(value, lang)} {unit}".strip()
        shown.append((rank, text))
    return ", ".join(text for _rank, text in sorted(shown, key=lambda item: item[0]))


def exposure_line(
    exposures: Sequence[ImageExposure], translate: Callable[[str], str], lang: str = "en"
) -> str | None:
    """Return the report's line on the patient exposure the scanner recorded, or None.

    Per image: its body part and side (else its protocol), then its dose (dose-area
    product, entrance dose or organ dose as recorded, with the unit), or when it recorded no
    dose its technique factors (tube voltage, tube current, exposure time), in words in the
    report's language.

    Parameters
    ----------
    exposures : sequence of ImageExposure
        What :func:`study_exposure` returned.
    translate : Callable[[str], str]
        The report language's translator.
    lang : str
        The report's language (``da`` writes a decimal comma).

    Returns
    -------
    str or None
        The line, or None when no image recorded anything.
    """
    items: list[str] = []
    for e in exposures:
        attributes = dict(e.attributes)
        found = [
            f"{_quantity(keyword, translate)} {recorded_number(value, lang)} {unit}"
            for keyword, unit in _DOSE_UNITS
            if (value := _value(attributes, keyword)) is not None
        ][:1] or [
            f"{_quantity(keyword, translate)} {recorded_number(value, lang)} {unit}"
            for keyword, unit in _TECHNIQUE_UNITS
            if (value := _value(attributes, keyword)) is not None
        ]
        if not found:
            continue
        items.append(f"{_where(e, translate)}: {', '.join(found)}")
    if not items:
        return None
    return translate("Patient exposure recorded by the scanner: {items}.").format(
        items="; ".join(items)
    )


@dataclass(frozen=True)
class StoredImage:
    """One image of a study and its file in the image store."""

    sop_instance_uid: str
    kind: str
    path: Path | None
    sha256: str


def stored_images(session: Session, study: str | int) -> list[StoredImage]:
    """Return a study's images with the path of their copy in the image store.

    The stored copies are the files exactly as received, e.g. to send them on to PACS.

    Parameters
    ----------
    session : Session
        The logged-in user.
    study : str or int
        The study's archive id or Study Instance UID.

    Returns
    -------
    list of StoredImage
        In import order; ``path`` is None for an image imported before the image store
        existed (import its file again to store it).
    """
    with acting(session, Permission.VIEW) as db:
        folder = store_folder(db)
        rows = study_images(db, study_id_for(db, study))
    return [
        StoredImage(
            r.sop_instance_uid,
            r.kind,
            folder / r.stored_path if folder is not None and r.stored_path else None,
            r.sha256,
        )
        for r in rows
    ]


def not_understood_line(rows: Sequence[ImageRow]) -> str | None:
    """Return the study view's line naming images whose analysis data was not understood."""
    details = [
        r.analysis_detail or r.sop_instance_uid for r in rows if r.analysis == "not_understood"
    ]
    if not details:
        return None
    return _("Analysis data not understood (kept as images without results): {what}.").format(
        what="; ".join(details)
    )


#: Image kinds the level-B report prints, in this order (spine first, then the hips).
REPORT_IMAGE_KINDS: Final[tuple[str, ...]] = ("ap_spine_image", "hip_image")


@dataclass(frozen=True, eq=False)
class ImagePixels:
    """The pixels of one stored image, ready to be windowed for display.

    ``values`` is a 2-D float array (rows x columns) with the modality LUT applied
    (RescaleSlope/Intercept), a colour image reduced to its luminance, a MONOCHROME1 image
    inverted so that bright is always dense, and only the first frame of a multi-frame image.
    ``center`` and ``width`` are the default window: the file's first WindowCenter and
    WindowWidth, else the range of the values. ``problem`` says why an image cannot be
    shown (``values`` is then None).
    """

    sop_instance_uid: str
    kind: str
    side: str | None
    values: np.ndarray[Any, np.dtype[np.float64]] | None
    center: float
    width: float
    problem: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns), (0, 0) when there are no values."""
        if self.values is None:
            return (0, 0)
        rows, columns = self.values.shape
        return (int(rows), int(columns))


def window(
    values: np.ndarray[Any, np.dtype[Any]], center: float, width: float
) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Map values to 8-bit grey through a linear window (level ``center``, ``width``).

    ``center - width / 2`` and below is black (0), ``center + width / 2`` and above white
    (255), linear and rounded to the nearest grey level in between.

    Parameters
    ----------
    values : numpy.ndarray
        The pixel values.
    center, width : float
        The window's centre (level) and width; a width below 1 is taken as 1.

    Returns
    -------
    numpy.ndarray
        The grey levels, uint8, the shape of ``values``.
    """
    width = max(float(width), 1.0)
    low = float(center) - width / 2.0
    scaled = (np.asarray(values, dtype=np.float64) - low) / width
    return np.rint(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)


def _first_number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value[0] if isinstance(value, (list, tuple, MultiValue)) else value)
    except (TypeError, ValueError, IndexError):
        return None


def read_pixels(path: Path) -> tuple[np.ndarray[Any, np.dtype[np.float64]], float, float] | None:
    """Read the first frame of a DICOM file's pixel data as display values.

    Parameters
    ----------
    path : Path
        The DICOM file.

    Returns
    -------
    tuple or None
        ``(values, center, width)`` as described in :class:`ImagePixels`, or None when the
        file has no pixel data.

    Raises
    ------
    ValueError
        When the pixel data cannot be decoded (e.g. a compression no installed decoder reads).
    """
    from pydicom.pixels.processing import apply_modality_lut

    ds = pydicom.dcmread(path)
    if "PixelData" not in ds:
        return None
    try:
        arr = np.asarray(ds.pixel_array)
    except Exception as exc:  # pydicom raises several types for pixel data it cannot decode
        raise ValueError(str(exc)) from exc
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if frames > 1:
        arr = arr[0]
    if samples == 3:
        if str(ds.get("PhotometricInterpretation", "")).startswith("YBR"):
            from pydicom.pixels.processing import convert_color_space

            arr = convert_color_space(arr, str(ds.PhotometricInterpretation), "RGB")
        rgb = arr.astype(np.float64)
        values = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    else:
        values = np.asarray(apply_modality_lut(arr, ds), dtype=np.float64)
        if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1":
            values = values.max() + values.min() - values
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"pixel data of shape {values.shape} is not one 2-D image")
    center = _first_number(ds.get("WindowCenter"))
    width = _first_number(ds.get("WindowWidth"))
    if center is None or width is None or width <= 0 or samples == 3:
        low, high = float(values.min()), float(values.max())
        center, width = (low + high) / 2.0, max(high - low, 1.0)
    return values, center, width


def missing_store_text(folder: Path) -> str:
    """Return what to say when an archive's image store folder is not beside it.

    Parameters
    ----------
    folder : Path
        The folder the images are looked for in (``<archive>-images``).

    Returns
    -------
    str
        "The image store is missing: <folder>", and how to bring it back.
    """
    return _(
        "The image store is missing: {path}. The images are kept in that folder beside the"
        " archive file; move or rename the archive together with it (or put it back) to see"
        " them."
    ).format(path=folder)


def _pixels_of(folder: Path | None, row: ImageRow) -> ImagePixels | None:
    def problem(text: str) -> ImagePixels:
        return ImagePixels(row.sop_instance_uid, row.kind, row.side, None, 0.0, 1.0, text)

    if folder is None or not row.stored_path:
        return problem(_("Not in the image store: import its file again to see it."))
    if not folder.is_dir():  # the archive was moved or renamed without its -images folder
        return problem(missing_store_text(folder))
    path = folder / row.stored_path
    if not path.is_file():
        return problem(
            _("The stored file is missing ({path}): restore the image store from a backup.").format(
                path=path
            )
        )
    try:
        read = read_pixels(path)
    except (OSError, ValueError, pydicom.errors.InvalidDicomError) as exc:
        return problem(_("The image cannot be shown: {error}").format(error=exc))
    if read is None:
        return None
    values, center, width = read
    return ImagePixels(row.sop_instance_uid, row.kind, row.side, values, center, width)


def pixels_of_rows(
    folder: Path | None, rows: Sequence[ImageRow], kinds: Sequence[str] | None = None
) -> list[ImagePixels]:
    """Return the pixels of the image rows that have any (no archive access).

    Parameters
    ----------
    folder : Path or None
        The image store folder.
    rows : sequence of ImageRow
        The study's image rows.
    kinds : sequence of str, optional
        Only images of these kinds, in this order of kinds (default: every image, in
        import order).

    Returns
    -------
    list of ImagePixels
        Files without pixel data (structured reports, PDFs) are left out; a missing or
        unreadable file is kept with its ``problem``.
    """
    chosen = list(rows)
    if kinds is not None:
        chosen = [r for kind in kinds for r in rows if r.kind == kind]
    out = [_pixels_of(folder, r) for r in chosen]
    return [p for p in out if p is not None]


def study_image_pixels(session: Session, study: str | int) -> list[ImagePixels]:
    """Return the pixels of each stored image of a study, for the study view's viewer.

    Parameters
    ----------
    session : Session
        The logged-in user.
    study : str or int
        The study's archive id or Study Instance UID.

    Returns
    -------
    list of ImagePixels
        In import order; images without pixel data are left out, a missing or unreadable
        file is kept with the ``problem`` to show instead.

    Raises
    ------
    NotFoundError
        When the study does not exist.
    """
    with acting(session, Permission.VIEW) as db:
        folder = store_folder(db)
        rows = study_images(db, study_id_for(db, study))
    return pixels_of_rows(folder, rows)


def gray_png(grey: np.ndarray[Any, np.dtype[np.uint8]]) -> bytes:
    """Encode an 8-bit grey image as a PNG file (deterministic bytes, no metadata).

    Parameters
    ----------
    grey : numpy.ndarray
        2-D uint8 array (rows x columns).

    Returns
    -------
    bytes
        The PNG file content.
    """
    rows, columns = grey.shape
    raw = b"".join(b"\x00" + bytes(grey[r].tobytes()) for r in range(rows))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", columns, rows, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
