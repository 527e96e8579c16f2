"""The CLI: version, help for every command, one clear line and an exit code for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dxa_app import __version__
from dxa_app.archive import open_archive
from dxa_app.archive.store import store_parsed
from dxa_app.cli import ExitCode, main, registered_commands
from tests.factories import parsed, study_record

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, entry: str = "main.py") -> subprocess.CompletedProcess[str]:
    cmd = (
        [sys.executable, entry, *args]
        if entry.endswith(".py")
        else [sys.executable, "-m", entry, *args]
    )
    return subprocess.run(
        cmd,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DXA_LANG": "en"},
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == ExitCode.OK
    assert capsys.readouterr().out.strip() == f"dxa {__version__}"


@pytest.mark.parametrize("name", sorted(registered_commands()))
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([name, "--help"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert f"usage: dxa {name}" in out
    assert registered_commands()[name].help in out


def test_every_reporting_command_accepts_json(capsys: pytest.CaptureFixture[str]) -> None:
    reporting = [n for n, c in registered_commands().items() if c.reports]
    assert {"info", "import", "demo", "patients", "studies"} <= set(reporting)
    for name in reporting:
        main([name, "--help"])
        assert "--json" in capsys.readouterr().out, name


def test_unknown_command_is_one_line_and_usage_exit() -> None:
    r = run_cli("frobnicate")
    assert r.returncode == ExitCode.USAGE
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "invalid choice: 'frobnicate'" in lines[0] and "Traceback" not in r.stderr


def test_missing_archive_directory_is_one_line(tmp_path: Path) -> None:
    r = run_cli("--archive", str(tmp_path / "no" / "such" / "a.sqlite"), "import", str(tmp_path))
    assert r.returncode == ExitCode.ARCHIVE
    assert r.stderr.strip().count("\n") == 0
    assert "does not exist" in r.stderr and "Traceback" not in r.stderr


def test_info_on_missing_archive_is_one_line(tmp_path: Path) -> None:
    r = run_cli("info", "--archive", str(tmp_path / "absent.sqlite"))
    assert r.returncode == ExitCode.ARCHIVE
    assert r.stderr.startswith("error: No archive at") and r.stderr.count("\n") == 1


def test_unwritable_archive_path_is_one_line() -> None:
    r = run_cli("--archive", "/proc/dxa-test.sqlite", "import", ".")
    assert r.returncode == ExitCode.ARCHIVE
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_unwritable_demo_folder_is_one_line() -> None:
    r = run_cli("demo", "--no-import", "--out", "/proc/dxa-demo")
    assert r.returncode == ExitCode.ERROR
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "/proc/dxa-demo" in r.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    r = run_cli("--debug", "info", "--archive", str(tmp_path / "absent.sqlite"))
    assert r.returncode == ExitCode.ARCHIVE
    assert "Traceback" in r.stderr


def test_missing_import_path_is_one_line(tmp_path: Path) -> None:
    r = run_cli("import", str(tmp_path / "nothing-here"), "--archive", str(tmp_path / "a.sqlite"))
    assert r.returncode == ExitCode.IMPORT
    assert r.stderr.count("\n") == 1 and "does not exist" in r.stderr


def test_main_py_and_module_entry_agree(tmp_path: Path) -> None:
    archive = tmp_path / "a.sqlite"
    db = open_archive(archive)
    store_parsed(db, parsed(study_record(1), study_record(2)))
    db.close()
    a = run_cli("--archive", str(archive), "info", "--json")
    b = run_cli("info", "--json", "--archive", str(archive), entry="dxa_app")
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    assert json.loads(a.stdout) == json.loads(b.stdout)
    assert json.loads(a.stdout)["counts"]["studies"] == 2


def test_studies_and_patients_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "a.sqlite"
    db = open_archive(archive)
    store_parsed(db, parsed(study_record(1), study_record(2)))
    db.close()
    assert main(["studies", "--json", "--archive", str(archive)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["study_uid"] for r in rows} == {
        "1.2.826.0.1.3680043.8.498.1",
        "1.2.826.0.1.3680043.8.498.2",
    }
    assert main(["patients", "--json", "--archive", str(archive)]) == 0
    pats = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in pats] == ["Søs Testperson1", "Søs Testperson2"]


def test_danish_messages(tmp_path: Path) -> None:
    r = run_cli("--lang", "da", "info", "--archive", str(tmp_path / "absent.sqlite"))
    assert r.returncode == ExitCode.ARCHIVE
    assert r.stderr.startswith("fejl: ")


def test_impossible_qc_baseline_is_one_line(tmp_path: Path) -> None:
    archive = tmp_path / "a.sqlite"
    open_archive(archive).close()
    r = run_cli("qc", "--baseline", "3", "--archive", str(archive))
    assert r.returncode == ExitCode.USAGE
    assert r.stderr.count("\n") == 1 and "at least 10 scans" in r.stderr
