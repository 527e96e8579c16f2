"""QC that scales: the streamed per-scanner analysis and the status cache give the full answer."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from calibration.qc import _cusum_arrays, analyse, extend
from dxa_app.archive import open_archive
from dxa_app.archive.database import Database
from dxa_app.archive.qc import baseline_starts, pending_drift_steps
from dxa_app.archive.store import store_parsed
from dxa_app.domain import ParsedSource, Role
from dxa_app.services import calibration as calibration_service
from dxa_app.services import qc_ack
from dxa_app.services.calibration import (
    ScannerQc,
    _drift_candidates,
    _segments,
    analyse_qc,
    approve_steps,
    calibrate,
    iter_qc,
    list_steps,
    qc_status,
    start_new_baseline,
)
from dxa_app.services.calibration_views import scanner_overview
from tests import programme as pg
from tests.conftest import copy_archive
from tests.sessions import PASSWORD, session_as

START = dt.date(2026, 3, 2)


def _whole_archive_analysis(db: Database, today: dt.date) -> list[ScannerQc]:
    """The analysis as it was before streaming: every scanner's rows in one read."""
    series: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in db.query(
        "SELECT sc.id AS scanner_id, sc.serial, sc.model, coalesce(si.code, '') AS site,"
        " ps.id AS ps_id, ps.acquired_at, pr.bmd_g_cm2 FROM phantom_scans ps"
        " JOIN phantom_results pr ON pr.phantom_scan_id = ps.id"
        " JOIN scanners sc ON sc.id = ps.scanner_id LEFT JOIN sites si ON si.id = sc.site_id"
        " WHERE ps.purpose = 'daily_qc' AND pr.region = 'total'"
        " ORDER BY si.code, sc.serial, ps.acquired_at, ps.id"
    ):
        series[r["scanner_id"]].append(r)
    out = []
    for scanner_id, items in series.items():
        values = tuple(float(r["bmd_g_cm2"]) for r in items)
        times = tuple(str(r["acquired_at"]) for r in items)
        dates = tuple(t[:10] for t in times)
        segments = _segments(
            times, values, baseline_starts(db, scanner_id), n_baseline=20, k=0.5, h=5.0
        )
        out.append(
            ScannerQc(
                scanner_id,
                items[0]["serial"],
                items[0]["model"],
                items[0]["site"],
                len(values),
                dates[0],
                dates[-1],
                segments,
                dates,
                values,
                tuple(int(r["ps_id"]) for r in items),
                today.isoformat(),
                20,
                tuple(pending_drift_steps(db, scanner_id)),
                times,
            )
        )
    return out


def test_the_single_series_cusum_is_bit_identical_to_the_array_loop() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(0.4, 1.3, 3650)
    z[::97] = 0.0
    for k in (0.0, 0.25, 0.5):
        plus, minus = _cusum_arrays(z, k)
        plus2, minus2 = _cusum_arrays(z[None, :], k)  # the numpy loop over series
        assert plus.tobytes() == plus2[0].tobytes() and minus.tobytes() == minus2[0].tobytes()
    # a zero sum stays as numpy's maximum leaves it (-0.0 included)
    plus, minus = _cusum_arrays(np.array([-0.0, -0.0, 1.0]), 0.0)
    plus2, minus2 = _cusum_arrays(np.array([[-0.0, -0.0, 1.0]]), 0.0)
    assert plus.tobytes() == plus2[0].tobytes() and minus.tobytes() == minus2[0].tobytes()


def test_streamed_analysis_equals_the_whole_archive_read(
    demo_calibrated_master: Path, tmp_path: Path
) -> None:
    archive = copy_archive(demo_calibrated_master, tmp_path / "demo.dxa.sqlite")
    today = dt.date(2026, 6, 1)
    db = open_archive(archive)
    before = _whole_archive_analysis(db, today)
    streamed = analyse_qc(db, today=today)
    assert len(before) >= 2 and any(q.analysis is not None for q in before)
    assert streamed == before  # every field: series, segments, hits, CUSUM, proposals
    assert [q.serial for q in iter_qc(db, today=today)] == [q.serial for q in before]
    assert [json.dumps(q.to_dict(), sort_keys=True) for q in streamed] == [
        json.dumps(q.to_dict(), sort_keys=True) for q in before
    ]
    assert _drift_view(db) == _drift_view(db, full=True)
    db.close()


def _drift_view(db: Database, *, full: bool = False) -> list[Any]:
    """What the drift proposals read: serial, current segment start, the proposal (if any)."""
    qcs = analyse_qc(db) if full else list(_drift_candidates(db, 20))
    return [
        (q.serial, q.current.started if q.current else None, q.drift_proposal())
        for q in qcs
        if q.drift_proposal() is not None
    ]


