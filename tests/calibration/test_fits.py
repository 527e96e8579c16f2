"""OLS, Deming and Bland-Altman checked against hand calculations and scipy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from calibration.fits import bland_altman, deming, ols

X4 = [1.0, 2.0, 3.0, 4.0]
Y4 = [2.0, 4.0, 5.0, 8.0]


def test_ols_by_hand() -> None:
    # xbar 2.5, ybar 4.75, Sxx 5, Sxy 9.5 -> b 1.9, a 0; residuals .1 .2 -.7 .4, SSE 0.70
    f = ols(X4, Y4)
    assert f.slope == pytest.approx(1.9)
    assert f.intercept == pytest.approx(0.0, abs=1e-12)
    s = math.sqrt(0.70 / 2)
    assert f.residual_sd == pytest.approx(s)
    se_b, se_a = s / math.sqrt(5), s * math.sqrt(1 / 4 + 2.5**2 / 5)
    tq = 4.302652729749464  # t(0.975, df=2)
    assert stats.t.ppf(0.975, 2) == pytest.approx(tq)
    assert f.slope_ci == pytest.approx((1.9 - tq * se_b, 1.9 + tq * se_b))
    assert f.intercept_ci == pytest.approx((-tq * se_a, tq * se_a))
    lr = stats.linregress(X4, Y4)
    assert f.extra["slope_se"] == pytest.approx(lr.stderr)
    assert f.extra["intercept_se"] == pytest.approx(lr.intercept_stderr)
    assert f.extra["r"] == pytest.approx(lr.rvalue)
    assert f.n == 4 and f.method == "ols" and f.confidence == 0.95


def test_ols_confidence_level_and_apply_inverse() -> None:
    f90 = ols(X4, Y4, confidence=0.90)
    tq = stats.t.ppf(0.95, 2)
    assert f90.slope_ci[1] - f90.slope == pytest.approx(tq * f90.extra["slope_se"])
    assert f90.apply(10.0) == pytest.approx(19.0)
    assert isinstance(f90.apply(1.0), float)
    np.testing.assert_allclose(f90.apply([0.0, 1.0]), [0.0, 1.9], atol=1e-12)
    assert f90.inverse(f90.apply(3.3)) == pytest.approx(3.3)
    np.testing.assert_allclose(f90.inverse(np.array([1.9, 3.8])), [1.0, 2.0])
    d = f90.to_dict()
    assert json.loads(json.dumps(d))["slope"] == pytest.approx(1.9)


def test_ols_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        ols([1, 2], [1, 2])
    with pytest.raises(ValueError, match="all equal"):
        ols([1, 1, 1], [1, 2, 3])
    with pytest.raises(ValueError, match="same length"):
        ols([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        ols([1, 2, float("nan")], [1, 2, 3])


@settings(max_examples=50, deadline=None)
@given(
    st.floats(-5, 5),
    st.floats(0.1, 5),
    st.lists(st.floats(0.2, 2.0), min_size=3, max_size=20, unique=True),
)
def test_ols_and_deming_recover_exact_lines(a: float, b: float, xs: list[float]) -> None:
    x = np.asarray(xs)
    if np.ptp(x) < 1e-3:
        return
    y = a + b * x
    f = ols(x, y)
    assert f.slope == pytest.approx(b, rel=1e-6, abs=1e-9)
    assert f.intercept == pytest.approx(a, rel=1e-6, abs=1e-6)
    d = deming(x, y, bootstrap=0)
    assert d.slope == pytest.approx(b, rel=1e-6)
    assert d.intercept == pytest.approx(a, rel=1e-6, abs=1e-6)


def test_deming_closed_form_by_hand() -> None:
    # x = 1,2,3; y = 2,3,5: xbar 2, ybar 10/3, Sxx 2, Syy 14/3, Sxy 3
    # delta = 1: b = (14/3 - 2 + sqrt((8/3)**2 + 36)) / 6 = (8 + sqrt(388)) / 18
    f = deming([1, 2, 3], [2, 3, 5], delta=1.0, bootstrap=0)
    b = (8 + math.sqrt(388)) / 18
    assert f.slope == pytest.approx(b)
    assert f.intercept == pytest.approx(10 / 3 - 2 * b)
    # delta = 4: b = (14/3 - 8 + sqrt((10/3)**2 + 16*9)) / 6
    f4 = deming([1, 2, 3], [2, 3, 5], delta=4.0, bootstrap=0)
    assert f4.slope == pytest.approx((14 / 3 - 8 + math.sqrt(100 / 9 + 144)) / 6)
    assert math.isnan(f.slope_ci[0]) and f.to_dict()["slope_ci"] == [None, None]


def test_deming_delta_one_is_orthogonal_regression() -> None:
    rng = np.random.default_rng(1)
    t = rng.uniform(0.6, 1.3, 40)
    x = t + rng.normal(0, 0.03, 40)
    y = 0.02 + 0.92 * t + rng.normal(0, 0.03, 40)
    f = deming(x, y, delta=1.0, bootstrap=0)
    w, v = np.linalg.eigh(np.cov(np.vstack([x, y])))
    major = v[:, np.argmax(w)]
    slope = major[1] / major[0]
    assert f.slope == pytest.approx(slope, rel=1e-10)
    assert f.intercept == pytest.approx(y.mean() - slope * x.mean(), rel=1e-9)


def test_deming_large_delta_tends_to_ols() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(0.6, 1.3, 30)
    y = 0.9 * x + rng.normal(0, 0.02, 30)
    assert deming(x, y, delta=1e9, bootstrap=0).slope == pytest.approx(ols(x, y).slope, rel=1e-6)


def test_deming_bootstrap_is_seeded_and_corrects_attenuation() -> None:
    rng = np.random.default_rng(3)
    t = rng.uniform(0.5, 1.5, 60)
    x = t + rng.normal(0, 0.05, 60)
    y = -0.03 + 0.95 * t + rng.normal(0, 0.05, 60)
    f = deming(x, y, delta=1.0, bootstrap=500, seed=7)
    g = deming(x, y, delta=1.0, bootstrap=500, seed=7)
    assert f == g
    assert f.slope_ci[0] < f.slope < f.slope_ci[1]
    assert f.intercept_ci[0] < f.intercept < f.intercept_ci[1]
    assert f.slope_ci[0] < 0.95 < f.slope_ci[1]
    assert ols(x, y).slope < f.slope  # OLS is attenuated by the error in x
    assert f.extra["bootstrap_valid"] == 500
    assert f.method == "deming"


def test_deming_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="delta"):
        deming(X4, Y4, delta=0)
    with pytest.raises(ValueError, match="uncorrelated"):
        deming([1, 2, 3], [1, 0, 1], bootstrap=0)


def test_bland_altman_by_hand() -> None:
    x = [1.0, 2.0, 3.0, 4.0]
    y = [1.1, 2.0, 3.3, 4.2]
    # d = .1 0 .3 .2: bias .15, SS of deviations .05, SD sqrt(.05/3)
    ba = bland_altman(x, y)
    sd = math.sqrt(0.05 / 3)
    assert ba.n == 4
    assert ba.bias == pytest.approx(0.15)
    assert ba.sd == pytest.approx(sd)
    assert (ba.lower, ba.upper) == pytest.approx((0.15 - 1.96 * sd, 0.15 + 1.96 * sd))
    lr = stats.linregress([1.05, 2.0, 3.15, 4.1], [0.1, 0.0, 0.3, 0.2])
    assert ba.diff_on_mean_slope == pytest.approx(lr.slope)
    assert ba.diff_on_mean_p == pytest.approx(lr.pvalue)
    assert json.dumps(ba.to_dict())
