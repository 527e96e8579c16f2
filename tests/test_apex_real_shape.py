"""Issue 13: an APEX database in the real shape imports whole, one person per PATIENT_KEY.

The source (``tests/apex_real_shape.py``) has the facts measured in a real APEX 13.2
database: 56 patients, 73 scans, sentinel dates as mdbtools prints them, IDENTIFIER1 empty or
a shared label, placeholder serials, 42 scans without results and every result table. It is
read three ways on the same rows: a folder of mdb-export CSV files, ``PatScan.mdb`` through
mdbtools (a stand-in mdb-export printing those files), and through ODBC (unixODBC with the
SQLite ODBC driver on an SQLite copy of the tables; only Microsoft's Access driver itself
cannot run here).
"""

from __future__ import annotations

import datetime as dt
import stat
from collections import Counter
from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.domain import ImportStatus, ParsedSource, Role
from dxa_app.errors import UsageError
from dxa_app.ingest.apex_mdb import read_folder, read_mdb
from dxa_app.services.importing import ImportSummary, import_paths
from dxa_app.services.reporting import open_report
from dxa_app.services.scoring import rescore_all, study_scores
from dxa_app.services.sites import map_serial, serial_mappings, software_history
from dxa_app.services.workbench import study_detail
from tests import apex_real_shape as rs
from tests.sessions import session_as

#: Known answers: the region each result-table column prefix is (per diagnostic table).
REGIONS: dict[str, dict[str, str]] = {
    "Spine": {"L1": "L1", "L2": "L2", "L3": "L3", "L4": "L4", "TOT": "L1-L4"},
    "Hip": {
        "NECK": "femoral_neck",
        "TROCH": "trochanter",
        "INTER": "intertrochanter",
        "WARDS": "wards",
        "HTOT": "total_hip",
    },
    "Forearm": {
        "R_13": "radius_33",
        "R_MID": "radius_mid",
        "R_UD": "radius_ud",
        "RTOT": "radius_total",
        "U_13": "ulna_33",
        "U_MID": "ulna_mid",
        "U_UD": "ulna_ud",
        "UTOT": "ulna_total",
        "RU13TOT": "radius_ulna_33",
        "RUMIDTOT": "radius_ulna_mid",
        "RUUDTOT": "radius_ulna_ud",
        "RUTOT": "radius_ulna_total",
    },
    "Wbody": {
        "WBTOT": "whole_body",
        "SUBTOT": "wb_subtotal",
        "HEAD": "wb_head",
        "LARM": "wb_left_arm",
        "RARM": "wb_right_arm",
        "LRIB": "wb_left_ribs",
        "RRIB": "wb_right_ribs",
        "T_S": "wb_thoracic_spine",
        "L_S": "wb_lumbar_spine",
        "PELV": "wb_pelvis",
        "LLEG": "wb_left_leg",
        "RLEG": "wb_right_leg",
    },
}
#: SCAN_TYPE codes whose Hip rows are diagnostic (21/22, prosthetic hips, are not).
DIAGNOSTIC_HIP = (2, 3)
FIELD = {"AREA": "area_cm2", "BMC": "bmc_g", "BMD": "bmd_g_cm2"}
SERIALS = {"APEX": "HZA-REAL-1001", "000": "HZA-REAL-1002"}


@pytest.fixture(scope="module")
def shape() -> rs.RealShape:
    return rs.build()


@pytest.fixture
def folder(shape: rs.RealShape, tmp_path: Path) -> Path:
    return rs.write_folder(shape, tmp_path / "apex")


def _fake_mdbtools(bin_dir: Path, tables_dir: Path) -> None:
    """mdb-tables / mdb-export stand-ins that print the folder's files (as ``-D`` prints)."""
    bin_dir.mkdir()
    scripts = {
        "mdb-tables": f'#!/bin/sh\nfor f in "{tables_dir}"/*.csv; do basename "$f" .csv; done\n',
        "mdb-export": f'#!/bin/sh\nfor last; do :; done\ncat "{tables_dir}/$last.csv"\n',
    }
    for name, body in scripts.items():
        script = bin_dir / name
        script.write_text(body, encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)


def _sqlite_odbc_driver() -> str:
    """The SQLite ODBC driver's name; the test fails (never skips) without it."""
    import pyodbc

    found = [d for d in ("SQLite3", "SQLite3 ODBC Driver") if d in pyodbc.drivers()]
    if not found:
        pytest.fail(
            "the SQLite ODBC driver is not registered with unixODBC: install the Debian"
            " packages unixodbc and libsqliteodbc (scripts/install-system-packages.sh)",
            pytrace=False,
        )
    return found[0]


