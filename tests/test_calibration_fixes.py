"""Plain bugs of issue 14 with known answers: reference scanner, retired steps, sides, Norland.

Also a degenerate QC baseline (SD 0) is that scanner's message, not an error for the archive.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from calibration.equations import load_equations, to_hologic_equivalent
from dxa_app.archive import open_archive, set_setting
from dxa_app.archive.steps import REFERENCE_SCANNER_KEY
from dxa_app.archive.store import store_parsed
from dxa_app.cli import ExitCode, main
from dxa_app.domain import Manufacturer, Role, ScannerIdentity, Side
from dxa_app.services.calibration import (
    analyse_qc,
    calibrate,
    list_steps,
    qc_status,
    retire_steps,
)
from dxa_app.services.report_data import build_report_data
from dxa_app.services.scoring import compute_study_scores
from reports.model import OtherSidePrior
from tests import programme as pg
from tests.sessions import PASSWORD, session_as

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "HZA-DEMO-101"


@pytest.fixture
def calibrated(demo_calibrated_master: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "cal.sqlite"
    shutil.copy(demo_calibrated_master, dest)
    return dest


def _study_on(db: object, serial: str) -> int:
    row = db.execute(  # type: ignore[attr-defined]
        "SELECT st.id FROM studies st JOIN scanners sc ON sc.id = st.scanner_id"
        " JOIN scans s ON s.study_id = st.id WHERE sc.serial = ? AND s.scan_type = 'hip'"
        " ORDER BY st.id LIMIT 1",
        [serial],
    ).fetchone()
    return int(row[0])


def test_reference_scanner_is_harmonised_by_definition(calibrated: Path) -> None:
    db = open_archive(calibrated)
    study = _study_on(db, REFERENCE)
    scores = compute_study_scores(db, study)
    hip = next(r for r in scores.regions if r.region == "total_hip")
    # no scanner or national step for the reference hip: its own readings are the scale
    assert "scanner" not in hip.chain_kinds and "national" not in hip.chain_kinds
    assert hip.harmonised and hip.harmonised_bmd == pytest.approx(hip.raw_bmd)
    assert scores.harmonised and not scores.notes
    assert scores.to_dict()["regions"][0]["harmonised"] is True
    data = build_report_data(db, study, lang="en", level="A")
    assert not any("not harmonised" in n for n in data.technical_notes)
    # every reference study: none is flagged
    ids = [
        int(r[0])
        for r in db.execute(
            "SELECT st.id FROM studies st JOIN scanners sc ON sc.id = st.scanner_id"
            " WHERE sc.serial = ?",
            [REFERENCE],
        )
    ]
    assert ids and all(compute_study_scores(db, i).harmonised for i in ids)
    db.close()


def test_not_harmonised_only_where_a_step_is_missing(calibrated: Path) -> None:
    analyst = session_as(calibrated, Role.CENTRE_ANALYST, "centre2")
    hip_steps = [
        s.id
        for s in list_steps(analyst, "approved")
        if s.serial == "DSW-DEMO-202" and s.region == "total_hip"
    ]
    assert hip_steps
    retire_steps(analyst, hip_steps, password=PASSWORD, reason="test: hip step missing")
    db = open_archive(calibrated)
    scores = compute_study_scores(db, _study_on(db, "DSW-DEMO-202"))
    hip = next(r for r in scores.regions if r.region == "total_hip")
    spine = next(r for r in scores.regions if r.region == "L1-L4")
    assert not hip.harmonised and spine.harmonised and not scores.harmonised
    data = build_report_data(db, scores.study_id, lang="en", level="A")
    assert any("not harmonised" in n for n in data.technical_notes)
    db.close()


def test_a_retired_step_stays_retired_until_new_data_arrive(calibrated: Path) -> None:
    analyst = session_as(calibrated, Role.CENTRE_ANALYST, "centre2")
    approved = [s for s in list_steps(analyst, "approved") if s.method == "deming-in-vivo"]
    retire_steps(analyst, [s.id for s in approved], password=PASSWORD, reason="test")
    run = calibrate(analyst, bootstrap=200)
    assert list_steps(analyst, "proposed") == []  # same data, same fit: nothing comes back
    assert all(f.step_id is None for f in run.fits)
    # new data: one more patient on the reference and the Lunar iDXA within 60 days
    db = open_archive(calibrated)
    day = dt.date(2026, 8, 1)
    p = pg.person(77)
    ref = pg.hip_study(
        _identity(db, REFERENCE), p, "1.2.9.77.1", day, total_hip=0.801, femoral_neck=0.702
    )
    other = pg.hip_study(
        _identity(db, "IDXA-DEMO-303"),
        p,
        "1.2.9.77.2",
        day + dt.timedelta(days=3),
        total_hip=0.861,
        femoral_neck=0.858,
    )
    pg.store_studies(db, [ref, other])
    db.close()
    calibrate(analyst, bootstrap=200)
    again = [s for s in list_steps(analyst, "proposed") if s.method == "deming-in-vivo"]
    assert {(s.serial, s.region) for s in again} == {
        ("IDXA-DEMO-303", "total_hip"),
        ("IDXA-DEMO-303", "femoral_neck"),
    }


def _identity(db: object, serial: str) -> ScannerIdentity:
    r = db.execute(  # type: ignore[attr-defined]
        "SELECT manufacturer, model, serial, software_version, station_name, institution_name"
        " FROM scanners WHERE serial = ?",
        [serial],
    ).fetchone()
    return ScannerIdentity(Manufacturer(r[0]), r[1], r[2], r[3], r[4], r[5])


def test_degenerate_baseline_is_that_scanners_message(tmp_path: Path) -> None:
    archive = tmp_path / "qc.sqlite"
    db = open_archive(archive)
    start = dt.date(2026, 3, 2)
    store_parsed(db, pg.qc_series(pg.REF, start, [1.020] * 30))
    rng = np.random.default_rng(3)
    store_parsed(db, pg.qc_series(pg.OTHER, start, list(1.1 + rng.normal(0, 0.004, 30))))
    by = {q.serial: q for q in analyse_qc(db)}
    db.close()
    assert by["REF-1"].status == "baseline unusable"
    assert "SD 0" in by["REF-1"].problem and by["REF-1"].analysis is None
    assert by["OTH-2"].status in ("ok", "warning", "reject") and by["OTH-2"].analysis is not None
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    assert {q.serial for q in qc_status(tech)} == {"REF-1", "OTH-2"}


def test_degenerate_baseline_in_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "qc.sqlite"
    db = open_archive(archive)
    store_parsed(db, pg.qc_series(pg.REF, dt.date(2026, 3, 2), [1.020] * 25))
    db.close()
    session_as(archive, Role.TECHNICIAN, "tekla")
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    assert main(["qc", "--json", "--archive", str(archive), "--user", "tekla"]) == ExitCode.OK
    out = json.loads(capsys.readouterr().out)
    assert out[0]["status"] == "baseline unusable" and out[0]["problem"]


def _side_archive(tmp_path: Path) -> tuple[Path, int]:
    archive = tmp_path / "sides.sqlite"
    db = open_archive(archive)
    p = pg.person(5)
    studies = [
        pg.hip_study(
            pg.REF,
            p,
            "1.2.5.1",
            dt.date(2022, 3, 1),
            side=Side.LEFT,
            total_hip=0.700,
            femoral_neck=0.600,
            spine=0.950,
        ),
        pg.hip_study(
            pg.REF,
            p,
            "1.2.5.2",
            dt.date(2024, 3, 1),
            side=Side.RIGHT,
            total_hip=0.690,
            femoral_neck=0.590,
            spine=0.940,
        ),
        pg.hip_study(
            pg.REF,
            p,
            "1.2.5.3",
            dt.date(2026, 3, 1),
            side=Side.LEFT,
            total_hip=0.650,
            femoral_neck=0.560,
            spine=0.930,
        ),
    ]
    pg.store_studies(db, studies)
    set_setting(db, REFERENCE_SCANNER_KEY, pg.REF.serial)
    current = int(db.execute("SELECT id FROM studies WHERE study_uid = '1.2.5.3'").fetchone()[0])
    db.close()
    return archive, current


def test_comparison_names_a_prior_of_the_other_side(tmp_path: Path) -> None:
    archive, current = _side_archive(tmp_path)
    db = open_archive(archive)
    data = build_report_data(db, current, lang="en", level="B")
    db.close()
    comp = data.comparison
    assert comp is not None and not comp.new_baseline
    # the latest prior (2024) was the right hip: not compared, named
    assert {r.region for r in comp.rows} == {"L1-L4"}
    assert comp.other_side == (
        OtherSidePrior("total_hip", dt.date(2024, 3, 1), "R", "L"),
        OtherSidePrior("femoral_neck", dt.date(2024, 3, 1), "R", "L"),
    )
    from reports.rules import comparison_sentences

    text = " ".join(comparison_sentences(comp, lambda s: s, lang="en"))
    assert "femoral neck, right" in text and "other hip" in text
    # the trend of the deciding region (femoral neck) pairs the left hip only: 2022 and 2026
    assert data.trend is not None and data.trend.region == "femoral_neck"
    assert data.trend.side == "L"
    assert [p.date.year for p in data.trend.points] == [2022, 2026]
    assert [round(p.bmd, 3) for p in data.trend.points] == [0.600, 0.560]


def test_norland_is_a_manufacturer_in_the_csv_and_the_equations(tmp_path: Path) -> None:
    from dxa_app.archive import open_archive as _open
    from dxa_app.services.importing import import_into

    csv = tmp_path / "norland.csv"
    csv.write_text(
        "# dxa-generic-csv v1 patient_results\n"
        "site,manufacturer,model,serial,patient_id,birth_date,sex,study_uid,study_date,"
        "scan_type,side,acquired_at,region,bmd_g_cm2\n"
        "NOR,Norland Medical Systems,XR-800,N-1,010150-9990,1950-01-01,F,1.2.7.1,2026-03-05,"
        "hip,L,2026-03-05T09:46,total_hip,0.812\n",
        encoding="utf-8",
    )
    db = _open(tmp_path / "n.sqlite")
    summary = import_into(db, [csv])
    assert summary.counts["imported"] == 1, summary.to_dict()
    assert db.execute("SELECT manufacturer FROM scanners").fetchone()[0] == "Norland"
    db.close()
    eqs = load_equations(ROOT / "resources" / "calibration" / "cross_vendor_equations.json")
    norland = [e for e in eqs if e.manufacturer == "Norland"]
    assert norland and all(e.status.startswith("UNVERIFIED") for e in norland)
    # Hui 1997 chained (Norland -> sBMD -> Hologic) at N = 1.000: (0.9743 + 0.099503 -
    # 0.01814) / 1.055 = 1.000630; Genant's direct line gives 0.912 + 0.088 = 1.000
    h = to_hologic_equivalent(1.0, "L1-L4", eqs, manufacturer="Norland")
    assert h == pytest.approx((0.9743 + 0.099503 - 0.01814) / 1.055)
    for v in np.linspace(0.7, 1.3, 13):
        chained = to_hologic_equivalent(
            float(v), "L2-L4", [e for e in eqs if e.output == "sBMD"], manufacturer="Norland"
        )
        assert abs(chained - (0.912 * v + 0.088)) < 0.005
    direct = [e for e in eqs if e.output == "Hologic-equivalent" and e.manufacturer == "Norland"]
    assert to_hologic_equivalent(1.0, "L2-L4", direct, manufacturer="Norland") == pytest.approx(1.0)
