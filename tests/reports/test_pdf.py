"""Rendered PDFs: every required element in both languages, embedded fonts, determinism."""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from reports.model import Comparison, SignOff
from reports.pdf import render_patient_summary, render_pdf
from tests.reports.danish import Translator, danish, english
from tests.reports.sample import (
    CHAIN,
    CPR,
    PATIENT_NAME,
    RESULTS,
    RULE,
    SERIAL,
    T_REFERENCE,
    Z_REFERENCE,
    report,
    two_page_level_b,
)

# in the work tree (git-ignored), not a fixed /tmp path that parallel test runs would share
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "reports"
TRANSLATORS: dict[str, Translator] = {"en": english, "da": danish}


def _run(*args: str, data: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "r.pdf"
        pdf.write_bytes(data)
        done = subprocess.run(
            [*args, str(pdf), "-"] if args[0] == "pdftotext" else [*args, str(pdf)],
            check=True,
            capture_output=True,
            text=True,
        )
    return done.stdout


def pdf_text(data: bytes) -> str:
    """The text of a PDF with runs of whitespace collapsed (wrapped lines joined)."""
    return " ".join(_run("pdftotext", "-layout", "-enc", "UTF-8", data=data).split())


def page_count(data: bytes) -> int:
    match = re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", data=data), re.MULTILINE)
    assert match
    return int(match.group(1))


@cache
def rendered(lang: str, level: str = "B") -> bytes:
    return render_pdf(report(lang, level), TRANSLATORS[lang])


@cache
def text_of(lang: str, level: str = "B") -> str:
    return pdf_text(rendered(lang, level))


def _num(value: str, lang: str) -> str:
    return value.replace(".", ",") if lang == "da" else value


@pytest.mark.parametrize("lang", ["en", "da"])
def test_identity_scanner_and_results(lang: str) -> None:
    text = text_of(lang)
    assert PATIENT_NAME in text  # æ ø å Å survive
    assert CPR in text
    assert SERIAL in text
    assert "Aalborg Universitetshospital" in text
    assert "Lægerne i Ølstykke" in text
    for _region, _side, bmd, raw, t, z, _inc, _cat in RESULTS:
        assert _num(f"{bmd:.3f}", lang) in text
        assert _num(f"{raw:.3f}", lang) in text
        assert _num(t, lang) in text
        assert _num(z, lang) in text


def test_english_wording() -> None:
    text = text_of("en")
    for expected in (
        "DXA report",
        "AMENDED",
        "Report DXA-2025-000417",
        "Version 2",
        "Birth date 1950-01-01",
        "Age at scan 75 years",
        "BMI 22.3 kg/m²",
        "Hologic Horizon A, serial number HZA-301234",
        "Apex 5.6.0.5",
        "Technical limitations",
        "L4 (excluded*)",
        "Scanner value¹",
        "Osteoporosis with fragility fracture: lowest T-score -2.6, at the femoral neck, left.",
        "Vertebral fracture assessment (VFA)",
        "T4 — not evaluable:",
        "Not evaluable: T4 (overlejret af scapula).",
        "T12 2 moderate fracture wedge",
        "L1 1 mild deformity biconcave",
        "T10 0 normal",
        "L4 0 normal",
        "Vertebral fracture at T12 (moderate, Genant grade 2, wedge).",
        "Spinal deformity index (SDI): 3",
        "Comparison with the prior study",
        "-0.030 g/cm² (-5.2 %) since 2023-03-14. Significant decrease (LSC 0.030 g/cm², "
        "ISCD minimum).",
        "the LSC is derived from the ISCD minimum acceptable precision",
        "least significant change (LSC)",
        "changed by +3.1 % (more than 2 %)",
        "Conclusion",
        "Recommendation",
        "Follow-up scan in 2 years.",
        "Read and signed by Overlæge Søren Ømø, 2025-04-03 10:15.",
        "Hoftesiden rettet i sammenligningen",
        "2025-04-04 08:30",
    ):
        assert expected in text, expected


def test_danish_wording() -> None:
    text = text_of("da")
    for expected in (
        "DXA-svar",
        "RETTET",
        "Fødselsdato 01-01-1950",
        "Henvisningsårsag",
        "Tekniske forbehold",
        "Manifest osteoporose: laveste T-score -2,6, målt i lårbenshals (collum femoris), venstre.",
        "Vertebral frakturvurdering (VFA)",
        "moderat fraktur kileformet",
        "T4 — ikke vurderbar:",
        "Ikke vurderbar: T4 (overlejret af scapula).",
        "SDI",
        "Signifikant fald (LSC 0,030 g/cm², ISCD-minimum)",
        "mindste signifikante ændring (LSC)",
        "Ikke signifikant ændring: mindre end LSC på 0,033 g/cm²",
        "Konklusion",
        "Anbefaling",
        "Kontrolskanning om 2 år.",
        "Godkendt og underskrevet af Overlæge Søren Ømø, 03-04-2025 10:15.",
        "Tillæg / rettelse",
        # the footer falls back to the translated category rule when none is given
        "Kategoriregel: WHO/ISCD: normal T ≥ -1,0, osteoporose T ≤ -2,5",
    ):
        assert expected in text, expected


@pytest.mark.parametrize("lang", ["en", "da"])
def test_footer_on_every_page(lang: str) -> None:
    data = rendered(lang)
    pages = page_count(data)
    assert pages >= 2
    text = text_of(lang)
    word = "Page {} of {}" if lang == "en" else "Side {} af {}"
    for page in range(1, pages + 1):
        assert word.format(page, pages) in text
    assert text.count(T_REFERENCE) == pages
    assert text.count(Z_REFERENCE) == pages
    assert text.count(CHAIN) == pages
    assert text.count("DXA-2025-000417, version 2") == pages
    if lang == "en":
        assert text.count(RULE) == pages


def test_status_draft_and_signed() -> None:
    draft = replace(report("en", "A"), sign_off=SignOff("draft", 1))
    text = pdf_text(render_pdf(draft, english))
    assert "DRAFT" in text
    assert "Draft, not signed" in text
    assert "Read and signed by" not in text
    signed = report("da", "A")
    signed = replace(signed, sign_off=replace(signed.sign_off, status="signed", amendments=()))
    text = pdf_text(render_pdf(signed, danish))
    assert "GODKENDT" in text
    assert "Tillæg / rettelse" not in text


def test_level_b_has_frax_and_charts_level_a_does_not() -> None:
    b, a = text_of("en", "B"), text_of("en", "A")
    for marker in (
        "Fracture risk (FRAX)",
        "FRAX Danmark v4.4",
        "Forælder med hoftefraktur",
        "Risk factors (questionnaire)",
        "To faldulykker det seneste år",
        "Further work-up and follow-up",
        "Next DXA: follow-up scan in 2 years.",
        "BMD versus age: femoral neck, left",
        "BMD trend: femoral neck, left",
        "LSC band around the baseline",
    ):
        assert marker in b, marker
        assert marker not in a, marker
    assert len(rendered("en", "A")) < len(rendered("en", "B"))


def test_no_comparison_or_vfa_sections_when_absent() -> None:
    data = replace(report("en", "A"), vfa=None, comparison=None, technical_notes=())
    text = pdf_text(render_pdf(data, english))
    assert "Vertebral fracture assessment" not in text
    assert "Comparison with the prior study" not in text
    assert "Technical limitations None." in text


def test_new_baseline_report_has_no_change_table() -> None:
    comp = Comparison((), new_baseline=True, new_baseline_reason="new scanner")
    text = pdf_text(render_pdf(replace(report("en", "A"), comparison=comp), english))
    assert "New baseline: new scanner. The prior study is not compared." in text
    assert "Change (g/cm²)" not in text


def test_user_text_is_escaped() -> None:
    data = replace(report("en", "A"), conclusion="T < -2.5 & <b>not bold</b>")
    assert "T < -2.5 & <b>not bold</b>" in pdf_text(render_pdf(data, english))


@pytest.mark.parametrize("lang", ["en", "da"])
def test_fonts_are_embedded(lang: str) -> None:
    listing = _run("pdffonts", data=rendered(lang)).splitlines()[2:]
    assert listing
    for line in listing:
        assert "BitstreamVeraSans" in line
        assert re.search(r"TrueType\s+\S+\s+yes\s+yes", line), line  # embedded, subset


@pytest.mark.parametrize("lang", ["en", "da"])
def test_deterministic_bytes(lang: str) -> None:
    again = render_pdf(report(lang), TRANSLATORS[lang])
    assert again == rendered(lang)
    summary = report(lang)
    assert render_patient_summary(summary, TRANSLATORS[lang]) == render_patient_summary(
        summary, TRANSLATORS[lang]
    )


def test_deterministic_across_processes() -> None:
    code = (
        "import hashlib, sys\n"
        "from reports.pdf import render_pdf\n"
        "from tests.reports.sample import report\n"
        "from tests.reports.danish import danish\n"
        "sys.stdout.write(hashlib.sha256(render_pdf(report('da'), danish)).hexdigest())\n"
    )
    import hashlib
    import sys

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, check=True, capture_output=True, text=True
    ).stdout
    assert out == hashlib.sha256(rendered("da")).hexdigest()


