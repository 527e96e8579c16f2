"""The deterministic demo data: content, determinism, the real import path, and known truth."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

from dxa_app.archive import open_archive
from dxa_app.archive.queries import counts
from dxa_app.demo.generate import (
    ESP_SCANS_PER_SCANNER,
    IN_VIVO_SETS,
    N_IN_VIVO,
    QC_DAYS,
    STEP_SHIFT,
    generate,
)
from dxa_app.demo.write import write_demo
from dxa_app.domain import Manufacturer, PhantomPurpose, Sex
from dxa_app.services.importing import import_into
from tests.conftest import DEMO_SEED


def truth_sets(truth: dict[str, object]) -> list[dict[str, object]]:
    sets = truth["in_vivo"]
    assert isinstance(sets, list)
    return sets


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_demo_content_meets_the_brief() -> None:
    data = generate(DEMO_SEED)
    sites = {s.site for s in data.scanners}
    makers = Counter(s.identity.manufacturer for s in data.scanners)
    assert len(sites) >= 3
    assert makers[Manufacturer.HOLOGIC] >= 2 and makers[Manufacturer.GE_LUNAR] >= 2
    assert len(data.patients) >= 200
    cpr = re.compile(r"^(\d{2})(\d{2})(\d{2})-99(\d)(\d)$")
    for p in data.patients:
        m = cpr.match(p.identity.identifier)
        assert m, p.identity.identifier
        assert p.identity.birth_date is not None
        assert p.identity.birth_date.strftime("%d%m%y") == "".join(m.groups()[:3])
        assert (int(m.group(5)) % 2 == 1) == (p.identity.sex is Sex.MALE)
        assert "Demo" in p.identity.name
    assert len({p.identity.identifier for p in data.patients}) == len(data.patients)
    priors = sum(1 for p in data.patients if len([v for v in p.visits if not v.in_vivo]) > 1)
    assert priors >= 30
    assert len(data.vfa_readings) >= 10
    qc = Counter(
        p.scanner.serial for p in data.phantom_scans if p.purpose is PhantomPurpose.DAILY_QC
    )
    assert set(qc.values()) == {QC_DAYS} and len(qc) == len(data.scanners)
    esp = Counter(
        p.scanner.serial for p in data.phantom_scans if p.purpose is PhantomPurpose.TRAVELLING
    )
    assert set(esp.values()) == {ESP_SCANS_PER_SCANNER} and len(esp) == len(data.scanners)
    in_vivo = [p for p in data.patients if any(v.in_vivo for v in p.visits)]
    assert len(in_vivo) == N_IN_VIVO * len(IN_VIVO_SETS)
    pairs = Counter(tuple(sorted(v.scanner_key for v in p.visits)) for p in in_vivo)
    assert pairs == {("S1", "S3"): 30, ("S1", "S2"): 30, ("S1", "S4"): 30}
    for p in in_vivo:
        gap = abs((p.visits[1].date - p.visits[0].date).days)
        assert gap <= 60 and p.visits[0].true == p.visits[1].true
    assert [s["other"] for s in truth_sets(data.truth)] == ["S3", "S2", "S4"]
    truth = data.truth
    assert {s["serial"] for s in truth["scanners"]} == {s.identity.serial for s in data.scanners}
    assert truth["step_shifts"][0]["factor"] == STEP_SHIFT[2]


def test_demo_files_are_deterministic(tmp_path: Path, demo_files: Path) -> None:
    """A second write (in this process) equals the session's (written by `main.py demo`)."""
    write_demo(tmp_path / "a", DEMO_SEED)
    a, b = _digests(tmp_path / "a"), _digests(demo_files)
    assert len(a) > 500
    assert a == b
    other = generate(DEMO_SEED + 1).truth
    assert (
        other["patients"][0]
        != json.loads((tmp_path / "a" / "truth.json").read_text())["patients"][0]
    )


def test_demo_import_lands_everything(demo_archive_master: Path) -> None:
    data = generate(DEMO_SEED)
    db = open_archive(demo_archive_master)
    c = counts(db)
    n_visits = sum(len(p.visits) for p in data.patients)
    assert c.sites == 3 and c.scanners == 4
    assert c.patients == len(data.patients)
    assert c.studies == n_visits
    assert c.scans == 2 * n_visits
    assert c.phantom_scans == len(data.phantom_scans)
    assert c.vfa_readings == len(data.vfa_readings)
    certified = db.execute("SELECT count(*) FROM phantom_certified_values").fetchone()[0]
    assert certified == 3
    failed = db.execute("SELECT count(*) FROM import_log WHERE status = 'failed'").fetchone()[0]
    assert failed == 0


