"""Drift as drift (issue 14): a slow drift is corrected as a ramp, a step as a step."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from calibration.chain import drift_factor
from calibration.qc import baseline, propose_correction
from dxa_app.archive import open_archive, set_setting
from dxa_app.archive.steps import REFERENCE_SCANNER_KEY, approved_chain
from dxa_app.archive.store import store_parsed
from dxa_app.domain import Role
from dxa_app.services.calibration import approve_steps, calibrate, list_steps, qc_status
from tests import programme as pg
from tests.sessions import PASSWORD, session_as

START = dt.date(2026, 1, 5)
RAMP_FROM = 45  # the last day at the old level; +0.02 % a day after it
RATE = 0.0002
N_DAYS = 120


def ramp_truth(day: int) -> float:
    """The phantom's true reading on a day: 1.000 until RAMP_FROM, then +0.02 % a day."""
    return 1.0 + RATE * max(day - RAMP_FROM, 0)


def ramp_series(seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return [ramp_truth(d) * (1 + float(rng.normal(0, 0.0045))) for d in range(N_DAYS)]


def step_series(seed: int, at: int = 50, size: float = 0.025) -> list[float]:
    rng = np.random.default_rng(seed)
    return [
        (1 + size if d >= at else 1.0) * (1 + float(rng.normal(0, 0.0045))) for d in range(N_DAYS)
    ]


def test_drift_factor_step_and_ramp() -> None:
    d0 = dt.date(2026, 1, 1)
    assert drift_factor(0.97, 0.0, d0, None, dt.date(2030, 1, 1)) == 0.97
    end = d0 + dt.timedelta(days=50)
    assert drift_factor(1.0, -0.0002, d0, end, d0) == 1.0
    assert drift_factor(1.0, -0.0002, d0, end, d0 + dt.timedelta(days=25)) == pytest.approx(0.995)
    assert drift_factor(1.0, -0.0002, d0, end, end + dt.timedelta(days=300)) == pytest.approx(0.99)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_slow_drift_is_corrected_as_a_ramp_within_0_3_pct(seed: int) -> None:
    x = np.asarray(ramp_series(seed))
    days = np.arange(N_DAYS, dtype=float)
    base = baseline(x[:20])
    p = propose_correction(x[20:], base, days[20:], baseline_values=x[:20])
    assert p is not None and p.model == "ramp"
    assert p.sd_ramp is not None and p.sd_step is not None and p.sd_ramp < p.sd_step
    assert p.end_day == N_DAYS - 1
    # the corrected true reading stays within 0.3 % of the truth over the whole ramp
    errors = [abs(ramp_truth(d) * p.factor_on(d) - 1.0) for d in range(RAMP_FROM, N_DAYS)]
    assert max(errors) < 0.003, max(errors)
    # a constant factor from a start date (the former model) misses by much more
    const = 1.0 / np.mean(x[RAMP_FROM + 1 :])
    worst = max(abs(ramp_truth(d) * const - 1.0) for d in range(RAMP_FROM + 1, N_DAYS))
    assert worst > 0.005


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_step_is_still_corrected_as_a_step(seed: int) -> None:
    x = np.asarray(step_series(seed))
    days = np.arange(N_DAYS, dtype=float)
    base = baseline(x[:20])
    p = propose_correction(x[20:], base, days[20:], baseline_values=x[:20])
    assert p is not None and p.model == "step" and p.per_day == 0.0
    assert abs(p.start_index + 20 - 50) <= 3
    assert p.factor == pytest.approx(1 / 1.025, rel=0.003)


def _ramp_archive(tmp_path: Path, values: list[float]) -> Path:
    archive = tmp_path / "ramp.sqlite"
    db = open_archive(archive)
    store_parsed(db, pg.qc_series(pg.REF, START, values))
    set_setting(db, REFERENCE_SCANNER_KEY, pg.REF.serial)
    db.close()
    return archive


def test_the_ramp_travels_through_calibrate_approve_and_the_chain(tmp_path: Path) -> None:
    archive = _ramp_archive(tmp_path, ramp_series(7))
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    centre = session_as(archive, Role.CENTRE_ANALYST, "centre")
    [q] = qc_status(tech)
    proposal = q.drift_proposal()
    assert proposal is not None and proposal["model"] == "ramp"
    assert proposal["ramp_end"] == (START + dt.timedelta(days=N_DAYS - 1)).isoformat()
    assert "slow drift fits better than a step" in proposal["evidence"]
    run = calibrate(centre, bootstrap=0)
    assert [d["model"] for d in run.drift] == ["ramp"]
    [step] = [s for s in list_steps(centre, "proposed") if s.kind == "drift"]
    assert step.method == "qc-cusum-ramp" and step.slope == 1.0 and step.per_day < 0
    assert step.ramp_end == proposal["ramp_end"] and step.valid_from == proposal["start"]
    approve_steps(centre, [step.id], password=PASSWORD, reason="slow detector drift")
    db = open_archive(archive)
    sid = pg.scanner_id(db, pg.REF.serial)
    errors = []
    for d in range(RAMP_FROM, N_DAYS + 60):
        on = (START + dt.timedelta(days=d)).isoformat()
        chain = approved_chain(db, sid, "L1-L4", on)
        factor = chain[0].slope if chain else 1.0
        truth = ramp_truth(min(d, N_DAYS - 1))  # after the last QC the scanner stays there
        errors.append(abs(truth * factor - 1.0))
    db.close()
    assert max(errors) < 0.003, max(errors)
    # held after the last QC scan it was fitted on, and the QC starts a new baseline there
    [after] = qc_status(tech)
    assert after.status == "baseline in progress"
    assert after.segments[-1].kind == "drift_correction"


def test_a_step_in_the_archive_is_a_step(tmp_path: Path) -> None:
    archive = _ramp_archive(tmp_path, step_series(4))
    centre = session_as(archive, Role.CENTRE_ANALYST, "centre")
    calibrate(centre, bootstrap=0)
    [step] = [s for s in list_steps(centre, "proposed") if s.kind == "drift"]
    assert step.method == "qc-cusum" and step.per_day == 0.0 and step.ramp_end is None
    assert step.slope == pytest.approx(1 / 1.025, rel=0.003)
    day = dt.date.fromisoformat(step.valid_from)
    assert abs((day - START).days - 50) <= 3
    assert step.provenance["model"] == "step"
    assert json.loads(json.dumps(step.provenance))["residual_sd_ramp"] is not None


def test_a_ramp_travels_in_the_centres_corrections(tmp_path: Path) -> None:
    from dxa_app.centre import corrections as corr
    from dxa_app.centre.keys import generate_key_pair

    centre_archive = _ramp_archive(tmp_path, ramp_series(7))
    centre = session_as(centre_archive, Role.CENTRE_ANALYST, "centre")
    calibrate(centre, bootstrap=0)
    [step] = [s for s in list_steps(centre, "proposed") if s.kind == "drift"]
    approve_steps(centre, [step.id], password=PASSWORD, reason="slow drift")
    private, public = generate_key_pair()
    db = open_archive(centre_archive)
    _data, payload = corr.build_corrections(db, private, public, reference=pg.REF.serial)
    db.close()
    assert payload["schema_version"] == 2
    [published] = payload["steps"]
    assert published["per_day"] == step.per_day and published["ramp_end"] == step.ramp_end
    site = tmp_path / "site.sqlite"
    sdb = open_archive(site)
    store_parsed(sdb, pg.qc_series(pg.REF, START, [1.0] * 3))
    result = corr.install(sdb, payload, "pub-1", by="tekla")
    [installed] = result.installed
    sid = pg.scanner_id(sdb, pg.REF.serial)
    on = (START + dt.timedelta(days=N_DAYS + 30)).isoformat()
    [chain] = approved_chain(sdb, sid, "total_hip", on)
    expected = drift_factor(
        1.0,
        step.per_day,
        dt.date.fromisoformat(step.valid_from),
        dt.date.fromisoformat(str(step.ramp_end)),
        dt.date.fromisoformat(on),
    )
    assert chain.step_id == installed and chain.slope == pytest.approx(expected)
    # a version 1 file (no ramp fields) still installs, as a constant factor
    old = {**payload, "schema_version": 1, "published_at": "2026-01-01T00:00:00+00:00"}
    old["steps"] = [
        {k: v for k, v in published.items() if k not in ("per_day", "ramp_end")} | {"slope": 0.99}
    ]
    corr.install(sdb, old, "pub-0", by="tekla")
    [chain] = approved_chain(sdb, sid, "total_hip", on)
    assert chain.slope == 0.99
    sdb.close()
