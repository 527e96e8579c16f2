"""The report dataclasses: derived values, the LSC rule at its boundary, validation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from reports.model import (
    ComparisonRow,
    DiagnosisInfo,
    PatientInfo,
    ReportData,
    SignOff,
    VfaLevel,
    VfaSection,
    printed_bmd,
)
from tests.reports.sample import report, vfa_section

PRIOR = date(2023, 3, 14)


def _row(prior: float, current: float, lsc: float, **kw: object) -> ComparisonRow:
    return ComparisonRow("femoral_neck", PRIOR, prior, current, lsc, "precision", **kw)  # type: ignore[arg-type]


def test_bmi() -> None:
    pt = PatientInfo("A", "010150-9990", None, 70.0, "F", height_cm=160.0, weight_kg=64.0)
    assert pt.bmi == pytest.approx(25.0)
    assert PatientInfo("A", "x", None, None, None).bmi is None
    assert PatientInfo("A", "x", None, None, None, height_cm=0.0, weight_kg=60.0).bmi is None


@pytest.mark.parametrize(
    ("prior", "current"),
    [(0.578, 0.548), (0.93, 0.9), (0.1, 0.07), (0.3, 0.27), (0.548, 0.578), (0.812, 0.782)],
)
def test_change_exactly_at_the_lsc_is_significant(prior: float, current: float) -> None:
    # float subtraction gives 0.02999999... or 0.0300000...1; the printed value decides
    row = _row(prior, current, 0.030)
    assert printed_bmd(abs(row.change)) == Decimal("0.030")
    assert row.significant


def test_change_just_below_the_lsc_is_not_significant() -> None:
    assert not _row(0.578, 0.549, 0.030).significant
    assert _row(0.578, 0.547, 0.030).significant
    assert not _row(0.800, 0.800, 0.030).significant


def test_change_and_percent() -> None:
    row = _row(0.800, 0.760, 0.030)
    assert row.change == pytest.approx(-0.040)
    assert row.change_pct == pytest.approx(-5.0)


def test_area_flag_is_strictly_over_two_percent() -> None:
    assert _row(0.8, 0.8, 0.03, prior_area_cm2=50.0, current_area_cm2=51.0).area_flag is False
    flagged = _row(0.8, 0.8, 0.03, prior_area_cm2=50.0, current_area_cm2=51.01)
    assert flagged.area_flag is True
    assert flagged.area_change_pct == pytest.approx(2.02)
    shrunk = _row(0.8, 0.8, 0.03, prior_area_cm2=50.0, current_area_cm2=48.9)
    assert shrunk.area_flag is True
    assert _row(0.8, 0.8, 0.03).area_change_pct is None
    assert _row(0.8, 0.8, 0.03).area_flag is False


def test_comparison_row_validation() -> None:
    with pytest.raises(ValueError, match="lsc_source"):
        ComparisonRow("total_hip", PRIOR, 0.8, 0.8, 0.03, "guess")
    with pytest.raises(ValueError, match="LSC must be positive"):
        _row(0.8, 0.8, 0.0)


def test_vfa_section_properties() -> None:
    section = vfa_section()
    assert section.sdi == 3
    assert [lv.level for lv in section.fractured] == ["T12"]
    assert [lv.level for lv in section.mild] == ["L1"]
    assert [lv.level for lv in section.not_evaluable] == ["T4"]
    assert [lv.level for lv in section.ordered][:3] == ["T4", "T5", "T6"]


def test_vfa_validation() -> None:
    with pytest.raises(ValueError, match=r"T4\.\.L4"):
        VfaLevel("C7", 0)
    with pytest.raises(ValueError, match="0-3"):
        VfaLevel("T8", 4)
    with pytest.raises(ValueError, match="only once"):
        VfaSection((VfaLevel("T8", 0), VfaLevel("T8", 1)))


def test_report_validation() -> None:
    with pytest.raises(ValueError, match="language"):
        report(lang="sv")
    with pytest.raises(ValueError, match="level"):
        report(level="C")
    with pytest.raises(ValueError, match="status"):
        SignOff("final", 1)
    with pytest.raises(ValueError, match="category"):
        DiagnosisInfo("osteopenia", "T", None, None)
    assert isinstance(report(), ReportData)


def test_printed_bmd_removes_float_noise_like_the_calibration_library() -> None:
    assert printed_bmd(0.0294999999999) == Decimal("0.030")
    assert printed_bmd(0.8125) == Decimal("0.813")
    assert printed_bmd(-0.0004) == Decimal("0.000")
    with pytest.raises(ValueError, match="finite"):
        printed_bmd(float("inf"))
