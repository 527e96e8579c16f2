"""Import files and folders into the archive: sniff, read, store once, log every outcome."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import multiprocessing
import multiprocessing.context
import os
import sqlite3
import stat
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from dxa_app.archive.database import Database
from dxa_app.archive.db import write_transaction
from dxa_app.archive.images import holds_images, imported_whole, put_new_bytes, store_folder
from dxa_app.archive.store import log_import, store_parsed
from dxa_app.domain import AnalysisStatus, ImportOutcome, ImportStatus, ParsedSource
from dxa_app.errors import ImportProblemError
from dxa_app.i18n import _
from dxa_app.ingest.base import is_dicom_head
from dxa_app.ingest.files import max_bytes, not_regular_reason
from dxa_app.ingest.registry import (
    READER_MODULES,
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
    """One source of a batch, and why it is skipped without being opened (None: read it).

    ``known``: a file whose exact bytes the archive holds, imported whole: not read again.
    """

    path: Path
    skip: str | None = None
    known: bool = False


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


def import_file(db: Database, path: Path, batch: str) -> ImportOutcome:
    """Import one file and log the outcome; never raises for a bad file.

    Parameters
    ----------
    db : Database
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
    outcome = _store_read(db, read_source(path, store_folder(db)))
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


@dataclass(frozen=True, slots=True)
class SourceRead:
    """What reading one source gave, before anything is stored.

    Either ``outcome`` is final (skipped, or failed with its reason), or ``parsed`` holds
    what the reader made of the source; ``stored`` names the image files the reading step
    already wrote into the image store (SHA-256 -> (path in the store, size)).
    """

    path: str
    outcome: ImportOutcome | None = None
    reader: str = ""
    parsed: ParsedSource | None = None
    stored: dict[str, tuple[str, int]] = field(default_factory=dict)


def _failed(path: Path, name: str, reason: str) -> SourceRead:
    outcome = ImportOutcome(str(path), ImportStatus.FAILED, reader=name, reason=reason)
    return SourceRead(str(path), outcome, name)


def read_source(path: Path, store: Path | None) -> SourceRead:
    """Sniff and read one source, and put its image files into the image store; no SQL.

    This is the part of an import that runs in the reading processes of a pooled import
    (see :func:`import_into`); it never raises for a bad file. A DICOM file is read from
    disk once: the sniffs, the reader, the SHA-256 and the copy in the image store all
    use the same bytes.

    Parameters
    ----------
    path : Path
        The file or folder source.
    store : Path or None
        The archive's image store folder (None: image files are left where they are).

    Returns
    -------
    SourceRead
        The final outcome (skipped/failed), or the parsed source to store.
    """
    read, images = _read_one(path)
    if store is None or not images:
        return read
    try:
        stored = {sha: put for sha, data in images if (put := put_new_bytes(store, data, sha))}
    except ImportProblemError as exc:
        return _failed(path, read.reader, exc.message)
    return dataclasses.replace(read, stored=stored)


def _read_one(path: Path) -> tuple[SourceRead, list[tuple[str, bytes]]]:
    """Sniff and read one source; return it with its image files' (SHA-256, bytes) to store."""
    spath = str(path)
    try:
        mode = path.stat().st_mode  # of the link's target for a link
    except OSError as exc:
        return SourceRead(spath, _cannot_read(path, exc)), []
    special = not_regular_reason(path, mode)
    if special is not None:  # a FIFO would block the import, a device never end
        outcome = ImportOutcome(spath, ImportStatus.SKIPPED, reason=special)
        return SourceRead(spath, outcome), []
    name = ""
    try:
        head = b"" if stat.S_ISDIR(mode) else read_head(path)
        reader = reader_for(path, head)
        if reader is None:
            damaged, why = describe_unclaimed(path, head)
            status = ImportStatus.FAILED if damaged else ImportStatus.SKIPPED
            return SourceRead(spath, ImportOutcome(spath, status, reason=why)), []
        name = reader.name
        parsed = reader.read(path)
        images = _image_bytes(parsed)
    except OSError as exc:
        return SourceRead(spath, _cannot_read(path, exc), name), []
    except ImportProblemError as exc:
        return _failed(path, name, exc.message), []
    except ValueError as exc:  # e.g. a record the domain types refuse
        return _failed(path, name, _("inconsistent data: {e}").format(e=exc)), []
    except RecursionError:
        reason = _("the file is nested too deeply to be read (damaged or hostile).")
        return _failed(path, name, reason), []
    except Exception as exc:  # a reader's bug must not stop the batch: this file fails
        _LOG.exception("reading %s failed", spath)
        reason = _("the file could not be read ({error}: {detail}).").format(
            error=type(exc).__name__, detail=exc
        )
        return _failed(path, name, reason), []
    return SourceRead(spath, reader=name, parsed=parsed), images


