"""Print list, GUI and rescore figures on an archive of N studies (default 100,000).

The archive is built through the product's own store (``store_parsed``, 500 studies per
source), with 2.5 studies per patient on four scanners, one AP spine scan of five regions per
study. For each list a user opens, the product's first page (200 rows, through the services)
is timed against a yardstick, a bare ``sqlite3`` read of 200 study rows by rowid; the whole
list as the product loaded it before paging is printed beside it. The GUI figure is the main
window opened on the archive until its first rows show, against a bare QMainWindow with a
200-row table. Then ``rescore`` three times: the first run scores every study, the second
changes nothing, the third follows a new approved step on one scanner; the seconds, the rows
written and the archive's growth are printed for each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DXA_NO_DIALOGS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dxa_app.archive import open_archive
from dxa_app.archive.store import store_parsed
from dxa_app.domain import (
    IdType,
    Manufacturer,
    ParsedSource,
    PatientIdentity,
    Region,
    RegionResult,
    Role,
    ScannerIdentity,
    ScanRecord,
    ScanType,
    Sex,
    StudyInfo,
    StudyRecord,
)
from dxa_app.services import browse, worklist
from dxa_app.services.auth import Session
from tests.sessions import session_as

PAGE = 200
#: The newest study date the bench archive holds (its studies span 2014 to 2024): the 30-day
#: worklist is counted back from it; counted from today the 30 days are empty.
NEWEST = dt.date(2024, 12, 13)
LAST_30 = worklist.WorklistFilter(days=30)
ONE_SITE = worklist.WorklistFilter(site="Bench")
SCANNERS = [
    ScannerIdentity(Manufacturer.HOLOGIC, "Horizon A", f"B-{i}", "Apex 5.6", f"ST{i}", "Bench")
    for i in range(2)
] + [
    ScannerIdentity(Manufacturer.GE_LUNAR, "iDXA", f"B-{i}", "enCORE 18", f"ST{i}", "Bench")
    for i in range(2, 4)
]
NAMES = ["Hansen", "Jensen", "Nielsen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen"]
FIRST = ["Anne", "Bente", "Else", "Grethe", "Inge", "Karen", "Lise", "Åse", "Søren", "Jørgen"]


def _patient(i: int) -> PatientIdentity:
    birth = dt.date(1930, 1, 1) + dt.timedelta(days=(i * 37) % 20000)
    sex = Sex.MALE if i % 5 == 0 else Sex.FEMALE
    serial = 1000 + i % 9000
    name = f"{FIRST[i % len(FIRST)]} {NAMES[(i // 10) % len(NAMES)]} {i}"
    cpr = f"{birth:%d%m%y}-{serial:04d}"
    return PatientIdentity(cpr, IdType.OTHER, name, birth, sex, scope=f"bench:{i}")


def _study(n: int) -> StudyRecord:
    pat = _patient(n * 2 // 5)
    day = dt.date(2014, 1, 1) + dt.timedelta(days=(n * 7919) % 4000)
    uid = f"1.2.826.0.1.3680043.8.498.9{n}"
    results = tuple(
        RegionResult(r, 0.8 + (n % 50) / 200 + i * 0.01, 10.0, 14.0 + i, -1.5, -0.5, True)
        for i, r in enumerate((Region.L1, Region.L2, Region.L3, Region.L4, Region.L1_L4))
    )
    scan = ScanRecord(
        f"bench:{uid}:spine",
        ScanType.AP_SPINE,
        dt.datetime(day.year, day.month, day.day, 9, n % 60),
        results=results,
    )
    return StudyRecord(SCANNERS[n % 4], pat, StudyInfo(uid, day), (scan,))


def build(path: Path, n: int) -> float:
    """Store ``n`` studies through the product's store; return the seconds it took."""
    db = open_archive(path)
    t0 = time.perf_counter()
    for start in range(0, n, 500):
        studies = tuple(_study(k) for k in range(start, min(n, start + 500)))
        store_parsed(db, ParsedSource(f"bench{start}.csv", "bench", studies=studies))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return time.perf_counter() - t0


