"""Receive DICOM from scanners (Storage SCP) and import each file like a folder import."""

from __future__ import annotations

import datetime as dt
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dxa_app.archive import get_setting, open_archive, set_setting, write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.db import ARCHIVE_SUFFIX
from dxa_app.dicom_net import STATUS_OUT_OF_RESOURCES, STATUS_SUCCESS, StorageServer
from dxa_app.domain import ImportOutcome, ImportStatus
from dxa_app.errors import UsageError
from dxa_app.i18n import _
from dxa_app.progress import CancelToken
from dxa_app.services.auth import Permission, Session, acting, check, record
from dxa_app.services.importing import ImportSummary, import_file

__all__ = ["allow_caller", "allowed_callers", "default_incoming", "receive"]

#: The archive setting listing the calling AE titles the receiver accepts.
ALLOWED_KEY = "receive.allowed_calling_aes"

#: How often the worker looks at the stop token while idle (seconds).
POLL_SECONDS = 0.2
#: How long a C-STORE waits for its import before answering "out of resources".
IMPORT_WAIT_SECONDS = 300.0


@dataclass
class _Job:
    """One received file (or a refused caller) waiting for the archive worker."""

    path: Path
    done: threading.Event = field(default_factory=threading.Event)
    outcome: ImportOutcome | None = None
    refused: tuple[str, str] | None = None


def _stored_callers(db: Database) -> list[str]:
    value = get_setting(db, ALLOWED_KEY, [])
    return sorted({str(v) for v in value}) if isinstance(value, list) else []


def allowed_callers(session: Session) -> list[str]:
    """Return the calling AE titles the receiver accepts (the registered scanners).

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    list of str
        The AE titles, sorted.
    """
    with acting(session, Permission.VIEW) as db:
        return _stored_callers(db)


def allow_caller(session: Session, ae_title: str, *, remove: bool = False) -> list[str]:
    """Register (or with ``remove``, unregister) a scanner's calling AE title; audited.

    Parameters
    ----------
    session : Session
        The acting administrator.
    ae_title : str
        The scanner's own AE title (1-16 characters).
    remove : bool
        Remove it instead.

    Returns
    -------
    list of str
        The accepted AE titles afterwards.

    Raises
    ------
    UsageError
        For an AE title that is empty or longer than 16 characters.
    """
    ae = ae_title.strip()
    if not ae or len(ae) > 16 or "\\" in ae or not ae.isascii():
        raise UsageError(_("An AE title is 1 to 16 ASCII characters."), "")
    with acting(session, Permission.SETTINGS) as db, write_transaction(db):
        callers = set(_stored_callers(db))
        if remove:
            callers.discard(ae)
        else:
            callers.add(ae)
        set_setting(db, ALLOWED_KEY, sorted(callers))
        record(
            db,
            session,
            "receive_caller_remove" if remove else "receive_caller_allow",
            entity="setting",
            entity_id=ALLOWED_KEY,
            details={"ae_title": ae},
        )
    return sorted(callers)


def default_incoming(archive: Path) -> Path:
    """Return the default folder for received files: ``<archive stem>-incoming`` beside it.

    Parameters
    ----------
    archive : Path
        The archive file.

    Returns
    -------
    Path
        E.g. ``/data/archive-incoming`` for ``/data/archive.dxa.sqlite``.
    """
    name = archive.name
    stem = name[: -len(ARCHIVE_SUFFIX)] if name.endswith(ARCHIVE_SUFFIX) else archive.stem
    return archive.with_name(f"{stem or 'archive'}-incoming")


