"""Lists at archive scale: paging, sorting and searching in SQL, the indexes, the worklist state."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dxa_app.archive import db as archive_db
from dxa_app.archive import open_archive, queries
from dxa_app.archive.migrations import MIGRATIONS
from dxa_app.archive.queries import list_patients, list_studies, pending_studies
from dxa_app.archive.store import store_parsed
from dxa_app.domain import (
    IdType,
    PatientIdentity,
    Region,
    RegionResult,
    Role,
    ScanRecord,
    ScanType,
    Sex,
    Side,
    StudyInfo,
    StudyRecord,
    StudySummary,
)
from dxa_app.services import browse, worklist
from dxa_app.services.auth import Session
from dxa_app.services.patients import merge
from dxa_app.services.sites import map_site
from dxa_app.services.worklist import WorklistFilter
from tests.factories import SCANNER, parsed, study_record
from tests.sessions import session_as

#: Names stored in mixed case: the list sorts them case-insensitively.
NAMES = ["delta Dam", "Alfa And", "charlie Cox", "Bravo Bo", "echo Eg"]


def _person(i: int) -> PatientIdentity:
    birth = dt.date(1950, 1, i + 1)
    return PatientIdentity(f"{birth:%d%m%y}-99{i % 10}0", IdType.CPR, NAMES[i], birth, Sex.FEMALE)


def _study(n: int, pat: PatientIdentity, day: int, *, results: bool = True) -> StudyRecord:
    rec = study_record(n, pat=pat)
    info = StudyInfo(rec.study.study_uid, dt.date(2026, 1, day))
    scans = rec.scans if results else tuple(replace(s, results=()) for s in rec.scans)
    return replace(rec, study=info, scans=scans)


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Path]:
    """Five patients; patient i has i + 1 studies on days 1..15, one study without results."""
    path = tmp_path / "lists.sqlite"
    db = open_archive(path)
    n = 0
    for i in range(5):
        for _k in range(i + 1):
            n += 1
            store_parsed(db, parsed(_study(n, _person(i), n)))
    n += 1
    store_parsed(db, parsed(_study(n, _person(0), 28, results=False)))
    db.close()
    yield path


@pytest.fixture
def doc(archive: Path) -> Session:
    return session_as(archive, Role.PHYSICIAN, "doc")


def test_patients_sorted_case_insensitively_and_paged(doc: Session) -> None:
    first = browse.patients(doc, limit=2)
    second = browse.patients(doc, limit=2, offset=2)
    rest = browse.patients(doc, limit=2, offset=4)
    assert [p.name for p in first] == ["Alfa And", "Bravo Bo"]
    assert [p.name for p in second] == ["charlie Cox", "delta Dam"]
    assert [p.name for p in rest] == ["echo Eg"]
    assert [p.n_studies for p in first + second + rest] == [2, 4, 3, 2, 5]
    backwards = browse.patients(doc, descending=True, limit=3)
    assert [p.name for p in backwards] == ["echo Eg", "delta Dam", "charlie Cox"]
    by_count = browse.patients(doc, sort="n_studies", descending=True, limit=2)
    assert [(p.name, p.n_studies) for p in by_count] == [("echo Eg", 5), ("Bravo Bo", 4)]
    assert browse.patients(doc) == first + second + rest
    assert browse.count_patients(doc) == 5


def test_patients_searched_by_cpr_with_or_without_dash_and_by_name(doc: Session) -> None:
    cpr = browse.patients(doc, search="030150-9920")
    assert [p.name for p in cpr] == ["charlie Cox"]
    assert [p.name for p in browse.patients(doc, search="0301509920")] == ["charlie Cox"]
    assert [p.name for p in browse.patients(doc, search="0201")] == ["Alfa And"]
    assert [p.name for p in browse.patients(doc, search="DAM")] == ["delta Dam"]
    # every word typed begins a word of the name, in any order and any case
    assert [p.name for p in browse.patients(doc, search="b")] == ["Bravo Bo"]
    assert [p.name for p in browse.patients(doc, search="e")] == ["echo Eg"]
    assert [p.name for p in browse.patients(doc, search="cox CH")] == ["charlie Cox"]
    assert browse.patients(doc, search="o") == []  # no word of a name begins with "o"
    assert browse.patients(doc, search="%") == []  # a wildcard is a plain character
    assert browse.count_patients(doc, search="e") == 1


def test_the_search_reads_the_index_of_terms_that_every_new_patient_gets(
    archive: Path, doc: Session
) -> None:
    db = open_archive(archive)
    try:
        terms = {
            t
            for (t,) in db.execute(
                "SELECT term FROM patient_terms t JOIN patients p ON p.id = t.patient_id"
                " WHERE p.name = 'charlie Cox'"
            )
        }
        assert {"ncharlie", "ncox", "i0301509920", "s9920", "s301509920"} <= terms
        # a new patient (here outside the store) gets its terms from the trigger
        db.execute(
            "INSERT INTO patients (id_type, identifier, name, created_at, identity_key)"
            " VALUES ('other', 'X-1', 'ÅSE^Østergård-Ærø', '2026-01-01', 'x1')"
        )
        db.conn.commit()
        plan = " ".join(
            str(row[3])
            for row in db.execute(
                "EXPLAIN QUERY PLAN SELECT count(*) FROM patients p WHERE "
                + queries._search("han 1234")[0],
                queries._search("han 1234")[1],
            )
        )
        assert "patient_terms USING PRIMARY KEY" in plan and "SCAN p" not in plan, plan
    finally:
        db.close()
    for typed in ("åse", "ØSTERGÅRD", "ærø åse", "Åse Ø", "x-1", "X1"):
        assert [p.name for p in browse.patients(doc, search=typed)] == ["ÅSE^Østergård-Ærø"]
    assert browse.patients(doc, search="gård") == []  # a word's middle is not a match
    # a connection without the search's functions cannot add a patient without its terms
    con = sqlite3.connect(archive)
    try:
        with pytest.raises(sqlite3.OperationalError, match="dxa_search_terms"):
            con.execute(
                "INSERT INTO patients (id_type, identifier, name, created_at, identity_key)"
                " VALUES ('other', 'Z-1', 'Zulu', '2026-01-01', 'z1')"
            )
    finally:
        con.close()
    assert browse.patients(doc, search="zulu") == []


def test_migration_0023_fills_the_terms_of_existing_patients(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.sqlite"
    names = [m.name for m in MIGRATIONS]
    monkeypatch.setattr(archive_db, "MIGRATIONS", MIGRATIONS[: names.index("0023_patient_terms")])
    db = open_archive(path)
    try:
        db.execute(
            "INSERT INTO patients (id_type, identifier, name, created_at, identity_key)"
            " VALUES ('cpr', '010203-4321', 'Sørensen^Åse-Marie', '2026-01-01', 'y1')"
        )
        db.conn.commit()
    finally:
        db.close()
    monkeypatch.undo()
    db = open_archive(path)
    try:
        assert "patients_search_name" not in {
            r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
        for typed in ("sørensen", "MARIE åse", "4321", "0102034321", "010203-43", "0203"):
            found = list_patients(db, search=typed)
            assert [p.name for p in found] == ["Sørensen^Åse-Marie"], typed
        assert list_patients(db, search="432") == []  # fewer than four digits: the start only
    finally:
        db.close()


def test_studies_newest_first_paged_and_sorted_by_name(doc: Session) -> None:
    first = browse.studies(doc, limit=4)
    assert [s.study_date.day for s in first] == [28, 15, 14, 13]
    assert first[0].n_results == 0 and first[1].n_results == 5
    nxt = browse.studies(doc, limit=4, offset=4)
    assert [s.study_date.day for s in nxt] == [12, 11, 10, 9]
    oldest = browse.studies(doc, descending=False, limit=2)
    assert [s.study_date.day for s in oldest] == [1, 2]
    by_name = browse.studies(doc, sort="patient_name", descending=False, limit=3)
    assert [s.patient_name for s in by_name] == ["Alfa And", "Alfa And", "Bravo Bo"]
    assert [s.study_date.day for s in by_name] == [2, 3, 7]  # ties by study id
    ece = browse.studies(doc, search="echo")
    assert len(ece) == 5 and {s.patient_name for s in ece} == {"echo Eg"}
    assert len(browse.studies(doc)) == 16


def test_one_patients_history_includes_merged_rows(archive: Path, doc: Session) -> None:
    admin = session_as(archive, Role.ADMIN, "admin")
    by_name = {p.name: p for p in browse.patients(doc)}
    merge(admin, by_name["Bravo Bo"].id, by_name["Alfa And"].id, "one person")
    listed = browse.patients(doc, limit=1)
    assert [(p.name, p.n_studies) for p in listed] == [("Alfa And", 6)]
    assert browse.count_patients(doc) == 4
    history = browse.studies(doc, by_name["Alfa And"].id, limit=3)
    assert [s.study_date.day for s in history] == [10, 9, 8]
    assert {s.patient_name for s in history} == {"Bravo Bo"}


@pytest.mark.parametrize("key", sorted(queries.STUDY_SORTS))
@pytest.mark.parametrize("descending", [False, True])
def test_every_study_sort_pages_through_the_same_order_as_the_whole_list(
    archive: Path, doc: Session, key: str, descending: bool
) -> None:
    # a header click on any column of the study list: "site" once failed in the page query
    map_site(session_as(archive, Role.ADMIN, "admin"), "TEST-001", "OUH", "Odense")
    whole = browse.studies(doc, sort=key, descending=descending)
    assert len(whole) == 16
    pages = [
        s.id
        for offset in range(0, 16, 5)
        for s in browse.studies(doc, sort=key, descending=descending, offset=offset, limit=5)
    ]
    assert pages == [s.id for s in whole]
    sort_value: dict[str, Callable[[StudySummary], Any]] = {
        "date": lambda s: s.study_date,
        "patient_identifier": lambda s: s.patient_identifier,
        "patient_name": lambda s: s.patient_name.casefold(),
        "site": lambda s: s.site,  # then by scanner: one scanner's studies together
        "scanner": lambda s: (s.manufacturer, s.model),
        "serial": lambda s: s.serial,
        "scan_types": lambda s: ",".join(s.scan_types),
        "n_results": lambda s: s.n_results,
    }
    values = [sort_value[key](s) for s in whole]
    assert values == sorted(values, reverse=descending)


@pytest.mark.parametrize("key", sorted(queries.WORKLIST_SORTS))
@pytest.mark.parametrize("descending", [False, True])
def test_every_worklist_sort_pages_through_the_same_order_as_the_whole_list(
    doc: Session, key: str, descending: bool
) -> None:
    whole = worklist.pending_reports(doc, sort=key, descending=descending)
    assert len(whole) == 15  # every study with results (none signed)
    pages = [
        r.study_id
        for offset in range(0, 15, 4)
        for r in worklist.pending_reports(
            doc, sort=key, descending=descending, offset=offset, limit=4
        )
    ]
    assert pages == [r.study_id for r in whole]


def test_worklist_uses_the_stored_state_and_pages(archive: Path, doc: Session) -> None:
    today = dt.date(2026, 2, 1)
    rows = worklist.pending_reports(doc, today=today, limit=3)
    assert [r.study_date.day for r in rows] == [1, 2, 3]
    assert rows[0].days_waiting == 31
    nxt = worklist.pending_reports(doc, today=today, limit=3, offset=3)
    assert [r.study_date.day for r in nxt] == [4, 5, 6]
    newest = worklist.pending_reports(doc, descending=True, limit=1)
    assert newest[0].study_date.day == 15  # the study on day 28 has no results
    assert worklist.count_pending_reports(doc) == 15
    db = open_archive(archive)
    try:
        # a signed version (any writer) takes the study off the worklist through the trigger
        sid = rows[0].study_id
        db.execute("INSERT INTO reports (study_id, created_at) VALUES (?, 'now')", [sid])
        rid = db.execute("SELECT id FROM reports WHERE study_id = ?", [sid]).fetchone()[0]
        db.execute(
            "INSERT INTO report_versions (report_id, version_no, status, lang, level, content,"
            " created_at) VALUES (?, 1, 'draft', 'da', 'A', '{}', 'now')",
            [rid],
        )
        db.conn.commit()
        assert [r["status"] for r in pending_studies(db, limit=1)] == ["draft"]
        db.execute("UPDATE report_versions SET status = 'signed' WHERE report_id = ?", [rid])
        db.conn.commit()
        assert pending_studies(db, limit=1)[0]["id"] != sid
        signed = pending_studies(db, include_signed=True, limit=1)[0]
        assert (signed["id"], signed["status"], signed["n_signed"]) == (sid, "signed", 1)
    finally:
        db.close()
    assert worklist.count_pending_reports(doc) == 14
    assert worklist.count_pending_reports(doc, include_signed=True) == 15


def test_worklist_filters_by_period_site_and_scanner(archive: Path, doc: Session) -> None:
    """The period, site and scanner are applied in the query; the older ones are counted."""
    db = open_archive(archive)
    other = replace(SCANNER, serial="TEST-002", station_name="ST2", institution_name="Andet")
    store_parsed(db, parsed(replace(_study(99, _person(1), 20), scanner=other)))
    db.close()
    map_site(session_as(archive, Role.ADMIN, "admin"), "TEST-001", "OUH", "Odense")
    today = dt.date(2026, 1, 22)
    last_week = WorklistFilter(days=7)  # 2026-01-15 onwards
    rows = worklist.pending_reports(doc, today=today, where=last_week)
    assert [r.study_date.day for r in rows] == [15, 20]
    assert worklist.count_pending_reports(doc, where=last_week, today=today) == 2
    assert worklist.count_older_pending(doc, last_week, today=today) == 14
    choices = worklist.worklist_choices(doc)
    assert choices.sites == ("Andet", "OUH")  # the new scanner's site is its institution
    second = next(c for c in choices.scanners if "TEST-002" in c.label)
    assert second.site == "Andet" and second.label == "Hologic Horizon A (TEST-002)"
    on_second = worklist.pending_reports(doc, where=WorklistFilter(scanner_id=second.id))
    assert [r.study_date.day for r in on_second] == [20]
    at_ouh = WorklistFilter(days=7, site="OUH")
    assert [r.study_date.day for r in worklist.pending_reports(doc, today=today, where=at_ouh)] == [
        15
    ]
    assert worklist.count_older_pending(doc, at_ouh, today=today) == 14
    assert worklist.count_pending_reports(doc, where=WorklistFilter(site="OUH")) == 15
    assert worklist.count_older_pending(doc, WorklistFilter(), today=today) == 0  # no period
    assert worklist.count_pending_reports(doc, where=WorklistFilter(site="Andet")) == 1
    assert worklist.count_pending_reports(doc, where=WorklistFilter(site="NONE")) == 0


def test_unknown_sort_key_is_refused(archive: Path) -> None:
    db = open_archive(archive)
    try:
        with pytest.raises(ValueError, match="cannot sort"):
            list_studies(db, sort="id; DROP TABLE studies")
    finally:
        db.close()


def _plan(db: Any, sql: str, params: list[object]) -> str:
    rows = db.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return " | ".join(str(r[-1]) for r in rows)


def test_list_queries_walk_an_index_without_sorting(archive: Path) -> None:
    db = open_archive(archive)
    try:
        studies = _plan(
            db,
            "SELECT st.id FROM studies st JOIN patients p ON p.id = st.patient_id"
            " ORDER BY st.study_date DESC, st.id DESC LIMIT 200",
            [],
        )
        assert "studies_date" in studies and "TEMP B-TREE" not in studies
        patients = _plan(
            db,
            "SELECT p.id FROM patients p WHERE p.id NOT IN"
            " (SELECT patient_id FROM patient_merges WHERE unmerged_at IS NULL)"
            " ORDER BY p.name COLLATE NOCASE, p.identifier, p.id LIMIT 200",
            [],
        )
        assert "patients_name" in patients and "TEMP B-TREE" not in patients
        pending = _plan(
            db,
            "SELECT st.id FROM studies st WHERE st.has_results = 1 AND st.report_signed = 0"
            " ORDER BY st.study_date, st.id LIMIT 200",
            [],
        )
        assert "studies_worklist" in pending and "TEMP B-TREE" not in pending
        period = _plan(
            db,
            "SELECT st.id FROM studies st WHERE st.has_results = 1 AND st.report_signed = 0"
            " AND st.study_date >= ? ORDER BY st.study_date, st.id LIMIT 200",
            ["2026-01-08"],
        )
        assert "studies_worklist" in period and "TEMP B-TREE" not in period
        one_scanner = _plan(
            db,
            "SELECT count(*) FROM studies st WHERE st.has_results = 1 AND st.report_signed = 0"
            " AND st.scanner_id = ?",
            [1],
        )
        assert "COVERING INDEX studies_worklist_scanner" in one_scanner
    finally:
        db.close()


def test_migration_backfills_the_worklist_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An archive from before 0015 gets its state computed from its studies and reports."""
    path = tmp_path / "old.sqlite"
    names = [m.name for m in MIGRATIONS]  # written by the version that ended with 0015
    monkeypatch.setattr(
        archive_db, "MIGRATIONS", MIGRATIONS[: names.index("0015_list_indexes") + 1]
    )
    db = open_archive(path)
    store_parsed(db, parsed(_study(1, _person(0), 1), _study(2, _person(1), 2, results=False)))
    db.close()
    con = sqlite3.connect(path)
    con.executescript(
        "UPDATE studies SET has_results = 0, report_signed = 0;"
        " DELETE FROM migrations WHERE name = '0015_list_indexes';"
        " DROP TRIGGER region_results_study_has_results;"
        " DROP TRIGGER report_versions_study_signed_insert;"
        " DROP TRIGGER report_versions_study_signed_update;"
        " DROP INDEX studies_date; DROP INDEX studies_worklist; DROP INDEX patients_name;"
        " DROP INDEX patients_identifier; DROP INDEX patient_merges_into;"
        " DROP INDEX report_versions_report_status;"
        " ALTER TABLE studies DROP COLUMN has_results;"
        " ALTER TABLE studies DROP COLUMN report_signed;"
    )
    con.close()
    monkeypatch.undo()
    db = open_archive(path)
    try:
        state = db.execute("SELECT study_uid, has_results FROM studies ORDER BY id").fetchall()
        assert [r[1] for r in state] == [1, 0]
        assert len(list_patients(db, limit=10)) == 2
    finally:
        db.close()


