"""The CLI's subcommands; each parses its options, calls one service and prints the result."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dxa_app.cli import ExitCode, archive_path, command, emit, handles, login, user_data_dir
from dxa_app.domain import scanner_label
from dxa_app.errors import UsageError
from dxa_app.i18n import _


def _counts_text(c: dict[str, int]) -> str:
    labels = {
        "sites": _("sites"),
        "scanners": _("scanners"),
        "patients": _("patients"),
        "studies": _("studies"),
        "scans": _("scans"),
        "region_results": _("region results"),
        "phantom_scans": _("phantom scans"),
        "vfa_readings": _("VFA readings"),
        "images": _("images"),
    }
    return "\n".join(f"  {labels[k]:<16} {v:>7}" for k, v in c.items())


# --- info ---------------------------------------------------------------------------------


def _info(args: argparse.Namespace) -> ExitCode:
    from dataclasses import asdict

    from dxa_app.services.browse import archive_counts

    path = archive_path(args)
    c = asdict(archive_counts(login(args)))
    emit(
        args,
        {"archive": str(path), "counts": c},
        _("Archive {path}").format(path=path) + "\n" + _counts_text(c),
    )
    return ExitCode.OK


@command("info", "show what the archive holds")
@handles(_info)
def _info_args(p: argparse.ArgumentParser) -> None:
    pass


# --- login / logout -------------------------------------------------------------------------


def _login(args: argparse.Namespace) -> ExitCode:
    from dxa_app.cli import read_password, user_name
    from dxa_app.services.tickets import IDLE_MINUTES, MAX_HOURS, current_terminal, open_ticket

    name = user_name(args)
    if not name:
        raise UsageError(_("Give --user NAME (or set DXA_USER) to log in."), "")
    password = read_password(_("Password for {user}: ").format(user=name))
    session, ticket = open_ticket(archive_path(args), name, password, current_terminal())
    local = ticket.ends_at().astimezone()
    emit(
        args,
        {"user": session.username, "role": str(session.role), "ticket": ticket},
        _(
            "Logged in as {user} ({role}). The next commands in this terminal act as"
            " {user} until {time} if unused ({minutes} minutes), at the latest {hours} hours"
            " from now; 'dxa logout' ends it. Signing still asks for the password."
        ).format(
            user=session.username,
            role=str(session.role),
            time=f"{local:%H:%M}",
            minutes=IDLE_MINUTES,
            hours=MAX_HOURS,
        ),
    )
    return ExitCode.OK


@command("login", "log in once: the next commands in this terminal go without the password")
@handles(_login)
def _login_args(p: argparse.ArgumentParser) -> None:
    pass


def _logout(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.tickets import close_ticket, current_terminal

    name = close_ticket(archive_path(args), current_terminal())
    text = (
        _("Logged out: this terminal's log-in as {user} has ended.").format(user=name)
        if name is not None
        else _("This terminal was not logged in.")
    )
    emit(args, {"ended": name}, text)
    return ExitCode.OK


@command("logout", "end this terminal's log-in (from 'dxa login')")
@handles(_logout)
def _logout_args(p: argparse.ArgumentParser) -> None:
    pass


# --- import -------------------------------------------------------------------------------


def _import(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.importing import import_paths

    def progress(done: int, total: int, message: str) -> None:
        if args.progress:
            print(f"[{done}/{total}] {message}", file=sys.stderr)

    summary = import_paths(login(args), args.paths, progress=progress)
    c = summary.counts
    lines = [
        _(
            "Imported {imported}, imported with analysis data not understood {partial},"
            " duplicates {duplicate}, skipped {skipped}, failed {failed}."
        ).format(partial=c["imported_analysis_not_understood"], **c)
    ]
    for o in summary.outcomes:
        if o.status in ("failed", "skipped"):
            lines.append(f"  {o.status}: {o.path}: {o.reason}")
        elif o.status == "imported" and o.not_understood:
            lines.append(
                "  "
                + _("analysis data not understood: {path}: {what}").format(
                    path=o.path, what="; ".join(o.not_understood)
                )
            )
    emit(args, summary.to_dict(), "\n".join(lines))
    return ExitCode.PARTIAL if c["failed"] else ExitCode.OK


@command("import", "import DXA exports (files or folders) into the archive")
@handles(_import)
def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help=_("files or folders to import"))
    p.add_argument("--progress", action="store_true", help=_("print each file as it is done"))


# --- patients / studies ---------------------------------------------------------------------


def _patients(args: argparse.Namespace) -> ExitCode:
    if args.duplicates:
        return _duplicates(args)
    if args.merges:
        return _merges(args)
    from dxa_app.services.browse import patients

    rows = patients(login(args))
    text = "\n".join(
        f"{p.id:>5}  {p.identifier:<12} {p.name:<28} {p.birth_date or '':<10} {p.sex or '-'} "
        f"{p.n_studies:>3}" + (f"  ({_('possible duplicate')})" if p.possible_duplicate else "")
        for p in rows
    )
    emit(args, rows, text or _("No patients."))
    return ExitCode.OK


def _duplicates(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.patients import duplicates

    rows = duplicates(login(args), include_merged=args.all)

    def line(r: Any) -> str:
        what = ", ".join(
            {"birth_date": _("birth date"), "sex": _("sex")}.get(d, d) for d in r.differs
        )
        p, f = r.patient, r.first
        state = _("merged") if r.merged else _("possible duplicate")
        return _(
            "{state}: patient {id} ({identifier}, {name}, {birth}, {sex}) and patient {first}"
            " ({birth_first}, {sex_first}) differ in {what}"
        ).format(
            state=state,
            id=p.id,
            identifier=p.identifier,
            name=p.name,
            birth=p.birth_date or "-",
            sex=p.sex or "-",
            first=f.id,
            birth_first=f.birth_date or "-",
            sex_first=f.sex or "-",
            what=what or "-",
        )

    emit(
        args,
        [r.to_dict() for r in rows],
        "\n".join(line(r) for r in rows) or _("No possible duplicates."),
    )
    return ExitCode.OK


def _merges(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.patients import merge_history

    rows = merge_history(login(args))
    text = "\n".join(
        _("merge {id}: patient {patient} into {into} by {by} at {at} ({reason})").format(
            id=m.id,
            patient=m.patient_id,
            into=m.into_patient_id,
            by=m.merged_by,
            at=m.merged_at,
            reason=m.reason,
        )
        + (
            "; "
            + _("un-merged by {by} at {at} ({reason})").format(
                by=m.unmerged_by, at=m.unmerged_at, reason=m.unmerge_reason
            )
            if m.unmerged_at
            else ""
        )
        for m in rows
    )
    emit(args, rows, text or _("No merges."))
    return ExitCode.OK


@command("patients", "list the patients in the archive")
@handles(_patients)
def _patients_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--duplicates",
        action="store_true",
        help=_(
            "list the patients kept apart as possible duplicates (same CPR number, another"
            " birth date or sex)"
        ),
    )
    p.add_argument(
        "--all", action="store_true", help=_("with --duplicates: also those already merged")
    )
    p.add_argument("--merges", action="store_true", help=_("list the merges and un-merges"))


def _merge(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.patients import merge

    merge_id = merge(login(args), args.patient, args.into, args.reason)
    emit(
        args,
        {"merge": merge_id, "patient": args.patient, "into": args.into},
        _("Patient {patient} is now one person with patient {into} (merge {id}).").format(
            patient=args.patient, into=args.into, id=merge_id
        ),
    )
    return ExitCode.OK


@command("merge", "merge a patient into another as one person (administrator, reversible)")
@handles(_merge)
def _merge_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("patient", type=int, metavar="PATIENT", help=_("the patient to merge (id)"))
    p.add_argument(
        "--into", type=int, required=True, metavar="ID", help=_("the patient it is one person with")
    )
    p.add_argument("--reason", required=True, help=_("why they are one person (audited)"))


def _unmerge(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.patients import unmerge

    merge_id = unmerge(login(args), args.patient, args.reason)
    emit(
        args,
        {"merge": merge_id, "patient": args.patient},
        _("Patient {patient} is its own person again (merge {id} ended).").format(
            patient=args.patient, id=merge_id
        ),
    )
    return ExitCode.OK


@command("unmerge", "undo the merge of a patient (administrator)")
@handles(_unmerge)
def _unmerge_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("patient", type=int, metavar="PATIENT", help=_("the merged patient (id)"))
    p.add_argument("--reason", required=True, help=_("why (audited)"))


def _studies(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.browse import studies

    rows = studies(login(args), args.patient)
    text = "\n".join(
        f"{s.id:>5}  {s.study_date}  {s.patient_identifier:<12} {s.site:<22} "
        f"{scanner_label(s.manufacturer, s.model)} ({s.serial})  {','.join(s.scan_types)}"
        for s in rows
    )
    emit(args, rows, text or _("No studies."))
    return ExitCode.OK


@command("studies", "list the studies in the archive (newest first)")
@handles(_studies)
def _studies_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--patient", type=int, metavar="ID", help=_("only this patient (archive id)"))


# --- demo ---------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.demo import run_demo

    out = Path(args.out) if args.out else user_data_dir() / "demo-files"
    archive = (
        Path(args.archive)
        if getattr(args, "archive", None)
        else user_data_dir() / "demo.dxa.sqlite"
    )
    result = run_demo(
        out,
        seed=args.seed,
        archive=None if args.no_import else archive,
        calibrate_demo=not args.no_calibrate,
    )
    lines = [
        _("Demo data (seed {seed}) written to {out}: {n} files.").format(
            seed=args.seed, out=result.out_dir, n=result.files_written
        ),
        _("Truth file: {path}").format(path=result.truth_path),
    ]
    if result.imported is not None and result.counts is not None:
        lines.append(
            _(
                "Imported into {archive}: {imported} files, {partial} with analysis data not"
                " understood, {duplicate} duplicates, {skipped} skipped, {failed} failed."
            ).format(
                archive=result.archive,
                partial=result.imported.get("imported_analysis_not_understood", 0),
                **result.imported,
            )
        )
        lines.append(_counts_text(result.counts))
    if result.calibration is not None:
        lines.append(
            _(
                "Calibrated on {serial}: {steps} steps approved, {studies} studies scored. Demo "
                "users: tekniker, laege, center, admin (password demo-<name>)."
            ).format(
                serial="HZA-DEMO-101",
                steps=result.calibration["steps_approved"],
                studies=result.calibration["studies_scored"],
            )
        )
    emit(args, result.to_dict(), "\n".join(lines))
    if result.imported is not None and result.imported.get("failed"):
        return ExitCode.PARTIAL
    return ExitCode.OK


@command("demo", "write deterministic synthetic demo data and import it into a demo archive")
@handles(_demo)
def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="DIR", help=_("folder for the demo files"))
    p.add_argument("--seed", type=int, default=2026, help=_("random seed (default 2026)"))
    p.add_argument(
        "--no-import", action="store_true", help=_("only write the files, do not import them")
    )
    p.add_argument(
        "--no-calibrate",
        action="store_true",
        help=_("import only: no demo users, calibration or scores"),
    )


# --- sites --------------------------------------------------------------------------------


def _sites(args: argparse.Namespace) -> ExitCode:
    if args.software:
        return _software(args)
    from dxa_app.services.sites import list_scanners

    rows = list_scanners(login(args))
    text = "\n".join(
        f"{s.site_code:<24} {scanner_label(s.manufacturer, s.model):<26} {s.serial:<16} "
        f"{s.software_version}"
        for s in rows
    )
    emit(args, rows, text or _("No scanners."))
    return ExitCode.OK


def _software(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.sites import software_history

    rows = software_history(login(args))
    text = "\n".join(
        f"{r.serial:<16} {r.software_version:<12} {r.first_seen[:10]} .. {r.last_seen[:10]}"
        + (" " + _("(changed from {previous})").format(previous=r.previous) if r.previous else "")
        for r in rows
    )
    emit(args, [r.to_dict() for r in rows], text or _("No software versions recorded."))
    return ExitCode.OK


@command("sites", "list the scanners of each site")
@handles(_sites)
def _sites_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--software",
        action="store_true",
        help=_("list each scanner's software versions and when they changed"),
    )


def _serial_map(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.sites import map_serial, serial_mappings

    session = login(args)
    if args.source is None:
        rows = serial_mappings(session)
        text = "\n".join(f"{m.scope}  '{m.placeholder}' -> {m.serial}" for m in rows)
        emit(args, rows, text or _("No placeholder serials mapped."))
        return ExitCode.OK
    if args.placeholder is None or args.serial is None:
        raise UsageError(
            _("Give the source, the placeholder serial and the real serial."),
            _("see 'dxa serial-map --help'"),
        )
    map_serial(session, args.source, args.placeholder, args.serial)
    emit(
        args,
        {"scope": args.source, "placeholder": args.placeholder, "serial": args.serial},
        _(
            "Scans of {source} with serial '{placeholder}' will be imported as scanner {serial}."
        ).format(source=args.source, placeholder=args.placeholder, serial=args.serial),
    )
    return ExitCode.OK


@command("serial-map", "give the real serial behind a placeholder serial (APEX, 000)")
@handles(_serial_map)
def _serial_map_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source", nargs="?", help=_("the source as the import names it, e.g. apex:1a2b3c4d5e6f")
    )
    p.add_argument("placeholder", nargs="?", help=_("the placeholder serial, e.g. APEX or 000"))
    p.add_argument("serial", nargs="?", help=_("the scanner's real serial number"))


def _site_map(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.sites import map_site

    moved = map_site(login(args), args.key, args.site, args.name or "")
    emit(
        args,
        {"key": args.key, "site": args.site, "scanners_moved": moved},
        _("Scanners matching {key} now belong to site {site} ({n} moved).").format(
            key=args.key, site=args.site, n=moved
        ),
    )
    return ExitCode.OK


@command("site-map", "map a scanner (serial, station or institution name) to a site")
@handles(_site_map)
def _site_map_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("key", help=_("scanner serial, station name or institution name"))
    p.add_argument("site", help=_("site code, e.g. OUH"))
    p.add_argument("--name", help=_("the site's full name"))


# --- backup / restore ---------------------------------------------------------------------


def _backup(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.backup import backup_archive

    r = backup_archive(
        login(args),
        Path(args.dest) if args.dest else None,
        folder=Path(args.folder) if args.folder else None,
        keep=args.keep,
    )
    text = _("Backup written to {path} ({mb:.1f} MB); integrity check passed.").format(
        path=r.path, mb=r.bytes / 1e6
    )
    text += "\n" + _("Image files: {n} ({mb:.1f} MB) in {path}.").format(
        n=r.images, mb=r.image_bytes / 1e6, path=r.images_path
    )
    if r.removed:
        text += "\n" + _("Removed {n} older backups.").format(n=len(r.removed))
    if r.images_missing:
        text += "\n" + _(
            "{n} image files the archive names are missing from its image store, so the"
            " backup lacks them: {files}"
        ).format(n=len(r.images_missing), files=", ".join(r.images_missing[:5]))
    emit(args, r.to_dict(), text)
    return ExitCode.PARTIAL if r.images_missing else ExitCode.OK


@command("backup", "write a consistent copy of the archive, even while others use it")
@handles(_backup)
def _backup_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dest", nargs="?", metavar="FILE", help=_("the backup file to write"))
    p.add_argument(
        "--folder", metavar="DIR", help=_("write a time-stamped copy into this folder instead")
    )
    p.add_argument(
        "--keep", type=int, metavar="N", help=_("with --folder: keep only the newest N copies")
    )


def _restore(args: argparse.Namespace) -> ExitCode:
    from dxa_app.services.backup import restore_archive

    r = restore_archive(login(args), Path(args.src))
    emit(
        args,
        r,
        _(
            "Restored from {src} with {n} image files; the archive as it was is kept in {safety}."
        ).format(src=r["restored_from"], n=r["images"], safety=r["safety_copy"])
        + (
            "\n"
            + _("{n} image files were already missing when the backup was made.").format(
                n=len(r["images_missing_at_backup"])
            )
            if r["images_missing_at_backup"]
            else ""
        ),
    )
    return ExitCode.OK


@command("restore", "replace the archive with a checked backup (administrator)")
@handles(_restore)
def _restore_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", metavar="FILE", help=_("the backup file"))
