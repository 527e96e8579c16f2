"""In-vivo done right (issue 14): repeats averaged, delta from precision, range guard, LOO."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from calibration.fits import in_vivo_fit, leave_one_out
from dxa_app.archive import open_archive, set_setting, write_transaction
from dxa_app.archive.steps import REFERENCE_SCANNER_KEY
from dxa_app.centre.national import centre_pairs
from dxa_app.cli import ExitCode, main
from dxa_app.domain import Role
from dxa_app.errors import UsageError
from dxa_app.services.calibration import (
    approve_steps,
    calibrate,
    in_vivo_pairs,
    list_steps,
)
from dxa_app.services.precision import record_precision
from tests import programme as pg
from tests.sessions import PASSWORD, session_as

DAY = dt.date(2026, 4, 6)


def _deming(x: np.ndarray, y: np.ndarray, delta: float) -> tuple[float, float]:
    """An independent Deming closed form (Linnet), for the known answers below."""
    xm, ym = x.mean(), y.mean()
    sxx, syy, sxy = ((x - xm) ** 2).sum(), ((y - ym) ** 2).sum(), ((x - xm) * (y - ym)).sum()
    b = (syy - delta * sxx + np.sqrt((syy - delta * sxx) ** 2 + 4 * delta * sxy**2)) / (2 * sxy)
    return float(ym - b * xm), float(b)


def test_leave_one_out_by_hand() -> None:
    x = np.array([0.60, 0.72, 0.80, 0.93, 1.05, 1.10])
    y = np.array([0.58, 0.66, 0.77, 0.85, 0.99, 1.01])
    errors, slopes = [], []
    for i in range(x.size):
        keep = np.arange(x.size) != i
        a, b = _deming(x[keep], y[keep], 0.7)
        errors.append(a + b * x[i] - y[i])
        slopes.append(b)
    loo = leave_one_out(x, y, delta=0.7)
    e = np.asarray(errors)
    assert loo.n == 6 and loo.rmse == pytest.approx(float(np.sqrt(np.mean(e**2))))
    assert loo.max_abs == pytest.approx(float(np.abs(e).max()))
    assert (loo.slope_min, loo.slope_max) == pytest.approx((min(slopes), max(slopes)))


def test_delta_sources_and_the_range_guard() -> None:
    rng = np.random.default_rng(2)
    true = rng.uniform(0.55, 1.05, 30)
    other = 0.02 + 1.05 * true + rng.normal(0, 0.012, 30)
    ref = true + rng.normal(0, 0.009, 30)
    studies = in_vivo_fit(
        other, ref, sd_other=0.012, sd_reference=0.009, k_other=2, k_reference=3, bootstrap=0
    )
    assert studies.delta == pytest.approx((0.009**2 / 3) / (0.012**2 / 2))
    assert studies.delta_source == "precision studies" and not studies.warning
    assert studies.fit.slope == pytest.approx(_deming(other, ref, studies.delta)[1])
    repeats = in_vivo_fit(
        other,
        ref,
        repeat_sd_other=0.010,
        repeat_sd_reference=0.008,
        k_other=2,
        k_reference=2,
        bootstrap=0,
    )
    assert repeats.delta == pytest.approx(0.008**2 / 0.010**2)
    assert repeats.delta_source == "repeat scans of the in-vivo patients" and repeats.warning
    default = in_vivo_fit(other, ref, sd_other=0.012, bootstrap=0)  # one study is not both
    assert default.delta == 1.0 and default.delta_source == "assumed 1"
    assert "delta assumed 1" in default.warning
    prov = default.provenance()
    assert prov["warning"] == default.warning and prov["leave_one_out"]["n"] == 30
    assert not default.needs_review  # slope about 0.95: plausible
    steep = in_vivo_fit(1.3 * ref, ref, bootstrap=0)  # 0.77: mixed-up data, not a scanner
    assert steep.fit.slope == pytest.approx(1 / 1.3)
    assert "outside the plausible 0.85-1.15" in steep.needs_review
    assert steep.provenance()["needs_review"] == steep.needs_review


def _repeat_archive(
    tmp_path: Path, *, slope: float = 1.08, n: int = 30
) -> tuple[Path, dict[str, Any]]:
    """30 patients, two hip scans on each scanner within a week, known truth."""
    archive = tmp_path / "iv.sqlite"
    db = open_archive(archive)
    rng = np.random.default_rng(11)
    studies, truth = [], {}
    for i in range(n):
        p = pg.person(i)
        th = float(rng.uniform(0.55, 1.05))
        fn = th - 0.1
        ref = [(th + rng.normal(0, 0.008), fn + rng.normal(0, 0.009)) for _ in range(2)]
        oth = [
            (0.03 + slope * th + rng.normal(0, 0.010), 0.02 + slope * fn + rng.normal(0, 0.011))
            for _ in range(2)
        ]
        studies.append(
            pg.hip_study(
                pg.REF,
                p,
                f"1.2.3.{i}.1",
                DAY,
                total_hip=ref[0][0],
                femoral_neck=ref[0][1],
                extra_hips=ref[1:],
            )
        )
        studies.append(
            pg.hip_study(
                pg.OTHER,
                p,
                f"1.2.3.{i}.2",
                DAY + dt.timedelta(days=5),
                total_hip=oth[0][0],
                femoral_neck=oth[0][1],
                extra_hips=oth[1:],
            )
        )
        truth[p.identifier] = (ref, oth)
    # a patient seen on the other scanner again a year later: that scan is not in the pair
    late = pg.hip_study(
        pg.OTHER,
        pg.person(0),
        "1.2.3.0.9",
        DAY + dt.timedelta(days=400),
        total_hip=0.5,
        femoral_neck=0.4,
    )
    pg.store_studies(db, [*studies, late])
    set_setting(db, REFERENCE_SCANNER_KEY, pg.REF.serial)
    db.close()
    return archive, truth


def test_pairs_are_the_means_of_every_repeat(tmp_path: Path) -> None:
    archive, truth = _repeat_archive(tmp_path)
    db = open_archive(archive)
    ids = {r[1]: r[0] for r in db.execute("SELECT id, identifier FROM patients")}
    patients = in_vivo_pairs(
        db, pg.scanner_id(db, "REF-1"), pg.scanner_id(db, "OTH-2"), "total_hip"
    )
    db.close()
    assert len(patients) == 30
    by_id = {p.label: p for p in patients}
    for cpr, (ref, oth) in truth.items():
        p = by_id[str(ids[cpr])]
        assert sorted(p.reference) == pytest.approx(sorted(v[0] for v in ref))
        assert sorted(p.other) == pytest.approx(sorted(v[0] for v in oth))  # not the late one
        assert p.other_mean == pytest.approx((oth[0][0] + oth[1][0]) / 2)


def test_calibrate_uses_means_delta_from_repeats_and_reports_loo(tmp_path: Path) -> None:
    archive, truth = _repeat_archive(tmp_path)
    centre = session_as(archive, Role.CENTRE_ANALYST, "centre")
    calibrate(centre, bootstrap=200)
    steps = {s.region: s for s in list_steps(centre, "proposed") if s.kind == "scanner"}
    th = steps["total_hip"].provenance
    assert th["scans_per_patient"] == {"this": 2.0, "reference": 2.0}
    assert th["delta_source"] == "repeat scans of the in-vivo patients"
    assert "repeat scans" in th["warning"]
    # the repeat SDs by hand: pooled within-patient SD over 30 patients x 1 df
    ref_ss = sum((r[0][0] - r[1][0]) ** 2 / 2 for r, _o in truth.values())
    oth_ss = sum((o[0][0] - o[1][0]) ** 2 / 2 for _r, o in truth.values())
    sd_r, sd_o = (ref_ss / 30) ** 0.5, (oth_ss / 30) ** 0.5
    assert th["repeat_sd"]["reference"] == pytest.approx(sd_r)
    assert th["repeat_sd"]["this"] == pytest.approx(sd_o)
    assert th["delta"] == pytest.approx((sd_r**2 / 2) / (sd_o**2 / 2))
    x = np.array([(o[0][0] + o[1][0]) / 2 for _r, o in truth.values()])
    y = np.array([(r[0][0] + r[1][0]) / 2 for r, _o in truth.values()])
    a, b = _deming(x, y, th["delta"])
    assert steps["total_hip"].slope == pytest.approx(b) and steps["total_hip"].intercept == (
        pytest.approx(a)
    )
    loo = th["leave_one_out"]
    assert loo["n"] == 30 and 0 < loo["rmse"] < 0.02
    # known truth: reference = (other - 0.03) / 1.08; the step maps back within 0.01 g/cm2
    for bmd in (0.637, 0.820):
        reading = 0.03 + 1.08 * bmd
        mapped = steps["total_hip"].intercept + steps["total_hip"].slope * reading
        assert abs(mapped - bmd) < 0.01


def test_delta_from_both_precision_studies(tmp_path: Path) -> None:
    archive, _truth = _repeat_archive(tmp_path)
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    for serial, spread in (("REF-1", 0.014), ("OTH-2", 0.020)):
        pairs = {f"S{i}": [0.8 + 0.01 * i, 0.8 + 0.01 * i + spread] for i in range(30)}
        record_precision(tech, scanner=serial, region="total_hip", measurements=pairs)
    centre = session_as(archive, Role.CENTRE_ANALYST, "centre")
    calibrate(centre, bootstrap=0)
    [th] = [s for s in list_steps(centre, "proposed") if s.region == "total_hip"]
    sd_r, sd_o = 0.014 / 2**0.5, 0.020 / 2**0.5
    assert th.provenance["delta_source"] == "precision studies"
    assert th.provenance["delta"] == pytest.approx((sd_r**2 / 2) / (sd_o**2 / 2))
    assert "warning" not in th.provenance


def test_an_implausible_slope_needs_review(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, _truth = _repeat_archive(tmp_path, slope=1.30)  # reference = other / 1.3: 0.77
    centre = session_as(archive, Role.CENTRE_ANALYST, "centre")
    calibrate(centre, bootstrap=0)
    flagged = [s for s in list_steps(centre, "proposed") if s.needs_review]
    assert {s.region for s in flagged} == {"total_hip", "femoral_neck"}
    assert all("outside the plausible 0.85-1.15" in s.needs_review for s in flagged)
    ids = [s.id for s in flagged]
    with pytest.raises(UsageError, match="needs review"):
        approve_steps(centre, ids, password=PASSWORD, reason="fit")
    assert all(s.status == "proposed" for s in list_steps(centre) if s.id in ids)
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    args = [
        "approve",
        *map(str, ids),
        "--reason",
        "pairs checked",
        "--archive",
        str(archive),
        "--user",
        "centre",
        "--json",
    ]
    assert main(args) == ExitCode.USAGE
    capsys.readouterr()
    assert main([*args, "--reviewed"]) == ExitCode.OK
    out = json.loads(capsys.readouterr().out)
    assert {s["status"] for s in out["steps"]} == {"approved"}
    db = open_archive(archive)
    detail = json.loads(
        db.execute(
            "SELECT details FROM audit_log WHERE action = 'calibration_decision' ORDER BY id DESC"
        ).fetchone()[0]
    )
    db.close()
    assert sorted(detail["reviewed"]) == sorted(ids)


def test_centre_pairs_average_repeats_and_count_a_patient_once(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "centre.sqlite")
    pg.store_studies(
        db,
        [
            pg.hip_study(pg.REF, pg.person(1), "1.9.1", DAY, total_hip=0.8),
            pg.hip_study(pg.OTHER, pg.person(1), "1.9.2", DAY, total_hip=0.9),
        ],
    )
    ref, oth = pg.scanner_id(db, "REF-1"), pg.scanner_id(db, "OTH-2")
    rows = []
    # site A sends a patient with 2 scans on each scanner: every combination (4 rows)
    for i, (da, va) in enumerate((("2026-04-06", 0.800), ("2026-04-06", 0.810))):
        for j, (dbb, vb) in enumerate((("2026-04-10", 0.900), ("2026-04-12", 0.920))):
            rows.append(("A", f"a{i}{j}", "pA", "L", ref, da, va, oth, dbb, vb))
    # site B holds the same two-scanner patient under its own pseudonym (the other way round)
    for i, (da, va) in enumerate((("2026-04-06", 0.800), ("2026-04-06", 0.810))):
        for j, (dbb, vb) in enumerate((("2026-04-10", 0.900), ("2026-04-12", 0.920))):
            rows.append(("B", f"b{i}{j}", "pB", "L", oth, dbb, vb, ref, da, va))
    rows.append(("B", "b-other", "pC", "R", ref, "2026-05-01", 0.700, oth, "2026-05-02", 0.780))
    with write_transaction(db):
        for r in rows:
            db.execute(
                "INSERT INTO centre_in_vivo_pairs (site_code, pair_key, pseudonym, region, side,"
                " scanner_a_id, date_a, bmd_a, scanner_b_id, date_b, bmd_b)"
                " VALUES (?, ?, ?, 'total_hip', ?, ?, ?, ?, ?, ?, ?)",
                [r[0], r[1], r[2], r[3], *r[4:]],
            )
    patients, sites = centre_pairs(db, ref, oth, "total_hip", lambda _s, _r, _d, v: v)
    db.close()
    assert sites == ("A", "B")
    means = sorted(
        (p.other_mean, p.reference_mean, len(p.other), len(p.reference)) for p in patients
    )
    assert means == [pytest.approx((0.78, 0.70, 1, 1)), pytest.approx((0.91, 0.805, 2, 2))]
