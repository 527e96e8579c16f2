"""Issue 13: imported images live in the archive's own store; backups and restores carry them."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pydicom
import pytest
from pydicom.tag import BaseTag, Tag

from dxa_app.archive import images as images_module
from dxa_app.archive import open_archive
from dxa_app.archive.images import put, put_new_bytes, relative_path
from dxa_app.cli import ExitCode, main
from dxa_app.domain import Role
from dxa_app.errors import ArchiveError, ImportProblemError
from dxa_app.fileio import NEW_FILE_FLAGS
from dxa_app.i18n import translator
from dxa_app.services.backup import backup_archive, restore_archive
from dxa_app.services.images import exposure_line, exposure_text, stored_images, study_exposure
from dxa_app.services.importing import import_paths
from dxa_app.services.workbench import study_detail
from tests.dicom_study import STUDY_UID, write_study
from tests.sessions import PASSWORD, ensure_user, session_as


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def imported(tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    """An archive with one study imported from a folder that is then deleted."""
    written = write_study(tmp_path / "usb-stick")
    archive = tmp_path / "a.dxa.sqlite"
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    summary = import_paths(tech, [tmp_path / "usb-stick"])
    assert summary.counts["imported"] == 3, summary.to_dict()
    sources = {p.name: p.read_bytes() for p in written.files}
    shutil.rmtree(tmp_path / "usb-stick")  # the stick is gone
    assert not any(tmp_path.glob("usb-stick*"))
    assert len(sources) == 3
    return archive, written.sop_uids


def test_images_survive_deleting_the_folder_they_came_from(
    imported: tuple[Path, tuple[str, ...]],
) -> None:
    archive, sop_uids = imported
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    images = stored_images(tech, STUDY_UID)
    assert [i.sop_instance_uid for i in images] == list(sop_uids)
    store = archive.with_name(archive.name + "-images")
    assert _mode(store) == 0o700
    for image in images:
        assert image.path is not None and image.path.is_file()
        # content-addressed: <store>/ab/<sha256>.dcm, owner-only, the bytes as received
        assert image.path.relative_to(store).as_posix() == relative_path(image.sha256)
        assert _sha(image.path) == image.sha256
        assert _mode(image.path) == 0o600 and _mode(image.path.parent) == 0o700
        assert pydicom.dcmread(image.path).SOPInstanceUID == image.sop_instance_uid
    detail = study_detail(tech, STUDY_UID)
    by_uid = {i.sop_instance_uid: i for i in detail.images}
    hip = by_uid[sop_uids[1]]
    assert (hip.kind, hip.side, hip.body_part) == ("hip_image", "L", "HIP")
    assert hip.software_version == "13.6.0.5" and hip.analysis == "read"
    assert by_uid[sop_uids[2]].analysis == "none"  # the VFA image has no analysis
    assert all(i.stored_path for i in detail.images)


def test_exposure_is_kept_per_image_and_printed_in_the_report(
    imported: tuple[Path, tuple[str, ...]],
) -> None:
    archive, sop_uids = imported
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    exposures = {e.sop_instance_uid: e for e in study_exposure(tech, STUDY_UID)}
    assert set(exposures) == set(sop_uids)
    spine = exposures[sop_uids[0]]
    assert dict(spine.attributes) == {"KVP": "140", "ImageAndFluoroscopyAreaDoseProduct": "0.12"}
    line = exposure_line(list(exposures.values()), lambda s: s)
    assert line is not None
    assert "lumbar spine: dose-area product 0.12 dGy·cm²" in line
    assert "hip, left: dose-area product 0.09 dGy·cm²" in line
    # in words and numbers of the report's language, never DICOM keywords
    danish = exposure_line(list(exposures.values()), translator("da"), "da")
    assert danish is not None
    assert "columna lumbalis: dosis-areal-produkt 0,12 dGy·cm²" in danish
    assert "Area" not in danish and "LSPINE" not in danish
    # the study view's column: every attribute in words, the dose first, sequence items too
    ge = (("ExposureDoseSequence[1].KVP", "100"), ("EntranceDoseInmGy", "0.146"))
    assert exposure_text(ge, translator("da"), "da") == (
        "indgangsdosis 0,146 mGy, rørspænding 100 kV"
    )
    assert exposure_text((("CTDIvol", "1.5"),), lambda m: m) == "CTDIvol 1.5"  # kept, named


def test_a_file_that_changed_since_it_was_read_is_not_stored(tmp_path: Path) -> None:
    src = tmp_path / "x.dcm"
    src.write_bytes(b"now")
    with pytest.raises(ImportProblemError, match="changed while it was imported"):
        put(tmp_path / "store", src, hashlib.sha256(b"then").hexdigest())
    assert not list((tmp_path / "store").rglob("*.dcm"))
    rel, size = put(tmp_path / "store", src, _sha(src))
    assert (tmp_path / "store" / rel).read_bytes() == b"now" and size == 3


def test_an_image_imported_before_the_store_is_stored_on_reimport(tmp_path: Path) -> None:
    written = write_study(tmp_path / "in")
    archive = tmp_path / "a.dxa.sqlite"
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    import_paths(tech, [tmp_path / "in"])
    store = archive.with_name(archive.name + "-images")
    shutil.rmtree(store)
    db = open_archive(archive)  # as an archive of before the store: rows name no copy
    db.execute("UPDATE images SET stored_path = '', bytes = NULL, exposure = '[]'")
    db.conn.commit()
    db.close()
    assert all(i.path is None for i in stored_images(tech, STUDY_UID))
    again = import_paths(tech, [written.files[0]])
    assert again.counts["imported"] == 1  # the copy was added
    paths = [i.path for i in stored_images(tech, STUDY_UID)]
    assert paths[0] is not None and paths[0].is_file() and paths[1:] == [None, None]
    assert import_paths(tech, [written.files[0]]).counts["duplicate"] == 1


def _marker(archive: Path) -> int:
    db = open_archive(archive)
    try:
        return int(db.execute("SELECT count(*) FROM sites WHERE code = 'AFTER'").fetchone()[0])
    finally:
        db.close()


def test_backup_and_restore_include_the_images(
    imported: tuple[Path, tuple[str, ...]], tmp_path: Path
) -> None:
    archive, _uids = imported
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    admin = session_as(archive, Role.ADMIN, "admin")
    store = archive.with_name(archive.name + "-images")
    originals = {p.relative_to(store): p.read_bytes() for p in store.rglob("*.dcm")}
    assert len(originals) == 3

    result = backup_archive(tech, tmp_path / "b.dxa.sqlite")
    backup_store = Path(result.images_path)
    assert backup_store == tmp_path / "b.dxa.sqlite-images"
    assert (result.images, result.images_missing) == (3, ())
    assert {p.relative_to(backup_store): p.read_bytes() for p in backup_store.rglob("*.dcm")} == (
        originals
    )
    assert all(_mode(p) == 0o600 for p in backup_store.rglob("*.dcm"))
    manifest = json.loads((backup_store / "manifest.json").read_text())
    assert manifest == {"files": 3, "bytes": result.image_bytes, "missing": []}

    # the archive's images are lost after the backup, and something else changes
    shutil.rmtree(store)
    db = open_archive(archive)
    db.execute("INSERT INTO sites (code, name) VALUES ('AFTER', 'after the backup')")
    db.close()
    restored = restore_archive(admin, tmp_path / "b.dxa.sqlite")
    assert restored["images"] == 3 and restored["images_missing_at_backup"] == []
    assert {p.relative_to(store): p.read_bytes() for p in store.rglob("*.dcm")} == originals
    assert _marker(archive) == 0
    for image in stored_images(tech, STUDY_UID):
        assert image.path is not None and _sha(image.path) == image.sha256
    safety = Path(restored["safety_copy"])
    assert safety.with_name(safety.name + "-images").is_dir()


def test_restore_checks_the_images_before_replacing_anything(
    imported: tuple[Path, tuple[str, ...]], tmp_path: Path
) -> None:
    archive, _uids = imported
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    admin = session_as(archive, Role.ADMIN, "admin")
    backup = Path(backup_archive(tech, tmp_path / "b.dxa.sqlite").path)
    backup_store = backup.with_name(backup.name + "-images")
    db = open_archive(archive)
    db.execute("INSERT INTO sites (code, name) VALUES ('AFTER', 'after the backup')")
    db.close()
    live_store = archive.with_name(archive.name + "-images")
    shutil.rmtree(live_store)  # so the backup's own files must be right

    victim = sorted(backup_store.rglob("*.dcm"))[0]
    victim.chmod(0o600)
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="1 image files are missing or changed") as info:
        restore_archive(admin, backup)
    assert "changed" in info.value.message and victim.name in info.value.message
    assert _marker(archive) == 1  # nothing replaced
    assert not list(archive.parent.glob("*before-restore*"))

    victim.unlink()
    with pytest.raises(ArchiveError, match="missing"):
        restore_archive(admin, backup)
    shutil.rmtree(backup_store)
    with pytest.raises(ArchiveError, match="3 image files are missing") as info:
        restore_archive(admin, backup)
    assert "b.dxa.sqlite-images" in info.value.remedy
    assert _marker(archive) == 1


def test_cli_backup_reports_images_missing_from_the_store(
    imported: tuple[Path, tuple[str, ...]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive, _uids = imported
    ensure_user(archive, "admin", Role.ADMIN)
    monkeypatch.setenv("DXA_USER", "admin")
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    store = archive.with_name(archive.name + "-images")
    lost = sorted(store.rglob("*.dcm"))[0]
    lost.unlink()
    dest = tmp_path / "b.dxa.sqlite"
    code = main(["backup", str(dest), "--archive", str(archive), "--json"])
    assert code == ExitCode.PARTIAL
    out = json.loads(capsys.readouterr().out)
    assert out["images"] == 2 and out["images_missing"] == [lost.relative_to(store).as_posix()]
    # the backup restores; the file that was already lost is named, not refused
    assert main(["restore", str(dest), "--archive", str(archive)]) == ExitCode.OK
    assert "1 image files were already missing" in capsys.readouterr().out


# --- analysis data not understood ----------------------------------------------------------


def _garble(path: Path, tag: BaseTag, value: str) -> None:
    ds = pydicom.dcmread(path)
    ds[tag].value = value
    ds.save_as(path, enforce_file_format=True)


def test_import_counts_analysis_not_understood_apart(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    written = write_study(tmp_path / "in")
    # the hip's analysis in a layout nobody here knows
    _garble(written.files[1], Tag(0x0021, 0x1101), "<HipResults><Neck bmd='0.702'/></HipResults>")
    archive = tmp_path / "a.dxa.sqlite"
    ensure_user(archive, "tech", Role.TECHNICIAN)
    monkeypatch.setenv("DXA_USER", "tech")
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    code = main(["import", str(tmp_path / "in"), "--json", "--archive", str(archive)])
    assert code == ExitCode.OK  # never a failed file
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == {
        "imported": 2,
        "imported_analysis_not_understood": 1,
        "duplicate": 0,
        "skipped": 0,
        "failed": 0,
    }
    [entry] = out["analysis_not_understood"]
    assert entry["path"] == str(written.files[1])
    assert entry["what"][0].startswith("HOLOGIC (0021,1101): ")
    assert "<HipResults>" in entry["what"][0]

    tech = session_as(archive, Role.TECHNICIAN, "tech")
    detail = study_detail(tech, STUDY_UID)
    hip = next(i for i in detail.images if i.sop_instance_uid == written.sop_uids[1])
    assert hip.analysis == "not_understood" and hip.kind == "hip_image"
    assert hip.analysis_detail.startswith("HOLOGIC (0021,1101)")
    assert {r.scan_type for r in detail.scores.regions} == {"ap_spine"}  # no empty hip scan

    # the text of 'import' says it too
    written2 = write_study(tmp_path / "in2", prefix="1.2.826.0.1.3680043.8.498.14")
    _garble(written2.files[0], Tag(0x0021, 0x1101), "L1 0,801 L2 0,861 (plain text report)")
    capsys.readouterr()
    assert main(["import", str(tmp_path / "in2"), "--archive", str(archive)]) == ExitCode.OK
    text = capsys.readouterr().out
    assert "imported with analysis data not understood 1" in text
    assert f"analysis data not understood: {written2.files[0]}: HOLOGIC (0021,1101)" in text


def test_analysis_in_another_hologic_element_is_named(tmp_path: Path) -> None:
    written = write_study(tmp_path / "in")
    ds = pydicom.dcmread(written.files[0])
    del ds[Tag(0x0021, 0x1101)]  # no analysis where we expect it...
    block = ds.private_block(0x0029, "HOLOGIC", create=True)  # ...but in another element
    block.add_new(0x07, "UT", "<APEXResults version='9'><ROI n='L1' bmd='0.801'/></APEXResults>")
    ds.save_as(written.files[0], enforce_file_format=True)
    archive = tmp_path / "a.dxa.sqlite"
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    summary = import_paths(tech, [written.files[0]])
    assert summary.counts["imported_analysis_not_understood"] == 1
    [outcome] = summary.outcomes
    [what] = outcome.not_understood
    assert what.startswith("HOLOGIC (0029,1007) UT") and "<APEXResults" in what
    notes = [n.message for n in outcome.notes]
    assert any("Analysis data not understood: HOLOGIC (0029,1007)" in n for n in notes)


def test_ge_sr_without_an_understood_scan_is_named(tmp_path: Path) -> None:
    import datetime as dt

    from dxa_app.demo.dicom_writers import write_ge_sr
    from dxa_app.domain import Manufacturer, ScannerIdentity
    from tests.dicom_study import PATIENT, SPINE, STUDY

    path = write_ge_sr(
        tmp_path / "sr.dcm",
        ScannerIdentity(Manufacturer.GE_LUNAR, "Lunar iDXA", "200123", "16.20.059"),
        PATIENT,
        STUDY,
        [SPINE],
        series_uid="1.2.826.0.1.3680043.8.498.15.1",
        sop_instance_uid="1.2.826.0.1.3680043.8.498.15.2",
        study_time=dt.time(9, 15, 30),
    )
    ds = pydicom.dcmread(path)
    ds.ContentSequence[0].ConceptNameCodeSequence[0].CodeMeaning = "Dual Energy Scan 7"
    ds.save_as(path, enforce_file_format=True)
    archive = tmp_path / "a.dxa.sqlite"
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    summary = import_paths(tech, [path])
    assert summary.counts["imported_analysis_not_understood"] == 1, summary.to_dict()
    [what] = summary.outcomes[0].not_understood
    assert what.startswith("SR content: ") and "Dual Energy Scan 7" in what
    db = open_archive(archive)
    try:
        assert db.execute("SELECT count(*) FROM scans").fetchone()[0] == 0
    finally:
        db.close()


def test_archive_rows_name_their_store_files(imported: tuple[Path, tuple[str, ...]]) -> None:
    archive, _uids = imported
    conn = sqlite3.connect(archive)
    try:
        rows = conn.execute("SELECT stored_path, sha256, bytes FROM images").fetchall()
    finally:
        conn.close()
    store = archive.with_name(archive.name + "-images")
    for stored, sha, size in rows:
        assert stored == relative_path(sha) and (store / stored).stat().st_size == size


def test_a_copy_is_written_once_under_its_name_owner_only(tmp_path: Path) -> None:
    data = b"DICM copy"
    sha = hashlib.sha256(data).hexdigest()
    store = tmp_path / "store"
    assert put_new_bytes(store, data, sha) == (relative_path(sha), len(data))
    assert put_new_bytes(store, b"other bytes", sha) is None  # the name is taken: untouched
    copy = store / relative_path(sha)
    assert copy.read_bytes() == data and _mode(copy) == 0o600
    assert [p for p in store.rglob("*") if p.is_file()] == [copy]  # no temporary name left


def test_a_copy_that_cannot_be_written_leaves_nothing_under_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    data = b"DICM copy"
    sha = hashlib.sha256(data).hexdigest()
    with pytest.raises(ImportProblemError, match="No space left"):
        put_new_bytes(tmp_path / "store", data, sha)
    assert not [p for p in (tmp_path / "store").rglob("*") if p.is_file()]


def test_a_failed_copy_leaves_the_whole_copy_another_import_put_in_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two imports of one file: the second finds the first's copy unfinished and replaces it."""
    data = b"DICM copy"
    sha = hashlib.sha256(data).hexdigest()
    store = tmp_path / "store"
    copy = store / relative_path(sha)
    source = tmp_path / "source.dcm"
    source.write_bytes(data)
    real_fsync = os.fsync

    def replaced_then_disk_full(fd: int) -> None:
        os.ftruncate(fd, 3)  # what the other import finds: a copy not yet whole
        monkeypatch.setattr(os, "fsync", real_fsync)
        assert put(store, source, sha) == (relative_path(sha), len(data))  # the other import
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", replaced_then_disk_full)
    with pytest.raises(ImportProblemError, match="No space left"):
        put_new_bytes(store, data, sha)
    assert copy.read_bytes() == data  # the other import's whole copy stays


