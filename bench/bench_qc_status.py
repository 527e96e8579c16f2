"""Time the QC status list: N scanners x 10 years of daily QC, cold, cached, and as scans arrive."""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_centre import START, generate_site_archive

from dxa_app.archive import open_archive
from dxa_app.domain import Role
from dxa_app.services.calibration import qc_status
from tests.sessions import session_as

GOAL_MS = 50.0


def _ms(fn: Callable[[], object], repeat: int = 1) -> float:
    """Return the median wall time of ``fn`` in ms."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _latest_rows(path: Path) -> Callable[[], list[tuple[object, ...]]]:
    """The yardstick: a bare SQL read of every scanner's latest daily-QC reading."""

    def read() -> list[tuple[object, ...]]:
        con = sqlite3.connect(path)
        try:
            return con.execute(
                "SELECT sc.serial, ps.acquired_at, pr.bmd_g_cm2 FROM scanners sc"
                " JOIN phantom_scans ps ON ps.id = (SELECT p.id FROM phantom_scans p"
                " WHERE p.scanner_id = sc.id AND p.purpose = 'daily_qc'"
                " ORDER BY p.acquired_at DESC LIMIT 1)"
                " JOIN phantom_results pr ON pr.phantom_scan_id = ps.id AND pr.region = 'total'"
            ).fetchall()
        finally:
            con.close()

    return read


def _add_day(path: Path, day: dt.date, scanners: Sequence[int]) -> None:
    """Store one more daily-QC scan for each given scanner (as an import would)."""
    db = open_archive(path)
    try:
        for scanner_id in scanners:
            phantom = db.execute(
                "SELECT phantom_id FROM phantom_scans WHERE scanner_id = ? AND purpose = 'daily_qc'"
                " LIMIT 1",
                [scanner_id],
            ).fetchone()[0]
            cur = db.execute(
                "INSERT INTO phantom_scans (source_key, phantom_id, scanner_id, acquired_at,"
                " purpose, imported_at) VALUES (?, ?, ?, ?, 'daily_qc', ?)",
                [f"bench-new:{scanner_id}:{day}", phantom, scanner_id, f"{day}T07:30:00", "now"],
            )
            value = db.execute(
                "SELECT pr.bmd_g_cm2 FROM phantom_results pr JOIN phantom_scans ps"
                " ON ps.id = pr.phantom_scan_id WHERE ps.scanner_id = ? AND ps.purpose ="
                " 'daily_qc' AND pr.region = 'total' ORDER BY ps.acquired_at DESC LIMIT 1",
                [scanner_id],
            ).fetchone()[0]
            db.execute(
                "INSERT INTO phantom_results (phantom_scan_id, region, bmd_g_cm2)"
                " VALUES (?, 'total', ?)",
                [cur.lastrowid, value],
            )
        db.conn.commit()
    finally:
        db.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scanners", type=int, default=70)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dxa-bench-qc-") as tmp:
        path = Path(tmp) / "qc.dxa.sqlite"
        db = open_archive(path)
        n_scans = generate_site_archive(db, args.scanners, args.years, n_sites=20)
        ids = [int(r[0]) for r in db.execute("SELECT id FROM scanners ORDER BY id").fetchall()]
        db.close()
        tech = session_as(path, Role.TECHNICIAN, "tech")
        cold = _ms(lambda: qc_status(tech))  # the first look: every scanner analysed
        warm = _ms(lambda: qc_status(tech), args.repeat)  # nothing changed
        day = START + dt.timedelta(days=365 * args.years)
        _add_day(path, day, ids[:1])
        one = _ms(lambda: qc_status(tech))  # one scanner's QC scan arrived
        _add_day(path, day + dt.timedelta(days=1), ids)
        every = _ms(lambda: qc_status(tech))  # the morning: every scanner's QC scan arrived
        after = _ms(lambda: qc_status(tech), args.repeat)
        rows = qc_status(tech)
        yardstick = _ms(_latest_rows(path), args.repeat)
    print(f"scanners {args.scanners}, years {args.years} ({n_scans} phantom scans)")
    print(f"qc_status, first look (all analysed)   {cold:8.1f} ms")
    print(f"qc_status, one new QC scan              {one:8.1f} ms")
    print(f"qc_status, a new QC scan on every one   {every:8.1f} ms")
    print(f"qc_status, nothing new (cached)         {warm:8.1f} ms  (product)")
    print(f"qc_status, cached after the new day     {after:8.1f} ms")
    print(f"bare SQL read of the latest QC rows     {yardstick:8.1f} ms  (yardstick)")
    met = "met" if warm < GOAL_MS else "NOT met"
    print(f"ratio {warm / yardstick:.1f}; goal < {GOAL_MS:.0f} ms: {met}")
    assert len(rows) == args.scanners and all(q.n_scans == len(q.values) for q in rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
