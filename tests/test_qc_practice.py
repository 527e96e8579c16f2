"""QC as practised (issue 14): rules after the baseline, restarts, "no QC today", one row a scan."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from calibration.qc import analyse, cusum
from dxa_app.archive import open_archive, write_transaction
from dxa_app.archive.store import store_parsed
from dxa_app.cli import ExitCode, main
from dxa_app.domain import Role
from dxa_app.errors import NotFoundError, PermissionDeniedError, UsageError
from dxa_app.services import qc_ack
from dxa_app.services.calibration import (
    analyse_qc,
    approve_steps,
    calibrate,
    list_steps,
    qc_status,
    start_new_baseline,
)
from tests import programme as pg
from tests.sessions import PASSWORD, session_as

START = dt.date(2026, 3, 2)


def test_rules_and_cusum_start_after_the_baseline() -> None:
    # a baseline whose second half sits +1 SD above its first half: a CUSUM run over the
    # baseline itself builds C+ = 10 x (1 - 0.5) = 5 by its end, so one more value at +1 SD
    # alarmed at once (5.5 > h); started after the baseline it is 0.5
    base_values = [1.0 - 0.001] * 10 + [1.0 + 0.001] * 10
    values = [*base_values, 1.001, 1.0]
    a = analyse(values, n_baseline=20, allow_nonstandard=True)
    b = a.baseline
    assert b.mean == pytest.approx(1.0) and b.sd == pytest.approx(0.001 * np.sqrt(20 / 19))
    old = cusum(values, b)  # the former behaviour: the sums ran through the baseline
    assert 20 in old.alarms
    assert a.cusum.alarms == () and a.cusum.c_plus[:20] == (0.0,) * 20
    assert a.cusum.c_plus[20] == pytest.approx(0.001 / b.sd - 0.5)
    # Westgard: a pattern can only be completed by values after the baseline (4-1s here
    # needs the last three baseline values: no hit)
    assert a.hits == () and a.status == "ok"
    # offsets: a segment analysed at index 100 of its series reports series indices
    shifted = analyse([*base_values, 1.0 + 0.004, 1.0], n_baseline=20, offset=100)
    assert [(h.index, h.rule) for h in shifted.hits] == [(120, "1-2s"), (120, "1-3s")]
    assert analyse(base_values, n_baseline=20).status == "ok"  # a baseline alone is fine


def _qc_archive(tmp_path: Path, values: list[float], *, days: list[int] | None = None) -> Path:
    archive = tmp_path / "qc.sqlite"
    db = open_archive(archive)
    store_parsed(db, pg.qc_series(pg.REF, START, values, days=days))
    db.close()
    return archive


def _shifted(n_before: int = 40, n_after: int = 15, seed: int = 4) -> list[float]:
    rng = np.random.default_rng(seed)
    x = 1.0 + rng.normal(0, 0.0045, n_before + n_after)
    x[n_before:] *= 1.025
    return [float(v) for v in x]


def test_an_approved_drift_correction_starts_a_new_baseline(tmp_path: Path) -> None:
    archive = _qc_archive(tmp_path, _shifted())
    centre = session_as(archive, Role.CENTRE_ANALYST, "centre")
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    [q] = qc_status(tech)
    assert q.status == "reject" and q.analysis is not None and q.analysis.in_alarm_at_end()
    proposal = q.drift_proposal()
    assert proposal is not None and abs(q.dates.index(proposal["start"]) - 40) <= 3
    db = open_archive(archive)
    db.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)",
        ["national_reference_scanner", json.dumps("REF-1"), "2026-01-01"],
    )
    db.close()
    calibrate(centre, bootstrap=0)
    [drift] = [s for s in list_steps(centre, "proposed") if s.kind == "drift"]
    assert drift.provenance["qc_last"] == q.times[-1]
    [pending] = qc_status(tech)
    assert [p["id"] for p in pending.pending_drift] == [drift.id]
    approve_steps(centre, [drift.id], password=PASSWORD, reason="confirmed shift")
    [after] = qc_status(tech)
    assert after.status == "baseline in progress" and after.baseline_progress == (0, 20)
    assert [s.kind for s in after.segments] == ["first", "drift_correction"]
    assert after.segments[0].analysis is not None  # the history keeps its alarms
    assert qc_ack.scanner_alarms(tech, after)
    # 25 new daily scans at the corrected scanner's (shifted) level: a fresh baseline, ok
    rng = np.random.default_rng(9)
    more = [float(v) for v in 1.025 + rng.normal(0, 0.0045, 25)]
    db = open_archive(archive)
    store_parsed(db, pg.qc_series(pg.REF, START, more, days=list(range(55, 80))))
    db.close()
    [renewed] = qc_status(tech)
    seg = renewed.current
    assert seg is not None and seg.kind == "drift_correction" and seg.n == 25
    assert seg.analysis is not None and seg.analysis.baseline.mean == pytest.approx(
        float(np.mean(more[:20]))
    )
    assert renewed.status in ("ok", "warning") and renewed.drift_proposal() is None
    # a second proposal on the new baseline would multiply the approved correction
    assert drift.slope == pytest.approx(proposal["factor"])


def test_new_baseline_on_demand_is_audited_and_role_checked(tmp_path: Path) -> None:
    archive = _qc_archive(tmp_path, _shifted())
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    centre = session_as(archive, Role.CENTRE_ANALYST, "centre")
    doctor = session_as(archive, Role.PHYSICIAN, "doc")
    with pytest.raises(UsageError):
        start_new_baseline(tech, "REF-1", reason="  ")
    with pytest.raises(PermissionDeniedError):
        start_new_baseline(doctor, "REF-1", reason="service")
    with pytest.raises(NotFoundError):
        start_new_baseline(tech, "NOPE", reason="service")
    q = start_new_baseline(
        tech,
        "REF-1",
        reason="detector replaced",
        starts=START + dt.timedelta(days=30),
        service_visit=True,
    )
    assert [(s.kind, s.start, s.stop) for s in q.segments] == [
        ("first", 0, 30),
        ("service", 30, 55),
    ]
    cur = q.current
    assert cur is not None and cur.reason == "detector replaced" and cur.by == "tekla"
    assert cur.analysis is not None and cur.analysis.baseline.n == 20
    # rules of the new segment start after its own 20 baseline scans (index 50)
    assert all(h.index >= 50 for h in cur.analysis.hits)
    assert all(i >= 50 for i in cur.analysis.cusum.alarms)
    start_new_baseline(centre, "REF-1", reason="on request")  # from now: no scans yet
    [now] = qc_status(tech)
    assert now.status == "baseline in progress" and now.current is not None
    assert now.current.kind == "on_demand" and now.current.n == 0
    db = open_archive(archive)
    rows = list(
        db.query("SELECT username, details FROM audit_log WHERE action = 'qc_new_baseline'")
    )
    assert [r["username"] for r in rows] == ["tekla", "centre"]
    assert json.loads(rows[0]["details"])["reason"] == "detector replaced"
    with pytest.raises(Exception, match="cannot be changed"), write_transaction(db):
        db.execute("UPDATE qc_baselines SET reason = 'x'")
    db.close()


def test_new_baseline_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _qc_archive(tmp_path, _shifted())
    session_as(archive, Role.TECHNICIAN, "tekla")
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    base = ["--archive", str(archive), "--user", "tekla"]
    assert main(["qc", "--new-baseline", "REF-1", *base]) == ExitCode.USAGE
    capsys.readouterr()
    args = ["qc", "--new-baseline", "REF-1", "--reason", "service", "--from", "2026-04-01"]
    assert main([*args, "--json", *base]) == ExitCode.OK
    out = json.loads(capsys.readouterr().out)
    assert [s["kind"] for s in out["segments"]] == ["first", "on_demand"]
    assert out["segments"][1]["first"] == "2026-04-01"
    assert main(["qc", *base]) == ExitCode.OK
    text = capsys.readouterr().out
    assert "NO QC TODAY" in text and "baseline from 2026-04-01 (on_demand: service)" in text


def test_a_software_change_starts_a_new_baseline(tmp_path: Path) -> None:
    archive = _qc_archive(tmp_path, _shifted(40, 0))
    db = open_archive(archive)
    p = pg.person(3)
    studies = []
    for n, (day, version) in enumerate(((5, "Apex 5.6"), (12, "Apex 5.6"), (25, "Apex 6.0"))):
        studies.append(
            pg.hip_study(
                pg.REF,
                p,
                f"1.2.8.{n}",
                START + dt.timedelta(days=day),
                total_hip=0.8,
                software_version=version,
            )
        )
    pg.store_studies(db, studies)
    [q] = analyse_qc(db)
    db.close()
    assert [(s.kind, s.start) for s in q.segments] == [("first", 0), ("software_change", 25)]
    assert q.current is not None and q.current.reason == "Apex 5.6 -> Apex 6.0"
    assert q.status == "baseline in progress" and q.baseline_progress == (15, 20)


def test_no_qc_today_is_its_own_state(tmp_path: Path) -> None:
    archive = _qc_archive(tmp_path, _shifted())
    db = open_archive(archive)
    last = START + dt.timedelta(days=54)
    [today] = analyse_qc(db, today=last)
    [later] = analyse_qc(db, today=last + dt.timedelta(days=90))
    db.close()
    assert today.today_status == today.status == "reject" and today.days_since_last == 0
    assert later.status == "reject"  # the last result is kept, but it is not today's
    assert later.today_status == "no QC today" and later.days_since_last == 90
    assert later.to_dict()["days_since_last_qc"] == 90


def test_one_alarm_row_per_scan_and_acknowledgement_per_scan(tmp_path: Path) -> None:
    values = [1.0 + (0.001 if i % 2 else -0.001) for i in range(20)] + [1.0] * 5 + [1.03]
    archive = _qc_archive(tmp_path, values)
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    [q] = qc_status(tech)
    alarms = qc_ack.scanner_alarms(tech, q)
    # the last scan is +30 SD: 1-2s, 1-3s and the 1.5 % limit fire on it, and the CUSUM
    [row] = alarms
    assert row.index == 25 and row.rules == ("1-2s", "1-3s", "limit", "CUSUM")
    assert row.rule == "1-2s, 1-3s, limit, CUSUM" and row.severity == "reject"
    [stored] = qc_ack.acknowledge_alarms(tech, [row], comment="rescanned: within limits")
    assert stored.rule == "scan: 1-2s, 1-3s, limit, CUSUM"
    [done] = qc_ack.scanner_alarms(tech, q)
    assert done.acknowledged and done.comment == "rescanned: within limits"
    db = open_archive(archive)
    assert db.execute("SELECT count(*) FROM qc_acknowledgements").fetchone()[0] == 1
    assert (
        db.execute("SELECT count(*) FROM audit_log WHERE action = 'qc_acknowledge'").fetchone()[0]
        == 1
    )
    db.close()


def test_acknowledgements_stored_per_rule_stay_readable(tmp_path: Path) -> None:
    values = [1.0 + (0.001 if i % 2 else -0.001) for i in range(20)] + [1.0] * 5 + [1.03]
    archive = _qc_archive(tmp_path, values)
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    [q] = qc_status(tech)
    scan_id = q.phantom_scan_ids[25]
    db = open_archive(archive)
    with write_transaction(db):  # the rows an older version stored: one per rule
        for n, rule in enumerate(("1-2s", "1-3s", "limit")):
            db.execute(
                "INSERT INTO qc_acknowledgements (scanner_id, phantom_scan_id, rule, username,"
                " at, comment) VALUES (?, ?, ?, 'old', ?, ?)",
                [q.scanner_id, scan_id, rule, f"2026-04-01T10:0{n}:00", f"old {rule}"],
            )
    db.close()
    [partial] = qc_ack.scanner_alarms(tech, q)
    assert not partial.acknowledged  # the CUSUM alarm of that scan was never acknowledged
    db = open_archive(archive)
    with write_transaction(db):
        db.execute(
            "INSERT INTO qc_acknowledgements (scanner_id, phantom_scan_id, rule, username, at,"
            " comment) VALUES (?, ?, 'CUSUM', 'old', '2026-04-01T10:05:00', 'old CUSUM')",
            [q.scanner_id, scan_id],
        )
    db.close()
    [whole] = qc_ack.scanner_alarms(tech, q)
    assert whole.acknowledged and whole.acknowledged_by == "old"
    assert whole.comment == "old CUSUM"  # the latest of the rows that cover it
