"""A full, hand-built ReportData (Danish names, fake CPR) for the report tests and bench."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from reports.model import (
    AgeCurve,
    Comparison,
    ComparisonRow,
    DiagnosisInfo,
    FooterInfo,
    FraxInfo,
    PatientInfo,
    ReferencePoint,
    ReportData,
    ResultRow,
    ScannerInfo,
    SignOff,
    Trend,
    TrendPoint,
    VfaLevel,
    VfaSection,
)
from reports.rules import draft_conclusion, draft_recommendation
from tests.reports.danish import Translator, danish, english

PATIENT_NAME = "Grethe Mærsk Sørensen-Ågård"
CPR = "010150-9990"
SERIAL = "HZA-301234"
T_REFERENCE = "NHANES III hvide kvinder 20-29 år (hofte), DK-ryg v2025.1"
Z_REFERENCE = "NHANES III alder/køn v2025.1"
CHAIN = "HZA-301234 kæde v3 (national ligning DK-2024.2)"
RULE = (
    "WHO/ISCD: normal T >= -1.0, osteoporosis T <= -2.5, classified on the printed "
    "one-decimal value"
)

#: (region, side, bmd, raw, T, Z, included, category)
RESULTS: tuple[tuple[str, str | None, float, float, str, str, bool, str | None], ...] = (
    ("L1", None, 0.781, 0.802, "-2.3", "-0.6", True, None),
    ("L2", None, 0.823, 0.846, "-2.4", "-0.7", True, None),
    ("L3", None, 0.814, 0.837, "-2.4", "-0.8", True, None),
    ("L4", None, 0.911, 0.935, "-1.6", "0.1", False, None),
    ("L1-L3", None, 0.806, 0.829, "-2.4", "-0.7", True, "low_bone_mass"),
    ("total_hip", "left", 0.701, 0.745, "-2.0", "-0.3", True, "low_bone_mass"),
    ("femoral_neck", "left", 0.548, 0.590, "-2.6", "-0.8", True, "osteoporosis"),
)


def png_bytes(width: int = 120, height: int = 160) -> bytes:
    """A small grey-gradient PNG that stands in for the scanner's image."""
    from PIL import Image

    img = Image.new("L", (width, height))
    img.putdata([(x * 2 + y) % 256 for y in range(height) for x in range(width)])
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def vfa_section() -> VfaSection:
    """T4 not evaluable, T12 grade 2 wedge fracture, L1 grade 1 biconcave, others 0."""
    levels = [VfaLevel("T4", None, not_evaluable_reason="overlejret af scapula")]
    for name in ("T5", "T6", "T7", "T8", "T9", "T10", "T11", "L2", "L3", "L4"):
        levels.append(VfaLevel(name, 0))
    levels += [VfaLevel("T12", 2, "wedge"), VfaLevel("L1", 1, "biconcave")]
    return VfaSection(
        levels=tuple(levels),
        reader="Overlæge Søren Ømø",
        indication_met=True,
        indication_reasons=("kvinde på 70 år eller derover",),
    )


def comparison() -> Comparison:
    """Femoral neck exactly at the LSC (ISCD minimum), hip with an area flag, spine stable."""
    prior = date(2023, 3, 14)
    return Comparison(
        rows=(
            ComparisonRow("L1-L3", prior, 0.815, 0.806, 0.033, "precision", 45.0, 45.3),
            ComparisonRow(
                "total_hip", prior, 0.712, 0.701, 0.025, "precision", 38.2, 39.4, side="left"
            ),
            ComparisonRow("femoral_neck", prior, 0.578, 0.548, 0.030, "iscd_minimum", side="left"),
        )
    )


def age_curve() -> AgeCurve:
    """Femoral-neck reference (illustrative numbers) with the patient's point."""
    means = (0.858, 0.850, 0.820, 0.760, 0.690, 0.630, 0.580, 0.540)
    points = tuple(ReferencePoint(age=25.0 + 10 * i, mean=m, sd=0.120) for i, m in enumerate(means))
    return AgeCurve(
        "femoral_neck", points, 75.4, 0.548, young_mean=0.858, young_sd=0.120, side="left"
    )


def trend() -> Trend:
    """Four visits of the femoral neck on today's calibration."""
    visits = (
        (date(2019, 3, 1), 0.602),
        (date(2021, 3, 10), 0.590),
        (date(2023, 3, 14), 0.578),
        (date(2025, 4, 2), 0.548),
    )
    return Trend("femoral_neck", tuple(TrendPoint(d, b) for d, b in visits), 0.030, side="left")


