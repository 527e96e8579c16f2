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
from dxa_app.domain import Role
from dxa_app.i18n import set_language
from tests.factories import parsed, study_record
from tests.sessions import PASSWORD, ensure_user

ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, entry: str = "main.py", user: str = "tech"
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a process, logged in as ``user`` (a test user, see tests.sessions)."""
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
        env={**os.environ, "DXA_LANG": "en", "DXA_USER": user, "DXA_PASSWORD": PASSWORD},
    )


def _archive_with_two_studies(path: Path) -> Path:
    db = open_archive(path)
    store_parsed(db, parsed(study_record(1), study_record(2)))
    db.close()
    ensure_user(path, "tech", Role.TECHNICIAN)
    return path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == ExitCode.OK
    assert capsys.readouterr().out.strip() == f"dxa {__version__}"


@pytest.mark.parametrize("name", sorted(registered_commands()))
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "en", name, "--help"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert f"usage: dxa {name}" in out
    assert registered_commands()[name].help in out


def _every_help_command() -> list[list[str]]:
    """The program, every command and every action of the commands that have actions."""
    out: list[list[str]] = [[]]
    for name in sorted(registered_commands()):
        out.append([name])
    out += [["centre", a] for a in ("export", "keys", "register-site", "import", "fit")]
    out += [["centre", a] for a in ("publish", "stats", "scale")]
    out += [["calibration", a] for a in ("install", "trust-centre")]
    out += [["reference", a] for a in ("install", "list")]
    return out


@pytest.mark.parametrize("lang", ["da", "en"])
def test_help_works_in_both_languages(lang: str) -> None:
    """``--help`` of the program and of every (sub)command, in Danish and English, as a process."""
    script = (
        "import contextlib, io, sys\n"
        "from dxa_app.cli import main\n"
        f"for words in {_every_help_command()!r}:\n"
        "    buf = io.StringIO()\n"
        "    with contextlib.redirect_stdout(buf):\n"
        f"        code = main(['--lang', {lang!r}, *words, '--help'])\n"
        "    text = buf.getvalue()\n"
        "    if code != 0 or 'usage: dxa' not in text:\n"
        "        sys.exit(f'{words}: exit {code}: {text[:200]}')\n"
        f"print('ok', len({_every_help_command()!r}))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout.strip() == f"ok {len(_every_help_command())}"


def test_danish_help_is_danish(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        assert main(["--lang", "da", "precision", "--help"]) == ExitCode.OK
    finally:
        set_language("en")
    out = capsys.readouterr().out
    assert "præcisionsstudie" in out and "%CV" in out  # the "%" that once broke --help


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
    archive = _archive_with_two_studies(tmp_path / "a.sqlite")
    r = run_cli("import", str(tmp_path / "nothing-here"), "--archive", str(archive))
    assert r.returncode == ExitCode.IMPORT
    assert r.stderr.count("\n") == 1 and "does not exist" in r.stderr


def test_main_py_and_module_entry_agree(tmp_path: Path) -> None:
    archive = _archive_with_two_studies(tmp_path / "a.sqlite")
    a = run_cli("--archive", str(archive), "info", "--json")
    b = run_cli("info", "--json", "--archive", str(archive), entry="dxa_app")
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    assert json.loads(a.stdout) == json.loads(b.stdout)
    assert json.loads(a.stdout)["counts"]["studies"] == 2


def test_studies_and_patients_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _archive_with_two_studies(tmp_path / "a.sqlite")
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    assert main(["studies", "--json", "--archive", str(archive)]) == ExitCode.USAGE  # no log-in
    assert "--user" in capsys.readouterr().err
    monkeypatch.setenv("DXA_USER", "tech")
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
    archive = _archive_with_two_studies(tmp_path / "a.sqlite")
    r = run_cli("qc", "--baseline", "3", "--archive", str(archive))
    assert r.returncode == ExitCode.USAGE
    assert r.stderr.count("\n") == 1 and "at least 10 scans" in r.stderr


MALLORY = ("users", "add", "mallory", "--role", "physician")


def test_nobody_makes_an_account_without_an_administrator(tmp_path: Path) -> None:
    """`users add mallory --role physician` without the administrator's password creates nothing."""
    archive = _archive_with_two_studies(tmp_path / "a.sqlite")  # has users: tech and admin
    for user, password in (("", ""), ("tech", PASSWORD), ("admin", "not-the-password")):
        r = subprocess.run(
            [sys.executable, "main.py", "--archive", str(archive), *MALLORY],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={
                **{k: v for k, v in os.environ.items() if k not in ("DXA_USER", "DXA_PASSWORD")},
                "DXA_LANG": "en",
                "DXA_NEW_PASSWORD": "mallory-password",
                **({"DXA_USER": user, "DXA_PASSWORD": password} if user else {}),
            },
        )
        assert r.returncode in (ExitCode.USAGE, ExitCode.PERMISSION), r.stderr
    db = open_archive(archive)
    try:
        assert (
            db.execute("SELECT count(*) FROM users WHERE username = 'mallory'").fetchone()[0] == 0
        )
    finally:
        db.close()
