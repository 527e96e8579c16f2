"""Two processes writing to one archive at once (WAL + busy timeout + BEGIN IMMEDIATE)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dxa_app.archive import open_archive
from dxa_app.archive.queries import counts

ROOT = Path(__file__).resolve().parent.parent

WRITER = """
import sys
from dxa_app.archive import open_archive, audit
from dxa_app.archive.store import store_parsed
from tests.factories import parsed, patient, study_record
archive, offset = sys.argv[1], int(sys.argv[2])
db = open_archive(archive)
print("ready", flush=True)
sys.stdin.readline()
for i in range(offset, offset + 60):
    store_parsed(db, parsed(study_record(i, uid=f"1.2.999.{i}", pat=patient(i % 9 + 1))))
    audit(db, "test", username=f"proc{offset}")
    db.execute("SELECT count(*) FROM studies").fetchone()
print("done", flush=True)
"""


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    archive = tmp_path / "shared.sqlite"
    open_archive(archive).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(archive), str(off)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for off in (1, 1001)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:  # release both writers at the same moment
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "done"
    db = open_archive(archive)
    c = counts(db)
    assert c.studies == 120 and c.scans == 120 and c.region_results == 600
    from dxa_app.archive.db import verify_audit_chain

    assert verify_audit_chain(db)
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 120


def test_reader_sees_consistent_data_while_writer_holds_lock(tmp_path: Path) -> None:
    archive = tmp_path / "shared.sqlite"
    writer = open_archive(archive)
    reader = open_archive(archive)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO sites (code, name) VALUES ('X', 'X')")
    # WAL: the reader is not blocked and does not see the uncommitted row
    assert reader.execute("SELECT count(*) FROM sites").fetchone()[0] == 0
    writer.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM sites").fetchone()[0] == 1
