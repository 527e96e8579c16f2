"""Consistent copies of the archive with SQLite's online backup API, and checks of a copy.

The backup API copies pages under SQLite's own locking, so a copy taken while an import writes
is a committed state of the archive (never a half-written source), unlike copying the file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from dxa_app.archive.migrations import MIGRATIONS
from dxa_app.fileio import create_owner_only

#: Pages copied per backup step (a step holds a read lock only for its pages).
_PAGES_PER_STEP = 1024


@dataclass(frozen=True)
class FileCheck:
    """The outcome of checking an archive file (integrity, foreign keys, schema)."""

    path: str
    ok: bool
    problems: tuple[str, ...] = field(default_factory=tuple)
    migrations: int = 0


def copy_to(db: sqlite_utils.Database, dest: Path) -> None:
    """Copy the open archive to ``dest`` (owner-only) with the online backup API.

    The copy is written to ``dest.part`` and renamed when complete, so ``dest`` is never a
    partial file.

    Parameters
    ----------
    db : sqlite_utils.Database
        The open archive.
    dest : Path
        The new file (replaced when it exists).
    """
    part = dest.with_name(dest.name + ".part")
    with contextlib.suppress(FileNotFoundError):
        part.unlink()
    create_owner_only(part)
    target = sqlite3.connect(str(part))
    try:
        db.conn.backup(target, pages=_PAGES_PER_STEP)
        target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    finally:
        target.close()
    part.replace(dest)


def check_file(path: Path) -> FileCheck:
    """Check an archive file read-only: integrity, foreign keys, and a schema this program knows.

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    FileCheck
        ``ok`` and, when not, every problem found.
    """
    problems: list[str] = []
    n = 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return FileCheck(str(path), False, (str(exc),))
    try:
        result = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        if result != ["ok"]:
            problems.extend(result[:10])
        fk = conn.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            problems.append(f"{len(fk)} rows break a foreign key")
        has_log = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
        ).fetchone()
        names = (
            [str(r[0]) for r in conn.execute("SELECT name FROM migrations ORDER BY id")]
            if has_log
            else []
        )
        known = [m.name for m in MIGRATIONS]
        n = len(names)
        if not names or names != known[: len(names)]:
            problems.append("not an archive of this program (unknown or newer schema)")
    except sqlite3.Error as exc:
        problems.append(str(exc))
    finally:
        conn.close()
    return FileCheck(str(path), not problems, tuple(problems), n)


def copy_from(db: sqlite_utils.Database, src: Path) -> None:
    """Replace the open archive's content with ``src`` (checked first by the caller).

    Parameters
    ----------
    db : sqlite_utils.Database
        The open archive (its other connections see the new content afterwards).
    src : Path
        A checked archive file.
    """
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    try:
        source.backup(db.conn, pages=_PAGES_PER_STEP)
    finally:
        source.close()
