"""DICOM network subcommands: ``receive`` files from scanners straight into the archive."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from dxa_app.cli import ExitCode, archive_path, command, emit, handles, login
from dxa_app.domain import ImportOutcome
from dxa_app.i18n import _
from dxa_app.progress import CancelToken

__all__ = ["default_incoming"]


def default_incoming(archive: Path) -> Path:
    """Return the folder received files are kept in beside ``archive`` (see the service).

    Parameters
    ----------
    archive : Path
        The archive file.

    Returns
    -------
    Path
        The incoming folder.
    """
    # deferred: the receiving service loads pynetdicom and pydicom, which other commands skip
    from dxa_app.services.receiving import default_incoming as incoming

    return incoming(archive)


DEFAULT_PORT = 11112
DEFAULT_AE_TITLE = "DXA"
DEFAULT_HOST = "127.0.0.1"


@contextmanager
def _stop_on_signals(token: CancelToken) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into a cancel of ``token`` while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [signal.SIGINT, signal.SIGTERM]
    previous: dict[signal.Signals, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        token.cancel()

    for sig in wanted:
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _outcome_printer(as_json: bool) -> Callable[[ImportOutcome], None]:
    def show(o: ImportOutcome) -> None:
        if as_json:
            line = json.dumps(
                {
                    "path": o.path,
                    "status": str(o.status),
                    "reader": o.reader,
                    "reason": o.reason,
                    "rows_added": o.rows_added,
                    "analysis_not_understood": list(o.not_understood),
                },
                ensure_ascii=False,
                sort_keys=True,
            )
        else:
            line = f"{o.status}: {o.path}" + (f" ({o.reason})" if o.reason else "")
            if o.not_understood:
                line += (
                    " ("
                    + _("analysis data not understood: {what}").format(
                        what="; ".join(o.not_understood)
                    )
                    + ")"
                )
        print(line, flush=True)

    return show


def _receive(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.receiving import receive

    archive = archive_path(args)
    incoming = Path(args.incoming) if args.incoming else default_incoming(archive)
    as_json = bool(getattr(args, "json", False))
    token = CancelToken()

    def ready(address: tuple[str, int]) -> None:
        print(
            _(
                "Listening on {host}:{port} as AE title {ae}; received files go to {folder}. "
                "Press Ctrl+C to stop."
            ).format(host=address[0], port=address[1], ae=args.ae_title, folder=incoming),
            file=sys.stderr,
            flush=True,
        )

    session = login(args)
    with _stop_on_signals(token):
        summary = receive(
            session,
            host=args.host,
            port=args.port,
            ae_title=args.ae_title,
            incoming=incoming,
            on_outcome=_outcome_printer(as_json),
            stop=token,
            on_ready=ready,
        )
    c = summary.counts
    if as_json:
        print(
            json.dumps(
                {"archive": str(archive), "batch": summary.batch, "counts": c},
                ensure_ascii=False,
                sort_keys=True,
            ),
            flush=True,
        )
    else:
        print(
            _(
                "Stopped. Received {n} files: imported {imported}, imported with analysis data"
                " not understood {partial}, duplicates {duplicate}, skipped {skipped},"
                " failed {failed}."
            ).format(n=len(summary.outcomes), partial=c["imported_analysis_not_understood"], **c),
            flush=True,
        )
    return ExitCode.OK


def _ae_title(value: str) -> str:
    v = value.strip()
    if not v or len(v) > 16 or "\\" in v or not v.isascii():
        raise argparse.ArgumentTypeError(_("an AE title is 1 to 16 ASCII characters"))
    return v


def _port(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = -1
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError(_("a port is a number from 0 to 65535"))
    return n


@command("receive", "receive DICOM from scanners (C-STORE) and import it into the archive")
@handles(_receive)
def _receive_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=_("TCP port to listen on (default {port})").format(port=DEFAULT_PORT),
    )
    p.add_argument(
        "--ae-title",
        type=_ae_title,
        default=DEFAULT_AE_TITLE,
        metavar="AET",
        help=_("our AE title; the scanner must call it (default {ae})").format(ae=DEFAULT_AE_TITLE),
    )
    p.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=_(
            "address to listen on (default {host}, this computer only; "
            "0.0.0.0 listens on every network interface)"
        ).format(host=DEFAULT_HOST),
    )
    p.add_argument(
        "--incoming",
        metavar="DIR",
        help=_("folder for received files (default: '<archive>-incoming' beside the archive)"),
    )


def _receive_allow(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.receiving import allow_caller, allowed_callers

    session = login(args)
    if args.ae_title:
        callers = allow_caller(session, args.ae_title, remove=args.remove)
    else:
        callers = allowed_callers(session)
    emit(
        args,
        callers,
        _("Calling AE titles the receiver accepts: {titles}").format(
            titles=", ".join(callers) or "-"
        ),
    )
    return ExitCode.OK


@command(
    "receive-allow",
    "list, register or remove the scanners (calling AE titles) the receiver accepts",
)
@handles(_receive_allow)
def _receive_allow_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "ae_title", nargs="?", metavar="AE_TITLE", help=_("the scanner's own AE title (admin)")
    )
    p.add_argument("--remove", action="store_true", help=_("remove it instead"))
