"""CLI subcommands of the standardized report: report, sign, amend, verify, send."""

from __future__ import annotations

import argparse
from pathlib import Path

from dxa_app.cli import ExitCode, command, emit, handles, login, login_password
from dxa_app.errors import UsageError
from dxa_app.i18n import _


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def _lang(args: argparse.Namespace) -> str:
    """The report language: --lang (which also sets the messages), else the current one."""
    from dxa_app.i18n import current_language

    return str(getattr(args, "lang", None) or current_language())


def _worklist(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.worklist import (
        count_older_pending,
        count_pending_reports,
        pending_reports,
        worklist_filter,
    )

    session = login(args)
    where = worklist_filter(
        session, days=args.days, site=args.site or "", scanner_serial=args.scanner or ""
    )
    rows = pending_reports(session, where=where)
    lines = [
        f"{r.study_id:>5}  {r.study_date}  {r.patient_identifier:<12} {r.site:<12} "
        f"{r.scanner} ({r.serial})  {r.days_waiting:>4} d  {r.report_status}"
        for r in rows
    ]
    text = "\n".join(lines)
    if not rows:
        older = count_older_pending(session, where)
        if older and where.days is not None:
            text = _(
                "No unsigned studies in the last {days} days – {n} older: choose a longer period."
            ).format(days=where.days, n=older)
        else:
            text = _("No studies wait for a report.")
    data = {"total": count_pending_reports(session, where=where), "studies": rows}
    emit(args, data, text)
    return ExitCode.OK


@command("worklist", "list the studies waiting for a signed report (default: the last 30 days)")
@handles(_worklist)
def _worklist_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--days",
        type=int,
        default=30,
        metavar="N",
        help=_("only studies of the last N days (default 30; 0: every date)"),
    )
    p.add_argument("--site", metavar="CODE", help=_("only studies of this site"))
    p.add_argument(
        "--scanner", metavar="SERIAL", help=_("only studies of the scanner with this serial")
    )


