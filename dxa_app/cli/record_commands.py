"""CLI of the record out: ``export``, ``send-hl7`` and ``hl7 outbox|deliver|retry|receiver``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from dxa_app.cli import ExitCode, command, emit, handles, login
from dxa_app.cli.centre_commands import _dispatch, _sub
from dxa_app.errors import UsageError
from dxa_app.i18n import _

if TYPE_CHECKING:
    from dxa_app.services.patient_record import OutboxRow


def _export(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.patient_record import export_record

    r = export_record(login(args), args.study, args.format, Path(args.out))
    emit(
        args,
        r.to_dict(),
        _(
            "Wrote the signed report of study {id} (version {v}, {status}) as {fmt} to {path}."
        ).format(id=r.study_id, v=r.version_no, status=r.result_status, fmt=r.format, path=r.path),
    )
    return ExitCode.OK


@command("export", "write the signed report for the patient record: HL7 v2 or FHIR, to a file")
@handles(_export)
def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY", help=_("study id or Study Instance UID"))
    p.add_argument(
        "--format",
        required=True,
        choices=("hl7v2", "fhir"),
        help=_("hl7v2 (ORU^R01, ER7) or fhir (R4 Bundle, JSON)"),
    )
    p.add_argument("--out", required=True, metavar="FILE", help=_("the file to write (new)"))


def _row_line(r: OutboxRow) -> str:
    state = {"pending": _("waiting"), "delivered": _("delivered"), "failed": _("failed")}.get(
        r.state, r.state
    )
    text = _("#{id} study {study} v{v} {status} {control}: {state}, {n} attempts").format(
        id=r.id,
        study=r.study_id,
        v=r.version_no,
        status=r.result_status,
        control=r.control_id,
        state=state,
        n=r.attempts,
    )
    if r.ack_code:
        text += f", ACK {r.ack_code}"
    if r.state != "delivered" and r.last_error and r.last_error != "sending":
        text += f" ({r.last_error})"
    return text


def _send_hl7(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.patient_record import send_hl7

    rows = send_hl7(login(args), args.study)
    emit(args, [r.to_dict() for r in rows], "\n".join(_row_line(r) for r in rows))
    return ExitCode.OK if rows and rows[0].state == "delivered" else ExitCode.PARTIAL


@command("send-hl7", "send the signed report to the patient record (HL7 v2 over MLLP)")
@handles(_send_hl7)
def _send_hl7_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY", help=_("study id or Study Instance UID"))


def _outbox(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.patient_record import hl7_outbox

    rows = hl7_outbox(login(args), args.study)
    text = "\n".join(_row_line(r) for r in rows) or _("The HL7 outbox is empty.")
    emit(args, [r.to_dict() for r in rows], text)
    return ExitCode.OK


def _deliver(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.patient_record import deliver_outbox

    report = deliver_outbox(login(args))
    lines = [_row_line(r) for r in report.tried]
    lines.append(
        _("Delivered {d}, waiting {w}, failed {f}.").format(
            d=report.delivered, w=report.waiting, f=report.failed
        )
    )
    emit(args, report.to_dict(), "\n".join(lines))
    return ExitCode.OK if report.waiting == 0 and report.failed == 0 else ExitCode.PARTIAL


def _retry(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.patient_record import retry_hl7

    row = retry_hl7(login(args), args.id)
    emit(args, row.to_dict(), _row_line(row))
    return ExitCode.OK


def _receiver(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.patient_record import Hl7Receiver, hl7_receiver, set_hl7_receiver

    session = login(args)
    if args.host is not None or args.port is not None:
        if args.host is None or args.port is None:
            raise UsageError(_("Give --host and --port together."), "")
        receiver = set_hl7_receiver(
            session,
            Hl7Receiver(
                args.host,
                args.port,
                args.receiving_application or "",
                args.receiving_facility or "",
                args.sending_facility or "",
            ),
        )
    else:
        found = hl7_receiver(session)
        if found is None:
            emit(args, None, _("No HL7 receiver is set."))
            return ExitCode.OK
        receiver = found
    emit(
        args,
        receiver.to_dict(),
        _("HL7 receiver: {address}, application {app}, facility {fac}.").format(
            address=receiver.address,
            app=receiver.receiving_application or "-",
            fac=receiver.receiving_facility or "-",
        ),
    )
    return ExitCode.OK


@command("hl7", "the HL7 outbox: list, deliver what is due, retry; the receiver (administrator)")
@handles(_dispatch)
def _hl7_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="hl7_action", metavar="ACTION", parser_class=type(p))
    sub.required = True
    o = _sub(sub, "outbox", _("list the outbox with the state of each message"), _outbox)
    o.add_argument("--study", metavar="STUDY", help=_("only this study"))
    _sub(sub, "deliver", _("try every queued message that is due"), _deliver)
    r = _sub(sub, "retry", _("queue a refused (AE) message again"), _retry)
    r.add_argument("id", type=int, metavar="ID", help=_("the outbox message id"))
    c = _sub(sub, "receiver", _("show the HL7 receiver, or set it (administrator)"), _receiver)
    c.add_argument("--host", help=_("the receiver's host"))
    c.add_argument("--port", type=int, help=_("the receiver's MLLP port"))
    c.add_argument("--receiving-application", help=_("MSH-5, the receiving application"))
    c.add_argument("--receiving-facility", help=_("MSH-6, the receiving facility"))
    c.add_argument("--sending-facility", help=_("MSH-4, this department (default: the site)"))
