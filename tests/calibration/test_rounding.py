"""Half-away-from-zero rounding on the decimal value."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calibration.rounding import format_bmd, format_score, printed_score, round_half_away


@pytest.mark.parametrize(
    ("x", "decimals", "expected"),
    [
        (-2.45, 1, "-2.5"),
        (-0.95, 1, "-1.0"),
        (-1.05, 1, "-1.1"),
        (-2.4499999999999997, 1, "-2.5"),
        (2.5, 0, "3"),
        (-2.5, 0, "-3"),
        (-0.05, 1, "-0.1"),
        (0.05, 1, "0.1"),
        (-0.04, 1, "0.0"),
        (-0.0, 1, "0.0"),
        (0.6525, 3, "0.653"),
        (1.0005, 3, "1.001"),
        (-2.44, 1, "-2.4"),
    ],
)
def test_required_cases(x: float, decimals: int, expected: str) -> None:
    assert format(round_half_away(x, decimals), "f") == expected


def test_computed_float_noise_is_removed() -> None:
    # (0.558 - 0.858) / 0.120 is -2.5000000000000004 in binary floating point
    t = (0.558 - 0.858) / 0.120
    assert printed_score(t) == Decimal("-2.5")
    assert format_score(-2.45 + 1e-12) == "-2.5"


def test_formatters() -> None:
    assert format_bmd(0.0277) == "0.028"
    assert format_bmd(1) == "1.000"
    assert format_score(-0.04) == "0.0"
    assert format_score(0) == "0.0"
    assert printed_score(-1.04) == Decimal("-1.0")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        round_half_away(bad, 1)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(finite, st.integers(min_value=0, max_value=4))
def test_rounding_is_symmetric(x: float, decimals: int) -> None:
    assert round_half_away(-x, decimals) == -round_half_away(x, decimals)


@given(finite, st.integers(min_value=0, max_value=4))
def test_rounding_is_within_half_a_unit(x: float, decimals: int) -> None:
    r = round_half_away(x, decimals)
    assert abs(r - Decimal(repr(x))) <= Decimal(1).scaleb(-decimals) / 2 + Decimal("1e-9")
    assert not format(r, "f").startswith("-0") or r != 0