def _report(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.reporting import edit_draft, open_report, patient_summary

    session = login(args)
    lang = _lang(args)
    if args.conclusion is not None or args.recommendation is not None:
        version, pdf = edit_draft(
            session,
            args.study,
            lang=lang,
            level=args.level,
            conclusion=args.conclusion,
            recommendation=args.recommendation,
        )
    else:
        version, pdf = open_report(session, args.study, lang=lang, level=args.level)
    if args.summary:
        Path(args.summary).write_bytes(
            patient_summary(session, args.study, lang=lang, level=args.level)
        )
    Path(args.out).write_bytes(pdf)
    emit(
        args,
        {**version.to_dict(), "out": args.out, "bytes": len(pdf)},
        _("Report of study {id}, version {v} ({status}), written to {out}.").format(
            id=version.study_id, v=version.version_no, status=version.status, out=args.out
        ),
    )
    return ExitCode.OK


@command("report", "write the DXA report of a study as PDF (the draft, or the signed version)")
@handles(_report)
def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY", help=_("study id or Study Instance UID"))
    p.add_argument("--out", required=True, metavar="FILE", help=_("the PDF file to write"))
    p.add_argument(
        "--level", choices=("A", "B"), default="A", help=_("A: required minimum; B: extended")
    )
    p.add_argument(
        "--conclusion", help=_("the physician's conclusion (edits the draft; physician only)")
    )
    p.add_argument(
        "--recommendation",
        help=_("the physician's recommendation (edits the draft; physician only)"),
    )
    p.add_argument("--summary", metavar="FILE", help=_("also write the patient summary PDF"))


def _sign(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.reporting import sign_report

    session = login(args)
    v = sign_report(
        session,
        args.study,
        password=login_password(args),
        key_pem=_read(args.key),
        cert_pem=_read(args.cert),
    )
    emit(
        args,
        v.to_dict(),
        _("Signed version {v} of study {id} (SHA-256 {sha}).").format(
            v=v.version_no, id=v.study_id, sha=v.pdf_sha256
        ),
    )
    return ExitCode.OK


def _signing_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY", help=_("study id or Study Instance UID"))
    p.add_argument("--key", metavar="PEM", help=_("your signing key (PAdES signature)"))
    p.add_argument("--cert", metavar="PEM", help=_("your certificate (PAdES signature)"))


@command("sign", "sign the draft report of a study (physician; password re-entered)")
@handles(_sign)
def _sign_args(p: argparse.ArgumentParser) -> None:
    _signing_args(p)


def _amend(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.reporting import amend_report

    session = login(args)
    v = amend_report(
        session,
        args.study,
        password=login_password(args),
        reason=args.reason,
        conclusion=args.conclusion,
        recommendation=args.recommendation,
        key_pem=_read(args.key),
        cert_pem=_read(args.cert),
    )
    emit(
        args,
        v.to_dict(),
        _("Amendment version {v} of study {id} signed.").format(v=v.version_no, id=v.study_id),
    )
    return ExitCode.OK


@command("amend", "amend a signed report: a new signed version with a reason")
@handles(_amend)
def _amend_args(p: argparse.ArgumentParser) -> None:
    _signing_args(p)
    p.add_argument("--reason", required=True, help=_("why the report is amended"))
    p.add_argument("--conclusion", help=_("the new conclusion"))
    p.add_argument("--recommendation", help=_("the new recommendation"))


def _verify(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.report_verify import verify_report

    result = verify_report(
        login(args), args.study, pdf_file=_read(args.file), seal_keys=args.seal_key or None
    )
    lines = [
        ("OK    " if c["ok"] else "FAIL  ")
        + c["check"]
        + (f" ({c['detail']})" if c.get("detail") else "")
        for c in result.checks
    ]
    lines.append(
        _("Verified: the signed report is intact.")
        if result.ok
        else _("NOT verified: see the failed checks.")
    )
    emit(args, result.to_dict(), "\n".join(lines))
    return ExitCode.OK if result.ok else ExitCode.ERROR


@command("verify", "check a study's signed report: stored hash, audit log, PAdES signature")
@handles(_verify)
def _verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY", help=_("study id or Study Instance UID"))
    p.add_argument("--file", metavar="PDF", help=_("also check this PDF file"))
    p.add_argument(
        "--seal-key",
        action="append",
        metavar="KEY",
        help=_("pin this seal public key instead of this machine's (repeatable)"),
    )


def _send(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.pacs import PacsTarget, send_report, write_report_file

    target = None
    given = (args.host, args.port, args.called_ae)
    if args.to_file:
        if any(v is not None for v in given):
            raise UsageError(_("Give --to-file or a PACS (--host, --port, --called-ae), not both."))
        f = write_report_file(login(args), args.study, Path(args.to_file))
        emit(
            args,
            f.to_dict(),
            _("Wrote the signed report of study {id} as DICOM to {path} ({n} bytes).").format(
                id=f.study_id, path=f.path, n=f.bytes
            ),
        )
        return ExitCode.OK
    if any(v is not None for v in given):
        if not all(v is not None for v in given):
            raise UsageError(
                _("Give --host, --port and --called-ae together (or none: the stored PACS)."),
                "",
            )
        target = PacsTarget(args.host, args.port, args.called_ae, args.calling_ae)
    r = send_report(login(args), args.study, target)
    emit(
        args,
        r.to_dict(),
        _("Sent the signed report of study {id} to {ae} ({status:#06x}).").format(
            id=r.study_id, ae=r.target.called_ae, status=r.status
        ),
    )
    return ExitCode.OK if r.ok else ExitCode.ERROR


@command("send", "send the signed report to PACS (DICOM Encapsulated PDF), or to a file")
@handles(_send)
def _send_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY", help=_("study id or Study Instance UID"))
    p.add_argument(
        "--to-file",
        metavar="FILE",
        help=_("write the DICOM object to FILE instead of sending it (for a manual PACS import)"),
    )
    p.add_argument("--host", help=_("PACS host (default: the stored PACS)"))
    p.add_argument("--port", type=int, help=_("PACS DICOM port"))
    p.add_argument("--called-ae", help=_("the PACS AE title"))
    p.add_argument("--calling-ae", default="DXA", help=_("our AE title (default DXA)"))


def _pacs(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.pacs import PacsTarget, pacs_target, set_pacs_target

    session = login(args)
    given = (args.host, args.port, args.called_ae)
    if any(v is not None for v in given):
        if not all(v is not None for v in given):
            raise UsageError(_("Give --host, --port and --called-ae together."), "")
        target: PacsTarget | None = set_pacs_target(
            session, PacsTarget(args.host, args.port, args.called_ae, args.calling_ae)
        )
    else:
        target = pacs_target(session)
    if target is None:
        emit(args, None, _("No PACS address is stored."))
        return ExitCode.OK
    emit(
        args,
        target.to_dict(),
        _("PACS: {host}:{port}, AE title {ae} (we call as {calling}).").format(
            host=target.host, port=target.port, ae=target.called_ae, calling=target.calling_ae
        ),
    )
    return ExitCode.OK


@command("pacs", "show the stored PACS address, or store it (administrator)")
@handles(_pacs)
def _pacs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help=_("PACS host"))
    p.add_argument("--port", type=int, help=_("PACS DICOM port"))
    p.add_argument("--called-ae", help=_("the PACS AE title"))
    p.add_argument("--calling-ae", default="DXA", help=_("our AE title (default DXA)"))


def _trust_signer(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.signers import trust_signer

    r = trust_signer(login(args), Path(args.cert).read_bytes())
    emit(
        args,
        r,
        _("Signer trusted: {subject} (SHA-256 {sha}).").format(
            subject=r["subject"], sha=r["sha256"][:16]
        ),
    )
    return ExitCode.OK


@command("trust-signer", "trust a physician's certificate for PAdES signatures (administrator)")
@handles(_trust_signer)
def _trust_signer_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("cert", metavar="CERT", help=_("the physician's certificate (PEM)"))


def _seal_key(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.signers import pin_seal_key, seal_key

    session = login(args)
    if args.trust:
        r = pin_seal_key(session, args.trust)
        emit(args, r, _("Seal key pinned (fingerprint {fp}).").format(fp=r["fingerprint"]))
        return ExitCode.OK
    k = seal_key(session)
    emit(
        args,
        k,
        _("This workstation's seal key: {key} (fingerprint {fp}); {n} keys pinned.").format(
            key=k["public_key"], fp=k["fingerprint"], n=len(k["pinned"])
        ),
    )
    return ExitCode.OK


@command("seal-key", "show this workstation's archive seal key, or pin another one (--trust)")
@handles(_seal_key)
def _seal_key_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust", metavar="KEY", help=_("pin another workstation's seal key (administrator)")
    )