def report(lang: str = "en", level: str = "B", **changes: Any) -> ReportData:
    """The full sample report in one language; keyword arguments replace fields."""
    translate: Translator = danish if lang == "da" else english
    diagnosis = DiagnosisInfo(
        category="osteoporosis",
        score_kind="T",
        deciding_region="femoral_neck",
        printed_score=Decimal("-2.6"),
        fragility_fracture=True,
        deciding_side="left",
    )
    vfa = vfa_section()
    comp = comparison()
    hints = ("s-calcium, PTH og 25-OH-D-vitamin",)
    data = ReportData(
        report_id="DXA-2025-000417",
        lang=lang,
        level=level,
        site_name="Aalborg Universitetshospital",
        department="Osteoporoseklinikken, Endokrinologisk Afdeling",
        patient=PatientInfo(
            name=PATIENT_NAME,
            identifier=CPR,
            birth_date=date(1950, 1, 1),
            age=75.4,
            sex="F",
            height_cm=162.0,
            weight_kg=58.5,
            menopausal=True,
        ),
        referrer="Lægerne i Ølstykke, læge Jens Ærø",
        indication="Håndledsfraktur 2019, kontrol af osteopeni",
        scan_date=date(2025, 4, 2),
        scanner=ScannerInfo("Hologic", "Horizon A", SERIAL, "Apex 5.6.0.5", "Røntgen, afsnit 2"),
        technologist="Bioanalytiker Åse Kær",
        scan_mode="Array",
        technical_notes=("L4 udeladt: degenerative forandringer (T-score 0,8 over L3).",),
        results=tuple(
            ResultRow(reg, side, bmd, raw, Decimal(t), Decimal(z), inc, cat)
            for reg, side, bmd, raw, t, z, inc, cat in RESULTS
        ),
        diagnosis=diagnosis,
        vfa=vfa,
        comparison=comp,
        conclusion=draft_conclusion(diagnosis, translate, lang=lang, vfa=vfa, comparison=comp),
        recommendation=draft_recommendation(
            diagnosis,
            translate,
            lang=lang,
            vfa=vfa,
            follow_up_years=2,
            fls_referral=True,
            secondary_cause_hints=hints,
        ),
        sign_off=SignOff(
            status="amended",
            version=2,
            signed_by="Overlæge Søren Ømø",
            signed_at=datetime(2025, 4, 3, 10, 15),
            amendments=((2, "Hoftesiden rettet i sammenligningen", datetime(2025, 4, 4, 8, 30)),),
        ),
        # English states the rule as given; Danish leaves it empty to use the translated default
        footer=FooterInfo(
            T_REFERENCE, Z_REFERENCE, CHAIN, RULE if lang == "en" else "", "dxa-app 0.1.0"
        ),
        frax=FraxInfo(
            major_osteoporotic_pct=24.0,
            hip_pct=9.8,
            model="FRAX Danmark v4.4",
            inputs={
                "Alder": "75",
                "Køn": "kvinde",
                "BMI": "22,3",
                "Tidligere fraktur": "ja",
                "Forælder med hoftefraktur": "nej",
                "Ryger": "nej",
                "Glukokortikoid": "nej",
                "Reumatoid artritis": "nej",
                "Sekundær osteoporose": "nej",
                "Alkohol 3 eller flere genstande dagligt": "nej",
                "BMD lårbenshals (g/cm²)": "0,548",
            },
        ),
        risk_factors=("Tidligere håndledsfraktur (2019)", "To faldulykker det seneste år"),
        follow_up_years=2,
        secondary_cause_hints=hints,
        fls_referral=True,
        age_curve=age_curve(),
        trend=trend(),
        image_png=png_bytes(),
    )
    return replace(data, **changes) if changes else data


def two_page_level_b(lang: str = "da", report_id: str = "DXA-2025-000417") -> ReportData:
    """A typical Level B follow-up report with charts that fills two pages (bench input).

    Summary regions only (no single vertebrae), no VFA and no scan image.
    """
    data = report(lang, "B", report_id=report_id, vfa=None, image_png=None)
    return replace(
        data, results=tuple(r for r in data.results if "_" in r.region or "-" in r.region)
    )
