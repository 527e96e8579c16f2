"""The archive's Database: statements, rows as dicts, and transactions that nest."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

import pytest

from dxa_app.archive.database import Database, dedupe_keys, first_keyword


def _db(path: Path, isolation_level: Literal["DEFERRED"] | None = None) -> Database:
    db = Database(sqlite3.connect(path, isolation_level=isolation_level))
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    return db


def _names(path: Path) -> list[str]:
    """The rows as another connection sees them (only what was committed)."""
    with sqlite3.connect(path) as other:
        return [r[0] for r in other.execute("SELECT name FROM t ORDER BY id")]


def test_query_gives_dicts_by_column_and_repeated_names_are_made_unique(tmp_path: Path) -> None:
    db = _db(tmp_path / "a.sqlite")
    db.execute("INSERT INTO t (name) VALUES (?)", ["Ann"])
    db.execute("INSERT INTO t (name) VALUES (:n)", {"n": "Bo"})
    assert list(db.query("SELECT id, name FROM t ORDER BY id")) == [
        {"id": 1, "name": "Ann"},
        {"id": 2, "name": "Bo"},
    ]
    rows = db.query("SELECT a.id, b.id, a.name AS id_2 FROM t a JOIN t b ON a.id = b.id LIMIT 1")
    assert list(rows) == [{"id": 1, "id_3": 1, "id_2": "Ann"}]
    assert dedupe_keys(["x", "x", "x"]) == ["x", "x_2", "x_3"]


@pytest.mark.parametrize("level", [None, "DEFERRED"])
def test_a_write_outside_a_transaction_is_committed_in_either_connection_mode(
    tmp_path: Path, level: Literal["DEFERRED"] | None
) -> None:
    path = tmp_path / "a.sqlite"
    db = _db(path, level)
    db.execute("INSERT INTO t (name) VALUES ('Ann')")
    assert _names(path) == ["Ann"]
    assert not db.conn.in_transaction


def test_query_refuses_a_statement_that_writes_and_does_not_run_it(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    db = _db(path)
    with pytest.raises(ValueError, match="execute"):
        db.query("INSERT INTO t (name) VALUES ('Ann')")
    with pytest.raises(ValueError, match="execute"):
        db.query("/* a comment */ DELETE FROM t")
    assert _names(path) == []
    assert first_keyword("  -- note\n /* x */ with q as (select 1) select * from q") == "WITH"


def test_atomic_commits_whole_or_not_at_all_and_nests_as_savepoints(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    db = _db(path)
    with db.atomic():
        db.execute("INSERT INTO t (name) VALUES ('Ann')")
        with pytest.raises(RuntimeError), db.atomic():
            db.execute("INSERT INTO t (name) VALUES ('Bo')")
            raise RuntimeError("inner block fails")
        db.execute("INSERT INTO t (name) VALUES ('Cy')")
        assert _names(path) == []  # nothing visible before the commit
    assert _names(path) == ["Ann", "Cy"]
    with pytest.raises(RuntimeError), db.atomic():
        db.execute("INSERT INTO t (name) VALUES ('Di')")
        raise RuntimeError("outer block fails")
    assert _names(path) == ["Ann", "Cy"]
    assert not db.conn.in_transaction


def test_a_failed_statement_leaves_no_transaction_open(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    db = _db(path, "DEFERRED")
    db.execute("CREATE UNIQUE INDEX t_name ON t (name)")
    db.execute("INSERT INTO t (name) VALUES ('Ann')")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO t (name) VALUES ('Ann')")
    assert not db.conn.in_transaction
    db.execute("INSERT INTO t (name) VALUES ('Bo')")
    assert _names(path) == ["Ann", "Bo"]
    assert "t" in db.table_names()
    db.close()


@pytest.mark.parametrize("immediate", [False, True])
def test_a_commit_that_fails_is_rolled_back_and_leaves_no_transaction(
    tmp_path: Path, immediate: bool
) -> None:
    path = tmp_path / "a.sqlite"
    db = _db(path)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute(
        "CREATE TABLE child (id INTEGER PRIMARY KEY,"
        " t_id INTEGER REFERENCES t (id) DEFERRABLE INITIALLY DEFERRED)"
    )
    with pytest.raises(sqlite3.IntegrityError), db.atomic(immediate=immediate):
        db.execute("INSERT INTO t (name) VALUES ('Ann')")
        db.execute("INSERT INTO child (t_id) VALUES (99)")  # checked only at the commit
    assert not db.conn.in_transaction
    assert _names(path) == []
    db.execute("INSERT INTO t (name) VALUES ('Bo')")  # the archive is usable again
    assert _names(path) == ["Bo"]
