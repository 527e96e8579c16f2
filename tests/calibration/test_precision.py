"""Precision (pooled RMS-SD, RMS-%CV) and LSC checked by hand."""

from __future__ import annotations

import math

import pytest

from calibration.precision import (
    ISCD_MINIMUM_CV_PCT,
    LSC_FACTOR,
    iscd_rms_sd,
    meets_minimum,
    precision,
)
from calibration.rounding import format_bmd


def test_lsc_factor_is_iscd_rounding_of_1_96_sqrt2() -> None:
    assert round(1.96 * math.sqrt(2), 2) == LSC_FACTOR == 2.77


def test_15x3_by_hand() -> None:
    # subject j: m_j - e_j, m_j, m_j + e_j -> SD_j = e_j exactly
    es = [0.005 + 0.001 * j for j in range(15)]
    ms = [0.8 + 0.02 * j for j in range(15)]
    data = [[m - e, m, m + e] for m, e in zip(ms, es, strict=True)]
    p = precision(data)
    rms = math.sqrt(sum(e * e for e in es) / 15)
    assert p.rms_sd == pytest.approx(rms)
    assert iscd_rms_sd(data) == pytest.approx(rms)
    cv = math.sqrt(sum((100 * e / m) ** 2 for e, m in zip(es, ms, strict=True)) / 15)
    assert p.rms_cv_pct == pytest.approx(cv)
    assert (p.n_subjects, p.n_scans, p.df, p.design) == (15, 45, 30, "15x3")
    assert p.lsc == pytest.approx(2.77 * rms)
    assert p.lsc_pct == pytest.approx(2.77 * cv)


def test_30x2_duplicates_by_hand() -> None:
    # duplicates: SD_j**2 = d_j**2 / 2
    ds = [0.004 * (1 + j % 5) for j in range(30)]
    data = [[1.0, 1.0 + d] for d in ds]
    p = precision(data)
    assert p.rms_sd == pytest.approx(math.sqrt(sum(d * d / 2 for d in ds) / 30))
    assert p.rms_sd == pytest.approx(iscd_rms_sd(data))
    assert (p.df, p.design, p.n_scans) == (30, "30x2", 60)


def test_pooled_differs_from_iscd_with_unequal_scans() -> None:
    data = [[1.00, 1.02], [0.99, 1.00, 1.01]]
    # SS 0.0002 (df 1) and 0.0002 (df 2): pooled sqrt(0.0004 / 3); ISCD sqrt((0.0002 + 0.0001) / 2)
    p = precision(data)
    assert p.rms_sd == pytest.approx(math.sqrt(0.0004 / 3))
    assert iscd_rms_sd(data) == pytest.approx(math.sqrt(0.00015))
    assert p.design == "mixed" and p.df == 3


def test_worked_example_rms_sd_0_010_gives_lsc_0_028() -> None:
    p = precision([[1.0 - 0.01, 1.0, 1.0 + 0.01]] * 15)
    assert p.rms_sd == pytest.approx(0.010)
    assert format_bmd(p.lsc) == "0.028"


def test_meets_minimum() -> None:
    p = precision([[1.0, 1.02], [0.9, 0.92]])  # CV about 1.5 %
    assert meets_minimum(p, ISCD_MINIMUM_CV_PCT["L1-L4"])
    assert not meets_minimum(p, 1.0)


def test_refuses_single_scan_subjects() -> None:
    with pytest.raises(ValueError, match="at least 2 scans"):
        precision([[1.0, 1.01], [1.0]])
    with pytest.raises(ValueError):
        precision([])
    with pytest.raises(ValueError, match="non-positive"):
        precision([[1.0, -1.0]])