def _image_bytes(parsed: ParsedSource) -> list[tuple[str, bytes]]:
    """The (SHA-256, bytes) of a source's image files, as they were parsed and still held.

    An image whose bytes are no longer held is left out: the writer copies it from its
    file, as :func:`~dxa_app.archive.images.put` always did.
    """
    from dxa_app.ingest.dicom_common import loaded_bytes  # pydicom: loaded when first needed

    out: dict[str, bytes] = {}
    for study in parsed.studies:
        for img in study.images:
            if img.file_path and img.sha256 and img.sha256 not in out:
                data = loaded_bytes(Path(img.file_path), img.sha256)
                if data is not None:
                    out[img.sha256] = data
    return list(out.items())


def _store_read(db: Database, read: SourceRead) -> ImportOutcome:
    """Store a source that was read (one transaction); return its outcome."""
    if read.outcome is not None:
        return read.outcome
    assert read.parsed is not None
    spath, name, parsed = read.path, read.reader, read.parsed
    try:
        rows, notes = store_parsed(db, parsed, read.stored)
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


#: Below this many sources an import reads them in its own process (a pool costs a start).
POOL_THRESHOLD: Final = 64
#: Sources per task sent to a reading process, and tasks in flight per process (so memory
#: stays flat however many files a batch holds).
_CHUNK: Final = 16
_IN_FLIGHT: Final = 4


def default_workers(n_sources: int) -> int:
    """Return how many reading processes an import of ``n_sources`` uses (1: none).

    One per core, at most 4, and none for a small batch.
    """
    if n_sources < POOL_THRESHOLD:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def _read_chunk(paths: list[str], store: str | None) -> list[SourceRead]:
    """Read a chunk of sources (runs in a reading process).

    The image files are written into the store (each fsynced) on two threads while the
    next files are parsed; the chunk is returned once every write has ended, and a source
    whose write failed fails with the reason.
    """
    if store is None:
        return [_read_one(Path(p))[0] for p in paths]
    folder = Path(store)
    with ThreadPoolExecutor(max_workers=2) as writes:
        pending: list[tuple[SourceRead, list[tuple[str, Future[tuple[str, int] | None]]]]] = []
        for p in paths:
            read, images = _read_one(Path(p))
            puts = [(sha, writes.submit(put_new_bytes, folder, data, sha)) for sha, data in images]
            pending.append((read, puts))
        out: list[SourceRead] = []
        for read, puts in pending:
            try:
                stored = {sha: put for sha, future in puts if (put := future.result())}
            except ImportProblemError as exc:
                out.append(_failed(Path(read.path), read.reader, exc.message))
                continue
            out.append(dataclasses.replace(read, stored=stored) if stored else read)
    return out


def _decided(source: _Source) -> SourceRead | None:
    """The outcome of a source that is not read (skipped, or known to the archive), else None."""
    spath = str(source.path)
    if source.skip is not None:
        return SourceRead(spath, ImportOutcome(spath, ImportStatus.SKIPPED, reason=source.skip))
    if source.known:
        reason = _("already in the archive: a file with exactly these bytes was imported before")
        return SourceRead(spath, ImportOutcome(spath, ImportStatus.DUPLICATE, reason=reason))
    return None


def _known_files(db: Database, sources: list[_Source], store: Path | None) -> list[_Source]:
    """Mark the DICOM files whose exact bytes the archive already imported whole.

    A re-import (a backfill run twice, a folder exported again) then costs a hash per
    file instead of a parse: the file is read, hashed, and looked up by its SHA-256.
    """
    if not holds_images(db):
        return sources
    out: list[_Source] = []
    limit = max_bytes("dicom")
    for source in sources:
        if source.skip is None:
            try:
                st = source.path.stat()
                if stat.S_ISREG(st.st_mode) and 132 <= st.st_size <= limit:
                    data = source.path.read_bytes()
                    if is_dicom_head(data[:132]):
                        sha = hashlib.sha256(data).hexdigest()
                        if imported_whole(db, sha, store):
                            source = dataclasses.replace(source, known=True)
            except OSError:
                pass  # the reader reports it
        out.append(source)
    return out


def _serial_reads(sources: Sequence[_Source], store: Path | None) -> Iterator[SourceRead]:
    for source in sources:
        decided = _decided(source)
        yield decided if decided is not None else read_source(source.path, store)


