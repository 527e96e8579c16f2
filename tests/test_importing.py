"""Folder import: progress reports, cancel between files, JSON summary of problems."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.archive.queries import counts
from dxa_app.cli import ExitCode, main
from dxa_app.errors import CancelledError
from dxa_app.progress import CancelToken
from dxa_app.services.importing import import_into


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
    demo_files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _some_demo_files(demo_files, tmp_path / "in", 3)
    (tmp_path / "in" / "notes.txt").write_text("not a scan", encoding="utf-8")
    (tmp_path / "in" / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    code = main(["import", str(tmp_path / "in"), "--json", "--archive", str(tmp_path / "a.sqlite")])
    assert code == ExitCode.PARTIAL
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == {"imported": 3, "duplicate": 0, "skipped": 1, "failed": 1}
    problems = {Path(p["path"]).name: p for p in out["problems"]}
    assert problems["notes.txt"]["status"] == "skipped"
    assert problems["broken.dcm"]["status"] == "failed" and problems["broken.dcm"]["reason"]
