"""T/Z scores, WHO/ISCD categories from printed values, diagnosis and vertebra hints."""

from __future__ import annotations

from decimal import Decimal

import pytest

from calibration.scores import (
    Category,
    NoDiagnosticRegionError,
    RegionScore,
    classify_t,
    classify_z,
    diagnose,
    is_diagnostic_region,
    t_score,
    uses_z_score,
    vertebra_exclusion_hints,
    z_score,
)


def test_t_and_z_by_hand() -> None:
    assert t_score(0.738, 0.858, 0.120) == pytest.approx(-1.0)
    assert t_score(0.558, 0.858, 0.120) == pytest.approx(-2.5)
    assert z_score(0.9, 1.0, 0.1) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="positive"):
        t_score(0.8, 0.858, 0.0)
    with pytest.raises(ValueError, match="finite"):
        z_score(float("nan"), 1.0, 0.1)


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (0.5, Category.NORMAL),
        (-1.0, Category.NORMAL),
        (-1.04, Category.NORMAL),  # prints -1.0
        (-1.05, Category.LOW_BONE_MASS),  # prints -1.1
        (-2.44, Category.LOW_BONE_MASS),  # prints -2.4
        (-2.45, Category.OSTEOPOROSIS),  # prints -2.5
        (-2.5, Category.OSTEOPOROSIS),
        ((0.558 - 0.858) / 0.120, Category.OSTEOPOROSIS),
        (-4.0, Category.OSTEOPOROSIS),
    ],
)
def test_t_category_boundaries_from_printed_value(t: float, expected: Category) -> None:
    assert classify_t(t) is expected


def test_fragility_fracture_makes_severe_only_below_threshold() -> None:
    assert classify_t(-2.5, fragility_fracture=True) is Category.SEVERE_OSTEOPOROSIS
    assert classify_t(-2.4, fragility_fracture=True) is Category.LOW_BONE_MASS
    assert Category.SEVERE_OSTEOPOROSIS.value == "severe_osteoporosis"


@pytest.mark.parametrize(
    ("z", "expected"),
    [
        (-2.0, Category.BELOW_EXPECTED),
        (-1.95, Category.BELOW_EXPECTED),  # prints -2.0
        (-1.94, Category.WITHIN_EXPECTED),
        (0.0, Category.WITHIN_EXPECTED),
    ],
)
def test_z_category(z: float, expected: Category) -> None:
    assert classify_z(z) is expected


@pytest.mark.parametrize(
    ("sex", "age", "menopausal", "expected"),
    [
        ("F", 45, False, True),
        ("F", 52, False, True),
        ("F", 48, True, False),
        ("F", 49.9, None, True),
        ("F", 50, None, False),
        ("M", 49.99, None, True),
        ("M", 50, True, False),
        ("m", 30, None, True),
        ("X", 49, None, True),
        ("", 50, None, False),
    ],
)
def test_uses_z_score(sex: str, age: float, menopausal: bool | None, expected: bool) -> None:
    assert uses_z_score(sex, age, menopausal) is expected


def test_uses_z_score_refuses_bad_age() -> None:
    with pytest.raises(ValueError):
        uses_z_score("F", -1, None)


def _scores() -> list[RegionScore]:
    return [
        RegionScore("L1-L4", 0.9, -1.3, -0.5),
        RegionScore("total_hip", 0.8, -1.6, -0.9),
        RegionScore("femoral_neck", 0.7, -2.04, -2.1),
        RegionScore("trochanter", 0.5, -3.5, -3.0),
        RegionScore("wards", 0.4, -3.9, -3.2),
    ]


def test_diagnose_lowest_printed_t_and_ignores_trochanter_and_wards() -> None:
    d = diagnose(_scores(), use_z=False)
    assert d.category is Category.LOW_BONE_MASS
    assert d.deciding_region == "femoral_neck"
    assert d.printed_score == Decimal("-2.0")
    assert d.score_kind == "T"
    assert "femoral_neck" in d.note


def test_diagnose_severe_with_fracture_and_radius() -> None:
    scores = [*_scores(), RegionScore("radius_33", 0.6, -2.6, None)]
    d = diagnose(scores, use_z=False, fragility_fracture=True)
    assert d.category is Category.SEVERE_OSTEOPOROSIS
    assert d.deciding_region == "radius_33"


