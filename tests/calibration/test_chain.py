"""Composition of the calibration chain."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calibration.chain import ChainStep, compose, drift_step, harmonise


def test_compose_by_hand() -> None:
    steps = [
        drift_step(1.02),
        ChainStep(1, "scanner", 0.01, 0.98),
        ChainStep(2, "national", -0.02, 1.05),
    ]
    a, b = compose(steps)
    # raw r: drift 1.02 r; scanner 0.01 + 0.9996 r; national -0.02 + 1.05 (0.01 + 0.9996 r)
    assert a == pytest.approx(-0.02 + 1.05 * 0.01)
    assert b == pytest.approx(1.05 * 0.98 * 1.02)
    assert harmonise(0.8, steps) == pytest.approx(a + b * 0.8)
    assert compose([]) == (0.0, 1.0)
    assert drift_step(0.97) == ChainStep(None, "drift", 0.0, 0.97)


def test_compose_refuses_wrong_order_and_bad_slope() -> None:
    with pytest.raises(ValueError, match="out of order"):
        compose([ChainStep(1, "national", 0, 1), ChainStep(2, "drift", 0, 1)])
    with pytest.raises(ValueError, match="slope"):
        compose([ChainStep(1, "scanner", 0, 0)])


step = st.builds(
    lambda kind, a, b: ChainStep(None, kind, a, b),
    st.sampled_from(["drift", "scanner", "national"]),
    st.floats(-0.2, 0.2),
    st.floats(0.5, 1.5),
)


@given(st.lists(step, max_size=6), st.floats(0.2, 2.0))
def test_compose_equals_sequential_application(steps: list[ChainStep], raw: float) -> None:
    order = {"drift": 0, "scanner": 1, "national": 2}
    steps = sorted(steps, key=lambda s: order[s.kind])
    y = raw
    for s in steps:
        y = s.intercept + s.slope * y
    assert harmonise(raw, steps) == pytest.approx(y, rel=1e-12, abs=1e-12)