def replace_key(source: ParsedSource, tag: str) -> ParsedSource:
    """The same phantom scans under other source keys (another export of the same days)."""
    scans = tuple(
        dataclasses.replace(s, source_key=f"{s.source_key}:{tag}") for s in source.phantom_scans
    )
    return dataclasses.replace(source, phantom_scans=scans)


def _fresh(archive: Path) -> list[ScannerQc]:
    db = open_archive(archive)
    try:
        return analyse_qc(db)
    finally:
        db.close()


def _shifted(n: int = 55, seed: int = 4) -> list[float]:
    rng = np.random.default_rng(seed)
    x = 1.0 + rng.normal(0, 0.0045, n)
    x[40:] *= 1.025
    return [float(v) for v in x]


def test_cached_status_equals_a_fresh_analysis_after_every_change(tmp_path: Path) -> None:
    archive = tmp_path / "qc.sqlite"
    db = open_archive(archive)
    store_parsed(db, pg.qc_series(pg.REF, START, _shifted()))
    store_parsed(db, pg.qc_series(pg.OTHER, START, _shifted(30, 5)[:30]))
    db.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)",
        ["national_reference_scanner", json.dumps("REF-1"), "2026-01-01"],
    )
    db.close()
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    centre = session_as(archive, Role.CENTRE_ANALYST, "centre")
    first = qc_status(tech)
    assert first == _fresh(archive) and [q.serial for q in first] == ["OTH-2", "REF-1"]
    db = open_archive(archive)
    proposals = _drift_view(db)
    assert proposals == _drift_view(db, full=True) and [p[0] for p in proposals] == ["REF-1"]
    db.close()
    again = qc_status(tech)
    assert all(a is b for a, b in zip(again, first, strict=True))  # nothing changed: reused

    # a new QC scan of one scanner: that scanner alone is analysed again
    db = open_archive(archive)
    store_parsed(db, pg.qc_series(pg.OTHER, START, [1.0], days=[30]))
    db.close()
    other, ref = qc_status(tech)
    assert other.n_scans == 31 and other is not first[0] and ref is first[1]
    assert [other, ref] == _fresh(archive)

    # acknowledging an alarm is not an input of the analysis; the status stays the full one
    [alarm, *_rest] = qc_ack.scanner_alarms(tech, ref)
    qc_ack.acknowledge_alarms(tech, [alarm], comment="seen")
    assert qc_status(tech) == _fresh(archive)

    # a drift step proposed, then approved (a new baseline segment)
    calibrate(centre, bootstrap=0)
    [drift] = [s for s in list_steps(centre, "proposed") if s.kind == "drift"]
    pending = qc_status(tech)
    assert [p["id"] for p in pending[1].pending_drift] == [drift.id]
    assert pending == _fresh(archive)
    approve_steps(centre, [drift.id], password=PASSWORD, reason="confirmed shift")
    approved = qc_status(tech)
    assert approved[1].status == "baseline in progress" and approved == _fresh(archive)

    # a new baseline on request
    start_new_baseline(tech, "OTH-2", reason="service visit", starts=START + dt.timedelta(10))
    renewed = qc_status(tech)
    assert renewed[0].current is not None and renewed[0].current.kind == "on_demand"
    assert renewed == _fresh(archive)

    # a software change seen in the patient scans restarts the baseline too
    db = open_archive(archive)
    p = pg.person(3)
    pg.store_studies(
        db,
        [
            pg.hip_study(
                pg.REF,
                p,
                f"1.2.9.{n}",
                START + dt.timedelta(days=day),
                total_hip=0.8,
                software_version=v,
            )
            for n, (day, v) in enumerate(((5, "Apex 5.6"), (50, "Apex 6.0")))
        ],
    )
    db.close()
    changed = qc_status(tech)
    assert [s.kind for s in changed[1].segments][-1] in ("software_change", "drift_correction")
    assert "software_change" in [s.kind for s in changed[1].segments]
    assert changed == _fresh(archive)

    # other parameters are analysed afresh; the overview shares the cached status
    db = open_archive(archive)
    assert qc_status(tech, n_baseline=15) == analyse_qc(db, n_baseline=15)
    db.close()
    overview = {s.serial: s.qc for s in scanner_overview(tech)}
    assert overview["REF-1"] == changed[1] and overview["OTH-2"] == changed[0]