def test_reimporting_the_demo_changes_nothing(demo_archive: Path, demo_files: Path) -> None:
    db = open_archive(demo_archive)
    before = counts(db)
    summary = import_into(db, [demo_files])
    assert summary.counts["imported"] == 0 and summary.counts["failed"] == 0
    assert summary.counts["duplicate"] > 500
    assert counts(db) == before


def _truth_by_study(demo_files: Path) -> tuple[dict[str, dict[str, float]], dict[str, object]]:
    truth = json.loads((demo_files / "truth.json").read_text(encoding="utf-8"))
    by_uid = {v["study_uid"]: v["true"] for p in truth["patients"] for v in p["visits"]}
    return by_uid, truth


@pytest.mark.parametrize(
    "region,group", [("L1-L4", "spine"), ("total_hip", "hip"), ("femoral_neck", "femoral_neck")]
)
def test_archived_raw_values_follow_the_true_bias(
    demo_archive_master: Path, demo_files: Path, region: str, group: str
) -> None:
    """Raw BMD in the archive = intercept + slope * true (x drift), per the truth file."""
    by_uid, truth = _truth_by_study(demo_files)
    shift = truth["step_shifts"][0]  # type: ignore[index]
    db = open_archive(demo_archive_master)
    rows = list(
        db.query(
            "SELECT sc.serial, st.study_uid, st.study_date, rr.bmd_g_cm2, "
            " (SELECT min(included) FROM region_results r2 WHERE r2.scan_id = s.id) AS all_in "
            "FROM region_results rr JOIN scans s ON s.id = rr.scan_id "
            "JOIN studies st ON st.id = s.study_id JOIN scanners sc ON sc.id = s.scanner_id "
            "WHERE rr.region = ?",
            [region],
        )
    )
    for sc in truth["scanners"]:  # type: ignore[attr-defined]
        xs, ys = [], []
        for r in rows:
            if r["serial"] != sc["serial"] or not r["all_in"]:
                continue
            raw = r["bmd_g_cm2"]
            if r["serial"] == shift["serial"] and r["study_date"] >= shift["start"]:
                raw /= shift["factor"]
            xs.append(by_uid[r["study_uid"]][region])
            ys.append(raw)
        assert len(xs) >= 40, sc["serial"]
        fit = stats.linregress(xs, ys)
        bias = sc["bias"][group]
        assert abs(fit.slope - bias["slope"]) < 4 * fit.stderr + 1e-3, (sc["serial"], fit)
        assert abs(fit.intercept - bias["intercept"]) < 4 * fit.intercept_stderr + 1e-3


def test_qc_series_shows_the_injected_step(demo_archive_master: Path, demo_files: Path) -> None:
    _, truth = _truth_by_study(demo_files)
    shift = truth["step_shifts"][0]  # type: ignore[index]
    db = open_archive(demo_archive_master)
    rows = list(
        db.query(
            "SELECT ps.acquired_at, pr.bmd_g_cm2 FROM phantom_scans ps "
            "JOIN phantom_results pr ON pr.phantom_scan_id = ps.id "
            "JOIN scanners sc ON sc.id = ps.scanner_id "
            "WHERE sc.serial = ? AND ps.purpose = 'daily_qc' AND pr.region = 'total'",
            [shift["serial"]],
        )
    )
    start = dt.date.fromisoformat(shift["start"])
    before = [r["bmd_g_cm2"] for r in rows if dt.date.fromisoformat(r["acquired_at"][:10]) < start]
    after = [r["bmd_g_cm2"] for r in rows if dt.date.fromisoformat(r["acquired_at"][:10]) >= start]
    assert len(before) + len(after) == QC_DAYS
    ratio = (sum(after) / len(after)) / (sum(before) / len(before))
    assert ratio == pytest.approx(shift["factor"], abs=0.004)


@pytest.mark.slow
def test_headless_demo_pipeline_prints_counts(demo_cli_output: dict[str, Any]) -> None:
    """What `make run` does without a display: write, import, print the counts.

    The session runs `main.py --archive A demo --out F --json` once (tests/conftest.py,
    ``demo_cli_run``); this test checks what it printed.
    """
    out = demo_cli_output
    c = out["counts"]
    assert c["sites"] == 3 and c["scanners"] == 4 and c["patients"] >= 200
    assert c["studies"] > 200 and c["phantom_scans"] == 400
    assert out["imported"]["failed"] == 0
