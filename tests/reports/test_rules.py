"""Report text rules: diagnosis wording, comparison against the LSC, draft texts."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from reports.labels import fmt_bmd, fmt_decimal, region_label
from reports.model import Comparison, ComparisonRow, DiagnosisInfo
from reports.rules import (
    comparison_sentences,
    diagnosis_sentence,
    draft_conclusion,
    draft_recommendation,
)
from tests.reports.danish import danish, english
from tests.reports.sample import comparison, report, vfa_section

PRIOR = date(2023, 3, 14)
CATEGORY_CODES = (
    "normal",
    "low_bone_mass",
    "osteoporosis",
    "severe_osteoporosis",
    "below_expected_range_for_age",
    "within_expected_range_for_age",
)


def _dx(category: str, score: str | None = "-2.6", **kw: object) -> DiagnosisInfo:
    kind = "Z" if "expected" in category else "T"
    return DiagnosisInfo(
        category,
        kind,
        "femoral_neck",
        None if score is None else Decimal(score),
        deciding_side="left",
        **kw,  # type: ignore[arg-type]
    )


def test_formatting() -> None:
    assert fmt_bmd(0.8125, "en") == "0.813"
    assert fmt_bmd(0.8125, "da") == "0,813"
    assert fmt_bmd(-0.0, "en") == "0.000"
    assert fmt_bmd(0.012, "en", signed=True) == "+0.012"
    assert fmt_decimal(Decimal("-0.04"), 1, "en") == "0.0"
    assert region_label("L2-L4", english) == "lumbar spine L2-L4"
    assert region_label("L3", english) == "L3"
    assert region_label("femoral_neck", danish, "R") == "lårbenshals (collum femoris), højre"
    assert region_label("forearm_ultradistal", english) == "forearm_ultradistal"


def test_diagnosis_names_the_deciding_site() -> None:
    assert diagnosis_sentence(_dx("osteoporosis"), english) == (
        "Osteoporosis: lowest T-score -2.6, at the femoral neck, left."
    )
    assert diagnosis_sentence(_dx("low_bone_mass", "-1.0"), english) == (
        "Low bone mass (osteopenia): lowest T-score -1.0, at the femoral neck, left."
    )
    da = diagnosis_sentence(_dx("normal", "-0.4"), danish, lang="da")
    assert (
        da == "Normal knogletæthed: laveste T-score -0,4, målt i lårbenshals (collum femoris), "
        "venstre."
    )


def test_fragility_fracture_makes_manifest_osteoporosis() -> None:
    dx = _dx("osteoporosis", fragility_fracture=True)
    assert diagnosis_sentence(dx, english).startswith("Osteoporosis with fragility fracture:")
    assert diagnosis_sentence(dx, danish, lang="da").startswith("Manifest osteoporose:")
    assert diagnosis_sentence(_dx("severe_osteoporosis"), danish).startswith("Manifest")
    # a fracture with T above -2.5 does not change the BMD category, but is mentioned
    low = diagnosis_sentence(_dx("low_bone_mass", "-2.0", fragility_fracture=True), english)
    assert low.startswith("Low bone mass (osteopenia)")
    assert "fragility fracture is reported" in low


def test_z_score_wording() -> None:
    below = diagnosis_sentence(_dx("below_expected_range_for_age", "-2.3"), english)
    assert below.startswith("Below the expected range for age: lowest Z-score -2.3")
    assert "does not establish a diagnosis of osteoporosis" in below
    within = diagnosis_sentence(_dx("within_expected_range_for_age", "-1.2"), danish, lang="da")
    assert within.startswith("Inden for det forventede for alderen: laveste Z-score -1,2")


def test_diagnosis_without_score_or_site() -> None:
    dx = DiagnosisInfo("normal", "T", None, None)
    assert diagnosis_sentence(dx, english) == "Normal bone density."
    dx = DiagnosisInfo("normal", "T", None, Decimal("0.3"))
    assert diagnosis_sentence(dx, english) == "Normal bone density: lowest T-score 0.3."


def test_comparison_sentences() -> None:
    text = comparison_sentences(comparison(), english)
    assert text.pop(0) == (
        "A change is significant when it equals or exceeds the least significant change (LSC) "
        "of the site."
    )
    assert text[0] == (
        "Lumbar spine L1-L3: -0.009 g/cm² (-1.1 %) since 2023-03-14. Not significant: smaller "
        "than the LSC of 0.033 g/cm² (local precision study)."
    )
    assert text[1].startswith("Total hip, left: -0.011 g/cm² (-1.5 %)")
    assert text[2] == (
        "The bone area of the total hip, left changed by +3.1 % (more than 2 %): check that "
        "the regions are comparable before relying on the change."
    )
    assert text[3] == (
        "Femoral neck, left: -0.030 g/cm² (-5.2 %) since 2023-03-14. Significant decrease "
        "(LSC 0.030 g/cm², ISCD minimum)."
    )
    assert "ISCD minimum acceptable precision" in text[4]


def test_increase_and_no_iscd_note_with_local_precision() -> None:
    comp = Comparison(
        (ComparisonRow("total_hip", PRIOR, 0.700, 0.730, 0.025, "precision", side="R"),)
    )
    text = comparison_sentences(comp, english)[1:]
    assert text == [
        "Total hip, right: +0.030 g/cm² (+4.3 %) since 2023-03-14. Significant increase "
        "(LSC 0.025 g/cm², local precision study)."
    ]


def test_new_baseline_compares_nothing() -> None:
    comp = Comparison(
        rows=comparison().rows,
        new_baseline=True,
        new_baseline_reason="ny skanner uden krydskalibrering",
    )
    text = comparison_sentences(comp, danish, lang="da")
    assert text == [
        "Ny baseline: ny skanner uden krydskalibrering. Der sammenlignes ikke med den "
        "tidligere undersøgelse."
    ]
    assert comparison_sentences(Comparison(()), english) == []
    conclusion = draft_conclusion(_dx("osteoporosis"), english, comparison=comp)
    assert "decrease" not in conclusion
    assert "New baseline" in conclusion


def test_cross_calibrated_is_stated() -> None:
    comp = Comparison(comparison().rows, cross_calibrated=True)
    assert "cross-calibration" in comparison_sentences(comp, english)[1]


def test_draft_conclusion() -> None:
    text = draft_conclusion(
        _dx("osteoporosis"), english, vfa=vfa_section(), comparison=comparison()
    )
    assert text == (
        "Osteoporosis with fragility fracture: lowest T-score -2.6, at the femoral neck, left. "
        "Vertebral fracture on VFA at T12. Significant decrease in BMD since the prior study "
        "at the femoral neck, left."
    )
    # no prior: no statement about change at all
    alone = draft_conclusion(_dx("low_bone_mass", "-1.8"), english)
    assert alone == "Low bone mass (osteopenia): lowest T-score -1.8, at the femoral neck, left."
    stable = Comparison((ComparisonRow("total_hip", PRIOR, 0.7, 0.69, 0.025, "precision"),))
    assert draft_conclusion(_dx("normal", "-0.5"), english, comparison=stable).endswith(
        "No significant change in BMD since the prior study."
    )


def test_draft_recommendation() -> None:
    text = draft_recommendation(
        _dx("osteoporosis"),
        english,
        vfa=vfa_section(),
        follow_up_years=2,
        secondary_cause_hints=("serum calcium", "PTH"),
    )
    assert "Treatment of osteoporosis should be considered" in text
    assert "Consider work-up for secondary causes: serum calcium, PTH." in text
    assert "fracture liaison service (FLS)" in text  # fracture on VFA
    assert text.endswith("Follow-up scan in 2 years.")
    assert "Lateral spine imaging" not in text  # VFA was done


def test_recommendation_vfa_indicated_not_done_and_no_fls_without_fracture() -> None:
    text = draft_recommendation(
        _dx("low_bone_mass", "-1.9"),
        english,
        vfa_indicated=True,
        vfa_reasons=["woman aged 70 or more"],
        follow_up_years=1,
    )
    assert "FRAX" in text
    assert "(VFA or radiograph) is indicated (woman aged 70 or more)" in text
    assert "FLS" not in text
    assert text.endswith("Follow-up scan in 1 year.")
    assert draft_recommendation(_dx("normal", "0.1"), english) == ""
    z = draft_recommendation(_dx("below_expected_range_for_age", "-2.4"), danish, lang="da")
    assert z == "Udredning for sekundære årsager til lav knogletæthed anbefales."
    half = draft_recommendation(_dx("normal", "0.1"), danish, lang="da", follow_up_years=1.5)
    assert half == "Kontrolskanning om 1,5 år."


@pytest.mark.parametrize("category", CATEGORY_CODES)
def test_never_graded_osteopenia(category: str) -> None:
    words = re.compile(r"(mild|moderate|marked|let|moderat|udtalt)\w* osteopen", re.IGNORECASE)
    for translate, lang in ((english, "en"), (danish, "da")):
        dx = _dx(category, "-1.7")
        for text in (
            diagnosis_sentence(dx, translate, lang=lang),
            draft_conclusion(dx, translate, lang=lang, vfa=vfa_section(), comparison=comparison()),
            draft_recommendation(dx, translate, lang=lang, vfa=vfa_section(), follow_up_years=2),
        ):
            assert not words.search(text), text


def test_drafts_from_a_whole_report() -> None:
    data = report("da", conclusion="", recommendation="")
    conclusion = draft_conclusion(data, danish)
    assert conclusion.startswith("Manifest osteoporose: laveste T-score -2,6")
    assert "Vertebral fraktur ved VFA i T12." in conclusion
    assert "Signifikant fald i BMD" in conclusion
    recommendation = draft_recommendation(data, danish)
    assert "frakturklinik (FLS)" in recommendation
    assert "s-calcium, PTH og 25-OH-D-vitamin" in recommendation
    assert recommendation.endswith("Kontrolskanning om 2 år.")
    assert (
        draft_conclusion(data, danish, comparison=Comparison(()))
        == conclusion.rsplit(" Signifikant", 1)[0]
    )
