"""CLI subcommands of the calibration engine (qc, calibrate, steps, approve, scores, users...)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from dxa_app.cli import (
    ExitCode,
    archive_path,
    command,
    emit,
    handles,
    login,
    login_password,
    read_password,
)
from dxa_app.domain import Role
from dxa_app.errors import UsageError
from dxa_app.i18n import _

# --- qc -----------------------------------------------------------------------------------


def _drift_words(p: dict[str, Any]) -> str:
    """One line: a step (factor from a date) or a ramp (from a date to its end)."""
    if p.get("model") == "ramp":
        return _(
            "slow drift from {start} to {end}: correction factor {factor:.4f} by {end}"
            " ({per_day:+.5f} a day), held after"
        ).format(start=p["start"], end=p["ramp_end"], factor=p["factor"], per_day=p["per_day"])
    return _("drift from {start}: correction factor {factor:.4f}").format(
        start=p["start"], factor=p["factor"]
    )


def _qc_lines(q: Any) -> list[str]:
    """The text of one scanner's QC (today's state, segments, rules, CUSUM, drift)."""
    d = q.to_dict()
    status = q.today_status.upper()
    if q.today_status == "no QC today":
        status = _("NO QC TODAY (last QC {days} days ago: {status})").format(
            days=q.days_since_last, status=q.status
        )
    elif q.status == "baseline in progress":
        done, need = q.baseline_progress
        status = _("NEW BASELINE IN PROGRESS ({done} of {need} scans)").format(done=done, need=need)
    lines = [f"{q.site:<22} {q.serial:<16} {q.n_scans:>4} {q.last or '':<10} {status}"]
    if q.problem:
        lines.append("    " + q.problem)
    if len(q.segments) > 1:
        for seg in d["segments"]:
            lines.append(
                "    "
                + _("baseline from {started} ({kind}{reason}): {n} scans").format(
                    started=seg["first"] or seg["started"],
                    kind=seg["kind"],
                    reason=f": {seg['reason']}" if seg["reason"] else "",
                    n=seg["n_scans"],
                )
            )
    for rule in d.get("rules_summary", []):
        lines.append(
            "    "
            + _("{rule:<6} {severity:<8} {count:>3} x, first {first}, last {last}").format(**rule)
        )
    cus = d.get("cusum", {})
    if cus.get("alarms"):
        lines.append(
            "    "
            + _("CUSUM alarms: {n}, first {first}{now}").format(
                n=len(cus["alarms"]),
                first=cus["alarms"][0],
                now=_("; still in alarm") if cus["in_alarm_now"] else "",
            )
        )
    if d.get("drift_proposal"):
        p = d["drift_proposal"]
        lines.append("    " + _drift_words(p))
        lines.append("      " + p["evidence"])
    for step in d["pending_drift_steps"]:
        lines.append(
            "    "
            + _("proposed drift step {id} from {start} awaits approval").format(
                id=step["id"], start=step["valid_from"]
            )
        )
    return lines


def _qc(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.calibration import qc_status, start_new_baseline

    session = login(args)
    if args.new_baseline:
        starts = None
        if args.starts:
            try:
                starts = dt.date.fromisoformat(args.starts)
            except ValueError as exc:
                raise UsageError(
                    _("Not a date: {value}.").format(value=args.starts), _("Use YYYY-MM-DD.")
                ) from exc
        q = start_new_baseline(
            session,
            args.new_baseline,
            reason=args.reason or "",
            starts=starts,
            service_visit=args.service,
        )
        emit(
            args,
            q.to_dict(),
            _("New QC baseline for {serial}: the next {n} QC scans form it.").format(
                serial=args.new_baseline, n=q.n_baseline
            ),
        )
        return ExitCode.OK
    rows = qc_status(session, n_baseline=args.baseline, k=args.k, h=args.h)
    lines = [line for q in rows for line in _qc_lines(q)]
    emit(args, [q.to_dict() for q in rows], "\n".join(lines) or _("No daily QC scans."))
    return ExitCode.OK


@command("qc", "daily phantom QC per scanner: baseline, Westgard rules, CUSUM, drift")
@handles(_qc)
def _qc_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline", type=int, default=20, help=_("scans in the baseline (15-25)"))
    p.add_argument("--k", type=float, default=0.5, help=_("CUSUM reference value k (SD units)"))
    p.add_argument("--h", type=float, default=5.0, help=_("CUSUM decision interval h (SD units)"))
    p.add_argument(
        "--new-baseline",
        metavar="SERIAL",
        help=_("start a new QC baseline for this scanner (needs --reason)"),
    )
    p.add_argument("--reason", help=_("why the new baseline (stored and audited)"))
    p.add_argument(
        "--from",
        dest="starts",
        metavar="DATE",
        help=_("first day of the new baseline (default: from now on)"),
    )
    p.add_argument(
        "--service", action="store_true", help=_("record the new baseline as a service visit")
    )


# --- calibrate / steps / approve / retire ---------------------------------------------------


def _calibrate(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.calibration import calibrate

    run = calibrate(
        login(args),
        reference=args.reference,
        n_baseline=args.baseline,
        bootstrap=args.bootstrap,
    )
    lines = [_("National reference scanner: {serial}").format(serial=run.reference_serial)]
    for d in run.drift:
        lines.append(
            f"drift  {d['serial']}: "
            + _drift_words(d)
            + " "
            + _("(step {step})").format(step=d["proposed_step"] or "-")
        )
    for f in run.fits:
        lines.append(
            f"{f.kind:<8} {f.serial:<16} {f.group:<12} a={f.fit.intercept:+.4f} "
            f"b={f.fit.slope:.4f} n={f.fit.n:<4} {f.dataset}  "
            + _("step {step}").format(step=f.step_id or "-")
        )
    emit(args, run.to_dict(), "\n".join(lines))
    return ExitCode.OK


@command("calibrate", "fit QC drift, the travelling phantom round and in-vivo pairs; propose steps")
@handles(_calibrate)
def _calibrate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reference", metavar="SERIAL", help=_("serial of the national reference scanner (stored)")
    )
    p.add_argument("--baseline", type=int, default=20, help=_("scans in the QC baseline"))
    p.add_argument("--bootstrap", type=int, default=2000, help=_("Deming bootstrap resamples"))


def _steps(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.calibration import list_steps, steps_for_display

    steps = list_steps(login(args), args.status)
    rows = steps_for_display(steps)
    text = "\n".join(
        f"{s['id']:>4} {s['status']:<9} {s['serial']:<16} {s['region']:<12} {s['kind']:<8} "
        f"a={s['intercept']:+.5f} b={s['slope']:.5f}"
        + (f" {s['per_day']:+.6f}/d to {s['ramp_end']}" if s["per_day"] else "")
        + f" {s['valid_from']} {s['dataset']}"
        + (
            "  " + _("NEEDS REVIEW: {why}").format(why=s["needs_review"])
            if s["needs_review"]
            else ""
        )
        for s in rows
    )
    emit(args, [s.to_dict() for s in steps], text or _("No calibration steps."))
    return ExitCode.OK


@command("steps", "list calibration steps (proposed, approved, retired)")
@handles(_steps)
def _steps_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", choices=("proposed", "approved", "retired"))


def preview_text(impact: dict[str, Any]) -> str:
    """One paragraph: what a calibration change would change (scanners, regions, diagnoses)."""
    text = _(
        "Scanners {scanners}; regions {regions}; {studies} studies; {n} stored diagnoses would"
        " change category on rescore."
    ).format(
        scanners=", ".join(impact["scanners"]) or "-",
        regions=", ".join(impact["regions"]) or "-",
        studies=impact["studies"],
        n=impact["category_changes"],
    )
    for change, n in impact["transitions"].items():
        text += f"\n  {change}: {n}"
    return text


def _decide(args: argparse.Namespace, approve: bool) -> ExitCode:
    from dxa_app.services.calibration import approve_steps, preview_decision, retire_steps

    session = login(args)
    impact = preview_decision(session, args.step, approve=approve).to_dict()
    if args.dry_run:
        emit(args, {"impact": impact}, preview_text(impact))
        return ExitCode.OK
    if approve:
        done = approve_steps(
            session,
            args.step,
            password=login_password(args),
            reason=args.reason or "",
            reviewed=args.reviewed,
        )
    else:
        done = retire_steps(
            session, args.step, password=login_password(args), reason=args.reason or ""
        )
    emit(
        args,
        {"steps": [s.to_dict() for s in done], "impact": impact},
        preview_text(impact)
        + "\n"
        + "\n".join(_("Step {id} is now {status}.").format(id=s.id, status=s.status) for s in done),
    )
    return ExitCode.OK


def _approve(args: argparse.Namespace) -> ExitCode:
    return _decide(args, True)


def _retire(args: argparse.Namespace) -> ExitCode:
    return _decide(args, False)


def _decision_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("step", type=int, nargs="+", metavar="STEP", help=_("step ids"))
    p.add_argument("--reason", help=_("why (required; stored in the audit log)"))
    p.add_argument(
        "--dry-run",
        action="store_true",
        help=_("only show what would change (scanners, regions, diagnoses)"),
    )


@command("approve", "approve proposed calibration steps (knowledge-centre role)")
@handles(_approve)
def _approve_args(p: argparse.ArgumentParser) -> None:
    _decision_args(p)
    p.add_argument(
        "--reviewed",
        action="store_true",
        help=_("the steps flagged 'needs review' (implausible slope) were reviewed"),
    )


@command("retire", "retire calibration steps (knowledge-centre role)")
@handles(_retire)
def _retire_args(p: argparse.ArgumentParser) -> None:
    _decision_args(p)


# --- precision ------------------------------------------------------------------------------


def _precision(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.precision import read_measurements, record_precision

    measurements = read_measurements(Path(args.file))
    result = record_precision(
        login(args),
        scanner=args.scanner,
        region=args.region,
        measurements=measurements,
        technologist=args.technologist,
    )
    d = result.to_dict()
    verdict = (
        ""
        if result.meets_minimum is None
        else _("meets the ISCD minimum ({minimum} %)").format(minimum=result.minimum_cv_pct)
        if result.meets_minimum
        else _("WORSE than the ISCD minimum ({minimum} %): retrain and repeat").format(
            minimum=result.minimum_cv_pct
        )
    )
    text = _(
        "{design}: {n} subjects, {df} degrees of freedom; RMS-SD {sd:.4f} g/cm2, "
        "RMS-CV {cv:.2f} %, LSC {lsc:.3f} g/cm2 ({lsc_pct:.1f} %) {verdict}"
    ).format(
        design=d["design"],
        n=d["n_subjects"],
        df=d["df"],
        sd=d["rms_sd_g_cm2"],
        cv=d["rms_cv_pct"],
        lsc=d["lsc_g_cm2"],
        lsc_pct=d["lsc_pct"],
        verdict=verdict,
    )
    emit(args, d, text)
    return ExitCode.OK


@command("precision", "compute and store a precision study (RMS-SD, %CV, LSC)")
@handles(_precision)
def _precision_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "file",
        help=_(
            "the measurements: subject,bmd_g_cm2 (one row per scan) or subject,v1,v2[,v3]"
            " (one row per subject), as the app's precision table accepts"
        ),
    )
    p.add_argument("--scanner", required=True, metavar="SERIAL", help=_("scanner serial"))
    p.add_argument("--region", required=True, help=_("region, e.g. L1-L4, total_hip"))
    p.add_argument("--technologist", default="", help=_("who scanned"))


# --- scores / rescore -----------------------------------------------------------------------


def _scores(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.scoring import study_scores

    s = study_scores(login(args), args.study)
    d = s.to_dict()
    lines = [
        _("Study {uid} ({date}), patient {patient}, age {age}, {kind}-scores").format(
            uid=s.study_uid,
            date=s.study_date,
            patient=s.patient,
            age="?" if s.age is None else int(s.age),
            kind=s.score_kind,
        ),
        f"  {_('region'):<14}{_('raw'):>8}{_('harm.'):>8}  {'T':>5} {'Z':>5}  "
        f"{_('category'):<28}{_('steps')}",
    ]
    for r in s.regions:
        lines.append(
            f"  {r.region:<14}{r.raw_bmd:>8.3f}{r.harmonised_bmd:>8.3f}  "
            f"{r.t_printed or '':>5} {r.z_printed or '':>5}  {r.category or '':<28}"
            f"{','.join(map(str, r.chain)) or '-'}"
        )
    diag = d["diagnosis"]
    if diag is None:  # no diagnostic region has a score (the notes say why)
        lines.append(_("No diagnosis: no diagnostic region has a score."))
    else:
        lines.append(
            _("Diagnosis: {category} ({kind} {score} at {region})").format(
                category=diag["category"],
                kind=diag["score_kind"],
                score=diag["printed_score"],
                region=diag["deciding_region"],
            )
        )
    lines.extend(f"  ! {n}" for n in s.notes)
    if s.exclusion_hints:
        lines.append(_("Consider excluding: {v}").format(v=", ".join(s.exclusion_hints)))
    emit(args, d, "\n".join(lines))
    return ExitCode.OK


@command("scores", "per region: raw and harmonised BMD, chain steps, T, Z and category")
@handles(_scores)
def _scores_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY", help=_("study id or Study Instance UID"))


def _rescore(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.scoring import rescore_all

    r = rescore_all(login(args))
    emit(
        args,
        r,
        _(
            "Rescored {studies} studies: {new_runs} new score runs, {unchanged} "
            "unchanged (old scores kept)."
        ).format(**r),
    )
    return ExitCode.OK


@command("rescore", "re-express every study on the current calibration (old scores are kept)")
@handles(_rescore)
def _rescore_args(p: argparse.ArgumentParser) -> None:
    pass


# --- users ----------------------------------------------------------------------------------


def _users(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services import users

    if args.action == "add":
        if not args.name or not args.role:
            raise UsageError(_("users add needs a NAME and --role."), "")
        from dxa_app.services.auth import has_users

        archive = archive_path(args)
        first = not archive.exists() or not has_users(archive)
        session = None if first else login(args)
        password = read_password(
            _("New password for {user}: ").format(user=args.name), env="DXA_NEW_PASSWORD"
        )
        u = users.add_first_or_next_user(
            archive, session, args.name, Role(args.role), password, display_name=args.display or ""
        )
        emit(
            args,
            u.to_dict(),
            _("User {name} added with the role {role}.").format(name=u.username, role=u.role),
        )
        return ExitCode.OK
    if args.action == "password":
        if not args.name:
            raise UsageError(_("users {action} needs a NAME.").format(action=args.action), "")
        session = login(args)
        new = read_password(
            _("New password for {user}: ").format(user=args.name), env="DXA_NEW_PASSWORD"
        )
        u = users.reset_password(session, args.name, new)
        emit(args, u.to_dict(), _("New password set for {name}.").format(name=u.username))
        return ExitCode.OK
    if args.action == "role":
        if not args.name or not args.role:
            raise UsageError(_("users role needs a NAME and --role."), "")
        u = users.change_role(login(args), args.name, Role(args.role))
        emit(
            args,
            u.to_dict(),
            _("{name} now has the role {role}.").format(name=u.username, role=u.role),
        )
        return ExitCode.OK
    if args.action in ("deactivate", "activate"):
        if not args.name:
            raise UsageError(_("users {action} needs a NAME.").format(action=args.action), "")
        u = users.set_active(login(args), args.name, args.action == "activate")
        emit(
            args,
            u.to_dict(),
            (_("User {name} is active.") if u.active else _("User {name} is deactivated.")).format(
                name=u.username
            ),
        )
        return ExitCode.OK
    rows = users.list_users(login(args))
    emit(
        args,
        [u.to_dict() for u in rows],
        "\n".join(
            f"{u.username:<16} {u.role:<16} {'' if u.active else '(-) '}{u.display_name}"
            for u in rows
        )
        or _("No users."),
    )
    return ExitCode.OK


@command("users", "user administration: list, add, deactivate, activate, password, role")
@handles(_users)
def _users_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        choices=("list", "add", "deactivate", "activate", "password", "role"),
        nargs="?",
        default="list",
    )
    p.add_argument("name", nargs="?", help=_("the user name (every action but list)"))
    p.add_argument("--role", choices=[str(r) for r in Role], help=_("role (for add and role)"))
    p.add_argument("--display", help=_("display name (for add)"))
    p.epilog = _(
        "The first user of a new archive must be an administrator (users add NAME --role admin,"
        " no log-in); after that only an administrator adds users (--user)."
    )
