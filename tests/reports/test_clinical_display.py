"""What a physician expects to read: categories, harmonisation, names, scanner, page breaks."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dxa_app.i18n import translator
from reports.labels import person_name, reference_label, scanner_name
from reports.model import ResultRow, ScannerInfo, SignOff
from reports.pdf import render_pdf
from tests.reports.sample import report
from tests.reports.test_pdf import page_count, pdf_text


def _text(lang: str, **changes: Any) -> str:
    return pdf_text(render_pdf(report(lang, **changes), translator(lang)))


def _row(region: str, category: str | None, *, harmonised: bool = True) -> ResultRow:
    side = "left" if "_" in region else None
    return ResultRow(
        region, side, 0.700, 0.731, Decimal("-2.6"), Decimal("-0.8"), True, category, harmonised
    )


def test_category_only_for_the_diagnostic_regions() -> None:
    results = (
        _row("L1", "osteoporosis"),  # a category per vertebra must never be printed
        _row("L1-L4", "low_bone_mass"),
        _row("femoral_neck", "osteoporosis"),
    )
    text = _text("da", results=results)
    table = text.split("Resultater", 1)[1].split("Diagnose", 1)[0]
    assert table.count("Osteoporose") == 1  # femoral neck, not L1
    assert "Osteopeni" in table


def test_a_value_without_calibration_is_marked_not_harmonised() -> None:
    results = (_row("total_hip", "low_bone_mass", harmonised=False),)
    da, en = _text("da", results=results), _text("en", results=results)
    da_table = da.split("Resultater", 1)[1].split("Diagnose", 1)[0].split()
    en_table = en.split("Results", 1)[1].split("Diagnosis", 1)[0].split()
    assert "ikke" in da_table and "harmoniseret" in da_table  # the narrow cell wraps
    assert "not" in en_table and "harmonised" in en_table
    # the raw value is printed once, in the scanner's column, never in the harmonised one
    assert da_table.count("0,731") == 1 and "0,700" not in da_table


def test_names_from_pn_components_and_scanner_without_repetition() -> None:
    text = _text(
        "da",
        referrer="Demo^Praksislæge",
        scanner=ScannerInfo("GE Lunar", "Lunar Prodigy", "PRO-1", "enCORE 18", "Syd"),
    )
    assert "Praksislæge Demo" in text and "Demo^" not in text
    assert "GE Lunar Prodigy" in text and "Lunar Lunar" not in text
    assert person_name("Holm^Ida^^Dr.") == "Dr. Ida Holm"
    assert scanner_name("Hologic", "Horizon A") == "Hologic Horizon A"


def test_danish_reference_names_in_the_danish_report() -> None:
    da = translator("da")
    name = "NHANES III femur, non-Hispanic white women 20-29 2026.1; Own table v2"
    assert reference_label(name, da) == (
        "NHANES III lårben, ikke-latinamerikanske hvide kvinder 20-29 år 2026.1; Own table v2"
    )


def _page_text(pdf: bytes, page: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.pdf"
        path.write_bytes(pdf)
        return subprocess.run(
            ["pdftotext", "-f", str(page), "-l", str(page), "-enc", "UTF-8", str(path), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout


@pytest.mark.parametrize("extra_lines", range(0, 60, 4))
def test_sign_off_never_stands_alone_on_a_page(extra_lines: int) -> None:
    """However long the text before it, the sign-off's page holds some of that text too."""
    data = report(
        "da",
        level="A",
        recommendation="\n".join(f"Linje {i} af anbefalingen." for i in range(extra_lines)),
        sign_off=SignOff("draft", 1),
    )
    pdf = render_pdf(data, translator("da"))
    pages = page_count(pdf)
    text = _page_text(pdf, pages)
    assert "Godkendelse" in text
    before = text.split("Godkendelse", 1)[0]
    if pages > 1:  # drop the running header of a follow-on page
        before = before.split("UDKAST", 1)[-1]
    words = [w for w in before.split() if len(w) > 1]  # not the watermark's single letters
    assert words, f"the sign-off stands alone on page {pages}: {text!r}"


def test_no_word_is_broken_in_a_narrow_cell() -> None:
    data = report("da")
    text = pdf_text(render_pdf(replace(data), translator("da")))
    assert "kompressio n" not in text
    assert "kompression" in text or "kileform" in text