def median_ms(fn: Callable[[], object], repeat: int = 7) -> float:
    """Return the median wall time of ``fn`` in milliseconds (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def yardstick(path: Path) -> Callable[[], object]:
    """A bare sqlite3 read of one page of study rows by rowid (a fresh connection each time)."""

    def read() -> object:
        con = sqlite3.connect(path)
        try:
            return con.execute(f"SELECT * FROM studies ORDER BY id LIMIT {PAGE}").fetchall()
        finally:
            con.close()

    return read


def lists(session: Session, path: Path) -> None:
    """Print each list's first page against the yardstick, and the whole list beside it."""
    yard = median_ms(yardstick(path))
    some = browse.patients(session, limit=1, offset=PAGE)[0]
    last_scanner = worklist.worklist_choices(session).scanners[-1].id
    scanner = worklist.WorklistFilter(scanner_id=last_scanner)
    with sqlite3.connect(path) as conn:
        deep_studies = conn.execute("SELECT count(*) FROM studies").fetchone()[0] * 9 // 10
    deep_worklist = worklist.count_pending_reports(session) * 9 // 10
    cases: list[tuple[str, Callable[[], object], Callable[[], object] | None]] = [
        (
            "patients by name",
            lambda: browse.patients(session, limit=PAGE),
            lambda: browse.patients(session),
        ),
        (
            "studies newest first",
            lambda: browse.studies(session, limit=PAGE),
            lambda: browse.studies(session),
        ),
        ("one patient's history", lambda: browse.studies(session, some.id, limit=PAGE), None),
        (
            "physician worklist",
            lambda: worklist.pending_reports(session, limit=PAGE),
            lambda: worklist.pending_reports(session),
        ),
        (
            "worklist, last 30 days",
            lambda: worklist.pending_reports(session, today=NEWEST, where=LAST_30, limit=PAGE),
            lambda: worklist.count_pending_reports(session, where=LAST_30, today=NEWEST),
        ),
        (
            "worklist, one site",
            lambda: worklist.pending_reports(session, where=ONE_SITE, limit=PAGE),
            lambda: worklist.count_pending_reports(session, where=ONE_SITE),
        ),
        (
            "worklist, one scanner",
            lambda: worklist.pending_reports(session, where=scanner, limit=PAGE),
            lambda: worklist.count_pending_reports(session, where=scanner),
        ),
        (
            "worklist, 30 days empty",
            lambda: worklist.pending_reports(session, where=LAST_30, limit=PAGE),
            lambda: worklist.count_older_pending(session, LAST_30),
        ),
        ("search by CPR", lambda: browse.patients(session, search=some.identifier), None),
        (
            "search by name",
            lambda: browse.patients(session, search=some.name.split()[-1], limit=PAGE),
            None,
        ),
        (
            "studies by patient name",
            lambda: browse.studies(session, sort="patient_name", descending=False, limit=PAGE),
            None,
        ),
        (
            "studies by site (a header click)",
            lambda: browse.studies(session, sort="site", descending=False, limit=PAGE),
            None,
        ),
        (  # scrolled down: the page the view fetches after 90 % of the list
            "studies, page at 90 %",
            lambda: browse.studies(session, limit=PAGE, offset=deep_studies),
            None,
        ),
        (
            "worklist, page at 90 %",
            lambda: worklist.pending_reports(session, limit=PAGE, offset=deep_worklist),
            None,
        ),
    ]
    print(f"yardstick (bare sqlite3, {PAGE} study rows): {yard:.2f} ms")
    print(f"{'list (a page of 200)':<34}{'product':>10}{'ratio':>9}{'whole/count':>13}")
    for name, page, whole in cases:
        ms = median_ms(page)
        all_ms = f"{median_ms(whole, 3):.0f} ms" if whole is not None else "-"
        print(f"{name:<34}{ms:>8.1f} ms{ms / yard:>8.1f}x{all_ms:>13}")


def gui(session: Session) -> None:
    """Print the time from a new main window to its first rows, and the rows it holds."""
    from PySide6.QtCore import QModelIndex
    from PySide6.QtGui import QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import QApplication, QMainWindow, QTableView

    from dxa_app.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])

    def product() -> MainWindow:
        win = MainWindow(session=session)
        win.show()
        app.processEvents()
        win.close()
        return win

    def bare() -> QMainWindow:
        win = QMainWindow()
        model = QStandardItemModel(PAGE, 6)
        for r in range(PAGE):
            for c in range(6):
                model.setItem(r, c, QStandardItem(f"{r}:{c}"))
        view = QTableView()
        view.setModel(model)
        win.setCentralWidget(view)
        win.show()
        app.processEvents()
        win.close()
        return win

    ms, yard = median_ms(product, 3), median_ms(bare, 3)
    before = _rss_mb()
    win = MainWindow(session=session)
    win.show()
    app.processEvents()
    held = (win.patient_model.rowCount(), win.study_model.rowCount())
    shown = _rss_mb()
    for model in (win.patient_model, win.study_model):  # as scrolling down ten pages does
        for _ in range(10):
            if model.canFetchMore(QModelIndex()):
                model.fetchMore(QModelIndex())
        app.processEvents()
    scrolled = (win.patient_model.rowCount(), win.study_model.rowCount())
    clicks = _header_clicks(app, win)
    print(
        f"GUI main window to first rows: {ms:.0f} ms; bare QMainWindow + {PAGE}-row table "
        f"{yard:.0f} ms; ratio {ms / yard:.1f}x; rows held: {held[0]} patients, "
        f"{held[1]} studies"
    )
    print(
        f"GUI memory (resident, this process): {before:.0f} MB before the window, "
        f"{shown:.0f} MB at its first rows, {_rss_mb():.0f} MB after ten more pages of each "
        f"list ({scrolled[0]} patients, {scrolled[1]} studies held)"
    )
    for name, blocked, answered in clicks:
        print(
            f"GUI header click, studies by {name}: the GUI thread busy {blocked:.1f} ms, the "
            f"first page in the new order shown after {answered:.0f} ms (sorted in the back)"
        )
    win.close()


