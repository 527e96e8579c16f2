"""in_vivo_fit: Deming with delta from precision, Bland-Altman, provenance (known answers)."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.fits import bland_altman, deming, in_vivo_fit


def test_exact_line_is_recovered_and_delta_defaults_to_one() -> None:
    other = np.linspace(0.6, 1.2, 12)
    reference = -0.03 + 0.9 * other  # an exact line: Deming returns it for any delta
    iv = in_vivo_fit(other, reference, bootstrap=0)
    assert iv.fit.slope == pytest.approx(0.9) and iv.fit.intercept == pytest.approx(-0.03)
    assert iv.delta == 1.0 and iv.delta_source == "assumed 1"
    prov = iv.provenance()
    assert prov["n_pairs"] == 12 and prov["delta_source"] == "assumed 1"
    assert prov["bland_altman"]["bias"] == pytest.approx(float(np.mean(reference - other)))


def test_delta_from_precision_matches_a_direct_deming() -> None:
    rng = np.random.default_rng(5)
    true = rng.uniform(0.6, 1.2, 40)
    other = 0.02 + 1.05 * true + rng.normal(0, 0.012, 40)
    reference = true + rng.normal(0, 0.008, 40)
    iv = in_vivo_fit(other, reference, sd_other=0.012, sd_reference=0.008, bootstrap=0)
    assert iv.delta == pytest.approx((0.008 / 0.012) ** 2)
    assert iv.delta_source == "precision studies"
    direct = deming(other, reference, delta=(0.008 / 0.012) ** 2, bootstrap=0)
    assert iv.fit.slope == pytest.approx(direct.slope)
    assert iv.fit.intercept == pytest.approx(direct.intercept)
    assert iv.bland_altman == bland_altman(other, reference)
    assert in_vivo_fit(other, reference, sd_other=0.012, bootstrap=0).delta == 1.0