def _messages(parsed: ParsedSource, label: str) -> list[str]:
    """The notes with the table's file label made uniform across the three ways in."""
    return [n.message.replace(label, "<PATIENT>") for n in parsed.notes]


def test_three_ways_in_read_the_same_studies(
    shape: rs.RealShape, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_folder = read_folder(folder)

    _fake_mdbtools(tmp_path / "bin", folder)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    mdb = tmp_path / "PatScan.mdb"
    mdb.write_bytes(b"\x00\x01\x00\x00Standard Jet DB\x00" + bytes(100))
    from_mdbtools = read_mdb(mdb, backend="mdbtools")

    database = rs.write_sqlite(shape, tmp_path / "PatScan.sqlite")
    from_odbc = read_mdb(database, backend="odbc", odbc_driver=_sqlite_odbc_driver())

    assert from_folder.reader == "apex_folder"
    assert from_mdbtools.reader == from_odbc.reader == "apex_mdb"
    assert len(from_folder.studies) == rs.N_WITH_RESULTS
    # the ODBC driver hands the sentinel over as a real date (1799-12-31), mdbtools as
    # 1900-01-00: both are the unknown date
    assert from_folder.studies == from_mdbtools.studies == from_odbc.studies
    assert from_folder.scope == from_mdbtools.scope == from_odbc.scope != ""
    assert (
        _messages(from_folder, "PATIENT.csv")
        == _messages(from_mdbtools, "PatScan.mdb (table PATIENT)")
        == _messages(from_odbc, "PatScan.sqlite (table PATIENT)")
    )


def _import(archive: Path, folder: Path) -> ImportSummary:
    return import_paths(session_as(archive, Role.TECHNICIAN, "tech"), [folder])


def _notes(summary: ImportSummary) -> list[tuple[str, str]]:
    [outcome] = summary.outcomes
    return [(n.severity, n.message) for n in outcome.notes]


def _scope(summary: ImportSummary) -> str:
    for _severity, message in _notes(summary):
        if "serial-map" in message:
            return message.split('serial-map "', 1)[1].split('"', 1)[0]
    raise AssertionError(_notes(summary))


def test_first_import_names_what_was_skipped_and_invents_no_scanner(
    shape: rs.RealShape, folder: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "archive.dxa.sqlite"
    summary = _import(archive, folder)
    [outcome] = summary.outcomes
    assert outcome.status is ImportStatus.IMPORTED, summary.to_dict()
    notes = _notes(summary)
    text = "\n".join(m for _s, m in notes)

    # the sentinel dates are unknown, counted, never fatal
    assert "column 'BIRTHDATE': 21 cells hold APEX's 'unknown date'" in text
    # every scan without results is named, with its SCANID, and none of them is imported
    [no_results] = [m for _s, m in notes if "no analysis results in the database" in m]
    assert no_results.startswith("42 scans ")
    without = sorted(set(shape.scans) - set(shape.with_results))
    assert len(without) == rs.N_SCANS - rs.N_WITH_RESULTS == 42
    for key, scan_id in without:
        assert f"{scan_id} (" in no_results and f"PATIENT_KEY {key})" in no_results
    # IDENTIFIER1 is not the person
    assert "27 empty, 26 other text" in text
    # placeholder serials: the import asks for the site's mapping, and creates no scanner
    placeholder_scans = Counter(
        shape.scans[k][1] for k in shape.with_results if shape.scans[k][1] in SERIALS
    )
    refusals = [m for s, m in notes if s == "error" and "names no particular scanner" in m]
    assert len(refusals) == 2
    for serial, n in placeholder_scans.items():
        assert any(m.startswith(f"{n} scans ") and f"'{serial}'" in m for m in refusals)
    scope = _scope(summary)
    assert scope.startswith("apex:")
    assert all(f'serial-map "{scope}"' in m for m in refusals)
    db = open_archive(archive)
    try:
        serials = {r[0] for r in db.execute("SELECT serial FROM scanners")}
        n_scans = db.execute("SELECT count(*) FROM scans").fetchone()[0]
    finally:
        db.close()
    assert serials.isdisjoint({"APEX", "000", ""})
    assert n_scans == rs.N_WITH_RESULTS - sum(placeholder_scans.values())


def _mapped_import(shape: rs.RealShape, folder: Path, archive: Path) -> str:
    """Import, map the placeholder serials as the note says, import again; return the scope."""
    scope = _scope(_import(archive, folder))
    admin = session_as(archive, Role.ADMIN, "admin")
    for placeholder, serial in SERIALS.items():
        map_serial(admin, scope, placeholder, serial)
    assert {(m.scope, m.placeholder, m.serial) for m in serial_mappings(admin)} == {
        (scope, p, s) for p, s in SERIALS.items()
    }
    second = _import(archive, folder)
    assert [o.status for o in second.outcomes] == [ImportStatus.IMPORTED], second.to_dict()
    assert not [m for s, m in _notes(second) if s == "error"]
    return scope


def test_every_value_present_and_every_patient_apart(
    shape: rs.RealShape, folder: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "archive.dxa.sqlite"
    scope = _mapped_import(shape, folder, archive)
    db = open_archive(archive)
    try:
        scans = {
            r["source_key"]: r
            for r in db.query(
                "SELECT s.*, sc.serial, p.identifier, p.identity_key, p.birth_date, p.sex,"
                " p.id AS patient_id FROM scans s JOIN scanners sc ON sc.id = s.scanner_id"
                " JOIN studies st ON st.id = s.study_id JOIN patients p ON p.id = st.patient_id"
            )
        }
        regions = {(r["scan_id"], r["region"]): r for r in db.query("SELECT * FROM region_results")}
        measured = {
            (r["scan_id"], r["source_table"], r["name"]): r["value"]
            for r in db.query("SELECT * FROM additional_measurements")
        }
        n_patients = db.execute("SELECT count(*) FROM patients").fetchone()[0]
        flagged = db.execute(
            "SELECT count(*) FROM patients WHERE duplicate_of IS NOT NULL"
        ).fetchone()[0]
    finally:
        db.close()

    assert len(scans) == rs.N_WITH_RESULTS
    checked = 0
    for key, scan_id in shape.with_results:
        code, serial, version, height, weight = shape.scans[(key, scan_id)]
        [row] = [r for k, r in scans.items() if k.endswith(f":{key}:{scan_id}")]
        # scanner: the real serial (mapped for a placeholder); per-scan software, height, weight
        assert row["serial"] == SERIALS.get(serial, serial)
        assert row["software_version"] == version
        assert (row["height_cm"], row["weight_kg"]) == (height, weight)
        # the person is the PATIENT_KEY of this database, never IDENTIFIER1
        ident, birth, sex = shape.patients[key]
        assert ident == "" or ident in rs.GENERIC_LABELS  # IDENTIFIER1: empty or shared
        assert row["identifier"] == key and row["identity_key"] == f"id:{scope}|{key}"
        assert row["birth_date"] == (birth.isoformat() if birth else None)
        assert row["sex"] == sex
        for (table, column), value in shape.values[(key, scan_id)].items():
            prefix, _sep, what = column.rpartition("_")
            regional = REGIONS.get(table, {})
            if prefix in regional and what in FIELD and (table != "Hip" or code in DIAGNOSTIC_HIP):
                stored = regions[(row["id"], regional[prefix])][FIELD[what]]
            else:
                stored = measured[(row["id"], table, column)]
            assert stored == pytest.approx(value, abs=1e-9), (key, scan_id, table, column)
            checked += 1
    assert checked == sum(len(v) for v in shape.values.values()) > 1000
    # one patient per PATIENT_KEY: the 26 rows that share two labels stay 26 people
    assert n_patients == len({k for k, _s in shape.with_results}) == rs.N_WITH_RESULTS
    assert flagged == 0


def test_study_view_shows_scans_and_additional_measurements(
    shape: rs.RealShape, folder: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "archive.dxa.sqlite"
    _mapped_import(shape, folder, archive)
    wbody = next(k for k in shape.with_results if shape.scans[k][0] == 5)
    db = open_archive(archive)
    try:
        [(study_uid,)] = db.execute(
            "SELECT st.study_uid FROM studies st JOIN scans s ON s.study_id = st.id"
            " WHERE s.source_key LIKE ?",
            [f"%:{wbody[0]}:{wbody[1]}"],
        ).fetchall()
    finally:
        db.close()
    doctor = session_as(archive, Role.PHYSICIAN, "doc")
    detail = study_detail(doctor, study_uid)
    # a whole-body study has no diagnostic region: shown without a diagnosis, never a crash
    assert detail.scores.diagnosis is None
    assert any(n.startswith("No diagnosis: no diagnostic region") for n in detail.scores.notes)
    assert {r.region for r in detail.scores.regions} == set(REGIONS["Wbody"].values())
    assert study_scores(doctor, study_uid).to_dict()["diagnosis"] is None
    with pytest.raises(UsageError) as refused:
        open_report(doctor, study_uid, lang="da", level="A")
    assert "no diagnostic region" in refused.value.message
    assert study_uid in refused.value.message
    counts = rescore_all(session_as(archive, Role.ADMIN, "admin"))
    assert counts["studies"] == rs.N_WITH_RESULTS
    [scan] = detail.scans
    _code, _serial, version, height, weight = shape.scans[wbody]
    assert (scan.scan_type, scan.software_version) == ("whole_body", version)
    assert (scan.height_cm, scan.weight_kg) == (height, weight)
    shown = {(m.source_table, m.name): m.value for m in detail.measurements}
    expected = {
        tc: v for tc, v in shape.values[wbody].items() if tc[0] != "Wbody"
    }  # Wbody AREA/BMC/BMD are regions
    assert shown == pytest.approx(expected)
    assert {m.label for m in detail.measurements if m.source_table == "SubRegionBone"} >= {
        "Venstre femur",
        "Højre femur",
    }


def test_results_analysed_later_are_imported_then(shape: rs.RealShape, tmp_path: Path) -> None:
    """A scan named as 'no analysis results' comes in with the next import once it has them."""
    archive = tmp_path / "archive.dxa.sqlite"
    _mapped_import(shape, rs.write_folder(shape, tmp_path / "monday"), archive)
    later = rs.build(with_results=rs.N_WITH_RESULTS + 6)
    summary = _import(archive, rs.write_folder(later, tmp_path / "tuesday"))
    assert [o.status for o in summary.outcomes] == [ImportStatus.IMPORTED], summary.to_dict()
    [no_results] = [m for _s, m in _notes(summary) if "no analysis results" in m]
    assert no_results.startswith("36 scans ")
    db = open_archive(archive)
    try:
        n_scans = db.execute("SELECT count(*) FROM scans").fetchone()[0]
        n_patients = db.execute("SELECT count(*) FROM patients").fetchone()[0]
    finally:
        db.close()
    assert n_scans == rs.N_WITH_RESULTS + 6
    new_people = {k for k, _s in later.with_results} - {k for k, _s in shape.with_results}
    assert n_patients == rs.N_WITH_RESULTS + len(new_people)
    again = _import(archive, rs.write_folder(later, tmp_path / "wednesday"))
    db = open_archive(archive)
    try:
        assert db.execute("SELECT count(*) FROM scans").fetchone()[0] == n_scans
    finally:
        db.close()
    assert [o.status for o in again.outcomes] != [ImportStatus.FAILED]


def test_software_change_is_an_event_qc_and_calibration_see(tmp_path: Path) -> None:
    """Every scan analysed: serial 81234 runs 13.0, then 13.2 (a recorded software change)."""
    shape = rs.build(with_results=rs.N_SCANS)
    archive = tmp_path / "archive.dxa.sqlite"
    _mapped_import(shape, rs.write_folder(shape, tmp_path / "apex"), archive)
    on_81234 = sorted(
        (shape.tables["ScanAnalysis"][n]["SCAN_DATE"], v[2])
        for n, (k, v) in enumerate(shape.scans.items())
        if v[1] == "81234" and v[2]
    )
    assert isinstance(on_81234[0][0], dt.datetime)
    first_13_2 = next(at for at, version in on_81234 if version == "13.2")
    doctor = session_as(archive, Role.PHYSICIAN, "doc")
    history = [r for r in software_history(doctor) if r.serial == "81234"]
    assert [(r.previous, r.software_version) for r in history] == [("", "13.0"), ("13.0", "13.2")]
    assert history[1].first_seen[:10] == f"{first_13_2:%Y-%m-%d}"
    # the QC baseline of that scanner starts again on the day of the change
    from dxa_app.archive.qc import baseline_starts
    from dxa_app.archive.scanners import scanner_by_serial

    db = open_archive(archive)
    try:
        starts = baseline_starts(db, scanner_by_serial(db, "81234").id)
    finally:
        db.close()
    assert [(b.after, b.kind, b.reason) for b in starts if b.kind == "software_change"] == [
        (f"{first_13_2:%Y-%m-%d}", "software_change", "13.0 -> 13.2")
    ]
