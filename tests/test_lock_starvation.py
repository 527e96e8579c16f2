"""Reads never fail because a long write holds the lock; their audit entries arrive afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.archive.db import check_audit_chain, spool_folder
from dxa_app.archive.seal import pinned_keys
from dxa_app.cli import ExitCode, main
from dxa_app.domain import Role
from tests.sessions import PASSWORD, ensure_user

ROOT = Path(__file__).resolve().parent.parent

#: A process that takes the write lock (as a long import does) until its stdin closes.
HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO sites (code, name) VALUES ('LOCK', 'held by a long write')")
print("locked", flush=True)
sys.stdin.read()
conn.execute("COMMIT")
print("released", flush=True)
"""


def test_reads_work_while_a_long_write_holds_the_lock(
    demo_archive: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ensure_user(demo_archive, "tech", Role.TECHNICIAN)
    monkeypatch.setenv("DXA_USER", "tech")
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    a = str(demo_archive)
    assert main(["info", "--archive", a]) == 0  # the archive's seal key exists before the test
    capsys.readouterr()
    db = open_archive(demo_archive)
    before = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    db.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, a],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        reads = [
            ["info"],
            ["patients"],
            ["studies"],
            ["sites"],
            ["qc"],
            ["scores", "1"],
            ["steps"],
        ]
        for words in reads:
            code = main([*words, "--json", "--archive", a])
            out, err = capsys.readouterr()
            assert code == ExitCode.OK, (words, err)
            json.loads(out)
        spooled = sorted((spool_folder_of(demo_archive)).glob("*.json"))
        assert len(spooled) == len(reads)  # every log-in is waiting, none is lost
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
        assert holder.stdout is not None
        holder.stdout.close()
    assert holder.returncode == 0
    # the next write appends the waiting entries first, in order, sealed and chained
    assert main(["info", "--archive", a]) == 0
    db = open_archive(demo_archive)
    try:
        rows = list(
            db.query("SELECT action, username FROM audit_log WHERE id > ? ORDER BY id", [before])
        )
        assert rows == [{"action": "login", "username": "tech"}] * (len(reads) + 1)
        assert not check_audit_chain(db, pinned_keys(db))
        assert db.execute("SELECT count(*) FROM sites WHERE code = 'LOCK'").fetchone()[0] == 1
    finally:
        db.close()
    assert not list(spool_folder_of(demo_archive).glob("*.json"))


def spool_folder_of(archive: Path) -> Path:
    """The spool folder of an archive file."""
    db = open_archive(archive)
    try:
        folder = spool_folder(db)
    finally:
        db.close()
    assert folder is not None
    return folder
