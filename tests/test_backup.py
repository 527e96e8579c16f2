"""Backup and restore: consistent copies while an import writes, checks, rotation, owner-only."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.archive.backup import check_file
from dxa_app.cli import ExitCode, main
from dxa_app.domain import Role
from dxa_app.errors import ArchiveError, PermissionDeniedError, UsageError
from dxa_app.services.backup import backup_archive, restore_archive
from tests.sessions import PASSWORD, ensure_user, session_as

ROOT = Path(__file__).resolve().parent.parent


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _results_per_scan(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            str(k): int(n)
            for k, n in conn.execute(
                "SELECT s.source_key, count(rr.id) FROM scans s"
                " LEFT JOIN region_results rr ON rr.scan_id = s.id GROUP BY s.id"
            )
        }
    finally:
        conn.close()


def test_backup_during_an_import_is_a_committed_state(demo_files: Path, tmp_path: Path) -> None:
    """Copies taken while another process imports pass integrity_check; no half source."""
    archive = tmp_path / "live.dxa.sqlite"
    ensure_user(archive, "tech", Role.TECHNICIAN)
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    env = {**os.environ, "DXA_USER": "tech", "DXA_PASSWORD": PASSWORD, "DXA_LANG": "en"}
    proc = subprocess.Popen(
        [sys.executable, "main.py", "--archive", str(archive), "import", str(demo_files)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    copies: list[Path] = []
    try:
        while proc.poll() is None or not copies:
            dest = tmp_path / f"copy{len(copies):03d}.dxa.sqlite"
            backup_archive(tech, dest)
            copies.append(dest)
    finally:
        _out, err = proc.communicate(timeout=600)
    assert proc.returncode in (ExitCode.OK, ExitCode.PARTIAL), err
    final = _results_per_scan(archive)
    sizes: set[int] = set()
    for copy in copies:
        check = check_file(copy)
        assert check.ok, (copy, check.problems)
        assert _mode(copy) == 0o600
        seen = _results_per_scan(copy)
        sizes.add(len(seen))
        for key, n in seen.items():  # every scan in the copy has all its results
            assert final[key] == n, (copy.name, key)
    assert len(copies) >= 2 and len(sizes) >= 2  # copies of different moments
    assert _mode(archive) == 0o600


def test_restore_checks_first_and_keeps_a_safety_copy(demo_archive: Path, tmp_path: Path) -> None:
    admin = session_as(demo_archive, Role.ADMIN, "admin")
    tech = session_as(demo_archive, Role.TECHNICIAN, "tech")
    good = backup_archive(tech, tmp_path / "good.dxa.sqlite")
    assert good.check.ok
    db = open_archive(demo_archive)
    n_studies = db.execute("SELECT count(*) FROM studies").fetchone()[0]
    db.close()
    broken = tmp_path / "broken.dxa.sqlite"
    broken.write_bytes(b"SQLite format 3\0" + os.urandom(8192))
    with pytest.raises(ArchiveError, match="cannot be restored"):
        restore_archive(admin, broken)
    foreign = tmp_path / "foreign.dxa.sqlite"
    sqlite3.connect(foreign).execute("CREATE TABLE x (y)").connection.close()
    with pytest.raises(ArchiveError, match="not an archive of this program"):
        restore_archive(admin, foreign)
    with pytest.raises(PermissionDeniedError):
        restore_archive(tech, Path(good.path))
    # something changes after the backup; the restore brings the backed-up state back
    db = open_archive(demo_archive)
    db.execute("INSERT INTO sites (code, name) VALUES ('NEW', 'After the backup')")
    db.close()
    result = restore_archive(admin, Path(good.path))
    safety = Path(result["safety_copy"])
    assert check_file(safety).ok
    db = open_archive(demo_archive)
    try:
        assert db.execute("SELECT count(*) FROM sites WHERE code = 'NEW'").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM studies").fetchone()[0] == n_studies
        last = db.execute("SELECT action, username FROM audit_log ORDER BY id DESC").fetchone()
        assert tuple(last) == ("restore", "admin")
    finally:
        db.close()
    kept = sqlite3.connect(safety)
    assert kept.execute("SELECT count(*) FROM sites WHERE code = 'NEW'").fetchone()[0] == 1
    kept.close()


def test_folder_backups_keep_the_newest(demo_archive: Path, tmp_path: Path) -> None:
    tech = session_as(demo_archive, Role.TECHNICIAN, "tech")
    folder = tmp_path / "backups"
    folder.mkdir()
    start = dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)
    for day in range(4):
        r = backup_archive(tech, folder=folder, keep=2, now=start + dt.timedelta(days=day))
    names = sorted(p.name for p in folder.iterdir())
    # issue 13: each copy has its image store beside it, removed with it by the rotation
    assert names == [
        "demo-20261103-020000.dxa.sqlite",
        "demo-20261103-020000.dxa.sqlite-images",
        "demo-20261104-020000.dxa.sqlite",
        "demo-20261104-020000.dxa.sqlite-images",
    ]
    assert len(r.removed) == 1
    assert r.images > 0 and not r.images_missing
    # unchanged image files are shared between the daily copies (hard links), not copied
    newer = sorted((folder / names[3]).glob("*/*.dcm"))
    older = folder / names[1] / newer[0].relative_to(folder / names[3])
    assert len(newer) == r.images and newer[0].stat().st_ino == older.stat().st_ino
    with pytest.raises(UsageError, match="never overwrites"):
        backup_archive(tech, folder / names[0])
    with pytest.raises(UsageError, match="archive itself"):
        backup_archive(tech, demo_archive)
    with pytest.raises(PermissionDeniedError):
        backup_archive(session_as(demo_archive, Role.PHYSICIAN, "doc"), tmp_path / "p.sqlite")


def test_cli_backup_and_restore(
    demo_archive: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ensure_user(demo_archive, "admin", Role.ADMIN)
    monkeypatch.setenv("DXA_USER", "admin")
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    a = str(demo_archive)
    dest = tmp_path / "b.dxa.sqlite"
    assert main(["backup", str(dest), "--archive", a]) == ExitCode.OK
    assert "integrity check passed" in capsys.readouterr().out
    assert main(["backup", str(dest), "--archive", a]) == ExitCode.USAGE  # exists
    capsys.readouterr()
    assert main(["restore", str(dest), "--archive", a, "--json"]) == ExitCode.OK
    assert "safety_copy" in capsys.readouterr().out
    not_there = tmp_path / "none.dxa.sqlite"
    assert main(["restore", str(not_there), "--archive", a]) == ExitCode.USAGE