def _header_clicks(app: Any, win: Any) -> list[tuple[str, float, float]]:
    """Click the study list's slowest headers: (column, ms the click held the GUI, ms to rows)."""
    from PySide6.QtCore import Qt

    from dxa_app.gui.models import StudyTableModel

    out = []
    for name, column in (
        ("scan types", StudyTableModel.COL_SCAN_TYPES),
        ("result count", StudyTableModel.COL_N_RESULTS),
        ("site", StudyTableModel.COL_SITE),
    ):
        t0 = time.perf_counter()
        win.study_view.sortByColumn(column, Qt.SortOrder.DescendingOrder)
        blocked = time.perf_counter() - t0
        while win.study_model.is_sorting():
            app.processEvents()
            time.sleep(0.001)
        out.append((name, 1000 * blocked, 1000 * (time.perf_counter() - t0)))
    return out


def _rss_mb() -> float:
    """The resident memory of this process now, in MB (Linux /proc; else the peak)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _size(path: Path) -> int:
    """The archive's bytes on disk after a checkpoint (database, WAL and shared memory)."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def _new_step(path: Path, serial: str, valid_from: str) -> None:
    """Approve a new spine step on one scanner, from a date in the middle of the archive."""
    from dxa_app.archive.steps import mark_approved, propose_step, step_by_id

    db = open_archive(path)
    try:
        scanner = db.execute("SELECT id FROM scanners WHERE serial = ?", [serial]).fetchone()[0]
        step = propose_step(
            db,
            scanner_id=int(scanner),
            region="spine",
            kind="scanner",
            intercept=0.012,
            slope=1.01,
            valid_from=valid_from,
            method="ols",
            dataset=f"bench {valid_from}",
            n=30,
            provenance={},
            by="bench",
        )
        if step is not None:
            mark_approved(db, step_by_id(db, step), "bench")
        db.conn.commit()
    finally:
        db.close()


def rescore(session: Session, path: Path) -> None:
    """Print rescore seconds, rows written and the archive's growth: first, no change, one scanner.

    The third rescore follows a new approved spine step on one of the four scanners from
    mid-2019 (about half of that scanner's studies, an eighth of the archive, change). A
    run stores only the values that changed; "a full copy" is what storing every region and
    the diagnosis of each new run would have written (five regions per study here).
    """
    from dxa_app.services.scoring import rescore_all

    n_studies = 0
    for label, change in (
        ("first rescore (scores every study)", False),
        ("rescore, nothing changed", False),
        ("rescore after a new step on one scanner", True),
    ):
        if change:
            _new_step(path, SCANNERS[1].serial, "2019-07-01")
        before = _size(path)
        t0 = time.perf_counter()
        result = rescore_all(session)
        seconds = time.perf_counter() - t0
        after = _size(path)
        n_studies = result["studies"]
        growth = (after - before) / before * 100
        full = result["new_runs"] * 5 + result["new_runs"]
        print(
            f"{label} at {n_studies:,} studies: {seconds:.1f} s; {result['recomputed']:,} "
            f"studies recomputed, {result['new_runs']:,} new runs, rows written "
            f"{result['score_rows']:,} scores + {result['diagnosis_rows']:,} diagnoses "
            f"(a full copy of each new run: {full:,}); archive {before / 1e6:.1f} MB -> "
            f"{after / 1e6:.1f} MB (+{growth:.1f} %)"
        )


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) an archive of N studies and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--archive", type=Path, help="reuse or keep the archive here")
    parser.add_argument("--no-rescore", action="store_true")
    parser.add_argument("--no-lists", action="store_true", help="skip the list and GUI figures")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.archive or Path(tmp) / "scale.dxa.sqlite"
        if not path.exists():
            seconds = build(path, args.studies)
            print(
                f"built {args.studies:,} studies in {seconds:.0f} s "
                f"({args.studies / seconds:.0f} studies/s), {path.stat().st_size / 1e6:.0f} MB"
            )
        session = session_as(path, Role.PHYSICIAN, "bench")
        if not args.no_lists:
            lists(session, path)
            gui(session)
        if not args.no_rescore:
            rescore(session_as(path, Role.ADMIN, "admin"), path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