def test_first_page_is_not_blank() -> None:
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for lang in ("en", "da"):
        pdf = ARTIFACTS / f"report-{lang}.pdf"
        pdf.write_bytes(rendered(lang))
        prefix = ARTIFACTS / f"report-{lang}-page"
        subprocess.run(
            ["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(pdf), str(prefix)],
            check=True,
        )
        png = next(ARTIFACTS.glob(f"report-{lang}-page*1.png"))
        with Image.open(png) as img:
            grey = img.convert("L")
            dark = sum(grey.histogram()[:200])
            total = grey.width * grey.height
        assert grey.width == pytest.approx(413, abs=2)  # A4 at 50 dpi
        assert dark > total * 0.01, f"{png} looks blank ({dark} dark pixels)"


def test_patient_summary_is_one_plain_page() -> None:
    for lang, translate in TRANSLATORS.items():
        data = rendered_summary = render_patient_summary(report(lang), translate)
        assert page_count(data) == 1
        text = pdf_text(rendered_summary)
        assert PATIENT_NAME in text
        assert CPR in text
        (ARTIFACTS / f"summary-{lang}.pdf").parent.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"summary-{lang}.pdf").write_bytes(data)
    text = pdf_text(render_patient_summary(report("en"), english))
    assert "Your bone density scan" in text
    assert "Your bone density is low (osteoporosis), and you have a fracture" in text
    # the T-score only with its explanation
    assert "T-score, which compares your bone density with that of healthy young adults" in text
    assert "Your lowest T-score was -2.6." in text
    assert "What happens next" in text
    assert "A new scan is suggested in about 2 years." in text
    assert "sundhed.dk" in text
    assert "Z-score" not in text
    da = pdf_text(render_patient_summary(report("da"), danish))
    assert "Din knogletæthed er lav (knogleskørhed)" in da
    assert "lænderyggen og hoften" in da