def receive(
    session: Session,
    *,
    host: str,
    port: int,
    ae_title: str,
    incoming: Path,
    on_outcome: Callable[[ImportOutcome], None] | None = None,
    stop: CancelToken | None = None,
    on_ready: Callable[[tuple[str, int]], None] | None = None,
) -> ImportSummary:
    """Run a DICOM Storage SCP and import every received file into the archive.

    Received files are written to ``incoming`` (named by SOP Instance UID) and stay
    there; each is imported with :func:`~dxa_app.services.importing.import_file`, the
    same path as a folder import, by the calling thread, which owns the only archive
    connection, so archive writes happen one at a time. A C-STORE is answered after its
    file is imported: success for imported, duplicate, skipped (not a DXA export) and
    failed (the file is kept and the reason is in the import log), "out of resources"
    when the file could not be written or the receiver is stopping.

    Parameters
    ----------
    session : Session
        The user who runs the receiver (technician or administrator); every received
        batch is audited with this user.
    host : str
        Address to listen on, e.g. ``"127.0.0.1"`` or ``"0.0.0.0"`` for every interface.
    port : int
        TCP port (0 picks a free one; ``on_ready`` gets the real one).
    ae_title : str
        Our AE title; the scanner must call it.
    incoming : Path
        Folder for received files.
    on_outcome : callable, optional
        Called in the calling thread with each file's outcome.
    stop : CancelToken, optional
        Cancel it (from any thread or a signal handler) to stop; without it the
        receiver runs until KeyboardInterrupt.
    on_ready : callable, optional
        Called with the listening ``(host, port)`` once the receiver accepts connections.

    Returns
    -------
    ImportSummary
        One outcome per received file, in order of arrival.

    Raises
    ------
    ArchiveError
        When the archive cannot be opened.
    PermissionDeniedError
        When the user may not import.
    DicomNetError
        When the port cannot be bound.
    """
    token = stop or CancelToken()
    db = open_archive(session.archive, create=False)
    try:
        check(db, session, Permission.IMPORT)
        callers = _stored_callers(db)
        if not callers:
            raise UsageError(
                _("No scanner may send yet: no calling AE title is registered."),
                _(
                    "An administrator registers each scanner's AE title with"
                    " 'receive-allow AE_TITLE'."
                ),
            )
    except BaseException:
        db.close()
        raise
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    batch = f"{stamp}-{uuid.uuid4().hex[:8]}"
    jobs: queue.Queue[_Job] = queue.Queue()
    lock = threading.Lock()
    closing = False
    outcomes: list[ImportOutcome] = []

    def on_file(path: Path) -> int:
        """Hand the file to the archive worker and wait for its import (handler thread)."""
        job = _Job(path)
        with lock:
            if closing:
                return STATUS_OUT_OF_RESOURCES
            jobs.put(job)
        if not job.done.wait(IMPORT_WAIT_SECONDS):
            return STATUS_OUT_OF_RESOURCES
        return STATUS_SUCCESS

    def refused(calling: str, peer: str) -> None:
        """A rejected association (pynetdicom's thread): audited by the archive worker."""
        with lock:
            if not closing:
                jobs.put(_Job(Path(), refused=(calling, peer)))

    def run(job: _Job) -> None:
        if job.refused is not None:
            record(
                db,
                session,
                "receive_refused",
                entity="dicom_association",
                entity_id=job.refused[0],
                details={"calling_ae": job.refused[0], "peer": job.refused[1]},
            )
            return
        try:
            job.outcome = import_file(db, job.path, batch)
        except Exception as exc:  # import_file never raises for a bad file; the archive may
            job.outcome = ImportOutcome(
                str(job.path),
                ImportStatus.FAILED,
                reason=_("cannot import: {e}").format(e=exc),
            )
        finally:
            job.done.set()
        outcomes.append(job.outcome)
        if on_outcome is not None:
            on_outcome(job.outcome)

    server = StorageServer(
        ae_title,
        incoming,
        on_file,
        host=host,
        port=port,
        allowed_callers=callers,
        on_refused=refused,
    )
    try:
        server.start(block=False)
        if on_ready is not None:
            on_ready(server.address)
        while not token.cancelled:
            try:
                job = jobs.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            run(job)
    except KeyboardInterrupt:
        pass
    finally:
        with lock:
            closing = True
        while True:  # files already received are imported before the receiver stops
            try:
                run(jobs.get_nowait())
            except queue.Empty:
                break
        server.shutdown()
        summary = ImportSummary(batch, tuple(outcomes))
        try:
            record(
                db,
                session,
                "receive",
                entity="import_batch",
                entity_id=batch,
                details={"ae_title": ae_title, "port": port, "counts": summary.counts},
            )
        finally:
            db.close()
    return summary