def _counted(db: Any) -> list[tuple[int, str, int, str, int]]:
    """Each study's stored scan types and result count beside the ones counted from its scans."""
    rows: list[tuple[int, str, int, str, int]] = db.execute(
        "SELECT st.id, st.scan_types, st.n_results,"
        " coalesce((SELECT group_concat(t.scan_type, ',') FROM (SELECT DISTINCT x.scan_type"
        "  FROM scans x WHERE x.study_id = st.id ORDER BY x.scan_type) t), ''),"
        " (SELECT count(*) FROM region_results rr JOIN scans x ON x.id = rr.scan_id"
        "  WHERE x.study_id = st.id)"
        " FROM studies st ORDER BY st.id"
    ).fetchall()
    return rows


def _hip(rec: StudyRecord, n: int, side: Side) -> ScanRecord:
    """A femur scan of ``rec``'s study, with one total-hip result (a file of its own)."""
    return ScanRecord(
        f"test:{rec.study.study_uid}:hip:{n}",
        ScanType.HIP,
        dt.datetime(2026, 6, 1, 10, n),
        side=side,
        results=(RegionResult(Region.TOTAL_HIP, 0.8, 30.0, 37.0, -1.6, -0.6),),
    )


def test_scan_types_and_result_counts_are_kept_on_the_study_as_scans_arrive(
    archive: Path, doc: Session
) -> None:
    """A study imported one scan file at a time (as Hologic exports it) stays counted right."""
    db = open_archive(archive)
    try:
        rec = _study(50, _person(2), 20)
        store_parsed(db, parsed(rec))
        store_parsed(db, parsed(replace(rec, scans=(_hip(rec, 1, Side.LEFT),))))
        store_parsed(db, parsed(replace(rec, scans=(_hip(rec, 2, Side.RIGHT),))))
        store_parsed(db, parsed(replace(rec, scans=(_hip(rec, 2, Side.RIGHT),))))  # again: no-op
        rows = _counted(db)
        assert all(r[1:3] == r[3:5] for r in rows), rows
        (study,) = [r for r in rows if r[0] == rows[-1][0]]
        assert study[1:3] == ("ap_spine,hip", 7)
    finally:
        db.close()
    by_count = browse.studies(doc, sort="n_results", descending=True, limit=1)
    assert by_count[0].n_results == 7 and by_count[0].scan_types == ("ap_spine", "hip")


