"""Tests of the APEX PatScan reader (.mdb through mdbtools, and the per-table CSV folder)."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.demo.apex_writers import write_apex_folder
from dxa_app.domain import (
    IdType,
    ImportStatus,
    Manufacturer,
    ParsedSource,
    PatientIdentity,
    PhantomIdentity,
    PhantomKind,
    PhantomPurpose,
    PhantomRegion,
    PhantomResult,
    PhantomScanRecord,
    Region,
    RegionResult,
    ScannerIdentity,
    ScanRecord,
    ScanType,
    Sex,
    Side,
    StudyInfo,
    StudyRecord,
)
from dxa_app.errors import ImportProblemError
from dxa_app.ingest import apex_mdb
from dxa_app.ingest.apex_mdb import (
    FOLDER_READER,
    READER,
    apex_qc_source_key,
    apex_scan_source_key,
    apex_study_uid,
    read_folder,
    read_mdb,
)
from dxa_app.ingest.registry import reader_for
from dxa_app.services.importing import import_into

SCANNER = ScannerIdentity(
    Manufacturer.HOLOGIC, "Horizon A", "HZ-200123", "13.6.0.5", "", "Test Sygehus"
)
UID = "1.2.826.0.1.3680043.8.498.4711"
PATIENT = PatientIdentity(
    "010150-9912", IdType.CPR, "Søs Æble Testperson", dt.date(1950, 1, 1), Sex.FEMALE
)
DAY = dt.date(2026, 3, 10)


def _at(hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour, minute, 33))


def _study() -> StudyRecord:
    spine = (
        *(
            RegionResult(r, 0.9 + i / 100, 10.0 + i, 14.0 + i)
            for i, r in enumerate((Region.L1, Region.L2, Region.L3, Region.L4))
        ),
        RegionResult(Region.L1_L4, 0.912, 43.5, 47.75, vendor_t=-1.0, vendor_z=0.25),
    )
    hip = (
        RegionResult(Region.FEMORAL_NECK, 0.712, 3.9, 5.1, vendor_t=-2.1, vendor_z=-0.9),
        RegionResult(Region.TROCHANTER, 0.65, 8.0, 12.0),
        RegionResult(Region.INTERTROCHANTER, 1.05, 20.0, 19.0),
        RegionResult(Region.WARDS, 0.51, 0.6, 1.2),
        RegionResult(Region.TOTAL_HIP, 0.88, 31.0, 35.2, vendor_t=-1.2, vendor_z=-0.1),
    )
    forearm = (
        RegionResult(Region.RADIUS_33, 0.68, 1.9, 2.8, vendor_t=-1.5, vendor_z=-0.5),
        RegionResult(Region.RADIUS_UD, 0.41, 1.1, 2.7),
        RegionResult(Region.RADIUS_TOTAL, 0.55, 6.0, 10.9, vendor_t=-1.7, vendor_z=-0.6),
    )
    scans = (
        ScanRecord("x:1", ScanType.AP_SPINE, _at(9, 1), None, "Array", results=spine),
        ScanRecord("x:2", ScanType.HIP, _at(9, 10), Side.LEFT, "Array", results=hip),
        ScanRecord("x:3", ScanType.FOREARM, _at(9, 20), Side.RIGHT, "Array", results=forearm),
    )
    info = StudyInfo(UID, DAY, accession="ACC-77", height_cm=164.5, weight_kg=61.0)
    return StudyRecord(SCANNER, PATIENT, info, scans)


def _qc() -> PhantomScanRecord:
    results = (
        PhantomResult(PhantomRegion.V1, 0.801, 8.1, 10.1),
        PhantomResult(PhantomRegion.V2, 0.902, 9.2, 10.2),
        PhantomResult(PhantomRegion.V3, 1.003, 10.3, 10.3),
        PhantomResult(PhantomRegion.V4, 1.104, 11.4, 10.4),
        PhantomResult(PhantomRegion.TOTAL, 0.953, 39.0, 41.0),
    )
    return PhantomScanRecord(
        "x:qc",
        PhantomIdentity(PhantomKind.HOLOGIC_SPINE, "14523"),
        SCANNER,
        _at(7, 45),
        PhantomPurpose.DAILY_QC,
        results,
    )


@pytest.fixture
def apex_folder(tmp_path: Path) -> Path:
    return write_apex_folder(
        tmp_path / "apex", scanner=SCANNER, studies=[_study()], qc_scans=[_qc()]
    )


def _table(folder: Path, name: str) -> Path:
    return folder / f"{name}.csv"


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (old, text)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _scan_view(scan: ScanRecord) -> tuple[object, ...]:
    return (
        scan.scan_type,
        scan.side,
        scan.acquired_at,
        scan.scan_mode,
        tuple(sorted(scan.results, key=lambda r: str(r.region))),
    )


# ---------------------------------------------------------------------------
# round trip


def test_round_trip_patient_and_qc(apex_folder: Path) -> None:
    parsed = read_folder(apex_folder)
    assert parsed.reader == "apex_folder"
    assert len(parsed.studies) == 1 and len(parsed.phantom_scans) == 1
    study, original = parsed.studies[0], _study()
    assert study.scanner == SCANNER
    assert study.patient == PATIENT
    assert study.study == original.study
    assert [_scan_view(s) for s in study.scans] == [_scan_view(s) for s in original.scans]
    assert all(s.software_version == "13.6.0.5" for s in study.scans)
    qc = parsed.phantom_scans[0]
    assert qc.phantom == PhantomIdentity(PhantomKind.HOLOGIC_SPINE, "14523")
    assert qc.scanner == SCANNER
    assert qc.purpose is PhantomPurpose.DAILY_QC
    assert qc.acquired_at == _at(7, 45)
    assert qc.results == _qc().results
    assert parsed.notes == ()


def test_vendor_scores_land_on_their_regions(apex_folder: Path) -> None:
    scans = read_folder(apex_folder).studies[0].scans
    scores = {r.region: (r.vendor_t, r.vendor_z) for s in scans for r in s.results}
    assert scores[Region.L1_L4] == (-1.0, 0.25)  # a T-score of -1 is a score, not "missing"
    assert scores[Region.FEMORAL_NECK] == (-2.1, -0.9)
    assert scores[Region.TOTAL_HIP] == (-1.2, -0.1)
    assert scores[Region.RADIUS_33] == (-1.5, -0.5)
    assert scores[Region.RADIUS_TOTAL] == (-1.7, -0.6)
    assert scores[Region.L1] == (None, None)


def test_rereading_gives_identical_source_keys(apex_folder: Path) -> None:
    def keys(p: ParsedSource) -> list[str]:
        return [s.source_key for st in p.studies for s in st.scans] + [
            q.source_key for q in p.phantom_scans
        ]

    first, second = keys(read_folder(apex_folder)), keys(read_folder(apex_folder))
    assert first == second and len(set(first)) == 4
    assert all(k.startswith("apex:HZ-200123:") for k in first[:3])
    assert first[3].startswith("apex-qc:HZ-200123:")
    assert "0101509912" not in "".join(first) and "010150-9912" not in "".join(first)


def test_key_helpers_and_derived_uid() -> None:
    assert apex_scan_source_key("S1", "PK", "A1") == "apex:S1:PK:A1"
    assert apex_qc_source_key("S1", "PK", "A1") == "apex-qc:S1:PK:A1"
    uid = apex_study_uid("S1", "PK", DAY)
    assert uid == apex_study_uid("S1", "PK", DAY) != apex_study_uid("S1", "PK2", DAY)
    assert uid.startswith("2.25.") and len(uid) <= 64


def test_study_without_worklist_uid_gets_derived_uid(apex_folder: Path) -> None:
    path = _table(apex_folder, "ScanAnalysis")
    path.write_text(path.read_text(encoding="utf-8").replace(f'"{UID}"', ""), encoding="utf-8")
    studies = read_folder(apex_folder).studies
    assert len(studies) == 1
    assert studies[0].study.study_uid.startswith("2.25.")
    assert "010150" not in studies[0].study.study_uid
    assert len(studies[0].scans) == 3


def test_excluded_vertebrae_decide_the_total_region(apex_folder: Path) -> None:
    spine = _table(apex_folder, "Spine")
    _replace(spine, '",1,14.0,', '",0,14.0,')  # L1 excluded: the total is L2-L4
    parsed = read_folder(apex_folder)
    results = {r.region: r for r in parsed.studies[0].scans[0].results}
    assert results[Region.L1].included is False
    assert Region.L2_L4 in results and Region.L1_L4 not in results
    assert any("L1-L4" in n.message for n in parsed.notes)  # its T/Z had no region
    _replace(spine, ",1,17.0,", ",0,17.0,")  # and L4: L2-L3 is no region of ours
    parsed = read_folder(apex_folder)
    regions = {r.region for r in parsed.studies[0].scans[0].results}
    assert regions == {Region.L1, Region.L2, Region.L3, Region.L4}
    assert any("L2,L3" in n.message for n in parsed.notes)


# ---------------------------------------------------------------------------
# values: -1, dates, CPR


def test_minus_one_means_missing_and_zero_not_analysed(apex_folder: Path) -> None:
    scans = _table(apex_folder, "ScanAnalysis")
    scans.write_text(
        scans.read_text(encoding="utf-8").replace(",164.5,61.0", ",-1,0"), encoding="utf-8"
    )
    _replace(_table(apex_folder, "Spine"), ",0.9,", ",-1,")  # L1_BMD
    _replace(_table(apex_folder, "Spine"), ",10.0,", ",0,")  # L1_BMC
    study = read_folder(apex_folder).studies[0]
    assert study.study.height_cm is None and study.study.weight_kg is None
    assert all(s.height_cm is None and s.weight_kg is None for s in study.scans)
    l1 = next(r for r in study.scans[0].results if r.region is Region.L1)
    assert l1.bmd_g_cm2 is None and l1.bmc_g is None and l1.area_cm2 == 14.0


def test_apex_date_format(apex_folder: Path) -> None:
    text = _table(apex_folder, "ScanAnalysis").read_text(encoding="utf-8")
    assert '"03/10/26 09:01:33"' in text  # MM/DD/YY HH:MM:SS, as mdb-export prints it
    _replace(_table(apex_folder, "ScanAnalysis"), '"03/10/26 09:01:33"', '"2026-03-10 09:01:33"')
    _replace(_table(apex_folder, "ScanAnalysis"), '"03/10/26 09:10:33"', '"3/10/2026 9:10:33"')
    scans = read_folder(apex_folder).studies[0].scans
    assert [s.acquired_at for s in scans] == [_at(9, 1), _at(9, 10), _at(9, 20)]


def test_two_digit_birth_year_century(apex_folder: Path) -> None:
    # CPR 7th digit 9 with year 50 -> 1950; a non-CPR id: born before the first scan.
    assert read_folder(apex_folder).studies[0].patient.birth_date == dt.date(1950, 1, 1)
    _replace(_table(apex_folder, "PATIENT"), '"010150-9912"', '"MRN-55"')
    _replace(_table(apex_folder, "PATIENT"), '"01/01/50 00:00:00"', '"12/24/30 00:00:00"')
    parsed = read_folder(apex_folder)
    patient = parsed.studies[0].patient
    # issue 13: IDENTIFIER1 is free text; a patient without a CPR number is its PATIENT_KEY
    # within this database
    assert patient.id_type is IdType.OTHER and patient.identifier == "260310000001HZ-200123"
    assert patient.scope == parsed.scope and parsed.scope.startswith("apex:")
    assert patient.birth_date == dt.date(1930, 12, 24)
    assert any("two-digit year" in n.message for n in parsed.notes)


def test_cpr_without_hyphen_is_normalised(apex_folder: Path) -> None:
    _replace(_table(apex_folder, "PATIENT"), '"010150-9912"', '"0101509912"')
    assert read_folder(apex_folder).studies[0].patient.identifier == "010150-9912"


# ---------------------------------------------------------------------------
# problems


def _errors(parsed: ParsedSource) -> list[str]:
    return [n.message for n in parsed.notes if n.severity == "error"]


def test_malformed_number_fails_its_scan_naming_file_line_and_column(apex_folder: Path) -> None:
    # issue 13: a bad cell fails the scan it belongs to, never the database
    _replace(_table(apex_folder, "Hip"), ",0.712,", ",0.712x,")
    parsed = read_folder(apex_folder)
    [message] = _errors(parsed)
    assert message.startswith("Scan A031026")
    assert "Hip.csv" in message and "line 2" in message and "NECK_BMD" in message
    assert [s.scan_type for s in parsed.studies[0].scans] == [ScanType.AP_SPINE, ScanType.FOREARM]
    assert len(parsed.phantom_scans) == 1


def test_unreadable_scan_date_fails_its_scan(apex_folder: Path) -> None:
    _replace(_table(apex_folder, "ScanAnalysis"), '"03/10/26 09:10:33"', '"13/45/26 09:10:33"')
    parsed = read_folder(apex_folder)
    [message] = _errors(parsed)
    assert "ScanAnalysis.csv" in message and "line 3" in message and "SCAN_DATE" in message
    assert "the scan date is unknown" in message
    assert any("line 3 holds no readable date" in n.message for n in parsed.notes)
    assert len(parsed.studies[0].scans) == 2


def test_broken_csv_names_the_line_the_record_starts_on(apex_folder: Path) -> None:
    _replace(_table(apex_folder, "PATIENT"), '"Testperson",', '"Test\nperson"x,')
    with pytest.raises(ImportProblemError) as err:
        read_folder(apex_folder)
    assert err.value.message.startswith("PATIENT.csv, line 2: the line is not valid CSV (")


def test_missing_required_table(apex_folder: Path) -> None:
    _table(apex_folder, "ScanAnalysis").unlink()
    with pytest.raises(ImportProblemError, match="ScanAnalysis"):
        read_folder(apex_folder)


def test_missing_required_column(apex_folder: Path) -> None:
    _replace(_table(apex_folder, "ScanAnalysis"), "SCAN_TYPE,", "SCAN_KIND,")
    with pytest.raises(ImportProblemError, match="SCAN_TYPE"):
        read_folder(apex_folder)


def test_unknown_patient_key_in_scans_fails_that_scan(apex_folder: Path) -> None:
    path = _table(apex_folder, "ScanAnalysis")
    path.write_text(
        path.read_text(encoding="utf-8") + '"NOPE","A1","HZ-200123","03/10/26 10:00:00",1\n',
        encoding="utf-8",
    )
    parsed = read_folder(apex_folder)
    [message] = _errors(parsed)
    assert message.startswith("Scan A1 of patient NOPE was not imported:")
    assert "'NOPE' is not in table PATIENT" in message
    assert len(parsed.studies[0].scans) == 3


def test_unknown_tables_and_columns_are_noted_once(apex_folder: Path) -> None:
    (apex_folder / "IvaResults.csv").write_text("PATIENT_KEY,SCANID\n", encoding="utf-8")
    (apex_folder / "TenYearFxRisk.csv").write_text("PATIENT_KEY\n", encoding="utf-8")
    _replace(_table(apex_folder, "Hip"), "HTOT_BMD", "HTOT_BMD,ROI_WIDTH")
    _replace(_table(apex_folder, "Forearm"), "RUTOT_BMD", "RUTOT_BMD,ARM_LENGTH")
    text = _table(apex_folder, "Forearm").read_text(encoding="utf-8").rstrip("\n") + ",31.0\n"
    _table(apex_folder, "Forearm").write_text(text, encoding="utf-8")
    parsed = read_folder(apex_folder)
    messages = [n.message for n in parsed.notes]
    assert sum("TenYearFxRisk" in m and "IvaResults" in m for m in messages) == 1
    assert sum("ROI_WIDTH" in m and "ARM_LENGTH" in m for m in messages) == 1
    assert len(parsed.studies[0].scans) == 3


def test_no_system_table_gives_default_model_and_note(apex_folder: Path) -> None:
    _table(apex_folder, "SystemId").unlink()
    parsed = read_folder(apex_folder)
    scanner = parsed.studies[0].scanner
    assert scanner.model == "APEX" and scanner.institution_name == ""
    assert scanner.manufacturer is Manufacturer.HOLOGIC and scanner.serial == "HZ-200123"
    assert len(parsed.notes) == 2
    chosen = read_folder(apex_folder, institution_name="Aarhus Universitetshospital")
    assert chosen.studies[0].scanner.institution_name == "Aarhus Universitetshospital"


# ---------------------------------------------------------------------------
# sniffing


def test_sniff_folder(apex_folder: Path, tmp_path: Path) -> None:
    assert FOLDER_READER.sniff_folder(apex_folder)
    other = tmp_path / "lower"
    other.mkdir()
    (other / "patient.csv").write_text("PATIENT_KEY\n", encoding="utf-8")
    assert not FOLDER_READER.sniff_folder(other)
    (other / "SCANANALYSIS.CSV").write_text("PATIENT_KEY\n", encoding="utf-8")
    assert FOLDER_READER.sniff_folder(other)
    assert not FOLDER_READER.sniff_folder(tmp_path / "missing")
    assert reader_for(apex_folder) is FOLDER_READER


def test_case_insensitive_table_files(apex_folder: Path) -> None:
    _table(apex_folder, "Spine").rename(apex_folder / "SPINE.CSV")
    scans = read_folder(apex_folder).studies[0].scans
    assert any(r.region is Region.L1_L4 for r in scans[0].results)


def test_sniff_mdb_signature(tmp_path: Path) -> None:
    jet = b"\x00\x01\x00\x00Standard Jet DB\x00" + bytes(100)
    ace = b"\x00\x01\x00\x00Standard ACE DB\x00" + bytes(100)
    assert READER.sniff(tmp_path / "PatScan.mdb", jet)
    assert READER.sniff(tmp_path / "x.accdb", ace)
    assert not READER.sniff(tmp_path / "PatScan.mdb", b"PK\x03\x04" + bytes(100))
    mdb = tmp_path / "PatScan.mdb"
    mdb.write_bytes(jet)
    assert reader_for(mdb) is READER


# ---------------------------------------------------------------------------
# the .mdb path


def _fake_mdbtools(bin_dir: Path, tables_dir: Path, log: Path) -> None:
    """Write fake mdb-tables / mdb-export scripts that print our generated CSV files."""
    bin_dir.mkdir()
    scripts = {
        "mdb-tables": f'#!/bin/sh\necho "tables $*" >> "{log}"\n'
        f'for f in "{tables_dir}"/*.csv; do basename "$f" .csv; done\n',
        "mdb-export": f'#!/bin/sh\necho "export $*" >> "{log}"\n'
        "for last; do :; done\n"
        f'cat "{tables_dir}/$last.csv"\n',
    }
    for name, body in scripts.items():
        script = bin_dir / name
        script.write_text(body, encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_mdb_through_fake_mdbtools(
    apex_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (apex_folder / "IvaResults.csv").write_text("PATIENT_KEY,SCANID\n", encoding="utf-8")
    log = tmp_path / "calls.log"
    _fake_mdbtools(tmp_path / "bin", apex_folder, log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    mdb = tmp_path / "PatScan.mdb"
    mdb.write_bytes(b"\x00\x01\x00\x00Standard Jet DB\x00" + bytes(100))
    parsed = READER.read(mdb)
    expected = read_folder(apex_folder)
    assert parsed.reader == "apex_mdb"
    assert parsed.studies == expected.studies
    assert parsed.phantom_scans == expected.phantom_scans
    assert any("IvaResults" in n.message for n in parsed.notes)
    calls = log.read_text(encoding="utf-8").splitlines()
    assert calls[0] == f"tables -1 {mdb}"
    assert f"export -D %Y-%m-%d %H:%M:%S -T %Y-%m-%d %H:%M:%S {mdb} PATIENT" in calls
    assert not any(c.endswith(" IvaResults") for c in calls)


def test_mdb_error_names_database_and_table(
    apex_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _replace(_table(apex_folder, "Spine"), ",0.9,", ",oops,")
    _fake_mdbtools(tmp_path / "bin", apex_folder, tmp_path / "calls.log")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    mdb = tmp_path / "PatScan.mdb"
    mdb.write_bytes(b"\x00\x01\x00\x00Standard Jet DB\x00")
    [message] = _errors(read_mdb(mdb, backend="mdbtools"))
    assert "PatScan.mdb (table Spine), line 2" in message
    assert "L1_BMD" in message


def test_mdbtools_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    mdb = tmp_path / "PatScan.mdb"
    mdb.write_bytes(b"\x00\x01\x00\x00Standard Jet DB\x00")
    with pytest.raises(ImportProblemError) as err:
        READER.read(mdb)
    assert "mdbtools" in err.value.message
    assert "Debian package mdbtools" in err.value.remedy


@pytest.mark.usefixtures("real_mdbtools")  # fails, never skips, without Debian's mdbtools
def test_unreadable_mdb_with_real_mdbtools(tmp_path: Path) -> None:
    mdb = tmp_path / "PatScan.mdb"
    mdb.write_bytes(b"\x00\x01\x00\x00Standard Jet DB\x00" + os.urandom(5000))
    with pytest.raises(ImportProblemError) as err:
        read_mdb(mdb)
    assert "unreadable .mdb" in err.value.message
    assert str(mdb) in err.value.message


# ---------------------------------------------------------------------------
# end to end


def test_import_parent_folder_into_archive(
    apex_folder: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    (tmp_path / "notes.txt").write_text("not a DXA export\n", encoding="utf-8")
    db = open_archive(tmp_path_factory.mktemp("db") / "archive.dxa.sqlite")
    try:
        summary = import_into(db, [tmp_path])
        by_path = {Path(o.path).name: o for o in summary.outcomes}
        assert set(by_path) == {"apex", "notes.txt"}, summary.to_dict()
        assert by_path["apex"].status is ImportStatus.IMPORTED, summary.to_dict()
        assert by_path["apex"].reader == "apex_folder"
        assert by_path["notes.txt"].status is ImportStatus.SKIPPED
        assert db.execute("SELECT count(*) FROM scans").fetchone()[0] == 3
        assert db.execute("SELECT count(*) FROM phantom_scans").fetchone()[0] == 1
        again = import_into(db, [tmp_path])
        assert {Path(o.path).name: o.status for o in again.outcomes} == {
            "apex": ImportStatus.DUPLICATE,
            "notes.txt": ImportStatus.SKIPPED,
        }
    finally:
        db.close()


def test_module_exports() -> None:
    assert apex_mdb.READER.name == "apex_mdb"
    assert apex_mdb.FOLDER_READER.name == "apex_folder"


def _failing_mdbtools(bin_dir: Path, tables_dir: Path, tail: str, head: str = "") -> None:
    """Fake mdbtools whose mdb-export runs ``head``, prints the table, then runs ``tail``."""
    _fake_mdbtools(bin_dir, tables_dir, bin_dir.parent / "calls.log")
    export = bin_dir / "mdb-export"
    export.write_text(
        f'#!/bin/sh\nfor last; do :; done\n{head}\ncat "{tables_dir}/$last.csv"\n{tail}\n',
        encoding="utf-8",
    )


def test_mdb_export_failing_after_its_output_fails_the_source(
    apex_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing_mdbtools(tmp_path / "bin", apex_folder, 'echo "cannot read page 7" >&2; exit 3')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    mdb = tmp_path / "PatScan.mdb"
    mdb.write_bytes(b"\x00\x01\x00\x00Standard Jet DB\x00")
    with pytest.raises(ImportProblemError) as err:
        read_mdb(mdb)
    assert err.value.message.startswith("PatScan.mdb (table ")
    assert "mdb-export failed: cannot read page 7" in err.value.message


def test_mdb_export_is_stopped_when_its_table_is_refused(
    apex_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table that is no longer CSV ends the read at once; the running mdb-export is stopped.

    (A row with too many values no longer refuses its table: since issue 13 it fails only
    its scan. A quote left open cannot be read past, so it still refuses the table.)
    """
    _replace(_table(apex_folder, "Spine"), ",0.9,", ',"0.9"x,')
    pid_file = tmp_path / "export.pid"
    _failing_mdbtools(
        tmp_path / "bin",
        apex_folder,
        'if [ "$last" = Spine ]; then exec sleep 600; fi',
        head=f'if [ "$last" = Spine ]; then echo $$ > "{pid_file}"; fi',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    mdb = tmp_path / "PatScan.mdb"
    mdb.write_bytes(b"\x00\x01\x00\x00Standard Jet DB\x00")
    with pytest.raises(ImportProblemError, match=r"PatScan.mdb \(table Spine\), line 2: the line"):
        read_mdb(mdb, backend="mdbtools")
    pid = int(pid_file.read_text(encoding="utf-8"))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped
