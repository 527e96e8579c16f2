"""CLI of the knowledge-centre exchange: ``centre ...`` and ``calibration install|trust-centre``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from dxa_app.cli import ExitCode, command, emit, escape_help, handles, login, login_password
from dxa_app.i18n import _

Action = Callable[[argparse.Namespace], ExitCode]


def _sub(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    help_text: str,
    action: Action,
) -> argparse.ArgumentParser:
    """Add one action; it accepts the global options and --json after its name too."""
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=escape_help(help_text), description=help_text
    )
    p.add_argument(
        "--archive", metavar="PATH", default=argparse.SUPPRESS, help=_("the archive file")
    )
    p.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=_("show full tracebacks")
    )
    p.add_argument(
        "--lang",
        choices=("da", "en"),
        default=argparse.SUPPRESS,
        help=_("language of messages (da or en)"),
    )
    p.add_argument(
        "--user",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help=_("log in as this user (default: DXA_USER); the password is asked for"),
    )
    p.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help=_("print the result as JSON")
    )
    p.set_defaults(action=action)
    return p


def _dispatch(args: argparse.Namespace) -> ExitCode:
    action: Action = args.action
    return action(args)


# --- centre ------------------------------------------------------------------------------------


def _export(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.centre import export_bundle

    r = export_bundle(login(args), Path(args.out), site=args.site)
    counts = ", ".join(f"{k} {v}" for k, v in r.counts.items())
    emit(
        args,
        r.to_dict(),
        _("Bundle of site {site} written to {path} (SHA-256 {sha}): {counts}.").format(
            site=r.site, path=r.path, sha=r.sha256[:16], counts=counts
        ),
    )
    return ExitCode.OK


def _keys(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.centre import centre_keys, site_keys

    session = login(args)
    if args.centre:
        c = centre_keys(session)
        emit(
            args,
            c,
            _("Knowledge-centre public key (give it to every site): {key}").format(
                key=c["centre_public_key"]
            )
            + "\n"
            + _("fingerprint {fp}").format(fp=c["fingerprint"]),
        )
        return ExitCode.OK
    keys = site_keys(session, args.site)
    emit(
        args,
        keys,
        "\n".join(
            _("Site {site}: {key} (fingerprint {fp})").format(
                site=k["site"], key=k["public_key"], fp=k["fingerprint"]
            )
            for k in keys
        )
        or _("No sites with scanners in this archive."),
    )
    return ExitCode.OK


def _register(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.centre import register_site_key

    r = register_site_key(login(args), args.code, args.public_key)
    emit(
        args,
        r,
        _("Site {site} registered with key fingerprint {fp}.").format(
            site=r["site"], fp=r["fingerprint"]
        ),
    )
    return ExitCode.OK


def _import(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.centre import import_bundles

    results = import_bundles(login(args), [Path(p) for p in args.bundle])
    lines = []
    for r in results:
        if r.duplicate:
            lines.append(
                _("{path}: site {site}, already imported; nothing changed.").format(
                    path=r.path, site=r.site
                )
            )
        else:
            added = ", ".join(f"{k} {v}" for k, v in r.added.items())
            lines.append(
                _("{path}: site {site}, added {added}.").format(
                    path=r.path, site=r.site, added=added
                )
            )
    emit(args, [r.to_dict() for r in results], "\n".join(lines))
    return ExitCode.OK


def _fit(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.centre import national_fit

    run = national_fit(
        login(args),
        reference=args.reference,
        n_baseline=args.baseline,
        bootstrap=args.bootstrap,
    )
    lines = [_("National reference scanner: {serial}").format(serial=run["reference_scanner"])]
    for d in run["drift"]:
        lines.append(
            _("drift  {serial}: from {start}, factor {factor:.4f} (step {step})").format(
                serial=d["serial"],
                start=d["start"],
                factor=d["factor"],
                step=d["proposed_step"] or "-",
            )
        )
    for f in run["fits"]:
        lines.append(
            f"{f['kind']:<8} {f['serial']:<16} {f['group']:<12} "
            f"a={f['fit']['intercept']:+.4f} b={f['fit']['slope']:.4f} n={f['fit']['n']:<4} "
            f"{f['dataset']}  " + _("step {step}").format(step=f["proposed_step"] or "-")
        )
    emit(args, run, "\n".join(lines))
    return ExitCode.OK


def _publish(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.centre import publish

    r = publish(login(args), Path(args.out))
    emit(
        args,
        r,
        _("{n} approved steps published to {path}, signed by the centre key.").format(
            n=r["steps"], path=r["path"]
        ),
    )
    return ExitCode.OK


def _stats(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.centre import centre_stats

    s = centre_stats(
        login(args),
        csv_path=Path(args.csv) if args.csv else None,
        plot_path=Path(args.plot) if args.plot else None,
    )
    lines = [
        _("site      month    studies  VFA  no VFA  grade 1/2/3  QC scans  warn  reject  CUSUM")
    ]
    for r in s.site_months:
        lines.append(
            f"{r['site']:<9} {r['month']:<8} {r['studies']:>7} {r['studies_with_vfa']:>4} "
            f"{r['studies_without_vfa']:>7}  {r['vfa_grade_1']:>3}/{r['vfa_grade_2']}/"
            f"{r['vfa_grade_3']:<5} {r['qc_scans']:>8} {r['qc_warnings']:>5} "
            f"{r['qc_rejects']:>7} {r['qc_cusum_alarms']:>6}"
        )
    for e in s.esp:
        lines.append(
            _("ESP {round} {region}: {n} scanners, CV raw {raw} %, harmonised {harm} %").format(
                round=e["round"],
                region=e["region"],
                n=e["scanners"],
                raw="-" if e["raw_cv_pct"] is None else f"{e['raw_cv_pct']:.2f}",
                harm="-" if e["harmonised_cv_pct"] is None else f"{e['harmonised_cv_pct']:.2f}",
            )
        )
    emit(args, s.to_dict(), "\n".join(lines))
    return ExitCode.OK


@command(
    "centre",
    "knowledge-centre exchange: export, import, fit, publish, stats, keys",
)
@handles(_dispatch)
def _centre_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="centre_action", metavar="ACTION", parser_class=type(p))
    sub.required = True
    e = _sub(sub, "export", _("write this site's signed, patient-free bundle"), _export)
    e.add_argument("--out", required=True, metavar="BUNDLE", help=_("the bundle file (.zip)"))
    e.add_argument("--site", metavar="CODE", help=_("site code (when the archive has several)"))
    k = _sub(sub, "keys", _("show the site's public key (or the centre's, with --centre)"), _keys)
    k.add_argument("--site", metavar="CODE", help=_("only this site"))
    k.add_argument("--centre", action="store_true", help=_("the knowledge centre's public key"))
    r = _sub(sub, "register-site", _("register a site's public key at the centre"), _register)
    r.add_argument("code", metavar="CODE", help=_("site code"))
    r.add_argument("public_key", metavar="PUBLIC_KEY", help=_("the key shown by 'centre keys'"))
    i = _sub(sub, "import", _("verify and import site bundles at the centre"), _import)
    i.add_argument("bundle", nargs="+", metavar="BUNDLE", help=_("bundle files"))
    f = _sub(sub, "fit", _("national fit: QC drift, travelling ESP, in-vivo pairs"), _fit)
    f.add_argument(
        "--reference", metavar="SERIAL", help=_("serial of the national reference scanner (stored)")
    )
    f.add_argument("--baseline", type=int, default=20, help=_("scans in the QC baseline"))
    f.add_argument("--bootstrap", type=int, default=2000, help=_("Deming bootstrap resamples"))
    pub = _sub(sub, "publish", _("write the approved steps, signed by the centre key"), _publish)
    pub.add_argument("--out", required=True, metavar="CORRECTIONS", help=_("the file to write"))
    sc = _sub(
        sub, "scale", _("show or choose the national scale (reference scanner or ESP)"), _scale
    )
    sc.add_argument(
        "--set",
        dest="scale",
        choices=("reference", "esp"),
        help=_("choose the scale: the reference scanner's, or the ESP-certified scale"),
    )
    sc.add_argument(
        "--hip-anchor",
        metavar="SERIAL",
        help=_("ESP scale: the ESP-calibrated scanner whose hip readings are the national hip"),
    )
    sc.add_argument("--reason", help=_("why (required; stored in the audit log)"))
    s = _sub(sub, "stats", _("VFA use, QC alarms and ESP spread per site and month"), _stats)
    s.add_argument("--csv", metavar="FILE", help=_("also write the table as CSV"))
    s.add_argument("--plot", metavar="FILE", help=_("also write a plot (.svg, .pdf or .png)"))


def _scale(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.calibration import national_scale, set_national_scale

    session = login(args)
    if args.scale:
        now = set_national_scale(
            session,
            args.scale,
            hip_anchor=args.hip_anchor,
            password=login_password(args),
            reason=args.reason or "",
        )
    else:
        now = national_scale(session)
    if now.scale == "esp":
        text = _(
            "National scale version {n}: ESP-certified (spine: European Spine Phantom; hip: in"
            " vivo to {serial})."
        ).format(n=now.version, serial=now.hip_anchor or "-")
    else:
        text = _("National scale version {n}: the reference scanner {serial}.").format(
            n=now.version, serial=now.reference or "-"
        )
    if args.scale:
        text += " " + _("Run 'centre fit' (or 'calibrate') and approve the new steps.")
    emit(args, now.to_dict(), text)
    return ExitCode.OK


# --- calibration (site side) -------------------------------------------------------------------


def _install(args: argparse.Namespace) -> ExitCode:
    from dxa_app.cli.calibration_commands import preview_text
    from dxa_app.services.centre import install_corrections, preview_install

    session = login(args)
    impact = preview_install(session, Path(args.corrections)).to_dict()
    if args.dry_run:
        emit(args, {"impact": impact}, preview_text(impact))
        return ExitCode.OK
    r = install_corrections(
        session, Path(args.corrections), password=login_password(args), reason=args.reason or ""
    )
    if r.already_installed:
        text = _("Publication {pub} is already installed; nothing changed.").format(
            pub=r.publication
        )
    else:
        text = _(
            "Installed {n} steps published by the centre {date}; retired {m} earlier ones."
            " Run 'rescore' to re-express the studies (old scores are kept)."
        ).format(n=len(r.installed), date=r.published_at[:10], m=len(r.retired))
        if r.references:
            text += "\n" + _("Reference tables installed: {tables}.").format(
                tables="; ".join(r.references)
            )
    emit(args, {**r.to_dict(), "impact": impact}, preview_text(impact) + "\n" + text)
    return ExitCode.OK


def _trust(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.centre import trust_centre

    r = trust_centre(login(args), args.public_key)
    emit(
        args,
        r,
        _("Knowledge-centre key trusted (fingerprint {fp}).").format(fp=r["fingerprint"]),
    )
    return ExitCode.OK


@command("calibration", "install corrections published by the knowledge centre; trust its key")
@handles(_dispatch)
def _calibration_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="calibration_action", metavar="ACTION", parser_class=type(p))
    sub.required = True
    i = _sub(sub, "install", _("check the centre's signature and install its steps"), _install)
    i.add_argument("corrections", metavar="CORRECTIONS", help=_("the file from 'centre publish'"))
    i.add_argument("--reason", help=_("why (required; stored in the audit log)"))
    i.add_argument(
        "--dry-run",
        action="store_true",
        help=_("only show what would change (scanners, regions, diagnoses)"),
    )
    t = _sub(sub, "trust-centre", _("trust the knowledge centre's public key (admin)"), _trust)
    t.add_argument(
        "public_key", metavar="PUBLIC_KEY", help=_("the key from 'centre keys --centre'")
    )


# --- reference (installable T and Z tables) ----------------------------------------------------


def _reference_install(args: argparse.Namespace) -> ExitCode:
    import datetime as dt

    from dxa_app.cli.calibration_commands import preview_text
    from dxa_app.errors import UsageError
    from dxa_app.services.references import install_reference, preview_reference

    try:
        valid_from = dt.date.fromisoformat(args.valid_from)
    except ValueError as exc:
        raise UsageError(
            _("Not a date: {value}.").format(value=args.valid_from), _("Use YYYY-MM-DD.")
        ) from exc
    session = login(args)
    impact = preview_reference(session, Path(args.file), valid_from=valid_from).to_dict()
    if args.dry_run:
        emit(args, {"impact": impact}, preview_text(impact))
        return ExitCode.OK
    t = install_reference(
        session,
        Path(args.file),
        valid_from=valid_from,
        password=login_password(args),
        reason=args.reason or "",
    )
    d = t.to_dict()
    text = _(
        "Installed {purpose} reference {name} {version} ({status}) for scans from {date}."
        " Run 'rescore' to re-express the studies (old scores keep their table)."
    ).format(
        purpose=d["purpose"],
        name=d["name"],
        version=d["version"],
        status=d["status"],
        date=d["valid_from"],
    )
    emit(args, {**d, "impact": impact}, preview_text(impact) + "\n" + text)
    return ExitCode.OK


def _reference_list(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.references import list_references

    rows = [t.to_dict() for t in list_references(login(args))]
    text = "\n".join(
        f"{r['purpose']}  {r['valid_from']}  {r['name']} {r['version']}  [{r['status']}]"
        f"  {', '.join(r['regions'])}  {r['origin']}"
        for r in rows
    )
    emit(args, rows, text or _("No installed reference tables (the shipped defaults apply)."))
    return ExitCode.OK


@command("reference", "install a versioned T or Z reference table from a date; list them")
@handles(_dispatch)
def _reference_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="reference_action", metavar="ACTION", parser_class=type(p))
    sub.required = True
    i = _sub(
        sub,
        "install",
        _("install a T or Z table (CSV or JSON) for scans from a date (centre or admin)"),
        _reference_install,
    )
    i.add_argument("file", metavar="FILE", help=_("the table: '# dxa-reference-table v1' CSV"))
    i.add_argument(
        "--from",
        dest="valid_from",
        required=True,
        metavar="DATE",
        help=_("the first scan date it applies to (earlier scans keep their table)"),
    )
    i.add_argument("--reason", help=_("why (required; stored in the audit log)"))
    i.add_argument(
        "--dry-run",
        action="store_true",
        help=_("only show what would change (scanners, regions, diagnoses)"),
    )
    _sub(sub, "list", _("the installed reference tables"), _reference_list)
