"""The archive: migrations, WAL, foreign keys, immutable raw rows, idempotent storing, audit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from dxa_app.archive import audit, get_setting, open_archive, set_setting
from dxa_app.archive.db import applied_migrations, verify_audit_chain
from dxa_app.archive.migrations import MIGRATIONS
from dxa_app.archive.queries import counts, list_patients, list_studies
from dxa_app.archive.store import store_parsed
from dxa_app.domain import Sex
from dxa_app.errors import ArchiveError
from tests.factories import parsed, patient, study_record


def test_new_archive_is_migrated_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    assert applied_migrations(db) == [m.name for m in MIGRATIONS]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    for table in (
        "sites",
        "scanners",
        "patients",
        "studies",
        "scans",
        "region_results",
        "images",
        "phantoms",
        "phantom_certified_values",
        "phantom_scans",
        "calibration_steps",
        "reference_tables",
        "precision_studies",
        "vfa_readings",
        "reports",
        "report_versions",
        "users",
        "roles",
        "audit_log",
        "settings",
        "import_log",
    ):
        assert table in db.table_names()
    db.close()
    again = open_archive(tmp_path / "a.sqlite")
    assert applied_migrations(again) == [m.name for m in MIGRATIONS]


def test_archive_from_newer_program_is_refused(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    db.execute("INSERT INTO migrations (name, applied_at) VALUES ('9999_future', 'x')")
    db.close()
    with pytest.raises(ArchiveError, match="newer version"):
        open_archive(tmp_path / "a.sqlite")


def test_missing_folder_and_folder_path_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="does not exist"):
        open_archive(tmp_path / "nope" / "a.sqlite")
    with pytest.raises(ArchiveError, match="is a folder"):
        open_archive(tmp_path)
    with pytest.raises(ArchiveError, match="No archive"):
        open_archive(tmp_path / "absent.sqlite", create=False)


def test_a_file_that_is_not_an_archive_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "x.sqlite"
    bogus.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ArchiveError, match="Cannot open"):
        open_archive(bogus)


def test_store_is_idempotent_and_counts(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    src = parsed(study_record(1), study_record(2))
    rows, notes = store_parsed(db, src)
    # site + scanner + its software version (first seen, then last seen moved by the second
    # study), then per study: patient + study + scan + 5 region results
    assert rows == 3 + 2 * (1 + 1 + 1 + 5) + 1
    assert notes == ()
    before = counts(db)
    assert (before.sites, before.scanners, before.patients, before.studies) == (1, 1, 2, 2)
    assert (before.scans, before.region_results) == (2, 10)
    rows_again, _ = store_parsed(db, src)
    assert rows_again == 0
    assert counts(db) == before


def test_raw_measurement_rows_cannot_be_updated_or_deleted(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    store_parsed(db, parsed(study_record(1)))
    with pytest.raises(sqlite3.IntegrityError, match="cannot be updated"):
        db.execute("UPDATE region_results SET bmd_g_cm2 = 1.5")
    with pytest.raises(sqlite3.IntegrityError, match="cannot be deleted"):
        db.execute("DELETE FROM scans")
    assert db.execute("SELECT min(bmd_g_cm2) FROM region_results").fetchone()[0] == 0.9


def test_failed_source_leaves_no_half_written_rows(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    good = study_record(1)
    # the second study repeats a region in one scan: the UNIQUE constraint fails mid-source,
    # and the whole source (the good study included) must roll back
    bad = study_record(2)
    scan = bad.scans[0]
    bad_scan = dataclasses.replace(scan, results=(*scan.results, scan.results[0]))
    bad = dataclasses.replace(bad, scans=(bad_scan,))
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        store_parsed(db, parsed(good, bad))
    c = counts(db)
    assert (c.sites, c.patients, c.studies, c.scans, c.region_results) == (0, 0, 0, 0, 0)
    rows, _ = store_parsed(db, parsed(good))
    assert rows == 3 + 8  # site, scanner, its software version; the study's 8 rows


def test_patient_with_other_birth_date_is_not_merged_silently(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    p = patient(1)
    store_parsed(db, parsed(study_record(1, pat=p)))
    other = p.__class__(p.identifier, p.id_type, p.name, dt.date(1951, 2, 2), Sex.MALE)
    _, notes = store_parsed(db, parsed(study_record(2, pat=other)))
    assert any("another birth date or sex" in n.message for n in notes)
    # issue 13: the record is a separate patient, flagged as a possible duplicate of the first
    stored = sorted(list_patients(db), key=lambda x: x.id)
    assert [(x.birth_date, x.sex) for x in stored] == [
        (p.birth_date, p.sex),
        (dt.date(1951, 2, 2), Sex.MALE),
    ]
    flags = db.execute("SELECT id, duplicate_of FROM patients ORDER BY id").fetchall()
    assert [tuple(f) for f in flags] == [(stored[0].id, None), (stored[1].id, stored[0].id)]


def test_study_of_another_patient_is_not_merged(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    store_parsed(db, parsed(study_record(1, uid="1.2.3")))
    rows, notes = store_parsed(db, parsed(study_record(2, uid="1.2.3")))
    assert rows == 0
    assert notes and notes[0].severity == "error"
    assert len(list_studies(db)) == 1


def test_listing_patients_and_studies(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    p = patient(3)
    store_parsed(
        db, parsed(study_record(1, pat=p), study_record(2, pat=p), study_record(3, pat=patient(4)))
    )
    pats = {x.identifier: x for x in list_patients(db)}
    assert pats[p.identifier].n_studies == 2
    assert pats[p.identifier].name == "Søs Testperson3"
    mine = list_studies(db, pats[p.identifier].id)
    assert len(mine) == 2 and all(s.scan_types == ("ap_spine",) for s in mine)
    assert mine[0].site == "Test Sygehus" and mine[0].n_results == 5


def test_signed_report_versions_are_immutable(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    store_parsed(db, parsed(study_record(1)))
    db.execute("INSERT INTO reports (study_id, created_at) VALUES (1, 'now')")
    db.execute(
        "INSERT INTO report_versions (report_id, version_no, status, lang, level, content,"
        " created_at) VALUES (1, 1, 'draft', 'da', 'A', '{}', 'now')"
    )
    db.execute("UPDATE report_versions SET content = '{\"x\": 1}' WHERE id = 1")  # draft: fine
    db.execute("UPDATE report_versions SET status = 'signed', signed_by = 'dr' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="cannot be changed"):
        db.execute("UPDATE report_versions SET content = '{}' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="cannot be deleted"):
        db.execute("DELETE FROM report_versions WHERE id = 1")


def test_audit_log_is_hash_chained_and_append_only(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    h1 = audit(db, "import", username="tech", entity="file", entity_id="a.dcm")
    h2 = audit(db, "sign", username="dr", entity="report", entity_id=1, details={"v": 1})
    assert h1 != h2
    assert verify_audit_chain(db)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE audit_log SET username = 'mallory'")
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("UPDATE audit_log SET username = 'mallory' WHERE id = 1")
    assert not verify_audit_chain(db)


def test_settings_round_trip(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    assert get_setting(db, "site_mapping", {}) == {}
    set_setting(db, "site_mapping", {"TEST-001": "ODENSE"})
    set_setting(db, "site_mapping", {"TEST-001": "AARHUS"})
    assert get_setting(db, "site_mapping") == {"TEST-001": "AARHUS"}
    store_parsed(db, parsed(study_record(1)))
    assert list_studies(db)[0].site == "AARHUS"
