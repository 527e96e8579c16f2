"""A study's stored images: their files in the image store, and the patient exposure recorded.

The EU Euratom directive 2013/59 asks that the report give information on the patient's
exposure; the scanner records it per image (kV, tube current, exposure time, entrance dose,
dose-area product). :func:`study_exposure` returns what each image recorded and
:func:`exposure_line` makes the report's one-line summary of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from dxa_app.archive.images import store_folder
from dxa_app.archive.studies import ImageRow, study_id_for, study_images
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting
from reports.labels import side_label

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


def _figure(value: str, lang: str) -> str:
    """Return a recorded number as written, with a decimal comma in Danish."""
    text = value.strip()
    try:
        float(text)
    except ValueError:
        return text
    return text.replace(".", ",") if lang == "da" else text


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
        text = f"{_quantity(plain, translate)} {_figure(value, lang)} {unit}".strip()
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
            f"{_quantity(keyword, translate)} {_figure(value, lang)} {unit}"
            for keyword, unit in _DOSE_UNITS
            if (value := _value(attributes, keyword)) is not None
        ][:1] or [
            f"{_quantity(keyword, translate)} {_figure(value, lang)} {unit}"
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
