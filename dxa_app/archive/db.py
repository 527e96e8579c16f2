"""Open the SQLite archive (WAL, foreign keys, busy timeout), apply migrations, group writes."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dxa_app.archive.database import Database
from dxa_app.archive.migrations import MIGRATIONS
from dxa_app.errors import ArchiveError
from dxa_app.fileio import create_owner_only
from dxa_app.i18n import _

BUSY_TIMEOUT_MS = 30_000
#: How long the audit entry of a read waits for the write lock before it is spooled.
SHORT_WAIT_MS = 250
ARCHIVE_SUFFIX = ".dxa.sqlite"


def now_iso() -> str:
    """Return the current UTC time as an ISO-8601 string with seconds."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def parse_date(value: str | None) -> dt.date | None:
    """Parse an ISO date stored in the archive (None stays None)."""
    return dt.date.fromisoformat(value) if value else None


def open_archive(path: str | Path, *, create: bool = True) -> Database:
    """Open (and if needed create and migrate) the archive at ``path``.

    Parameters
    ----------
    path : str or Path
        The archive file. Its folder must exist.
    create : bool
        Create the file when it does not exist; otherwise raise.

    Returns
    -------
    Database
        The open archive with WAL, foreign keys and a busy timeout set.

    Raises
    ------
    ArchiveError
        When the folder is missing, the file is not writable or is not an archive,
        or the archive was written by a newer version of the program.
    """
    p = Path(path)
    if p.is_dir():
        raise ArchiveError(
            _("The archive path {path} is a folder, not a file.").format(path=p),
            _("Give the path of an archive file, e.g. {path}.").format(path=p / "dxa.sqlite"),
        )
    if not p.parent.is_dir():
        raise ArchiveError(
            _("The folder {folder} does not exist.").format(folder=p.parent),
            _("Create the folder first or choose another archive path."),
        )
    if not p.exists() and not create:
        raise ArchiveError(
            _("No archive at {path}.").format(path=p),
            _("Run 'demo' or 'import' to create one, or check the path."),
            screen_remedy=_(
                "Choose the department's archive with File > Open archive, or make a new one"
                " with File > New archive. Ask your administrator where the archive is kept."
            ),
        )
    try:
        if not p.exists():
            create_owner_only(p)  # owner-only before SQLite writes (its -wal/-shm copy the mode)
        conn = sqlite3.connect(
            str(p), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = NORMAL")
        # the patient search's folding and terms (migrations 0022, 0023 and their triggers)
        register_search_functions(conn)
    except (sqlite3.DatabaseError, PermissionError) as exc:
        raise ArchiveError(
            _("Cannot open the archive {path}: {reason}.").format(path=p, reason=exc),
            _("Check that the file is a DXA archive and that you may write to its folder."),
        ) from exc
    if str(mode).lower() != "wal":
        conn.close()
        raise ArchiveError(
            _("Cannot switch the archive {path} to WAL mode.").format(path=p),
            _("Keep the archive on a local disk, not a network share."),
        )
    db = Database(conn)
    try:
        migrate(db)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ArchiveError(
            _("Cannot open the archive {path}: {reason}.").format(path=p, reason=exc),
            _("Check that the file is a DXA archive and that you may write to its folder."),
        ) from exc
    return db


def search_fold(text: str | None) -> str | None:
    """Case-fold for searching (SQLite's own lower() and NOCASE leave æ, ø, å as they are)."""
    return text.casefold() if text is not None else None


def name_words(name: str) -> list[str]:
    """The case-folded words of a name as the search matches them (``^`` and ``-`` part words)."""
    return (search_fold(name.replace("^", " ").replace("-", " ")) or "").split()


def compact_identifier(identifier: str) -> str:
    """An identifier as the search matches it: case-folded, without dashes and spaces."""
    return search_fold("".join(identifier.split()).replace("-", "")) or ""


def search_terms(name: str | None, identifier: str | None) -> str:
    """Return a patient's search terms as a JSON array (the ``patient_terms`` rows).

    ``n`` + each word of the name, ``i`` + the compact identifier (a CPR number without its
    dash) and ``s`` + each of its later suffixes, so that digits typed anywhere in it (the
    last four of a CPR number) are a prefix of one term.
    """
    terms = ["n" + word for word in name_words(name or "")]
    compact = compact_identifier(identifier or "")
    if compact:
        terms.append("i" + compact)
        # an identifier is at most 64 characters in DICOM; a longer one from elsewhere is
        # found anywhere in its first 64
        terms += ["s" + compact[k:] for k in range(1, min(len(compact), 64))]
    return json.dumps(list(dict.fromkeys(terms)), ensure_ascii=False)


def register_search_functions(conn: sqlite3.Connection) -> None:
    """Register the search's SQL functions (``dxa_fold``, ``dxa_search_terms``) on ``conn``."""
    conn.create_function("dxa_fold", 1, search_fold, deterministic=True)
    conn.create_function("dxa_search_terms", 2, search_terms, deterministic=True)


def applied_migrations(db: Database) -> list[str]:
    """Return the names of the migrations applied to ``db``, oldest first."""
    if "migrations" not in db.table_names():
        return []
    return [r["name"] for r in db.query("SELECT name FROM migrations ORDER BY id")]


def migrate(db: Database) -> list[str]:
    """Apply every migration the archive does not have yet, each in its own transaction.

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    list of str
        The names of the migrations applied now (empty when up to date).
    """
    known = [m.name for m in MIGRATIONS]
    done_now: list[str] = []
    if applied_migrations(db) == known:  # up to date: no write lock (a reader never waits)
        return done_now
    rebuild = any(m.rebuilds_tables for m in MIGRATIONS if m.name not in applied_migrations(db))
    if rebuild:  # SQLite's table rebuild: foreign keys off (outside the transaction), checked
        db.conn.execute("PRAGMA foreign_keys = OFF")
    try:
        return _migrate(db, known, done_now, check_keys=rebuild)
    finally:
        if rebuild:
            db.conn.execute("PRAGMA foreign_keys = ON")


def _migrate(db: Database, known: list[str], done_now: list[str], *, check_keys: bool) -> list[str]:
    with write_transaction(db):
        db.execute(
            "CREATE TABLE IF NOT EXISTS migrations ("
            "id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, applied_at TEXT NOT NULL)"
        )
        applied = applied_migrations(db)
        unknown = [n for n in applied if n not in known]
        if unknown or applied != known[: len(applied)]:
            raise ArchiveError(
                _("The archive was written by a newer version of this program ({names}).").format(
                    names=", ".join(unknown) or "?"
                ),
                _("Install the newest version of the DXA tool."),
            )
        for m in MIGRATIONS[len(applied) :]:
            for statement in _split_sql(m.sql):
                db.execute(statement)
            db.execute(
                "INSERT INTO migrations (name, applied_at) VALUES (?, ?)", [m.name, now_iso()]
            )
            done_now.append(m.name)
        if check_keys and db.execute("PRAGMA foreign_key_check").fetchone() is not None:
            raise ArchiveError(
                _("The archive's rows do not refer to each other as they should."),
                _("Restore a backup, or ask for help with the archive file."),
            )
    return done_now


def _split_sql(script: str) -> list[str]:
    """Split a script into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements


@contextlib.contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """Group writes in one ``BEGIN IMMEDIATE`` transaction (one writer at a time).

    Nested use becomes a savepoint. ``IMMEDIATE`` takes the write lock at the start,
    so two processes never deadlock upgrading a read lock; the busy timeout makes
    the second writer wait instead of failing. A commit that fails is rolled back.
    """
    with db.atomic(immediate=True):
        yield db


def audit(
    db: Database,
    action: str,
    *,
    username: str = "",
    entity: str = "",
    entity_id: str | int = "",
    details: dict[str, Any] | None = None,
    wait: bool = True,
) -> str:
    """Append one entry to the hash-chained, sealed audit log and return its hash.

    Each entry's hash covers its content and the previous entry's hash, so removing or
    changing an entry breaks the chain; each hash is also signed with the archive's seal key,
    which lives outside the archive (:mod:`dxa_app.archive.seal`), so a chain recomputed by
    someone who edited the file does not verify (see :func:`check_audit_chain`).

    With ``wait=False`` (the audit entry of a read: a log-in, opening a study) the entry never
    waits behind a long write such as a large import: when the write lock is not free within
    a moment, the entry is spooled to a file beside the archive and appended, in order and
    with its own time, by the next write (:func:`drain_spool`). Returns "" when spooled.
    """
    at = now_iso()
    body = json.dumps(details or {}, sort_keys=True, ensure_ascii=False)
    entry = (at, username, action, entity, str(entity_id), body)
    outermost = not db.conn.in_transaction
    drained: list[Path] = []
    try:
        with short_wait(db, not wait and outermost), write_transaction(db):
            if outermost:  # spooled entries first; their files go once this commits
                drained = drain_spool(db)
            digest = _append(db, *entry)
    except sqlite3.OperationalError as exc:
        if wait or not outermost or ("locked" not in str(exc) and "busy" not in str(exc)):
            raise
        _spool(db, entry)
        return ""
    for path in drained:
        path.unlink(missing_ok=True)
    return digest


@contextlib.contextmanager
def short_wait(db: Database, short: bool = True) -> Iterator[None]:
    """Within the block, wait only a moment for the write lock (a read's optional write).

    Parameters
    ----------
    db : Database
        The open archive.
    short : bool
        False leaves the normal busy timeout.

    Yields
    ------
    None
        Nothing.
    """
    if not short:
        yield
        return
    db.conn.execute(f"PRAGMA busy_timeout = {SHORT_WAIT_MS}")
    try:
        yield
    finally:
        db.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def _append(
    db: Database,
    at: str,
    username: str,
    action: str,
    entity: str,
    entity_id: str,
    body: str,
) -> str:
    """Insert one sealed entry at the end of the chain (inside a write transaction)."""
    from dxa_app.archive.seal import note_sealed_from, seal

    row = list(db.query("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1"))
    prev = row[0]["hash"] if row else "0" * 64
    digest = _audit_hash(prev, at, username, action, entity, entity_id, body)
    cur = db.execute(
        "INSERT INTO audit_log (at, username, action, entity, entity_id, details, prev_hash,"
        " hash, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            at,
            username,
            action,
            entity,
            entity_id,
            body,
            prev,
            digest,
            seal(db, digest.encode("ascii")),
        ],
    )
    note_sealed_from(db, int(cur.lastrowid or 0))
    return digest


def spool_folder(db: Database) -> Path | None:
    """Return the folder of audit entries waiting for the write lock (beside the archive)."""
    row = db.execute("PRAGMA database_list").fetchone()
    path = str(row[2]) if row else ""
    return Path(path).with_name(Path(path).name + "-audit-spool") if path else None


def _spool(db: Database, entry: tuple[str, ...]) -> None:
    folder = spool_folder(db)
    if folder is None:  # an in-memory database: nothing to wait behind
        raise ArchiveError(_("The audit entry could not be written."), "")
    folder.mkdir(mode=0o700, exist_ok=True)
    name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}.json"
    from dxa_app.fileio import write_owner_only

    write_owner_only(folder / name, json.dumps(entry, ensure_ascii=False).encode("utf-8"))


def drain_spool(db: Database) -> list[Path]:
    """Append the spooled audit entries in order (inside a write transaction).

    Parameters
    ----------
    db : Database
        The open archive, inside the outermost write transaction.

    Returns
    -------
    list of Path
        The spool files appended: remove them once the transaction has committed.
    """
    folder = spool_folder(db)
    if folder is None or not folder.is_dir():
        return []
    files = sorted(folder.glob("*.json"))
    for path in files:
        entry = json.loads(path.read_text(encoding="utf-8"))
        _append(db, *(str(v) for v in entry))
    return files


def _audit_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def check_audit_chain(db: Database, public_key: str | list[str] | None) -> list[str]:
    """Return what is wrong with the audit log (empty when the chain and the seals hold).

    Parameters
    ----------
    db : Database
        The open archive.
    public_key : str, list of str or None
        The pinned seal key(s); None or empty checks the hash chain only.

    Returns
    -------
    list of str
        One line per problem: a broken link, a changed entry, a missing or invalid seal.
    """
    from dxa_app.archive.seal import check_seal, sealed_from

    problems: list[str] = []
    prev = "0" * 64
    first_sealed = sealed_from(db) if public_key else None
    for r in db.query("SELECT * FROM audit_log ORDER BY id"):
        if r["prev_hash"] != prev:
            problems.append(f"audit entry {r['id']}: the chain is broken before it")
        expected = _audit_hash(
            prev, r["at"], r["username"], r["action"], r["entity"], r["entity_id"], r["details"]
        )
        if r["hash"] != expected:
            problems.append(f"audit entry {r['id']} ({r['action']}) was changed")
        sealed = first_sealed is None or r["id"] >= first_sealed
        if (
            public_key
            and sealed
            and not check_seal(public_key, str(r["hash"]).encode("ascii"), r["signature"])
        ):
            problems.append(f"audit entry {r['id']} ({r['action']}): the seal does not match")
        prev = r["hash"]
    return problems


def verify_audit_chain(db: Database) -> bool:
    """Return True when every audit entry's hash matches its content and predecessor."""
    return not check_audit_chain(db, None)


def get_setting(db: Database, key: str, default: Any = None) -> Any:
    """Return the JSON value of one archive setting, or ``default``."""
    rows = list(db.query("SELECT value FROM settings WHERE key = ?", [key]))
    return json.loads(rows[0]["value"]) if rows else default


def set_setting(db: Database, key: str, value: Any) -> None:
    """Store one archive setting as JSON (settings that change behaviour live in the archive)."""
    with write_transaction(db):
        db.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            [key, json.dumps(value, ensure_ascii=False), now_iso()],
        )


def audit_details(db: Database, action: str) -> list[dict[str, Any]]:
    """Return the details of every audit entry of one action, oldest first.

    Parameters
    ----------
    db : Database
        The open archive.
    action : str
        The action's audit name.

    Returns
    -------
    list of dict
        The parsed details.
    """
    return [
        json.loads(r["details"])
        for r in db.query("SELECT details FROM audit_log WHERE action = ? ORDER BY id", [action])
    ]