def test_diagnose_z_ignores_fracture() -> None:
    d = diagnose(_scores(), use_z=True, fragility_fracture=True)
    assert d.category is Category.BELOW_EXPECTED
    assert d.score_kind == "Z"
    assert d.printed_score == Decimal("-2.1")


def test_diagnose_spine_range_after_exclusion_and_widest_range() -> None:
    d = diagnose([RegionScore("L2-L4", 1.0, -2.6, None)], use_z=False)
    assert d.deciding_region == "L2-L4" and d.category is Category.OSTEOPOROSIS
    scores = [
        RegionScore("L1-L4", 1.0, -1.2, None),
        RegionScore("L3-L4", 1.0, -2.9, None),
        RegionScore("total_hip", 1.0, -1.0, None),
    ]
    d = diagnose(scores, use_z=False)
    assert d.deciding_region == "L1-L4" and "L3-L4" in d.note
    with pytest.raises(ValueError, match="ambiguous"):
        diagnose(
            [RegionScore("L1-L3", 1.0, -1.0, None), RegionScore("L2-L4", 1.0, -2.0, None)],
            use_z=False,
        )


def test_diagnose_tie_prefers_spine() -> None:
    scores = [RegionScore("total_hip", 1, -2.0, None), RegionScore("L1-L4", 1, -2.04, None)]
    assert diagnose(scores, use_z=False).deciding_region == "L1-L4"


def test_diagnose_without_diagnostic_region() -> None:
    with pytest.raises(NoDiagnosticRegionError, match="no diagnostic region"):
        diagnose([RegionScore("trochanter", 0.5, -3.0, None)], use_z=False)
    with pytest.raises(NoDiagnosticRegionError):
        diagnose([RegionScore("total_hip", 0.5, -3.0, None)], use_z=True)


def test_diagnostic_regions() -> None:
    assert is_diagnostic_region("L1-L4") and is_diagnostic_region("L2-L3")
    assert is_diagnostic_region("radius_33")
    assert not is_diagnostic_region("trochanter") and not is_diagnostic_region("L1")


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        ({"L1": -2.0, "L2": -2.2, "L3": -2.1, "L4": -1.9}, []),
        ({"L1": -2.0, "L2": -2.2, "L3": -0.9, "L4": -2.3}, ["L3"]),  # inner, both sides
        ({"L1": -2.0, "L2": -2.2, "L3": -2.1, "L4": -0.5}, ["L4"]),  # end, higher
        ({"L1": -2.0, "L2": -2.2, "L3": -2.1, "L4": -3.5}, []),  # end, lower: no hint
        ({"L1": -1.0, "L2": -2.5, "L3": -2.6, "L4": -2.4}, ["L1"]),
        ({"L1": -2.5, "L2": -1.0, "L3": -2.5, "L4": -2.5}, ["L2"]),  # not L1 (lower)
        ({"L1": -1.2, "L2": -2.2, "L3": -1.2, "L4": -1.2}, []),  # exactly 1.0 is not > 1.0
        ({"L1": -1.0, "L2": -2.5, "L3": -1.0, "L4": -2.5}, ["L2", "L3"]),
        ({"L1": -1.0, "L2": -2.5, "L3": -1.0}, ["L2"]),
        ({"L1": -1.0, "L2": -2.5}, []),  # never leave fewer than two
        ({"L2": -2.0, "L3": -2.1, "L4": -0.5, "L1-L4": -2.0}, ["L4"]),
    ],
)
def test_vertebra_exclusion_hints(t: dict[str, float], expected: list[str]) -> None:
    assert vertebra_exclusion_hints(t) == expected


def test_vertebra_hints_never_leave_fewer_than_two() -> None:
    # L2 and L3 both differ from both neighbours; only one may go when 3 vertebrae remain
    t = {"L1": -2.5, "L2": -0.5, "L3": -2.0}
    assert vertebra_exclusion_hints(t) == ["L2"]
    t4 = {"L1": -3.0, "L2": -0.5, "L3": -2.0, "L4": 0.5}
    hints = vertebra_exclusion_hints(t4)
    assert len(hints) <= 2 and "L2" in hints
