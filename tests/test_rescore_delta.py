"""A rescore stores only the values that changed, and every earlier run reads as before."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dxa_app.archive import db as archive_db
from dxa_app.archive import open_archive
from dxa_app.archive.database import Database
from dxa_app.archive.migrations import MIGRATIONS
from dxa_app.archive.outbox import run_diagnosis, run_scores
from dxa_app.archive.scores import latest_run, run_rows
from dxa_app.archive.steps import mark_approved, propose_step, step_by_id
from dxa_app.archive.store import store_parsed
from dxa_app.domain import Region, RegionResult, ScanRecord, ScanType, Side, StudyInfo
from dxa_app.services.scoring import compute_study_scores, rescore, score_study
from tests.factories import SCANNER, parsed, study_record

OTHER = replace(SCANNER, serial="TEST-002")


def _count(db: Database, table: str) -> int:
    return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _scanner(db: Database, serial: str) -> int:
    return int(db.execute("SELECT id FROM scanners WHERE serial = ?", [serial]).fetchone()[0])


def _approve(db: Database, scanner: int, region: str, intercept: float, valid_from: str) -> None:
    step = propose_step(
        db,
        scanner_id=scanner,
        region=region,
        kind="scanner",
        intercept=intercept,
        slope=1.0,
        valid_from=valid_from,
        method="ols",
        dataset=f"test {region} {intercept} {valid_from}",
        n=10,
        provenance={},
        by="test",
    )
    assert step is not None
    mark_approved(db, step_by_id(db, step), "test")
    db.conn.commit()


def _dated(n: int, day: dt.date, *, hip: bool = False) -> Any:
    """Study n on ``day``: the spine scan, and a hip scan when asked."""
    record = study_record(n)
    scans = tuple(
        replace(s, acquired_at=dt.datetime(day.year, day.month, day.day, 9)) for s in record.scans
    )
    if hip:
        results = (
            RegionResult(Region.TOTAL_HIP, 0.82, 30.0, 25.0, -1.6, -0.6),
            RegionResult(Region.FEMORAL_NECK, 0.70, 5.0, 3.5, -2.0, -0.9),
        )
        scans = (
            *scans,
            ScanRecord(
                f"test:{record.study.study_uid}:hip",
                ScanType.HIP,
                dt.datetime(day.year, day.month, day.day, 10),
                side=Side.LEFT,
                results=results,
            ),
        )
    return replace(record, study=StudyInfo(record.study.study_uid, day), scans=scans)


def _snapshot(db: Database, sid: int, run: str) -> tuple[Any, Any]:
    return run_scores(db, sid, run), run_diagnosis(db, sid, run)


def test_one_scanners_step_touches_only_its_studies_and_only_changed_rows(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    try:
        # six studies of five spine regions each: 1, 3, 5 on OTHER, 2, 4, 6 on SCANNER
        records = [study_record(n) for n in range(1, 7)]
        records = [replace(r, scanner=OTHER) if n % 2 == 0 else r for n, r in enumerate(records)]
        store_parsed(db, parsed(*records))
        first = rescore(db)
        assert first["score_rows"] == 30 and first["new_runs"] == 6
        assert _count(db, "scores") == 30 and _count(db, "score_runs") == 6
        before = {sid: _snapshot(db, sid, latest_run(db, sid) or "") for sid in range(1, 7)}

        # a new approved step on SCANNER: its three studies get 5 rows each, OTHER's none
        _approve(db, _scanner(db, SCANNER.serial), "all", 0.05, "2020-01-01")
        result = rescore(db)
        assert result["recomputed"] == 3 and result["new_runs"] == 3
        assert result["score_rows"] == 15
        assert _count(db, "scores") == 45 and _count(db, "score_runs") == 9
        on_scanner = {
            int(r[0])
            for r in db.execute(
                "SELECT study_id FROM score_runs WHERE id > 6 ORDER BY study_id"
            ).fetchall()
        }
        assert on_scanner == {2, 4, 6}
        # every earlier run still reads exactly as it did
        for sid, snapshot in before.items():
            assert _snapshot(db, sid, _first_run(db, sid)) == snapshot
        assert [len(run_rows(db, sid)) for sid in range(1, 7)] == [5] * 6
        # the new runs carry the shifted BMD (+0.05 on every region)
        new = run_scores(db, 2, latest_run(db, 2) or "")
        old = before[2][0]
        assert [
            round(n.harmonised_bmd - o.harmonised_bmd, 9) for n, o in zip(new, old, strict=True)
        ] == [0.05] * 5
        # nothing changed: nothing stored
        assert rescore(db)["recomputed"] == 0
        assert [score_study(db, sid).run for sid in (2, 3)] == [
            latest_run(db, 2),
            latest_run(db, 3),
        ]
        assert _count(db, "scores") == 45 and _count(db, "score_runs") == 9
    finally:
        db.close()


def _first_run(db: Database, sid: int) -> str:
    return str(
        db.execute(
            "SELECT run FROM score_runs WHERE study_id = ? ORDER BY id LIMIT 1", [sid]
        ).fetchone()[0]
    )


def test_a_rescore_stores_rows_only_for_the_values_that_changed(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    try:
        # studies 1-2 in 2019, 3-4 in 2026, each with a spine (5 regions) and a hip scan (2)
        records = [
            _dated(n, dt.date(2019, 3, 1) if n <= 2 else dt.date(2026, 6, 1), hip=True)
            for n in range(1, 5)
        ]
        store_parsed(db, parsed(*records))
        rescore(db)
        assert _count(db, "scores") == 28
        runs_1 = {sid: latest_run(db, sid) or "" for sid in range(1, 5)}
        before = {sid: _snapshot(db, sid, runs_1[sid]) for sid in range(1, 5)}
        assert all(len(scores) == 7 for scores, _diag in before.values())

        # a spine step from 2025: studies 3 and 4 change, and only their five spine regions
        _approve(db, _scanner(db, SCANNER.serial), "spine", 0.04, "2025-01-01")
        result = rescore(db)
        assert result["recomputed"] == 4
        assert result["new_runs"] == 2
        assert result["score_rows"] == 10  # 2 studies x 5 spine regions; hips not copied
        assert _count(db, "scores") == 38
        written = db.execute(
            "SELECT study_id, region FROM scores WHERE id > 28 ORDER BY id"
        ).fetchall()
        assert sorted({int(r[0]) for r in written}) == [3, 4]
        assert {str(r[1]) for r in written} == {"L1", "L2", "L3", "L4", "L1-L4"}
        assert latest_run(db, 1) == runs_1[1] and latest_run(db, 2) == runs_1[2]

        # the new run reads as the fresh computation; the old run reads as before
        for sid in (3, 4):
            run = latest_run(db, sid) or ""
            assert run != runs_1[sid]
            fresh = compute_study_scores(db, sid)
            now = run_scores(db, sid, run)
            assert [(r.region, r.harmonised_bmd, r.t_printed, r.chain) for r in now] == [
                (r.region, r.harmonised_bmd, r.t_printed, r.chain) for r in fresh.regions
            ]
            hip = [r for r in now if r.region in ("total_hip", "femoral_neck")]
            assert hip == [r for r in before[sid][0] if r.region in ("total_hip", "femoral_neck")]
            assert _snapshot(db, sid, runs_1[sid]) == before[sid]
            d = run_diagnosis(db, sid, run)
            assert d is not None and fresh.diagnosis is not None
            assert d["category"] == str(fresh.diagnosis.category)
            assert d["printed_score"] == str(fresh.diagnosis.printed_score)

        # a second step on the hip from 2025: only the hip rows of 3 and 4, and the
        # spine rows of the first delta run still apply to the newest run
        _approve(db, _scanner(db, SCANNER.serial), "total_hip", -0.03, "2025-01-01")
        second = {sid: latest_run(db, sid) or "" for sid in (3, 4)}
        middle = {sid: _snapshot(db, sid, second[sid]) for sid in (3, 4)}
        result = rescore(db)
        assert result["score_rows"] == 2
        for sid in (3, 4):
            newest = run_scores(db, sid, latest_run(db, sid) or "")
            assert [r.harmonised_bmd for r in newest] == [
                r.harmonised_bmd for r in compute_study_scores(db, sid).regions
            ]
            assert _snapshot(db, sid, second[sid]) == middle[sid]
            assert _snapshot(db, sid, runs_1[sid]) == before[sid]
    finally:
        db.close()


def _old_store(db: Database, sid: int, run: str) -> list[tuple[Any, ...]]:
    """Store a complete run the way the archive did before migration 0019; return its rows."""
    s = compute_study_scores(db, sid)
    rows = []
    for r in s.regions:
        values = (
            r.region_result_id, sid, r.region, r.raw_bmd, r.harmonised_bmd,
            json.dumps(list(r.chain)), r.chain_a, r.chain_b, r.t_reference, r.z_reference,
            r.t, r.z, r.t_printed, r.z_printed, s.age, "2025-01-01T00:00:00", "old", run,
        )  # fmt: skip
        db.execute(
            "INSERT INTO scores (region_result_id, study_id, region, raw_bmd_g_cm2,"
            " harmonised_bmd_g_cm2, chain, chain_intercept, chain_slope, t_reference,"
            " z_reference, t_score, z_score, t_printed, z_printed, age_years, computed_at,"
            " computed_by, run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            list(values),
        )
        rows.append((r.region, r.harmonised_bmd, tuple(r.chain), r.t_printed, r.z_printed))
    d = s.diagnosis
    assert d is not None
    db.execute(
        "INSERT INTO diagnoses (study_id, score_kind, category, deciding_region, printed_score,"
        " note, harmonised, computed_at, run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [sid, d.score_kind, str(d.category), d.deciding_region, str(d.printed_score), d.note,
         int(s.harmonised), "2025-01-01T00:00:00", run],
    )  # fmt: skip
    db.conn.commit()
    return rows


def test_runs_stored_before_the_migration_read_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.sqlite"
    names = [m.name for m in MIGRATIONS]  # an archive as written before 0019 (and later ones)
    monkeypatch.setattr(
        archive_db, "MIGRATIONS", MIGRATIONS[: names.index("0019_score_runs_delta")]
    )
    db = open_archive(path)
    store_parsed(
        db, parsed(_dated(1, dt.date(2026, 6, 1), hip=True), _dated(2, dt.date(2026, 6, 1)))
    )
    scanner = _scanner(db, SCANNER.serial)
    old_a = {sid: _old_store(db, sid, f"run-a-{sid}") for sid in (1, 2)}
    # a step, then a second complete run of study 1 (the old way copied every row)
    _approve(db, scanner, "spine", 0.02, "2020-01-01")
    old_b = _old_store(db, 1, "run-b-1")
    db.close()
    monkeypatch.undo()

    db = open_archive(path)  # migration 0019 indexes the old runs
    try:

        def read(sid: int, run: str) -> list[tuple[Any, ...]]:
            return [
                (r.region, r.harmonised_bmd, r.chain, r.t_printed, r.z_printed)
                for r in run_scores(db, sid, run)
            ]

        assert read(1, "run-a-1") == old_a[1] and read(2, "run-a-2") == old_a[2]
        assert read(1, "run-b-1") == old_b
        assert old_b != old_a[1]
        assert latest_run(db, 1) == "run-b-1" and latest_run(db, 2) == "run-a-2"
        assert run_diagnosis(db, 1, "run-a-1") is not None
        # study 1 is on the current chain: nothing new; study 2 gets a delta run (spine only)
        assert score_study(db, 1).run == "run-b-1"
        n = _count(db, "scores")
        assert score_study(db, 2).run != "run-a-2"
        assert _count(db, "scores") == n + 5
        assert read(2, "run-a-2") == old_a[2]
        assert run_scores(db, 1, "no such run") == [] and run_diagnosis(db, 1, "x") is None
    finally:
        db.close()
