"""Import files and folders into the archive: sniff, read, store once, log every outcome."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
import stat
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from dxa_app.archive.store import log_import, store_parsed
from dxa_app.domain import AnalysisStatus, ImportOutcome, ImportStatus, ParsedSource
from dxa_app.errors import ImportProblemError
from dxa_app.i18n import _
from dxa_app.ingest.files import not_regular_reason
from dxa_app.ingest.registry import (
    describe_unclaimed,
    folder_reader_for,
    read_head,
    reader_for,
)
from dxa_app.progress import CancelToken, Progress, no_progress
from dxa_app.services.auth import Permission, Session, acting, record

_LOG = logging.getLogger(__name__)

#: Files that depend on others (VFA readings need their study) are imported last.
_LATE_MARKERS = (b"vfa_readings",)


#: The count of files imported as images whose analysis data was there but not understood.
NOT_UNDERSTOOD = "imported_analysis_not_understood"


def analysis_not_understood(outcome: ImportOutcome) -> bool:
    """Return whether a file was imported with its analysis data not understood."""
    return outcome.status is ImportStatus.IMPORTED and bool(outcome.not_understood)


@dataclass(frozen=True)
class ImportSummary:
    """The outcome of one import batch."""

    batch: str
    outcomes: tuple[ImportOutcome, ...] = field(default_factory=tuple)

    @property
    def counts(self) -> dict[str, int]:
        """Number of files per status.

        ``imported`` counts the files imported with everything they held understood;
        ``imported_analysis_not_understood`` those imported as images whose vendor analysis
        data was present but not understood (never counted as ``imported``); then
        ``duplicate``, ``skipped`` and ``failed``.
        """
        c = Counter(str(o.status) for o in self.outcomes)
        partial = sum(1 for o in self.outcomes if analysis_not_understood(o))
        counts = {str(s): c.get(str(s), 0) for s in ImportStatus}
        counts[str(ImportStatus.IMPORTED)] -= partial
        return {
            str(ImportStatus.IMPORTED): counts.pop(str(ImportStatus.IMPORTED)),
            NOT_UNDERSTOOD: partial,
            **counts,
        }

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
            "analysis_not_understood": [
                {"path": o.path, "what": list(o.not_understood)}
                for o in self.outcomes
                if analysis_not_understood(o)
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
                    "analysis_not_understood": list(o.not_understood),
                }
                for o in self.outcomes
            ],
        }


@dataclass(frozen=True, slots=True)
class _Source:
    """One source of a batch, and why it is skipped without being opened (None: read it)."""

    path: Path
    skip: str | None = None


def _link_to_folder(path: Path) -> str:
    return _(
        "{path} is a link to a folder; links to folders inside an import folder are not"
        " followed (name the folder itself to import it)."
    ).format(path=path)


def _sources(paths: Iterable[str | Path]) -> list[_Source]:
    """Return the sources named by ``paths`` (see :func:`expand_paths`)."""
    out: list[_Source] = []
    for raw in paths:
        p = Path(raw)
        try:
            is_dir = stat.S_ISDIR(p.stat().st_mode)
        except OSError:
            if not p.is_symlink():
                raise ImportProblemError(
                    _("{path} does not exist.").format(path=p), _("Check the path and try again.")
                ) from None
            is_dir = False  # a broken or looping link: its import fails and says why
        if not is_dir:
            out.append(_Source(p))
            continue
        for root, dirs, files in os.walk(p):  # never follows links to folders below ``p``
            here = Path(root)
            if folder_reader_for(here) is not None:
                out.append(_Source(here))
                dirs.clear()
                continue
            dirs.sort()
            out.extend(
                _Source(here / d, _link_to_folder(here / d))
                for d in dirs
                if (here / d).is_symlink() and not d.startswith(".")
            )
            out.extend(_Source(here / f) for f in sorted(files) if not f.startswith("."))
    return out


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Return the sources named by ``paths``: files, and folders that are one source.

    Folders are walked recursively and sorted; a folder a folder reader claims (an APEX
    table export) is returned whole instead of its files. Everything a folder holds is
    returned, special files (FIFOs, devices, sockets) too: the import skips them without
    opening them. Symbolic links are followed to files (a link that loops or points
    nowhere fails on import, saying so); links to folders inside a walked folder are not
    followed (no loops, nothing outside the folder), and the import says so; a link to
    a folder named directly is walked like the folder.

    Raises
    ------
    ImportProblemError
        When a named path does not exist.
    """
    return [s.path for s in _sources(paths)]


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
        imported / duplicate (nothing new) / skipped (not a DXA export, or not a regular
        file: never opened) / failed (with reason).
    """
    outcome = _import_file(db, path)
    log_import(db, batch, outcome)
    return outcome


def _cannot_read(path: Path, exc: OSError) -> ImportOutcome:
    error = exc.strerror or str(exc)
    if path.is_symlink():
        reason = _("{path} is a link that cannot be followed to a readable file ({error}).").format(
            path=path, error=error
        )
    else:
        reason = _("cannot read: {e}").format(e=error)
    return ImportOutcome(str(path), ImportStatus.FAILED, reason=reason)


def _import_file(db: sqlite_utils.Database, path: Path) -> ImportOutcome:
    spath = str(path)
    try:
        mode = path.stat().st_mode  # of the link's target for a link
    except OSError as exc:
        return _cannot_read(path, exc)
    special = not_regular_reason(path, mode)
    if special is not None:  # a FIFO would block the import, a device never end
        return ImportOutcome(spath, ImportStatus.SKIPPED, reason=special)
    name = ""
    try:
        head = b"" if stat.S_ISDIR(mode) else read_head(path)
        reader = reader_for(path, head)
        if reader is None:
            damaged, why = describe_unclaimed(path, head)
            status = ImportStatus.FAILED if damaged else ImportStatus.SKIPPED
            return ImportOutcome(spath, status, reason=why)
        name = reader.name
        parsed = reader.read(path)
    except OSError as exc:
        return _cannot_read(path, exc)
    except ImportProblemError as exc:
        return ImportOutcome(spath, ImportStatus.FAILED, reader=name, reason=exc.message)
    except ValueError as exc:  # e.g. a record the domain types refuse
        return ImportOutcome(
            spath,
            ImportStatus.FAILED,
            reader=name,
            reason=_("inconsistent data: {e}").format(e=exc),
        )
    except RecursionError:
        return ImportOutcome(
            spath,
            ImportStatus.FAILED,
            reader=name,
            reason=_("the file is nested too deeply to be read (damaged or hostile)."),
        )
    except Exception as exc:  # a reader's bug must not stop the batch: this file fails
        _LOG.exception("reading %s failed", spath)
        return ImportOutcome(
            spath,
            ImportStatus.FAILED,
            reader=name,
            reason=_("the file could not be read ({error}: {detail}).").format(
                error=type(exc).__name__, detail=exc
            ),
        )
    try:
        rows, notes = store_parsed(db, parsed)
    except ImportProblemError as exc:
        return ImportOutcome(spath, ImportStatus.FAILED, reader=name, reason=exc.message)
    except (sqlite3.IntegrityError, ValueError) as exc:
        return ImportOutcome(
            spath,
            ImportStatus.FAILED,
            reader=name,
            reason=_("inconsistent data: {e}").format(e=exc),
        )
    all_notes = parsed.notes + notes
    errors = [n for n in notes if n.severity == "error"]
    if rows == 0 and errors:
        return ImportOutcome(
            spath,
            ImportStatus.FAILED,
            reader=name,
            reason=errors[0].message,
            notes=all_notes,
        )
    status = ImportStatus.IMPORTED if rows > 0 else ImportStatus.DUPLICATE
    return ImportOutcome(
        spath,
        status,
        reader=name,
        rows_added=rows,
        notes=all_notes,
        not_understood=_not_understood(parsed),
    )


def _not_understood(parsed: ParsedSource) -> tuple[str, ...]:
    """What of a source's vendor analysis data was present but not understood."""
    return tuple(
        img.analysis_detail or img.sop_instance_uid
        for study in parsed.studies
        for img in study.images
        if img.analysis is AnalysisStatus.NOT_UNDERSTOOD
    )


def _order_key(source: _Source) -> tuple[int, str]:
    path = source.path
    head = b""
    if source.skip is None:
        try:
            if stat.S_ISREG(path.stat().st_mode):
                head = read_head(path)[:200]
        except (OSError, ImportProblemError):
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
    and reason and the rest of the batch still imports (a file whose reading fails in any
    unexpected way, a ``RecursionError`` included, fails alone); special files are
    skipped unopened; see :func:`expand_paths` for links. Re-importing changes nothing.

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
    sources = sorted(_sources(paths), key=_order_key)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    batch = f"{stamp}-{uuid.uuid4().hex[:8]}"
    outcomes: list[ImportOutcome] = []
    total = len(sources)
    for i, source in enumerate(sources):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if source.skip is None:
            outcome = import_file(db, source.path, batch)
        else:
            outcome = ImportOutcome(str(source.path), ImportStatus.SKIPPED, reason=source.skip)
            log_import(db, batch, outcome)
        outcomes.append(outcome)
        progress(i + 1, total, str(source.path))
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
