"""The uncertainty no vendor prints (issue 14), with known answers.

From the fits to the harmonised BMD, the T-score interval, the "near threshold" flag and the
cross-calibration LSC.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from calibration.chain import ChainStep, harmonise_with_uncertainty, inverse_line_covariance
from calibration.fits import ols
from dxa_app.archive import open_archive, set_setting
from dxa_app.archive.steps import REFERENCE_SCANNER_KEY, approved_chain
from dxa_app.cli import ExitCode, main
from dxa_app.domain import Role
from dxa_app.services.precision import record_precision
from dxa_app.services.report_data import build_report_data
from dxa_app.services.scoring import Z95, compute_study_scores
from tests import programme as pg
from tests.sessions import PASSWORD, session_as

FN_MEAN, FN_SD = 0.858, 0.120  # NHANES III women, femoral neck
TH_MEAN, TH_SD = 0.942, 0.122


def test_propagation_through_two_steps_by_hand() -> None:
    s1 = ChainStep(1, "scanner", 0.05, 0.9, 4e-6, 9e-6, -5e-6)
    s2 = ChainStep(2, "national", -0.02, 1.1, 1e-6, 1e-6, 0.0)
    value, u = harmonise_with_uncertainty(0.8, [s1, s2])
    y1 = 0.05 + 0.9 * 0.8
    var1 = 4e-6 + 0.8**2 * 9e-6 + 2 * 0.8 * -5e-6
    var2 = 1e-6 + y1**2 * 1e-6 + 1.1**2 * var1
    assert value == pytest.approx(-0.02 + 1.1 * y1)
    assert u == pytest.approx(math.sqrt(var2))
    # the scale's own scanner: its phantom steps cancel, so only drift counts
    drift = ChainStep(3, "drift", 0.0, 0.98, 0.0, 1e-6, 0.0)
    _v, u_id = harmonise_with_uncertainty(0.8, [drift, s1, s2], identity=True)
    assert u_id == pytest.approx(math.sqrt(0.8**2 * 1e-6 * 0.9**2 * 1.1**2))


def test_ols_and_inverse_line_covariance_match_a_simulation() -> None:
    rng = np.random.default_rng(8)
    x = np.repeat([0.497, 1.012, 1.488], 10)
    fits = [ols(x, 0.02 + 1.04 * x + rng.normal(0, 0.01, x.size)) for _ in range(4000)]
    a = np.array([f.intercept for f in fits])
    b = np.array([f.slope for f in fits])
    f0 = fits[0]
    assert f0.extra["intercept_slope_cov"] == pytest.approx(
        -x.mean() * f0.residual_sd**2 / np.sum((x - x.mean()) ** 2)
    )
    emp = np.cov(a, b)
    mean_cov = np.mean([f.extra["intercept_slope_cov"] for f in fits])
    assert mean_cov == pytest.approx(emp[0, 1], rel=0.1)
    # the scanner step is the inverse line: check its covariance against the simulation
    inv_a, inv_b = -a / b, 1 / b
    va, vb, cab = inverse_line_covariance(
        0.02, 1.04, float(emp[0, 0]), float(emp[1, 1]), float(emp[0, 1])
    )
    emp_inv = np.cov(inv_a, inv_b)
    assert (va, vb, cab) == pytest.approx((emp_inv[0, 0], emp_inv[1, 1], emp_inv[0, 1]), rel=0.05)


def _threshold_archive(tmp_path: Path, fn_t: float, th_t: float = -1.8) -> tuple[Path, int]:
    archive = tmp_path / "t.sqlite"
    db = open_archive(archive)
    study = pg.hip_study(
        pg.REF,
        pg.person(1, birth=dt.date(1950, 5, 5)),
        "1.2.44.1",
        dt.date(2026, 3, 3),
        total_hip=TH_MEAN + th_t * TH_SD,
        femoral_neck=FN_MEAN + fn_t * FN_SD,
    )
    pg.store_studies(db, [study])
    set_setting(db, REFERENCE_SCANNER_KEY, pg.REF.serial)  # its readings are the scale
    study_id = int(db.execute("SELECT id FROM studies").fetchone()[0])
    db.close()
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    for region in ("total_hip", "femoral_neck"):  # RMS-SD exactly 0.010 g/cm2
        pairs = {f"S{i}": [0.7 + 0.01 * i, 0.7 + 0.01 * i + 0.01 * 2**0.5] for i in range(30)}
        record_precision(tech, scanner=pg.REF.serial, region=region, measurements=pairs)
    return archive, study_id


def test_near_threshold_flag_known_answer(tmp_path: Path) -> None:
    archive, study_id = _threshold_archive(tmp_path, fn_t=-2.45)
    db = open_archive(archive)
    s = compute_study_scores(db, study_id)
    db.close()
    fn = next(r for r in s.regions if r.region == "femoral_neck")
    # the reference scanner: no calibration uncertainty; precision 0.010 g/cm2
    assert fn.calibration_sd == 0.0 and fn.precision_sd == pytest.approx(0.010)
    assert fn.precision_source == "precision"
    half = Z95 * 0.010 / FN_SD  # 0.163 T
    assert fn.t_interval == pytest.approx((-2.45 - half, -2.45 + half))
    assert fn.near_threshold and fn.category == "osteoporosis"  # printed -2.5 (rounds away)
    th = next(r for r in s.regions if r.region == "total_hip")
    assert not th.near_threshold
    assert s.near_threshold and s.category_range == ("osteoporosis", "low_bone_mass")
    assert any("Near threshold: category uncertain" in n for n in s.notes)
    assert s.to_dict()["near_threshold"] is True


def test_far_from_a_threshold_is_not_flagged(tmp_path: Path) -> None:
    archive, study_id = _threshold_archive(tmp_path, fn_t=-1.8)
    db = open_archive(archive)
    s = compute_study_scores(db, study_id)
    data = build_report_data(db, study_id, lang="en", level="A")
    db.close()
    assert not s.near_threshold and s.category_range == ("low_bone_mass", "low_bone_mass")
    assert data.diagnosis.uncertain_range is None
    stated = [n for n in data.technical_notes if n.startswith("Calibration uncertainty")]
    assert len(stated) == 1 and "±0.000 g/cm²" in stated[0]  # stated once; the reference


def test_scores_json_and_the_report_carry_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, study_id = _threshold_archive(tmp_path, fn_t=-2.45)
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    args = ["scores", str(study_id), "--json", "--archive", str(archive), "--user", "tekla"]
    assert main(args) == ExitCode.OK
    out = json.loads(capsys.readouterr().out)
    assert out["near_threshold"] is True
    assert out["category_range"] == ["osteoporosis", "low_bone_mass"]
    fn = next(r for r in out["regions"] if r["region"] == "femoral_neck")
    assert fn["near_threshold"] and fn["precision_sd"] == pytest.approx(0.010)
    db = open_archive(archive)
    data = build_report_data(db, study_id, lang="en", level="A")
    db.close()
    assert data.diagnosis.uncertain_range == ("osteoporosis", "low_bone_mass")
    from reports.rules import uncertainty_sentence

    text = uncertainty_sentence(data.diagnosis, lambda m: m)
    assert text.startswith("Near threshold: category uncertain")
    assert "osteoporosis or low bone mass (osteopenia)" in text


@pytest.fixture
def calibrated(demo_calibrated_master: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "cal.sqlite"
    shutil.copy(demo_calibrated_master, dest)
    return dest


def test_a_calibrated_scanner_carries_its_chains_uncertainty(calibrated: Path) -> None:
    db = open_archive(calibrated)
    row = db.execute(
        "SELECT st.id, st.study_date, sc.id FROM studies st JOIN scanners sc"
        " ON sc.id = st.scanner_id WHERE sc.serial = 'IDXA-DEMO-303' ORDER BY st.id LIMIT 1"
    ).fetchone()
    s = compute_study_scores(db, int(row[0]))
    for r in s.regions:
        if r.region not in ("L1-L4", "total_hip", "femoral_neck"):
            continue
        steps = approved_chain(db, int(row[2]), r.region, row[1])
        value, u = harmonise_with_uncertainty(r.raw_bmd, steps)
        assert value == pytest.approx(r.harmonised_bmd) and r.calibration_sd == pytest.approx(u)
        assert 0.0005 < u < 0.02, (r.region, u)
    db.close()


def test_the_follow_up_lsc_includes_the_cross_calibration(calibrated: Path) -> None:
    db = open_archive(calibrated)
    rows = db.execute(
        "SELECT st.id, st.patient_id, st.scanner_id, st.study_date FROM studies st"
        " ORDER BY st.patient_id, st.study_date"
    ).fetchall()
    by_patient: dict[int, list[tuple[int, int, str]]] = {}
    for sid, pid, scanner, day in rows:
        by_patient.setdefault(pid, []).append((sid, scanner, day))
    cross = same = None
    for visits in by_patient.values():
        if len(visits) != 2:
            continue
        (p_id, p_scanner, p_day), (c_id, c_scanner, c_day) = visits
        gap = (dt.date.fromisoformat(c_day) - dt.date.fromisoformat(p_day)).days
        if gap < 300:
            continue  # an in-vivo pair, not a follow-up
        if p_scanner != c_scanner and cross is None:
            cross = (p_id, c_id)
        if p_scanner == c_scanner and same is None:
            same = (p_id, c_id)
    assert cross is not None and same is not None
    data = build_report_data(db, cross[1], lang="en", level="A")
    comp = data.comparison
    assert comp is not None and comp.rows and comp.cross_calibrated
    prior = compute_study_scores(db, cross[0])
    current = compute_study_scores(db, cross[1])
    for row in comp.rows:
        p = next(x for x in prior.regions if x.region == row.region and x.side == row.side)
        c = next(x for x in current.regions if x.region == row.region and x.side == row.side)
        expected = Z95 * math.hypot(p.calibration_sd, c.calibration_sd)
        assert row.cross_calibration_g_cm2 == pytest.approx(expected) and expected > 0
        base = row.lsc_g_cm2**2 - expected**2
        assert base > 0  # the precision LSC is still in it
    same_data = build_report_data(db, same[1], lang="en", level="A")
    assert same_data.comparison is not None
    assert all(r.cross_calibration_g_cm2 == 0.0 for r in same_data.comparison.rows)
    db.close()
