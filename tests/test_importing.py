"""Folder import: progress reports, cancel between files, JSON summary of problems."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.archive.queries import counts
from dxa_app.cli import ExitCode, main
from dxa_app.domain import Role
from dxa_app.errors import CancelledError, PermissionDeniedError
from dxa_app.progress import CancelToken
from dxa_app.services import importing
from dxa_app.services.importing import import_into, import_paths
from tests.sessions import PASSWORD, ensure_user, session_as


def _some_demo_files(demo_files: Path, dest: Path, n: int) -> list[Path]:
    src = sorted((demo_files / "dicom").rglob("*.dcm"))[:n]
    dest.mkdir()
    out = []
    for i, f in enumerate(src):
        out.append(Path(shutil.copy(f, dest / f"{i:03d}.dcm")))
    return out


def test_progress_and_cancel(demo_files: Path, tmp_path: Path) -> None:
    files = _some_demo_files(demo_files, tmp_path / "in", 12)
    db = open_archive(tmp_path / "a.sqlite")
    seen: list[tuple[int, int]] = []
    token = CancelToken()

    def progress(done: int, total: int, message: str) -> None:
        seen.append((done, total))
        if done == 5:
            token.cancel()

    with pytest.raises(CancelledError):
        import_into(db, [tmp_path / "in"], progress=progress, cancel=token)
    assert seen == [(i, len(files)) for i in range(1, 6)]
    logged = db.execute("SELECT count(*) FROM import_log").fetchone()[0]
    assert logged == 5  # the five files done stay done; nothing half-written
    assert counts(db).images >= 5
    rest = import_into(db, [tmp_path / "in"])
    assert rest.counts["duplicate"] == 5 and rest.counts["imported"] == 7


def test_import_json_lists_every_problem(
    demo_files: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _some_demo_files(demo_files, tmp_path / "in", 3)
    (tmp_path / "in" / "notes.txt").write_text("not a scan", encoding="utf-8")
    (tmp_path / "in" / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    archive = tmp_path / "a.sqlite"
    ensure_user(archive, "tech", Role.TECHNICIAN)
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    code = main(
        ["import", str(tmp_path / "in"), "--json", "--archive", str(archive), "--user", "tech"]
    )
    assert code == ExitCode.PARTIAL
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == {
        "imported": 3,
        "imported_analysis_not_understood": 0,  # issue 13: counted apart from "imported"
        "duplicate": 0,
        "skipped": 1,
        "failed": 1,
    }
    problems = {Path(p["path"]).name: p for p in out["problems"]}
    assert problems["notes.txt"]["status"] == "skipped"
    assert problems["broken.dcm"]["status"] == "failed" and problems["broken.dcm"]["reason"]


def test_import_is_audited_with_the_logged_in_user(demo_files: Path, tmp_path: Path) -> None:
    """The user action: role checked, batch audited with the user (same for CLI and GUI)."""
    _some_demo_files(demo_files, tmp_path / "in", 2)
    archive = tmp_path / "a.sqlite"
    with pytest.raises(PermissionDeniedError):
        import_paths(session_as(archive, Role.PHYSICIAN, "doc"), [tmp_path / "in"])
    summary = import_paths(session_as(archive, Role.TECHNICIAN, "tech"), [tmp_path / "in"])
    assert summary.counts["imported"] == 2
    db = open_archive(archive)
    try:
        (entry,) = db.query("SELECT * FROM audit_log WHERE action = 'import'")
        assert counts(db).images >= 2
    finally:
        db.close()
    assert entry["username"] == "tech" and entry["entity_id"] == summary.batch
    assert json.loads(entry["details"])["counts"]["imported"] == 2


def test_the_archive_is_never_locked_while_a_file_is_being_read(
    demo_files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sources are stored a group per transaction, but no transaction waits on a read."""
    files = _some_demo_files(demo_files, tmp_path / "in", 8)
    archive = tmp_path / "a.sqlite"
    db = open_archive(archive)
    other = sqlite3.connect(archive, timeout=0, isolation_level=None)
    free: list[bool] = []
    read_source = importing.read_source

    def read_while_someone_writes(path: Path, store: Path | None) -> importing.SourceRead:
        try:  # another user's write, not willing to wait
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            free.append(True)
        except sqlite3.OperationalError:
            free.append(False)
        return read_source(path, store)

    monkeypatch.setattr(importing, "read_source", read_while_someone_writes)
    summary = import_into(db, [tmp_path / "in"], workers=1)
    assert summary.counts["imported"] == len(files)
    assert free == [True] * len(files)
    stored = other.execute("SELECT count(*) FROM import_log").fetchone()[0]
    assert stored == len(files)  # all committed, seen from another connection
    other.close()
    db.close()