def test_a_copy_a_crash_left_unfinished_is_replaced_by_the_next_import(tmp_path: Path) -> None:
    written = write_study(tmp_path / "in")
    archive = tmp_path / "a.dxa.sqlite"
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    store = archive.with_name(archive.name + "-images")
    whole = written.files[0].read_bytes()
    unfinished = store / relative_path(hashlib.sha256(whole).hexdigest())
    unfinished.parent.mkdir(parents=True)
    unfinished.write_bytes(whole[:200])  # what a power cut mid-write leaves
    summary = import_paths(tech, [tmp_path / "in"])
    assert summary.counts["imported"] == 3, summary.to_dict()
    assert unfinished.read_bytes() == whole
    paths = [i.path for i in stored_images(tech, STUDY_UID)]
    assert all(p is not None and p.is_file() for p in paths)
    assert {p.read_bytes() for p in paths if p} == {f.read_bytes() for f in written.files}


def test_every_new_file_is_created_in_binary_mode() -> None:
    """On Windows ``os.open`` without O_BINARY writes CR LF for every LF (a damaged copy)."""
    assert NEW_FILE_FLAGS & os.O_CREAT and NEW_FILE_FLAGS & os.O_EXCL
    assert NEW_FILE_FLAGS & getattr(os, "O_BINARY", 0) == getattr(os, "O_BINARY", 0)
    package = Path(images_module.__file__).resolve().parent.parent
    creating = [
        f"{py.relative_to(package)}:{n}"
        for py in package.rglob("*.py")
        for n, line in enumerate(py.read_text(encoding="utf-8").splitlines(), start=1)
        if "os.open(" in line and "O_CREAT" in line
    ]
    assert creating == []  # every new file goes through NEW_FILE_FLAGS