def test_migration_0024_fills_scan_types_and_counts_of_existing_studies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.sqlite"
    names = [m.name for m in MIGRATIONS]  # written by the version that ended with 0023
    monkeypatch.setattr(
        archive_db, "MIGRATIONS", MIGRATIONS[: names.index("0024_study_list_sorts")]
    )
    db = open_archive(path)
    rec = _study(1, _person(0), 1)
    store_parsed(db, parsed(rec, _study(2, _person(1), 2, results=False)))
    store_parsed(db, parsed(replace(rec, scans=(_hip(rec, 1, Side.LEFT),))))
    db.close()
    monkeypatch.undo()
    db = open_archive(path)
    try:
        rows = _counted(db)
        assert [r[1:3] for r in rows] == [("ap_spine,hip", 6), ("ap_spine", 0)]
        assert all(r[1:3] == r[3:5] for r in rows)
    finally:
        db.close()


@pytest.mark.parametrize("key", ["scan_types", "n_results", "scanner", "serial", "site"])
def test_study_header_sorts_walk_an_index_without_sorting(archive: Path, key: str) -> None:
    db = open_archive(archive)
    try:
        statements: list[str] = []
        db.conn.set_trace_callback(statements.append)
        list_studies(db, sort=key, limit=5)
        db.conn.set_trace_callback(None)
        (sql,) = [s for s in statements if "WITH page" in s]
        params: list[object] = [5, 0]
        plan = _plan(db, sql, params[: sql.count("?")])
        chosen = plan.split(" | SCAN page")[0]  # the page's ids; then its 5 rows are ordered
        if key == "site":  # the sites' walk (the scanners without a site are sorted apart)
            chosen = chosen.split(" | RIGHT | ")[1]
        assert "COVERING INDEX studies_" in chosen and "TEMP B-TREE" not in chosen, plan
    finally:
        db.close()


