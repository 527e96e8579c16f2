"""An import reads each file once, and a pooled import stores exactly what a serial one does."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.archive.database import Database
from dxa_app.archive.images import store_folder_for
from dxa_app.domain import ImportStatus
from dxa_app.ingest import dicom_common
from dxa_app.services import importing
from dxa_app.services.importing import import_into

#: Tables written by the log and housekeeping.
_NOT_DATA = frozenset({"import_log", "audit_log", "migrations", "settings"})


def _when_run(value: object) -> object:
    """The time of the run (written with its UTC offset, unlike scan times) is left out."""
    return "<now>" if isinstance(value, str) and value.endswith("+00:00") else value


def _copy_dicom(demo_files: Path, dest: Path, n: int) -> list[Path]:
    """Copy ``n`` demo DICOM files (Hologic and GE, images and SRs) into ``dest``."""
    src = sorted((demo_files / "dicom").rglob("*.dcm"))
    kinds = sorted(src, key=lambda p: (p.parent.name, p.name))[:n]
    dest.mkdir(parents=True)
    return [Path(shutil.copy(f, dest / f"{i:03d}_{f.name}")) for i, f in enumerate(kinds)]


def _rows(archive: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every data row of an archive, without the columns that hold the time of the run."""
    db = Database(sqlite3.connect(archive))
    try:
        out: dict[str, list[tuple[object, ...]]] = {}
        for table in db.table_names():
            if table in _NOT_DATA or table.startswith("sqlite_"):
                continue
            rows = db.execute(f'SELECT * FROM "{table}"').fetchall()
            out[table] = [tuple(_when_run(v) for v in r) for r in rows]
        return out
    finally:
        db.close()


def _import(archive: Path, folder: Path, workers: int) -> importing.ImportSummary:
    db = open_archive(archive)
    try:
        return import_into(db, [folder], workers=workers)
    finally:
        db.close()