def test_a_different_archive_is_not_served_from_the_cache(tmp_path: Path) -> None:
    one, two = tmp_path / "one.sqlite", tmp_path / "two.sqlite"
    for archive, values in ((one, _shifted()), (two, _shifted(45, 8))):
        db = open_archive(archive)
        store_parsed(db, pg.qc_series(pg.REF, START, values))
        db.close()
    [a] = qc_status(session_as(one, Role.TECHNICIAN, "t"))
    [b] = qc_status(session_as(two, Role.TECHNICIAN, "t"))
    assert (a.n_scans, b.n_scans) == (55, 45)
    assert [a] == _fresh(one) and [b] == _fresh(two)


def test_extending_an_analysis_equals_analysing_the_whole_segment() -> None:
    rng = np.random.default_rng(11)
    checked = 0
    for trial in range(60):
        n = int(rng.integers(40, 300))
        v = 1.0 + rng.normal(0, 0.0045, n)
        if trial % 3 == 0:
            v[n // 2 :] *= 1.02  # a shift: CUSUM alarm and a drift proposal
        if trial % 4 == 0:
            v[rng.integers(20, n, 4)] += 0.02  # outliers: 1-3s, limit, R-4s
        days = np.cumsum(rng.integers(1, 3, n)) + 738000
        offset = int(rng.integers(0, 40))
        whole = analyse(v, n_baseline=20, offset=offset, days=days)
        for m in (20, 25, 29, 30, 31, n // 2, n - 1, n):
            part = analyse(v[:m], n_baseline=20, offset=offset, days=days[:m])
            assert extend(part, v, m, days=days) == whole, (trial, m)
            checked += 1
    assert checked == 480


def test_new_qc_scans_extend_the_cached_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysed: list[str] = []
    whole = calibration_service._analyse_scanner

    def counting(db: Database, scanner: Any, *args: Any, **kw: Any) -> Any:
        analysed.append(scanner.serial)
        return whole(db, scanner, *args, **kw)

    monkeypatch.setattr(calibration_service, "_analyse_scanner", counting)
    archive = tmp_path / "qc.sqlite"
    db = open_archive(archive)
    store_parsed(db, pg.qc_series(pg.REF, START, _shifted(120, 6)[:60]))  # in control
    store_parsed(db, pg.qc_series(pg.OTHER, START, _shifted(55, 7)))  # drifted: in alarm
    db.close()
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    first = qc_status(tech)
    assert analysed == ["REF-1", "OTH-2"]  # the first look analyses both (by scanner id)
    assert first == _fresh(archive)
    rng = np.random.default_rng(12)
    day = 60
    for batch in (1, 3, 12):
        values = [float(x) for x in 1.0 + rng.normal(0, 0.0045, batch)]
        values[-1] += 0.03 if batch == 3 else 0.0  # an outlier among the new scans
        db = open_archive(archive)
        days = list(range(day, day + batch))
        store_parsed(db, pg.qc_series(pg.REF, START, values, days=days))
        store_parsed(db, pg.qc_series(pg.OTHER, START, values, days=days))
        db.close()
        day += batch
        analysed.clear()
        status = qc_status(tech)
        assert analysed == []  # every new scan extended the cached analysis
        assert status == _fresh(archive)
        assert [q.n_scans for q in status] == [55 + day - 60, day]
    assert status[1].analysis is not None and status[1].analysis.hits  # the outlier fired
    assert status[0].drift_proposal() is not None  # OTHER-2 still drifted: proposal renewed
    # a scan from before the series' end (a late import) is analysed afresh, still equal
    db = open_archive(archive)
    late = pg.qc_series(pg.REF, START, [1.0], days=[10])
    store_parsed(db, replace_key(late, "late"))
    db.close()
    analysed.clear()
    status = qc_status(tech)
    assert analysed == ["REF-1"]
    assert status == _fresh(archive) and status[1].n_scans == day + 1


def test_an_archive_of_more_scanners_than_the_cache_keeps_is_analysed_on_each_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysed: list[str] = []
    whole = calibration_service._analyse_scanner

    def counting(db: Database, scanner: Any, *args: Any, **kw: Any) -> Any:
        analysed.append(scanner.serial)
        return whole(db, scanner, *args, **kw)

    monkeypatch.setattr(calibration_service, "_analyse_scanner", counting)
    monkeypatch.setattr(calibration_service, "QC_CACHE_MAX_SCANNERS", 1)
    archive = tmp_path / "qc.sqlite"
    db = open_archive(archive)
    store_parsed(db, pg.qc_series(pg.REF, START, _shifted(120, 6)[:60]))
    store_parsed(db, pg.qc_series(pg.OTHER, START, _shifted(55, 7)))
    db.close()
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    first = qc_status(tech)
    second = qc_status(tech)
    assert analysed == ["REF-1", "OTH-2"] * 2  # nothing kept between looks: memory bounded
    assert first == second == _fresh(archive)
