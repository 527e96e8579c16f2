"""CLI subcommands of the clinical content: risk, frax, suggestions, recall."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

from dxa_app.cli import ExitCode, command, emit, handles, login
from dxa_app.errors import UsageError
from dxa_app.i18n import _

_PERIOD = re.compile(r"^\s*(\d+)\s*([dwmy]?)\s*$", re.IGNORECASE)
_DAYS = {"d": 1, "": 1, "w": 7, "m": 30, "y": 365}


def period_days(text: str) -> int:
    """Return a period such as ``90d``, ``12w``, ``6m`` or ``1y`` in days (a month is 30 days).

    Parameters
    ----------
    text : str
        The period; a bare number is days.

    Returns
    -------
    int
        Days.

    Raises
    ------
    UsageError
        When the text is not a period.
    """
    m = _PERIOD.match(text)
    if m is None:
        raise UsageError(
            _("'{text}' is not a period.").format(text=text), _("Write e.g. 90d, 12w, 6m or 1y.")
        )
    return int(m.group(1)) * _DAYS[m.group(2).lower()]


def _pairs(items: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(
                _("{option} takes NAME=VALUE, not '{item}'.").format(option=option, item=item),
                _("For example {option} current_smoking=1.").format(option=option),
            )
        out[name.strip()] = value.strip()
    return out


def _risk(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.risk import risk_factors, risk_lines, save_risk_factors

    session = login(args)
    answers = _pairs(args.set, "--set")
    for name in args.clear or []:
        answers[name] = ""
    if answers or args.replace:
        view = save_risk_factors(session, args.study, answers, replace=args.replace)
    else:
        view = risk_factors(session, args.study)
    if view.latest is None:
        emit(
            args,
            view.to_dict(),
            _("Study {id} has no risk-factor questionnaire.").format(id=view.study_id),
        )
        return ExitCode.OK
    head = _("Risk factors of study {id}, version {v} of {n} (entered by {who} at {when}):").format(
        id=view.study_id,
        v=view.latest.version_no,
        n=view.versions,
        who=view.latest.entered_by,
        when=view.latest.entered_at.replace("T", " ")[:16],
    )
    lines = risk_lines(view)
    emit(args, view.to_dict(), "\n".join([head, *("  " + x for x in lines)]))
    return ExitCode.OK


@command("risk", "show or enter the risk-factor questionnaire of a study (a new version)")
@handles(_risk)
def _risk_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY", help=_("study id or Study Instance UID"))
    p.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help=_(
            "an answer, repeatable: prior_fracture, prior_fracture_site, prior_fracture_date,"
            " parent_hip_fracture, current_smoking, glucocorticoids, glucocorticoid_dose_mg,"
            " glucocorticoid_months, rheumatoid_arthritis, secondary_osteoporosis,"
            " alcohol_3_units, height_loss_cm, falls_last_year, current_treatment"
        ),
    )
    p.add_argument(
        "--clear", action="append", metavar="NAME", help=_("remove an answer (repeatable)")
    )
    p.add_argument(
        "--replace",
        action="store_true",
        help=_("start from an empty questionnaire instead of the newest version"),
    )


def _frax(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.risk import frax_form, save_frax

    session = login(args)
    given = (args.major, args.hip, args.calculator_version)
    if any(v is not None for v in given):
        if not all(v is not None for v in given):
            raise UsageError(
                _("Give --major, --hip and --calculator-version together."),
                _("Without them the prefilled FRAX inputs are shown."),
            )
        row = save_frax(
            session,
            args.study,
            major_osteoporotic_pct=args.major,
            hip_pct=args.hip,
            calculator_version=args.calculator_version,
            inputs=_pairs(args.input, "--input"),
            model=args.model,
        )
        emit(
            args,
            row.to_dict(),
            _(
                "FRAX of study {id} recorded (version {v}): major osteoporotic {major} %,"
                " hip {hip} % ({calc})."
            ).format(
                id=row.study_id,
                v=row.version_no,
                major=row.major_osteoporotic_pct,
                hip=row.hip_pct,
                calc=row.calculator_version,
            ),
        )
        return ExitCode.OK
    form = frax_form(session, args.study)
    lines = [
        _(
            "FRAX inputs for study {id} (prefilled; type them into the Danish FRAX calculator):"
        ).format(id=form.study_id)
    ]
    lines += [f"  {k:<24} {v or '-'}" for k, v in form.inputs.items()]
    if form.latest is not None:
        lines.append(
            _("Recorded: major osteoporotic {major} %, hip {hip} % ({calc}, by {who}).").format(
                major=form.latest.major_osteoporotic_pct,
                hip=form.latest.hip_pct,
                calc=form.latest.calculator_version,
                who=form.latest.entered_by,
            )
        )
    emit(args, form.to_dict(), "\n".join(lines))
    return ExitCode.OK


@command("frax", "show the prefilled FRAX inputs of a study, or record an external FRAX result")
@handles(_frax)
def _frax_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY", help=_("study id or Study Instance UID"))
    p.add_argument(
        "--major", type=float, help=_("10-year probability of a major osteoporotic fracture (%%)")
    )
    p.add_argument("--hip", type=float, help=_("10-year probability of a hip fracture (%%)"))
    p.add_argument(
        "--calculator-version", help=_("the FRAX calculator and its version, as it states them")
    )
    p.add_argument("--model", default="Denmark", help=_("the country model (default Denmark)"))
    p.add_argument(
        "--input",
        action="append",
        metavar="NAME=VALUE",
        help=_("a FRAX input as typed into the calculator (repeatable; default: the prefill)"),
    )


def _suggestions(args: argparse.Namespace) -> ExitCode:
    from dxa_app.i18n import current_language
    from dxa_app.services.risk import decide_suggestions, study_suggestions

    session = login(args)
    lang = str(getattr(args, "lang", None) or current_language())
    decisions = {sid: "kept" for sid in args.keep or []}
    decisions.update({sid: "dropped" for sid in args.drop or []})
    decisions.update({sid: "pending" for sid in args.undecide or []})
    if decisions:
        result = decide_suggestions(session, args.study, decisions, lang=lang, level=args.level)
    else:
        result = study_suggestions(session, args.study, lang=lang)
    words = {"kept": _("kept"), "dropped": _("dropped"), "pending": _("pending")}
    lines = [_("Suggestions for study {id}:").format(id=result.study_id)]
    if not result.rows:
        lines.append("  " + _("none"))
    for r in result.rows:
        s = r.suggestion
        lines.append(f"  [{words.get(r.decision, r.decision)}] {s.id}")
        lines.append(f"      {s.text}")
        lines.append(f"      ({s.rule_set} {s.rule_set_version}, {s.status})")
    emit(args, result.to_dict(), "\n".join(lines))
    return ExitCode.OK


@command("suggestions", "list a study's rule-made suggestions; keep or drop them (physician)")
@handles(_suggestions)
def _suggestions_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY", help=_("study id or Study Instance UID"))
    p.add_argument("--keep", action="append", metavar="ID", help=_("keep a suggestion"))
    p.add_argument("--drop", action="append", metavar="ID", help=_("drop a suggestion"))
    p.add_argument("--undecide", action="append", metavar="ID", help=_("take a decision back"))
    p.add_argument(
        "--level", choices=("A", "B"), default="B", help=_("the draft's level (default B)")
    )


def _recall(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.risk import recall_list, write_recall_csv

    session = login(args)
    try:
        as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    except ValueError:
        raise UsageError(
            _("'{text}' is not a date.").format(text=args.as_of), _("Write it as YYYY-MM-DD.")
        ) from None
    entries = recall_list(session, within_days=period_days(args.within), as_of=as_of)
    if args.csv:
        write_recall_csv(session, entries, Path(args.csv))
    lines = [
        _("{n} patients due for DXA within {period}:").format(n=len(entries), period=args.within)
    ]
    for e in entries:
        interval = (
            _("interval 1 year")
            if e.years == 1
            else _("interval {years} years").format(years=f"{e.years:g}")
        )
        lines.append(
            f"  {e.due}  {e.identifier:<12} {e.name:<30} "
            + _("last {date}, {interval}").format(date=e.study_date, interval=interval)
        )
    if args.csv:
        lines.append(_("Written to {path}.").format(path=args.csv))
    emit(args, {"entries": [e.to_dict() for e in entries], "csv": args.csv}, "\n".join(lines))
    return ExitCode.OK


@command("recall", "list the patients due for DXA within a period (also as CSV)")
@handles(_recall)
def _recall_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--within", default="90d", help=_("the period: 90d, 12w, 6m or 1y (default 90d)")
    )
    p.add_argument("--as-of", metavar="DATE", help=_("the first day of the period (default today)"))
    p.add_argument("--csv", metavar="FILE", help=_("also write the list as CSV"))
