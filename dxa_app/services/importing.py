"""Import files and folders into the archive: sniff, read, store once, log every outcome."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from dxa_app.archive.store import log_import, store_parsed
from dxa_app.domain import ImportOutcome, ImportStatus
from dxa_app.errors import ImportProblemError
from dxa_app.i18n import _
from dxa_app.ingest.registry import (
    describe_unclaimed,
    folder_reader_for,
    read_head,
    reader_for,
)
from dxa_app.progress import CancelToken, Progress, no_progress
from dxa_app.services.auth import Permission, Session, acting, record

#: Files that depend on others (VFA readings need their study) are imported last.
_LATE_MARKERS = (b"vfa_readings",)


@dataclass(frozen=True)
class ImportSummary:
    """The outcome of one import batch."""

    batch: str
    outcomes: tuple[ImportOutcome, ...] = field(default_factory=tuple)

    @property
    def counts(self) -> dict[str, int]:
        """Number of files per status (imported, duplicate, skipped, failed)."""
        c = Counter(str(o.status) for o in self.outcomes)
        return {str(s): c.get(str(s), 0) for s in ImportStatus}

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict of the batch."""
        return {
            "batch": self.batch,
            "counts": self.counts,
            "problems": [
                {"path": o.path, "status": str(o.status), "reason": o.reason}
                for o in self.outcomes
                if o.status in (ImportStatus.FAILED, ImportStatus.SKIPPED)
            ],
            "warnings": [
                {"path": o.path, "message": n.message}
                for o in self.outcomes
                for n in o.notes
                if o.status not in (ImportStatus.FAILED, ImportStatus.SKIPPED)
            ],
            "files": [
                {
                    "path": o.path,
                    "status": str(o.status),
                    "reader": o.reader,
                    "reason": o.reason,
                    "rows_added": o.rows_added,
                    "notes": [n.message for n in o.notes],
                }
                for o in self.outcomes
            ],
        }


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Return the sources named by ``paths``: files, and folders that are one source.

    Folders are walked recursively and sorted; a folder a folder reader claims (an APEX
    table export) is returned whole instead of its files.

    Raises
    ------
    ImportProblemError
        When a named path does not exist.
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                if folder_reader_for(Path(root)) is not None:
                    out.append(Path(root))
                    dirs.clear()
                    continue
                dirs.sort()
                out.extend(Path(root) / f for f in sorted(files) if not f.startswith("."))
        elif p.is_file():
            out.append(p)
        else:
            raise ImportProblemError(
                _("{path} does not exist.").format(path=p), _("Check the path and try again.")
            )
    return out


def import_file(db: sqlite_utils.Database, path: Path, batch: str) -> ImportOutcome:
    """Import one file and log the outcome; never raises for a bad file.

    Parameters
    ----------
    db : sqlite_utils.Database
        The open archive.
    path : Path
        The file.
    batch : str
        The batch id written to the import log.

    Returns
    -------
    ImportOutcome
        imported / duplicate (nothing new) / skipped (not a DXA export) / failed (with reason).
    """
    outcome = _import_file(db, path)
    log_import(db, batch, outcome)
    return outcome


def _import_file(db: sqlite_utils.Database, path: Path) -> ImportOutcome:
    spath = str(path)
    try:
        head = b"" if path.is_dir() else read_head(path)
    except OSError as exc:
        return ImportOutcome(
            spath, ImportStatus.FAILED, reason=_("cannot read: {e}").format(e=exc.strerror or exc)
        )
    reader = reader_for(path, head)
    if reader is None:
        damaged, why = describe_unclaimed(path, head)
        status = ImportStatus.FAILED if damaged else ImportStatus.SKIPPED
        return ImportOutcome(spath, status, reason=why)
    try:
        parsed = reader.read(path)
        rows, notes = store_parsed(db, parsed)
    except ImportProblemError as exc:
        return ImportOutcome(spath, ImportStatus.FAILED, reader=reader.name, reason=exc.message)
    except (sqlite3.IntegrityError, ValueError) as exc:
        return ImportOutcome(
            spath,
            ImportStatus.FAILED,
            reader=reader.name,
            reason=_("inconsistent data: {e}").format(e=exc),
        )
    all_notes = parsed.notes + notes
    errors = [n for n in notes if n.severity == "error"]
    if rows == 0 and errors:
        return ImportOutcome(
            spath,
            ImportStatus.FAILED,
            reader=reader.name,
            reason=errors[0].message,
            notes=all_notes,
        )
    status = ImportStatus.IMPORTED if rows > 0 else ImportStatus.DUPLICATE
    return ImportOutcome(spath, status, reader=reader.name, rows_added=rows, notes=all_notes)


def _order_key(path: Path) -> tuple[int, str]:
    try:
        head = b"" if path.is_dir() else read_head(path)[:200]
    except OSError:
        head = b""
    late = any(m in head for m in _LATE_MARKERS)
    return (1 if late else 0, str(path))


def import_into(
    db: sqlite_utils.Database,
    paths: Sequence[str | Path],
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> ImportSummary:
    """Import files and folders into an open archive, one transaction per file (no audit).

    The user action is :func:`import_paths`; this is the work it shares with the demo
    pipeline and the DICOM receiver. A corrupt or foreign file is reported with its path
    and reason and the rest of the batch still imports; re-importing changes nothing.

    Parameters
    ----------
    db : sqlite_utils.Database
        The open archive.
    paths : sequence of str or Path
        Files and folders (walked recursively).
    progress : Progress
        Called after each file with (done, total, path).
    cancel : CancelToken, optional
        Checked between files; files already imported stay imported.

    Returns
    -------
    ImportSummary
        One outcome per file.
    """
    files = sorted(expand_paths(paths), key=_order_key)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    batch = f"{stamp}-{uuid.uuid4().hex[:8]}"
    outcomes: list[ImportOutcome] = []
    total = len(files)
    for i, path in enumerate(files):
        if cancel is not None:
            cancel.raise_if_cancelled()
        outcomes.append(import_file(db, path, batch))
        progress(i + 1, total, str(path))
    return ImportSummary(batch, tuple(outcomes))


def import_paths(
    session: Session,
    paths: Sequence[str | Path],
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> ImportSummary:
    """Import files and folders as the logged-in user; the batch is audited with the user.

    A corrupt or foreign file is reported with its path and reason and the rest of the
    batch still imports; re-importing the same file changes nothing.

    Parameters
    ----------
    session : Session
        The acting user (technician or administrator).
    paths : sequence of str or Path
        Files and folders (walked recursively).
    progress : Progress
        Called after each file with (done, total, path).
    cancel : CancelToken, optional
        Checked between files; files already imported stay imported.

    Returns
    -------
    ImportSummary
        One outcome per file.

    Raises
    ------
    PermissionDeniedError
        When the user may not import.
    """
    with acting(session, Permission.IMPORT) as db:
        summary = import_into(db, paths, progress=progress, cancel=cancel)
        record(
            db,
            session,
            "import",
            entity="import_batch",
            entity_id=summary.batch,
            details={"paths": [str(p) for p in paths], "counts": summary.counts},
        )
    return summary