def _pool_context() -> multiprocessing.context.BaseContext:
    """How reading processes start: fork a process of one thread, else a fork server or spawn.

    A process with threads (the GUI runs an import on a worker thread beside Qt's) is
    never forked: its reading processes come from a fork server that imported the readers
    once (or are spawned where there is none, on Windows and macOS).
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and "PySide6" not in sys.modules:
        return multiprocessing.get_context("fork")
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # the server imports the readers once; each reading process is forked from it ready
    context.set_forkserver_preload([__name__, *READER_MODULES])
    return context


def _pooled_reads(
    sources: Sequence[_Source], store: Path | None, workers: int
) -> Iterator[SourceRead]:
    """Read the sources in ``workers`` processes; yield in the sources' order.

    At most ``workers * _IN_FLIGHT`` chunks are read ahead of the writer. When the pool
    cannot start or a reading process dies, the sources not yet read are read here.
    """
    chunks = [list(sources[i : i + _CHUNK]) for i in range(0, len(sources), _CHUNK)]
    folder = str(store) if store is not None else None
    done = 0  # chunks yielded
    try:
        executor = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context())
    except (OSError, ValueError) as exc:
        _LOG.warning("no reading processes (%s); reading in this process", exc)
        yield from _serial_reads(sources, store)
        return
    with executor:
        pending: deque[Future[list[SourceRead]]] = deque()
        submitted = 0
        try:
            while done < len(chunks):
                while submitted < len(chunks) and len(pending) < workers * _IN_FLIGHT:
                    paths = [str(s.path) for s in chunks[submitted] if _decided(s) is None]
                    pending.append(executor.submit(_read_chunk, paths, folder))
                    submitted += 1
                reads = iter(pending.popleft().result())
                for source in chunks[done]:
                    decided = _decided(source)
                    yield decided if decided is not None else next(reads)
                done += 1
        except BrokenProcessPool:
            _LOG.warning("a reading process stopped; reading the rest in this process")
        finally:
            for future in pending:
                future.cancel()
    for chunk in chunks[done:]:
        yield from _serial_reads(chunk, store)


#: Sources stored in one transaction, each in a savepoint of its own (stored whole or not
#: at all), and the longest a group waits for its next source once it has one, in seconds.
#: A commit per source cost the writer about a third of its time (the WAL pages of every
#: index it touched, written again for each file).
_GROUP: Final = 32
_GROUP_WAIT: Final = 0.2


def _groups(reads: Iterator[SourceRead], cancel: CancelToken | None) -> Iterator[list[SourceRead]]:
    """The reads in groups to store in one transaction each.

    A group is collected before its transaction begins, so the archive's write lock is
    never held while a file is being read; it ends at :data:`_GROUP` sources, when
    :data:`_GROUP_WAIT` seconds have passed since its first source came (progress keeps
    moving when files are slow to read), or at a cancel.
    """
    group: list[SourceRead] = []
    started = 0.0
    for read in reads:
        if not group:
            started = time.monotonic()
        group.append(read)
        if (
            len(group) >= _GROUP
            or time.monotonic() - started >= _GROUP_WAIT
            or (cancel is not None and cancel.cancelled)
        ):
            yield group
            group = []
    if group:
        yield group


def import_into(
    db: Database,
    paths: Sequence[str | Path],
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    workers: int | None = None,
) -> ImportSummary:
    """Import files and folders into an open archive, each file whole or not at all (no audit).

    The user action is :func:`import_paths`; this is the work it shares with the demo
    pipeline and the DICOM receiver. A corrupt or foreign file is reported with its path
    and reason and the rest of the batch still imports (a file whose reading fails in any
    unexpected way, a ``RecursionError`` included, fails alone); special files are
    skipped unopened; see :func:`expand_paths` for links. Re-importing changes nothing.

    Files are read (sniffed, parsed, their images put into the image store) in reading
    processes when the batch is large, and stored by this process alone, the one writer,
    in the batch's order: the archive ends up the same as with a serial import. A DICOM
    file whose exact bytes were imported whole before is a duplicate found by its SHA-256,
    without being parsed again (see :func:`dxa_app.archive.images.imported_whole`).

    Parameters
    ----------
    db : Database
        The open archive.
    paths : sequence of str or Path
        Files and folders (walked recursively).
    progress : Progress
        Called after each file with (done, total, path).
    cancel : CancelToken, optional
        Checked between files; files already imported stay imported.
    workers : int, optional
        Reading processes; 1 reads in this process; by default
        :func:`default_workers`.

    Returns
    -------
    ImportSummary
        One outcome per file.
    """
    store = store_folder(db)
    sources = _known_files(db, sorted(_sources(paths), key=_order_key), store)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    batch = f"{stamp}-{uuid.uuid4().hex[:8]}"
    outcomes: list[ImportOutcome] = []
    total = len(sources)
    to_read = sum(1 for s in sources if _decided(s) is None)
    n_workers = default_workers(to_read) if workers is None else max(1, workers)
    reads = (
        _pooled_reads(sources, store, n_workers) if n_workers > 1 else _serial_reads(sources, store)
    )
    try:
        for group in _groups(reads, cancel):
            with write_transaction(db):  # one commit per group, a savepoint per source
                for read in group:
                    if cancel is not None and cancel.cancelled:
                        break  # what this group stored so far is committed
                    outcome = _store_read(db, read)
                    log_import(db, batch, outcome)
                    outcomes.append(outcome)
                    progress(len(outcomes), total, read.path)
            if cancel is not None:
                cancel.raise_if_cancelled()
    finally:
        close = getattr(reads, "close", None)
        if close is not None:
            close()
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