@pytest.mark.parametrize("descending", [False, True])
def test_studies_by_site_walk_sites_then_scanners_and_page_in_that_order(
    tmp_path: Path, descending: bool
) -> None:
    """Two sites with two and one scanners, and a scanner without a site (shown first)."""
    path = tmp_path / "sites.sqlite"
    db = open_archive(path)
    try:
        serials = ["S-1", "S-2", "S-3", "S-4"]
        for n in range(24):
            scanner = replace(SCANNER, serial=serials[n * 7 % 4])
            store_parsed(db, parsed(replace(_study(n + 1, _person(n % 5), n + 1), scanner=scanner)))
        db.execute("UPDATE scanners SET site_id = NULL")
        db.execute("INSERT INTO sites (code, name) VALUES ('OUH', 'Odense'), ('AAR', 'Aarhus')")
        for serial, code in (("S-1", "OUH"), ("S-2", "AAR"), ("S-4", "OUH")):
            db.execute(
                "UPDATE scanners SET site_id = (SELECT id FROM sites WHERE code = ?)"
                " WHERE serial = ?",
                [code, serial],
            )
        scanner_of = dict(db.execute("SELECT serial, id FROM scanners").fetchall())
        whole = list_studies(db, sort="site", descending=descending)
        expected = sorted(
            whole, key=lambda s: (s.site, scanner_of[s.serial], s.id), reverse=descending
        )
        assert [s.id for s in whole] == [s.id for s in expected]
        assert {s.site for s in whole} == {"", "AAR", "OUH"}
        pages = [
            s.id
            for offset in range(0, 24, 5)
            for s in list_studies(db, sort="site", descending=descending, offset=offset, limit=5)
        ]
        assert pages == [s.id for s in whole]
    finally:
        db.close()