def test_each_dicom_file_is_read_and_parsed_once(
    demo_files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _copy_dicom(demo_files, tmp_path / "in", 12)
    reads: Counter[str] = Counter()
    parses: Counter[str] = Counter()
    real_read = getattr(dicom_common, "read_bounded")  # noqa: B009 (patched below)
    real_parse = getattr(dicom_common, "dcmread")  # noqa: B009

    def counting_read(path: Path, *args: object) -> bytes:
        reads[str(path)] += 1
        return bytes(real_read(path, *args))

    def counting_parse(fp: object, *args: object, **kwargs: object) -> object:
        parses["all"] += 1
        return real_parse(fp, *args, **kwargs)

    def no_second_copy(*args: object) -> None:
        raise AssertionError("an image was copied from its file after it was read")

    monkeypatch.setattr(dicom_common, "read_bounded", counting_read)
    monkeypatch.setattr(dicom_common, "dcmread", counting_parse)
    monkeypatch.setattr("dxa_app.archive.store.put", no_second_copy)
    summary = _import(tmp_path / "a.dxa.sqlite", tmp_path / "in", workers=1)
    assert summary.counts["failed"] == 0, summary.to_dict()
    assert reads == Counter({str(f): 1 for f in files})  # sniffs, reader, SHA-256, store
    assert parses["all"] == len(files)
    store = store_folder_for(tmp_path / "a.dxa.sqlite")
    assert {p.read_bytes() for p in store.rglob("*.dcm")} == {f.read_bytes() for f in files}


def test_a_pooled_import_stores_exactly_what_a_serial_import_does(
    demo_files: Path, tmp_path: Path
) -> None:
    _copy_dicom(demo_files, tmp_path / "in", 40)
    serial = _import(tmp_path / "serial.dxa.sqlite", tmp_path / "in", workers=1)
    pooled = _import(tmp_path / "pooled.dxa.sqlite", tmp_path / "in", workers=2)
    assert serial.counts == pooled.counts and serial.counts["imported"] > 0
    assert [(o.path, o.status, o.reader, o.rows_added) for o in serial.outcomes] == [
        (o.path, o.status, o.reader, o.rows_added) for o in pooled.outcomes
    ]
    assert _rows(tmp_path / "serial.dxa.sqlite") == _rows(tmp_path / "pooled.dxa.sqlite")
    stores = [store_folder_for(tmp_path / f"{k}.dxa.sqlite") for k in ("serial", "pooled")]
    assert [sorted(p.relative_to(s) for p in s.rglob("*.dcm")) for s in stores] == [
        sorted(p.relative_to(stores[0]) for p in stores[0].rglob("*.dcm"))
    ] * 2


def test_a_bad_file_in_a_pooled_import_fails_alone_with_its_reason(
    demo_files: Path, tmp_path: Path
) -> None:
    files = _copy_dicom(demo_files, tmp_path / "in", 20)
    data = files[3].read_bytes()
    bad = tmp_path / "in" / "003b_truncated.dcm"
    bad.write_bytes(data[: len(data) // 2])
    (tmp_path / "in" / "notes.txt").write_text("not a scan", encoding="utf-8")
    summary = _import(tmp_path / "a.dxa.sqlite", tmp_path / "in", workers=2)
    by_path = {Path(o.path).name: o for o in summary.outcomes}
    assert by_path[bad.name].status is ImportStatus.FAILED
    assert str(bad) in by_path[bad.name].reason or "truncated" in by_path[bad.name].reason
    assert by_path["notes.txt"].status is ImportStatus.SKIPPED
    others = [o for name, o in by_path.items() if name not in (bad.name, "notes.txt")]
    assert len(others) == len(files)
    assert all(o.status is not ImportStatus.FAILED for o in others), summary.to_dict()


def test_a_pooled_reimport_changes_nothing(demo_files: Path, tmp_path: Path) -> None:
    _copy_dicom(demo_files, tmp_path / "in", 30)
    archive = tmp_path / "a.dxa.sqlite"
    first = _import(archive, tmp_path / "in", workers=2)
    assert first.counts["imported"] > 0 and first.counts["failed"] == 0
    before = _rows(archive)
    store = store_folder_for(archive)
    files_before = sorted(store.rglob("*"))
    again = _import(archive, tmp_path / "in", workers=2)
    assert again.counts["duplicate"] == len(again.outcomes) - again.counts["skipped"]
    assert _rows(archive) == before
    assert sorted(store.rglob("*")) == files_before


def test_small_batches_are_read_in_the_importing_process() -> None:
    assert importing.default_workers(importing.POOL_THRESHOLD - 1) == 1
    assert importing.default_workers(10_000) >= 1


def test_the_sr_fast_path_reads_what_pydicom_reads(
    demo_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydicom import dcmread

    from dxa_app.ingest import sr_fast
    from dxa_app.ingest.dicom_ge import READER

    reports = [
        p
        for p in sorted((demo_files / "dicom").rglob("*.dcm"))
        if dcmread(p, stop_before_pixels=True).get("Modality") == "SR"
    ][:12]
    assert reports
    for path in reports:
        assert sr_fast.fast_sequence(dcmread(path), 0x0040A730)  # the fast path reads it
        dicom_common._last_load = None
        fast = READER.read(path)
        monkeypatch.setattr(dicom_common, "fast_sequence", lambda ds, tag: None)
        dicom_common._last_load = None
        slow = READER.read(path)
        monkeypatch.undo()
        assert fast == slow and fast.studies[0].scans


def test_a_reading_process_that_dies_leaves_the_rest_to_this_process(
    demo_files: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import multiprocessing
    import os

    files = _copy_dicom(demo_files, tmp_path / "in", 40)
    real = importing._read_one
    parent = os.getpid()

    def dying(path: Path) -> tuple[importing.SourceRead, list[tuple[str, bytes]]]:
        if path == files[5] and os.getpid() != parent:
            os._exit(3)  # a reading process crashes
        return real(path)

    monkeypatch.setattr(importing, "_read_one", dying)  # forked with the reading processes
    monkeypatch.setattr(importing, "_pool_context", lambda: multiprocessing.get_context("fork"))
    summary = _import(tmp_path / "a.dxa.sqlite", tmp_path / "in", workers=2)
    assert "a reading process stopped" in caplog.text
    assert len(summary.outcomes) == 40
    assert summary.counts["failed"] == 0 and summary.counts["imported"] > 0, summary.to_dict()
    _import(tmp_path / "b.dxa.sqlite", tmp_path / "in", workers=1)
    assert _rows(tmp_path / "a.dxa.sqlite") == _rows(tmp_path / "b.dxa.sqlite")


def test_a_file_imported_whole_before_is_a_duplicate_without_being_parsed(
    demo_files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _copy_dicom(demo_files, tmp_path / "in", 12)
    archive = tmp_path / "a.dxa.sqlite"
    first = _import(archive, tmp_path / "in", workers=1)
    assert first.counts["imported"] == len(files), first.to_dict()
    before = _rows(archive)
    parses: Counter[str] = Counter()
    real_parse = getattr(dicom_common, "dcmread")  # noqa: B009

    def counting_parse(fp: object, *args: object, **kwargs: object) -> object:
        parses["all"] += 1
        return real_parse(fp, *args, **kwargs)

    monkeypatch.setattr(dicom_common, "dcmread", counting_parse)
    # the same bytes under another name are the same file
    renamed = tmp_path / "again"
    renamed.mkdir()
    for n, f in enumerate(files):
        (renamed / f"copy{n}.dcm").write_bytes(f.read_bytes())
    again = _import(archive, renamed, workers=1)
    assert parses["all"] == 0
    assert [o.status for o in again.outcomes] == [ImportStatus.DUPLICATE] * len(files)
    assert all("exactly these bytes" in o.reason for o in again.outcomes)
    assert _rows(archive) == before
    # one changed byte makes it another file: read (and found a duplicate by its content)
    changed = renamed / "copy0.dcm"
    data = bytearray(changed.read_bytes())
    data[0] ^= 0xFF  # in the preamble: the same instance, other bytes
    changed.write_bytes(bytes(data))
    third = _import(archive, renamed, workers=1)
    assert parses["all"] == 1
    assert third.counts["duplicate"] == len(files)


def test_a_missing_store_copy_or_an_analysis_not_understood_is_read_again(
    demo_files: Path, tmp_path: Path
) -> None:
    files = _copy_dicom(demo_files, tmp_path / "in", 6)
    archive = tmp_path / "a.dxa.sqlite"
    _import(archive, tmp_path / "in", workers=1)
    store = store_folder_for(archive)
    lost = sorted(store.rglob("*.dcm"))[0]
    lost_bytes = lost.read_bytes()
    lost.unlink()
    db = open_archive(archive)
    try:
        db.execute("UPDATE images SET analysis = 'not_understood' WHERE id = 1")
        db.conn.commit()
        sha_nu = db.execute("SELECT sha256 FROM images WHERE id = 1").fetchone()[0]
    finally:
        db.close()
    again = _import(archive, tmp_path / "in", workers=1)
    assert again.counts["duplicate"] == len(files)
    reread = [o for o in again.outcomes if "exactly these bytes" not in o.reason]
    shas = {hashlib.sha256(Path(o.path).read_bytes()).hexdigest() for o in reread}
    assert hashlib.sha256(lost_bytes).hexdigest() in shas  # read again, and put back
    assert sha_nu in shas
    assert lost.read_bytes() == lost_bytes
