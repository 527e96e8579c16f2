"""Issue 16: stored scan images come back as pixels (the viewer) and in the level-B report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest

from dxa_app.demo.dicom_writers import write_ge_image, write_ge_sr
from dxa_app.domain import Manufacturer, Role
from dxa_app.services.images import gray_png, read_pixels, study_image_pixels, window
from dxa_app.services.importing import import_paths
from dxa_app.services.reporting import open_report
from tests.dicom_study import (
    COLUMNS,
    HIP,
    PATIENT,
    ROWS,
    SCANNER,
    SPINE,
    STUDY,
    STUDY_UID,
    put_gradient,
    stored_gradient,
    write_study,
)
from tests.sessions import session_as


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A Hologic study whose spine image is the known gradient, imported."""
    written = write_study(tmp_path / "in")
    put_gradient(written.files[0])
    archive = tmp_path / "a.dxa.sqlite"
    summary = import_paths(session_as(archive, Role.TECHNICIAN, "tech"), [tmp_path / "in"])
    assert summary.counts["imported"] == 3, summary.to_dict()
    return archive


def test_the_stored_spine_image_comes_back_with_its_values_and_window(archive: Path) -> None:
    images = study_image_pixels(session_as(archive, Role.PHYSICIAN, "laege"), STUDY_UID)
    assert [i.kind for i in images] == ["ap_spine_image", "hip_image", "vfa"]
    spine = images[0]
    assert spine.problem == "" and spine.values is not None
    assert spine.shape == (ROWS, COLUMNS)
    # the modality LUT is applied: 2 * stored - 100
    assert np.array_equal(spine.values, 2.0 * stored_gradient() - 100.0)
    assert (spine.center, spine.width) == (150.0, 300.0)
    grey = window(spine.values, spine.center, spine.width)
    assert grey.dtype == np.uint8 and grey.shape == (ROWS, COLUMNS)
    # window 0..300: value -100 (row 0, column 0) is black, 300 and above white
    assert grey[0, 0] == 0
    assert grey[0, 50] == 85  # 2 * 100 - 100 = 100 -> 100 / 300 * 255 = 85
    assert grey[0, 90] == 221  # 2 * 180 - 100 = 260 -> 221
    assert grey[1, 62] == 128  # 2 * 125 - 100 = 150, the level: 127.5 -> 128
    assert grey[ROWS - 1, COLUMNS - 1] == 255  # 2 * 237 - 100 = 374, above the window
    # a narrower window (level 150, width 40: 130 to 170) turns 128 black and 172 white
    narrow = window(spine.values, 150, 40)
    assert narrow[0, 57] == 0 and narrow[0, 68] == 255 and narrow[1, 62] == 128
    # the Hologic secondary capture is RGB: shown as its luminance
    hip = images[1]
    assert hip.values is not None and hip.shape == (64, 64) and hip.side == "L"


def test_a_ge_cr_image_in_monochrome1_is_shown_bright_where_dense(tmp_path: Path) -> None:
    scanner = dataclasses.replace(SCANNER, manufacturer=Manufacturer.GE_LUNAR, model="Lunar iDXA")
    folder = tmp_path / "ge"
    write_ge_sr(
        folder / "sr.dcm",
        scanner,
        PATIENT,
        STUDY,
        (SPINE, HIP),
        series_uid="1.2.3.1",
        sop_instance_uid="1.2.3.1.1",
    )
    path = write_ge_image(
        folder / "img.dcm",
        scanner,
        PATIENT,
        STUDY,
        protocol_name="AP Spine",
        series_uid="1.2.3.1",
        sop_instance_uid="1.2.3.1.2",
        acquired_at=dt.datetime(2026, 3, 4, 9),
    )
    ds = pydicom.dcmread(path)
    assert ds.Modality == "CR"
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.Rows, ds.Columns = 2, 3
    ds.PixelData = bytes([0, 10, 20, 30, 40, 50])
    ds.save_as(path, enforce_file_format=True)
    values, center, width = read_pixels(path) or (None, 0, 0)
    assert values is not None
    assert values.tolist() == [[50, 40, 30], [20, 10, 0]]  # inverted: 0 is white in MONOCHROME1
    assert (center, width) == (25.0, 50.0)  # no window in the file: the range of the values
    archive = tmp_path / "ge.dxa.sqlite"
    import_paths(session_as(archive, Role.TECHNICIAN, "tech"), [folder])
    (image,) = study_image_pixels(session_as(archive, Role.TECHNICIAN, "tech"), STUDY_UID)
    assert image.kind == "ap_spine_image" and image.shape == (2, 3)
    assert image.values is not None
    assert window(image.values, center, width).tolist() == [[255, 204, 153], [102, 51, 0]]


def test_a_missing_stored_file_is_named_not_a_crash(archive: Path) -> None:
    for p in archive.with_name(archive.name + "-images").rglob("*.dcm"):
        p.chmod(0o600)
        p.unlink()
    images = study_image_pixels(session_as(archive, Role.TECHNICIAN, "tech"), STUDY_UID)
    assert len(images) == 3 and all(i.values is None for i in images)
    assert "missing" in images[0].problem and "backup" in images[0].problem


def test_gray_png_is_a_png_of_the_same_pixels(tmp_path: Path) -> None:
    from PIL import Image

    grey = window(np.arange(12, dtype=float).reshape(3, 4), 5.5, 11)
    (tmp_path / "g.png").write_bytes(gray_png(grey))
    with Image.open(tmp_path / "g.png") as img:
        assert img.mode == "L" and img.size == (4, 3)
        assert np.array_equal(np.asarray(img), grey)


def test_the_level_b_report_prints_the_spine_and_hip_images(archive: Path, tmp_path: Path) -> None:
    doctor = session_as(archive, Role.PHYSICIAN, "laege")
    pdf_b = tmp_path / "b.pdf"
    pdf_b.write_bytes(open_report(doctor, STUDY_UID, lang="da", level="B")[1])
    pdf_a = tmp_path / "a.pdf"
    pdf_a.write_bytes(open_report(doctor, STUDY_UID, lang="da", level="A")[1])
    listed = subprocess.run(
        ["pdfimages", "-list", str(pdf_b)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    sizes = sorted((int(line.split()[3]), int(line.split()[4])) for line in listed)
    # the spine (100 x 40 gradient) and the left hip (64 x 64), grey, 8 bits
    assert sizes == [(64, 64), (COLUMNS, ROWS)]
    assert all(line.split()[5] == "gray" and line.split()[7] == "8" for line in listed)
    images_a = subprocess.run(
        ["pdfimages", "-list", str(pdf_a)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    assert images_a == []  # level A prints no image
    text = subprocess.run(
        ["pdftotext", str(pdf_b), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Skanningsbilleder" in text and "Hoftebillede, venstre" in text
    # the spine image as printed: its pixels are the windowed gradient
    out = tmp_path / "img"
    subprocess.run(["pdfimages", "-png", str(pdf_b), str(out)], check=True)
    from PIL import Image

    shown = [np.asarray(Image.open(p)) for p in sorted(tmp_path.glob("img-*.png"))]
    spine = next(a for a in shown if a.shape == (ROWS, COLUMNS))
    expected = window(2.0 * stored_gradient() - 100.0, 150, 300)
    assert np.array_equal(spine, expected)
