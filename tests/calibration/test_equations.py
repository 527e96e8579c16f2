"""Published cross-vendor equations as data, with the known answer of the domain reference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from calibration.equations import Equation, load_equations, to_hologic_equivalent
from calibration.reference import load_reference
from calibration.rounding import format_bmd, format_score
from calibration.scores import Category, classify_t, t_score

ROOT = Path(__file__).resolve().parents[2]
EQUATIONS = ROOT / "resources" / "calibration" / "cross_vendor_equations.json"
NHANES = ROOT / "resources" / "reference" / "nhanes3_femur_women_T.json"


@pytest.fixture(scope="module")
def equations() -> list[Equation]:
    return load_equations(EQUATIONS)


def test_file_has_sources_and_status(equations: list[Equation]) -> None:
    names = {e.name for e in equations}
    assert {"Hui 1997 spine sBMD", "Lu 2001 hip sub-region sBMD"} <= names
    assert any(e.name.startswith("ICSBM total hip") for e in equations)
    for e in equations:
        assert "[V*]" in e.status and e.source and e.version in ("2026.1", "2026.2")
        # the Norland lines were derived on a 1990s pencil-beam scanner: not verified for today's
        if e.manufacturer == "Norland":
            assert e.status.startswith("UNVERIFIED") and e.version == "2026.2"


def test_known_answer_lunar_femoral_neck(equations: list[Equation]) -> None:
    lunar = next(
        e
        for e in equations
        if e.manufacturer == "GE Lunar" and e.region == "femoral_neck" and e.output == "sBMD"
    )
    assert lunar.apply(0.800) == pytest.approx(0.7282)
    holo = to_hologic_equivalent(0.800, "femoral_neck", equations)
    assert holo == pytest.approx(0.6524, abs=5e-5)
    assert format_bmd(holo) == "0.652"
    mean, sd = load_reference(NHANES).lookup("femoral_neck", "F", None)
    assert (mean, sd) == (0.858, 0.120)
    t = t_score(holo, mean, sd)
    assert t == pytest.approx(-1.71, abs=0.005)
    assert format_score(t) == "-1.7"
    assert classify_t(t) is Category.LOW_BONE_MASS


def test_derived_direct_conversions_match_domain_reference(equations: list[Equation]) -> None:
    lunar = np.linspace(0.5, 1.3, 9)
    fn = [to_hologic_equivalent(float(v), "femoral_neck", equations) for v in lunar]
    np.testing.assert_allclose(fn, 0.86385 * lunar - 0.03864, atol=2e-5)
    th = [to_hologic_equivalent(float(v), "total_hip", equations) for v in lunar]
    np.testing.assert_allclose(th, 0.97123 * lunar - 0.03671, atol=2e-5)


def test_hui_spine_chain_agrees_with_genant_direct(equations: list[Equation]) -> None:
    # domain reference 2.2: within 0.005 g/cm2 over L = 0.7-1.3
    for v in np.linspace(0.7, 1.3, 13):
        h = to_hologic_equivalent(float(v), "L1-L4", equations)
        assert abs(h - (0.906 * v - 0.025)) < 0.005


def test_missing_and_ambiguous(equations: list[Equation]) -> None:
    with pytest.raises(KeyError, match="radius_33"):
        to_hologic_equivalent(0.8, "radius_33", equations)
    dup = [*equations, next(e for e in equations if e.manufacturer == "GE Lunar")]
    with pytest.raises(ValueError, match="several"):
        to_hologic_equivalent(0.8, dup[-1].region, dup)


def test_direct_equation_used_without_sbmd_pair() -> None:
    direct = Equation("d", "1", "GE Lunar", "L2-L4", -0.025, 0.906, "Hologic-equivalent", "s", "s")
    assert to_hologic_equivalent(1.0, "L2-L4", [direct]) == pytest.approx(0.881)


def test_load_validation(tmp_path: Path) -> None:
    good = json.loads(EQUATIONS.read_text(encoding="utf-8"))["equations"][0]
    for change, msg in (
        ({"manufacturer": "Siemens"}, "manufacturer"),
        ({"slope": -1}, "positive"),
        ({"output": "mg"}, "output"),
        ({"source": ""}, "source"),
    ):
        p = tmp_path / "e.json"
        p.write_text(json.dumps({"equations": [{**good, **change}]}), encoding="utf-8")
        with pytest.raises(ValueError, match=msg):
            load_equations(p)
