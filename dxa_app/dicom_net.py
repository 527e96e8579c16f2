"""DICOM networking on pynetdicom: a Storage SCP that files what scanners send, and SCU helpers."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from pydicom.filereader import read_file_meta_info
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    RLELossless,
)
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.transport import AssociationSocket

from dxa_app.errors import DxaError
from dxa_app.i18n import _

__all__ = [
    "STATUS_CANNOT_UNDERSTAND",
    "STATUS_LOCAL_FAILURE",
    "STATUS_OUT_OF_RESOURCES",
    "STATUS_SUCCESS",
    "TRANSFER_SYNTAXES",
    "VERIFICATION",
    "DicomNetError",
    "FileCallback",
    "StorageServer",
    "echo",
    "instance_file_name",
    "send_files",
]

LOGGER = logging.getLogger(__name__)

STATUS_SUCCESS = 0x0000
#: C-STORE failure "Out of resources" (the file could not be written).
STATUS_OUT_OF_RESOURCES = 0xA700
#: C-STORE failure "Cannot understand" (the request or the callback failed).
STATUS_CANNOT_UNDERSTAND = 0xC000
#: General "Processing failure"; :func:`send_files` reports local failures with it.
STATUS_LOCAL_FAILURE = 0x0110

#: Transfer syntaxes the Storage SCP accepts (uncompressed first, then what scanners use).
TRANSFER_SYNTAXES: tuple[str, ...] = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
)

#: Verification SOP Class (C-ECHO).
VERIFICATION = UID("1.2.840.10008.1.1")
_UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
_MAX_CONTEXTS = 128
_UNSAFE = re.compile(r"[^0-9A-Za-z.\-]")

#: Called with the path of each received file; returns the C-STORE status to send back.
FileCallback = Callable[[Path], int]


class DicomNetError(DxaError):
    """A DICOM peer could not be reached or refused the association."""

    exit_code = 1


def instance_file_name(sop_instance_uid: str) -> str:
    """Return a safe file name for a received instance: ``<SOP Instance UID>.dcm``.

    Characters other than letters, digits, ``.`` and ``-`` become ``_``; an empty or
    over-long UID gets a random name, so a peer cannot choose a path.

    Parameters
    ----------
    sop_instance_uid : str
        The Affected SOP Instance UID of the C-STORE request.

    Returns
    -------
    str
        A file name without folders.

    Examples
    --------
    >>> instance_file_name("1.2.840.113619.2.1")
    '1.2.840.113619.2.1.dcm'
    >>> instance_file_name("../../etc/passwd")
    '.._.._etc_passwd.dcm'
    """
    clean = _UNSAFE.sub("_", sop_instance_uid.strip().strip("\0 "))
    if not clean.strip("._") or len(clean) > 128:
        clean = f"unnamed-{uuid.uuid4().hex}"
    return f"{clean}.dcm"


def _set_nodelay(sock: socket.socket | None) -> None:
    """Turn Nagle off: a C-STORE exchange is many small PDUs (about 88 -> 47 ms each)."""
    if sock is None:
        return
    with contextlib.suppress(OSError):  # not TCP or already closed: nothing to gain
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


#: How long :meth:`StorageServer.shutdown` lets open associations end before aborting them.
CLOSE_GRACE_SECONDS = 5.0


class StorageServer:
    """A DICOM Storage SCP: answers C-ECHO and files every C-STORE into a folder.

    Each received instance is written as a DICOM Part 10 file named after its SOP
    Instance UID (:func:`instance_file_name`) into ``incoming``, then ``on_file`` is
    called with its path from pynetdicom's association thread and its return value is
    the C-STORE status sent back. Without ``on_file`` the status is success.

    Parameters
    ----------
    ae_title : str
        Our AE title (the scanner's "called AE").
    incoming : Path
        Folder for the received files; created when missing.
    on_file : callable, optional
        ``on_file(path) -> status``; an exception in it is answered with 0xC000.
    host : str
        Address to listen on (default loopback only).
    port : int
        TCP port; 0 picks a free one (see :attr:`address`).
    allowed_callers : sequence of str, optional
        The calling AE titles accepted; an association from any other is rejected
        ("calling AE title not recognised"). None accepts every caller.
    on_refused : callable, optional
        ``on_refused(calling_ae, peer_address)``, called from the association thread for
        each rejected association.
    """

    def __init__(
        self,
        ae_title: str,
        incoming: Path,
        on_file: FileCallback | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 11112,
        allowed_callers: Sequence[str] | None = None,
        on_refused: Callable[[str, str], None] | None = None,
    ) -> None:
        self.ae_title = ae_title
        self.incoming = Path(incoming)
        self.on_file = on_file
        self.host = host
        self.port = port
        self.allowed_callers = None if allowed_callers is None else list(allowed_callers)
        self.on_refused = on_refused
        self._ae: Any = None
        self._server: Any = None

    # --- life cycle ---------------------------------------------------------------------

    def start(self, block: bool = False) -> None:
        """Start listening; with ``block=True`` serve until interrupted.

        Raises
        ------
        DicomNetError
            When the port cannot be bound (in use, or a privileged port).
        OSError
            When the incoming folder cannot be created.
        """
        self.incoming.mkdir(parents=True, exist_ok=True)
        ae = AE(ae_title=self.ae_title)
        ae.require_called_aet = True  # a scanner configured with the wrong title is told so
        if self.allowed_callers is not None:
            ae.require_calling_aet = self.allowed_callers
        for cx in AllStoragePresentationContexts:
            if cx.abstract_syntax is not None:
                ae.add_supported_context(cx.abstract_syntax, list(TRANSFER_SYNTAXES))
        ae.add_supported_context(VERIFICATION, list(TRANSFER_SYNTAXES[:4]))
        handlers: list[Any] = [
            (evt.EVT_CONN_OPEN, self._handle_open),
            (evt.EVT_C_ECHO, self._handle_echo),
            (evt.EVT_C_STORE, self._handle_store),
            (evt.EVT_REJECTED, self._handle_rejected),
        ]
        self._ae = ae
        try:
            self._server = ae.start_server(
                (self.host, self.port), block=block, evt_handlers=handlers
            )
        except OSError as exc:
            self._ae = None
            raise DicomNetError(
                _("Cannot listen on {host}:{port}: {reason}").format(
                    host=self.host, port=self.port, reason=exc.strerror or exc
                ),
                _("Choose another port, or stop the program that uses it."),
            ) from exc

    @property
    def address(self) -> tuple[str, int]:
        """The ``(host, port)`` the server listens on (the real port when 0 was given)."""
        if self._server is None:
            return (self.host, self.port)
        host, port = self._server.server_address[:2]
        return (str(host), int(port))

    @property
    def running(self) -> bool:
        """Whether the server was started and not yet shut down."""
        return self._ae is not None

    def shutdown(self) -> None:
        """Stop listening, let closing associations finish briefly, then abort the rest.

        An association that was just rejected or released is still closing its socket;
        aborting it at that moment makes pynetdicom raise in its own thread, so each open
        association gets up to :data:`CLOSE_GRACE_SECONDS` to end first (idempotent).
        """
        ae, self._ae = self._ae, None
        server, self._server = self._server, None
        if ae is None:
            return
        if server is not None:
            with contextlib.suppress(Exception):
                server.shutdown()  # no new associations
        deadline = time.monotonic() + CLOSE_GRACE_SECONDS
        for assoc in list(getattr(ae, "active_associations", [])):
            with contextlib.suppress(Exception):
                assoc.join(timeout=max(0.0, deadline - time.monotonic()))
        ae.shutdown()

    def __enter__(self) -> StorageServer:
        self.start(block=False)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    # --- event handlers (pynetdicom association threads) ------------------------------

    def _handle_open(self, event: Any) -> None:
        _set_nodelay(getattr(event.assoc.dul.socket, "socket", None))

    def _handle_rejected(self, event: Any) -> None:
        calling = ""
        with contextlib.suppress(Exception):
            calling = str(event.assoc.requestor.ae_title).strip()
        peer = ""
        with contextlib.suppress(Exception):
            peer = f"{event.assoc.requestor.address}:{event.assoc.requestor.port}"
        LOGGER.warning("association from %s (%s) rejected", calling, peer)
        if self.on_refused is not None:
            self.on_refused(calling, peer)

    def _handle_echo(self, event: Any) -> int:
        return STATUS_SUCCESS

    def _handle_store(self, event: Any) -> int:
        try:
            uid = str(event.request.AffectedSOPInstanceUID or "")
            data = event.encoded_dataset(include_meta=True)
        except Exception:  # a malformed request: pynetdicom would answer 0xC211
            LOGGER.exception("C-STORE request could not be read")
            return STATUS_CANNOT_UNDERSTAND
        path = self.incoming / instance_file_name(uid)
        try:
            self._write(path, data)
        except OSError:
            LOGGER.exception("cannot write %s", path)
            return STATUS_OUT_OF_RESOURCES
        if self.on_file is None:
            return STATUS_SUCCESS
        try:
            return int(self.on_file(path))
        except Exception:
            LOGGER.exception("on_file failed for %s", path)
            return STATUS_CANNOT_UNDERSTAND

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        """Write atomically: a half-written file never carries the final name."""
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            with tmp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


# --- SCU helpers ------------------------------------------------------------------------


class _ClosingSocket(AssociationSocket):
    """pynetdicom 3.0.4 socket that is closed even when ``shutdown()`` fails.

    On a refused connection pynetdicom calls ``shutdown()`` on the unconnected socket,
    which raises before ``close()`` and leaks the socket (a ResourceWarning; pynetdicom
    issue #979, fixed by PR #999 after 3.0.4). Nagle is also turned off before connecting.
    """

    def _shutdown_socket(self) -> None:
        sock = self.socket
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


class _RequestorAE(AE):
    """AE whose outgoing associations use :class:`_ClosingSocket` with TCP_NODELAY."""

    def _create_socket(self, assoc: Any, address: Any, tls_args: Any) -> AssociationSocket:
        sock = _ClosingSocket(assoc, address=address)
        sock.tls_args = tls_args
        _set_nodelay(sock.socket)
        return sock


def _associate(
    ae: Any, host: str, port: int, called_ae: str
) -> Any:  # pynetdicom.association.Association
    assoc = ae.associate(host, port, ae_title=called_ae)
    if not assoc.is_established:
        if assoc.is_rejected:
            reason = _("the association was rejected (check the AE titles)")
        elif assoc.is_aborted:
            reason = _("the association was aborted")
        else:
            reason = _("no connection")
        raise DicomNetError(
            _("DICOM peer {ae} at {host}:{port}: {reason}").format(
                ae=called_ae, host=host, port=port, reason=reason
            ),
            _("Check host, port and AE title, and that the peer is running."),
        )
    return assoc


def echo(
    host: str, port: int, called_ae: str, calling_ae: str = "DXA", *, timeout: float = 10.0
) -> bool:
    """Send a C-ECHO (DICOM "ping").

    Parameters
    ----------
    host, port : str, int
        The peer.
    called_ae : str
        The peer's AE title.
    calling_ae : str
        Our AE title.
    timeout : float
        Seconds to wait for the connection and each reply.

    Returns
    -------
    bool
        True when the peer answered with status Success.
    """
    ae = _RequestorAE(ae_title=calling_ae)
    ae.connection_timeout = ae.acse_timeout = ae.dimse_timeout = timeout
    ae.add_requested_context(VERIFICATION)
    try:
        assoc = _associate(ae, host, port, called_ae)
    except DicomNetError:
        return False
    try:
        status = assoc.send_c_echo()
        return bool(status) and int(status.Status) == STATUS_SUCCESS
    finally:
        assoc.release()
        ae.shutdown()


def _contexts(metas: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Map each SOP class to the transfer syntaxes to propose for it."""
    out: dict[str, list[str]] = {}
    for sop_class, ts in metas:
        wanted = out.setdefault(sop_class, [])
        for syntax in (ts, *_UNCOMPRESSED) if UID(ts) in _UNCOMPRESSED else (ts,):
            if syntax not in wanted:
                wanted.append(syntax)
    return out


def send_files(
    host: str,
    port: int,
    called_ae: str,
    calling_ae: str,
    files: Sequence[Path],
    *,
    timeout: float = 30.0,
) -> list[tuple[Path, int]]:
    """Send DICOM Part 10 files with C-STORE over one association.

    Parameters
    ----------
    host, port : str, int
        The peer (a PACS or our own receiver).
    called_ae : str
        The peer's AE title.
    calling_ae : str
        Our AE title.
    files : sequence of Path
        The files; at most 128 different SOP class / transfer syntax combinations.
    timeout : float
        Seconds to wait for the connection and each reply.

    Returns
    -------
    list of (Path, int)
        Each file with the peer's C-STORE status (0x0000 = success). A file that
        cannot be read, has no accepted presentation context or got no reply is
        reported with :data:`STATUS_LOCAL_FAILURE` (0x0110).

    Raises
    ------
    DicomNetError
        When the association cannot be established.
    """
    metas: dict[Path, tuple[str, str]] = {}
    results: dict[Path, int] = {}
    for f in files:
        try:
            meta = read_file_meta_info(f)
            metas[f] = (str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID))
        except (OSError, AttributeError, ValueError) as exc:
            LOGGER.warning("cannot send %s: %s", f, exc)
            results[f] = STATUS_LOCAL_FAILURE
    contexts = _contexts(metas.values())
    if metas:
        if len(contexts) > _MAX_CONTEXTS:
            raise DicomNetError(
                _("Too many kinds of DICOM objects to send at once ({n}).").format(n=len(contexts)),
                _("Send the files in smaller groups."),
            )
        ae = _RequestorAE(ae_title=calling_ae)
        ae.connection_timeout = ae.acse_timeout = ae.dimse_timeout = timeout
        for sop_class, syntaxes in contexts.items():
            ae.add_requested_context(sop_class, syntaxes)
        assoc = _associate(ae, host, port, called_ae)
        try:
            for f in metas:
                results[f] = _store_one(assoc, f)
        finally:
            if assoc.is_established:
                assoc.release()
            ae.shutdown()
    return [(f, results[f]) for f in files]


def _store_one(assoc: Any, path: Path) -> int:
    if not assoc.is_established:
        return STATUS_LOCAL_FAILURE
    try:
        status = assoc.send_c_store(path)
    except (OSError, ValueError, AttributeError) as exc:
        LOGGER.warning("cannot send %s: %s", path, exc)
        return STATUS_LOCAL_FAILURE
    if not status or "Status" not in status:
        return STATUS_LOCAL_FAILURE
    return int(status.Status)
