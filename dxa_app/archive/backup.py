"""Consistent copies of the archive with SQLite's online backup API, and checks of a copy.

The backup API copies pages under SQLite's own locking, so a copy taken while an import writes
is a committed state of the archive (never a half-written source), unlike copying the file.
The image files the copy names are copied into the store beside it (``<copy>-images``, the
layout of the archive's own store) and checked by SHA-256 before a restore.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from dxa_app.archive.database import Database
from dxa_app.archive.images import (
    StoreCopy,
    StoredFile,
    check_store,
    copy_files,
    store_folder_for,
    stored_files,
)
from dxa_app.archive.migrations import MIGRATIONS
from dxa_app.fileio import create_owner_only, write_owner_only

#: Pages copied per backup step (a step holds a read lock only for its pages).
_PAGES_PER_STEP = 1024


@dataclass(frozen=True)
class FileCheck:
    """The outcome of checking an archive file (integrity, foreign keys, schema)."""

    path: str
    ok: bool
    problems: tuple[str, ...] = field(default_factory=tuple)
    migrations: int = 0


def copy_to(db: Database, dest: Path) -> None:
    """Copy the open archive to ``dest`` (owner-only) with the online backup API.

    The copy is written to ``dest.part`` and renamed when complete, so ``dest`` is never a
    partial file.

    Parameters
    ----------
    db : Database
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


def copy_from(db: Database, src: Path) -> None:
    """Replace the open archive's content with ``src`` (checked first by the caller).

    Parameters
    ----------
    db : Database
        The open archive (its other connections see the new content afterwards).
    src : Path
        A checked archive file.
    """
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    try:
        source.backup(db.conn, pages=_PAGES_PER_STEP)
    finally:
        source.close()


#: The manifest a backup writes into its image store (files, bytes, and the files that were
#: missing from the archive's store when the backup was made).
MANIFEST = "manifest.json"


def image_files_of(path: Path) -> list[StoredFile]:
    """Return the stored files an archive file's image rows name (read-only).

    Parameters
    ----------
    path : Path
        An archive or backup file (checked with :func:`check_file`).

    Returns
    -------
    list of StoredFile
        Empty for an archive from before the image store.
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        has_store = conn.execute(
            "SELECT 1 FROM pragma_table_info('images') WHERE name = 'stored_path'"
        ).fetchone()
        return stored_files(Database(conn)) if has_store else []
    finally:
        conn.close()


def copy_images(
    archive: Path, copy: Path, *, link_from: Path | None = None
) -> tuple[StoreCopy, Path]:
    """Copy the image files a copied archive names into the store beside the copy.

    The store is append-only (a file is stored before the row that names it commits), so
    every file a committed copy names is in the archive's store unless it was lost there;
    such files are listed as missing, in the result and in the copy's manifest.

    Parameters
    ----------
    archive : Path
        The archive the copy was taken of (its store is the source).
    copy : Path
        The checked copy.
    link_from : Path, optional
        An older backup's store to hard-link unchanged files from.

    Returns
    -------
    tuple of (StoreCopy, Path)
        What was copied, and the copy's store folder.
    """
    dest = store_folder_for(copy)
    files = image_files_of(copy)
    result = copy_files(store_folder_for(archive), dest, files, link_from=link_from)
    manifest = {"files": result.files, "bytes": result.bytes, "missing": list(result.missing)}
    write_owner_only(dest / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
    return result, dest


def _manifest_missing(store: Path) -> set[str]:
    try:
        data = json.loads((store / MANIFEST).read_text(encoding="utf-8"))
        return {str(p) for p in data.get("missing", [])}
    except (OSError, ValueError, AttributeError):
        return set()


@dataclass(frozen=True)
class ImagesCheck:
    """The outcome of checking a backup's images before a restore."""

    files: tuple[StoredFile, ...]
    problems: tuple[str, ...]
    missing_at_backup: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether every image file the backup names is available with its SHA-256."""
        return not self.problems


def check_images(src: Path, live_store: Path | None) -> ImagesCheck:
    """Check that every image file a backup names is available with its SHA-256.

    A file is available in the backup's store (``<backup>-images``) or, with the same
    SHA-256, already in the archive's own store. A file the backup's manifest lists as
    already missing when the backup was made is reported, not refused.

    Parameters
    ----------
    src : Path
        The backup file (checked with :func:`check_file`).
    live_store : Path or None
        The archive's image store.

    Returns
    -------
    ImagesCheck
        The files, the problems (missing or changed files) and the files already missing.
    """
    files = image_files_of(src)
    store = store_folder_for(src)
    known = _manifest_missing(store)
    problems: list[str] = []
    missing_at_backup: list[str] = []
    for f in files:
        found = False
        for folder in (store, live_store):
            if folder is None:
                continue
            problem = check_store(folder, [f])
            if not problem:
                found = True
                break
            if folder == store and "missing" not in problem[0]:
                problems.append(f"{store.name}/{problem[0]}")
                found = True  # reported as changed
                break
        if not found:
            if f.stored_path in known:
                missing_at_backup.append(f.stored_path)
            else:
                problems.append(f"{store.name}/{f.stored_path}: missing")
    return ImagesCheck(tuple(files), tuple(problems), tuple(missing_at_backup))


def restore_images(src: Path, live_store: Path, files: tuple[StoredFile, ...]) -> StoreCopy:
    """Copy a checked backup's image files that the archive's store lacks into it.

    Parameters
    ----------
    src : Path
        The backup file.
    live_store : Path
        The archive's image store (files are only added: other archives' rows may name
        the ones there).
    files : tuple of StoredFile
        The backup's files (from :func:`check_images`).

    Returns
    -------
    StoreCopy
        What is now in the archive's store.
    """
    return copy_files(store_folder_for(src), live_store, list(files))