def test_patient_summary_with_long_texts_stays_one_page() -> None:
    data = replace(
        report("da"),
        referrer="Lægehuset " * 30,
        department="Afdeling " * 20,
        sign_off=SignOff("draft", 1),
    )
    assert page_count(render_patient_summary(data, danish)) == 1


def test_scan_image_is_embedded() -> None:
    with_image = rendered("en", "A")
    without = render_pdf(replace(report("en", "A"), image_png=None), english)
    assert b"/Subtype /Image" in with_image
    assert b"/Subtype /Image" not in without
    with pytest.raises(ValueError, match="PNG"):
        render_pdf(replace(report("en", "A"), image_png=b"not a png"), english)


def test_bench_report_is_two_pages_with_charts() -> None:
    data = render_pdf(two_page_level_b(), danish)
    assert page_count(data) == 2
    assert "BMD-forløb" in pdf_text(data)


#: A name of 5,000 characters: words, then one word without a break.
LONG_NAMES = (
    " ".join(f"Sørensen-Ågård{n}" for n in range(400))[:5000],
    "Æ" * 5000,
)


@pytest.mark.parametrize("name", LONG_NAMES, ids=("words", "one_word"))
def test_any_length_of_name_renders_cut_with_an_ellipsis(name: str) -> None:
    base = two_page_level_b()
    data = replace(base, patient=replace(base.patient, name=name), site_name="Å" * 3000)
    pdf = render_pdf(data, danish)
    pages = page_count(pdf)
    assert pages <= page_count(render_pdf(base, danish)) + 1
    text = pdf_text(pdf)
    assert name[:12] in text and "…" in text
    # cut, not printed whole (the full name would add 5,000 characters)
    assert "Sørensen-Ågård300" not in text and text.count("Æ") < 1000
    # the running header of every later page: the name is cut, the CPR number stays
    header = f"DXA-svar — {name[:5]}"
    assert text.count(header) == pages - 1
    assert text.count(f"…, CPR {CPR}") == pages - 1
    summary = render_patient_summary(data, danish)
    assert page_count(summary) == 1
    assert f"…, CPR {CPR}" in pdf_text(summary)
