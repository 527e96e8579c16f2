"""CLI subcommands of the standardized report: report, sign, amend, verify, send."""

from __future__ import annotations

import argparse
from pathlib import Path

from dxa_app.cli import ExitCode, command, emit, handles
from dxa_app.cli.calibration_commands import _archive, _password, _user_args
from dxa_app.domain import Role
from dxa_app.i18n import _


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def _lang(args: argparse.Namespace) -> str:
    """The report language: --lang (which also sets the messages), else the current one."""
    from dxa_app.i18n import current_language

    return str(getattr(args, "lang", None) or current_language())


def _report(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.reporting import latest_version, save_draft, stored_pdf
    from dxa_app.services.scoring import study_id_for

    with _archive(args) as db:
        study_id = study_id_for(db, args.study)
        latest = latest_version(db, study_id)
        if (
            latest is not None
            and latest.status != "draft"
            and not (args.conclusion or args.recommendation)
        ):
            pdf, version = stored_pdf(db, latest.id), latest
        else:
            version, pdf = save_draft(
                db,
                study_id,
                lang=_lang(args),
                level=args.level,
                conclusion=args.conclusion,
                recommendation=args.recommendation,
            )
        if args.summary:
            from dxa_app.i18n import translator
            from dxa_app.services.reporting import build_report_data
            from reports.pdf import render_patient_summary

            data = build_report_data(db, study_id, lang=_lang(args), level=args.level)
            Path(args.summary).write_bytes(render_patient_summary(data, translator(_lang(args))))
    Path(args.out).write_bytes(pdf)
    emit(
        args,
        {**version.to_dict(), "out": args.out, "bytes": len(pdf)},
        _("Report of study {id}, version {v} ({status}), written to {out}.").format(
            id=study_id, v=version.version_no, status=version.status, out=args.out
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
    p.add_argument("--conclusion", help=_("the physician's conclusion (edits the draft)"))
    p.add_argument("--recommendation", help=_("the physician's recommendation (edits the draft)"))
    p.add_argument("--summary", metavar="FILE", help=_("also write the patient summary PDF"))


def _sign(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.reporting import sign
    from dxa_app.services.scoring import study_id_for
    from dxa_app.services.users import require_role

    with _archive(args) as db:
        user = require_role(db, args.user, _password(args), Role.PHYSICIAN)
        v = sign(
            db,
            study_id_for(db, args.study),
            user=user.username,
            role=user.role,
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
    _user_args(p)
    p.add_argument("--key", metavar="PEM", help=_("your signing key (PAdES signature)"))
    p.add_argument("--cert", metavar="PEM", help=_("your certificate (PAdES signature)"))


@command("sign", "sign the draft report of a study (physician; password re-entered)")
@handles(_sign)
def _sign_args(p: argparse.ArgumentParser) -> None:
    _signing_args(p)


def _amend(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.reporting import amend
    from dxa_app.services.scoring import study_id_for
    from dxa_app.services.users import require_role

    with _archive(args) as db:
        user = require_role(db, args.user, _password(args), Role.PHYSICIAN)
        v = amend(
            db,
            study_id_for(db, args.study),
            user=user.username,
            role=user.role,
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
    from dxa_app.services.reporting import verify
    from dxa_app.services.scoring import study_id_for

    with _archive(args) as db:
        result = verify(db, study_id_for(db, args.study), pdf_file=_read(args.file))
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


def _send(args: argparse.Namespace) -> ExitCode:
    from dxa_app.archive.db import audit
    from dxa_app.report_out import send_report
    from dxa_app.services.reporting import dicom_for
    from dxa_app.services.scoring import study_id_for

    with _archive(args) as db:
        study_id = study_id_for(db, args.study)
        ds = dicom_for(db, study_id)
        status = send_report(
            ds, host=args.host, port=args.port, called_ae=args.called_ae, calling_ae=args.calling_ae
        )
        audit(
            db,
            "report_send",
            entity="study",
            entity_id=study_id,
            details={
                "host": args.host,
                "port": args.port,
                "ae": args.called_ae,
                "sop_instance_uid": str(ds.SOPInstanceUID),
                "status": status,
            },
        )
    emit(
        args,
        {"study_id": study_id, "sop_instance_uid": str(ds.SOPInstanceUID), "status": status},
        _("Sent the signed report of study {id} to {ae} ({status:#06x}).").format(
            id=study_id, ae=args.called_ae, status=status
        ),
    )
    return ExitCode.OK if status == 0 else ExitCode.ERROR


@command("send", "send the signed report to PACS as DICOM Encapsulated PDF (C-STORE)")
@handles(_send)
def _send_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY", help=_("study id or Study Instance UID"))
    p.add_argument("--host", required=True, help=_("PACS host"))
    p.add_argument("--port", type=int, required=True, help=_("PACS DICOM port"))
    p.add_argument("--called-ae", required=True, help=_("the PACS AE title"))
    p.add_argument("--calling-ae", default="DXA", help=_("our AE title (default DXA)"))
