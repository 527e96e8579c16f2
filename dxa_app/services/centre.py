"""Use cases of the knowledge-centre exchange: export, import, national fit, publish, install.

Privacy: a bundle holds no names, CPR numbers, birth dates, accession numbers or UIDs; in-vivo
patients are HMAC-SHA256 pseudonyms under a per-site secret that never leaves the archive,
with age in whole years and sex only. See docs/centre.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calibration.chain import compose
from dxa_app.archive import get_setting, write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.db import audit, now_iso
from dxa_app.archive.scale import current_scale
from dxa_app.archive.scanners import scanner_ids_by_serial, scanner_rows, sites_with_scanners
from dxa_app.archive.steps import step_by_id
from dxa_app.centre import corrections as corr
from dxa_app.centre.bundle import BundleError, read_bundle, write_bundle
from dxa_app.centre.export import collect_site
from dxa_app.centre.intake import BundleImport, register_site, registered_key, store_bundle
from dxa_app.centre.keys import (
    centre_key_pair,
    fingerprint,
    pseudonym_secret,
    set_trusted_centre_key,
    site_key_pair,
    trusted_centre_key,
)
from dxa_app.centre.national import fit_in_vivo
from dxa_app.centre.stats import CentreStats, QcSeries, centre_statistics, save_plot, stats_csv
from dxa_app.errors import NotFoundError, UsageError
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting, confirm_password, record
from dxa_app.services.calibration import chain_for, hip_anchor_id, iter_qc, run_calibration

if TYPE_CHECKING:
    from dxa_app.services.impact import ChangePreview

__all__ = [
    "BundleImport",
    "ExportResult",
    "centre_keys",
    "centre_stats",
    "export_bundle",
    "import_bundles",
    "install_corrections",
    "national_fit",
    "publish",
    "register_site_key",
    "site_keys",
    "trust_centre",
]


def _site_id(db: Database, code: str | None) -> tuple[int, str]:
    sites = sites_with_scanners(db)
    if code is not None:
        for sid, c in sites:
            if c == code:
                return sid, c
        raise NotFoundError(
            _("No site {code} with scanners in this archive.").format(code=code),
            _("Known sites: {sites}.").format(sites=", ".join(c for _i, c in sites) or "-"),
        )
    if len(sites) != 1:
        raise UsageError(
            _("This archive holds {n} sites; say which one with --site CODE.").format(n=len(sites)),
            _("Known sites: {sites}.").format(sites=", ".join(c for _i, c in sites) or "-"),
        )
    return sites[0]


@dataclass(frozen=True)
class ExportResult:
    """A written site bundle."""

    path: str
    site: str
    sha256: str
    public_key: str
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "path": self.path,
            "site": self.site,
            "sha256": self.sha256,
            "public_key": self.public_key,
            "counts": dict(self.counts),
        }


def export_bundle(session: Session, out: Path, *, site: str | None = None) -> ExportResult:
    """Write one site's signed, patient-free bundle for the knowledge centre; audited.

    Parameters
    ----------
    session : Session
        The acting user (technician or administrator of the site).
    out : Path
        The bundle (zip) to write.
    site : str, optional
        The site code; needed when the archive holds more than one site.

    Returns
    -------
    ExportResult
        Path, SHA-256, the site's public key and the row counts.
    """
    from dxa_app import __version__

    with acting(session, Permission.SITE_EXCHANGE) as db:
        site_id, code = _site_id(db, site)
        private, public = site_key_pair(db, code, by=session.username)
        data = collect_site(db, site_id, pseudonym_secret(db, code))
        header = {
            "site": data.site,
            "created_at": now_iso(),
            "program": f"dxa {__version__}",
            "counts": data.counts,
        }
        sha = write_bundle(out, data.members, header, private, public)
        record(
            db,
            session,
            "centre_export",
            entity="site",
            entity_id=code,
            details={"sha256": sha, "counts": data.counts, "file": out.name},
        )
    return ExportResult(str(out), code, sha, public, data.counts)


def site_keys(session: Session, site: str | None = None) -> list[dict[str, str]]:
    """Return the site's public key (generated on first use) to register at the centre.

    Parameters
    ----------
    session : Session
        The acting user (technician or administrator of the site).
    site : str, optional
        One site's code (default: every site with scanners).

    Returns
    -------
    list of dict
        Site code, public key and fingerprint.
    """
    with acting(session, Permission.SITE_EXCHANGE) as db:
        codes = [site] if site is not None else [c for _i, c in sites_with_scanners(db)]
        if site is not None:
            _site_id(db, site)
        out = []
        for code in codes:
            _private, public = site_key_pair(db, code, by=session.username)
            out.append({"site": code, "public_key": public, "fingerprint": fingerprint(public)})
    return out


def centre_keys(session: Session) -> dict[str, str]:
    """Return the knowledge centre's public key (generated on first use) for the sites.

    Parameters
    ----------
    session : Session
        The acting centre analyst.

    Returns
    -------
    dict
        The public key and its fingerprint.
    """
    with acting(session, Permission.CENTRE) as db:
        _private, public = centre_key_pair(db, by=session.username)
    return {"centre_public_key": public, "fingerprint": fingerprint(public)}


def register_site_key(session: Session, code: str, public_key: str) -> dict[str, str]:
    """Register a site's public key at the centre (bundles from it are then accepted).

    Parameters
    ----------
    session : Session
        The acting centre analyst.
    code : str
        The site's code.
    public_key : str
        The site's Ed25519 public key (base64).

    Returns
    -------
    dict
        Site code, canonical key and fingerprint.
    """
    with acting(session, Permission.CENTRE) as db:
        key = register_site(db, code, public_key, by=session.username)
    return {"site": code, "public_key": key, "fingerprint": fingerprint(key)}


def import_bundles(session: Session, paths: Sequence[Path]) -> list[BundleImport]:
    """Verify every bundle first, then import them; one refused bundle imports nothing.

    Parameters
    ----------
    session : Session
        The acting centre analyst.
    paths : sequence of Path
        The bundles.

    Returns
    -------
    list of BundleImport
        What each bundle added.

    Raises
    ------
    BundleError
        For the first bundle that is damaged, tampered with, signed by an unregistered key,
        of a newer schema, or whose content cannot be stored; the archive is then unchanged
        (every bundle is verified before any is stored, and all are stored in one
        transaction).
    """
    with acting(session, Permission.CENTRE) as db:

        def key(code: str) -> str | None:
            return registered_key(db, code)

        # verify every bundle first, keeping only its hash: one bundle's content in memory
        # at a time, however many bundles (and scanners) the nation sends
        checked = [read_bundle(Path(p), key, keep_members=False).sha256 for p in paths]
        with write_transaction(db):  # all or nothing: a bundle refused while storing undoes all
            out = []
            for p, sha in zip(paths, checked, strict=True):
                bundle = read_bundle(Path(p), key, keep_members=False)  # streamed when stored
                if bundle.sha256 != sha:
                    raise BundleError(
                        _("Bundle {name} refused: it changed while it was being imported.").format(
                            name=Path(p).name
                        ),
                        _("Import the bundles again."),
                    )
                out.append(store_bundle(db, bundle, by=session.username))
                del bundle
            return out


def _drift(db: Database) -> Any:
    def apply(scanner_id: int, region: str, on: str, value: float) -> float:
        for step in chain_for(db, scanner_id, region, on):
            if step.kind == "drift":
                value = step.intercept + step.slope * value
        return value

    return apply


def national_fit(
    session: Session,
    *,
    reference: str | None = None,
    n_baseline: int = 20,
    bootstrap: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the national fit at the centre and propose steps for every scanner.

    Daily-QC drift and the travelling ESP round go through
    :func:`dxa_app.services.calibration.calibrate` (spine scanner step from the ESP, national
    step from the reference scanner's ESP line); the hip and femoral neck are fitted by
    Deming on the imported pseudonymised in-vivo pairs (:mod:`dxa_app.centre.national`).

    Parameters
    ----------
    session : Session
        The acting centre analyst.
    reference : str, optional
        Serial of the national reference scanner (stored; needed the first time).
    n_baseline : int
        QC baseline length.
    bootstrap, seed : int
        Deming bootstrap resamples and seed.

    Returns
    -------
    dict
        ``calibrate``'s result plus the centre in-vivo fits.
    """
    with acting(session, Permission.CENTRE) as db:
        return _national_fit(
            db,
            reference=reference,
            by=session.username,
            n_baseline=n_baseline,
            bootstrap=bootstrap,
            seed=seed,
        )


def _national_fit(
    db: Database,
    *,
    reference: str | None,
    by: str,
    n_baseline: int,
    bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    run = run_calibration(
        db, reference=reference, by=by, n_baseline=n_baseline, bootstrap=bootstrap, seed=seed
    )
    ref_id = scanner_ids_by_serial(db)[run.reference_serial]
    anchor = hip_anchor_id(db, ref_id)
    with write_transaction(db):
        fits = fit_in_vivo(
            db,
            anchor,
            _drift(db),
            by=by,
            bootstrap=bootstrap,
            seed=seed,
            scale_version=current_scale(db).version,
        )
        audit(
            db,
            "centre_fit",
            username=by,
            entity="calibration",
            details={"reference": run.reference_serial, "in_vivo_fits": len(fits)},
        )
    out = run.to_dict()
    out["fits"] = out["fits"] + [f.to_dict() for f in fits]
    return out


def publish(session: Session, out: Path) -> dict[str, Any]:
    """Write the approved steps as a corrections file signed by the centre key; audited.

    Parameters
    ----------
    session : Session
        The acting centre analyst.
    out : Path
        The corrections file to write.

    Returns
    -------
    dict
        Path, publication time, number of steps and the centre's public key.
    """
    from dxa_app.services.calibration import REFERENCE_SCANNER_KEY

    with acting(session, Permission.CENTRE) as db:
        private, public = centre_key_pair(db, by=session.username)
        data, payload = corr.build_corrections(
            db, private, public, reference=get_setting(db, REFERENCE_SCANNER_KEY)
        )
        corr.write_file(out, data)
        record(
            db,
            session,
            "centre_publish",
            entity="publication",
            details={"steps": len(payload["steps"]), "file": out.name},
        )
    return {
        "path": str(out),
        "published_at": payload["published_at"],
        "steps": len(payload["steps"]),
        "centre_public_key": public,
    }


def trust_centre(session: Session, public_key: str) -> dict[str, str]:
    """Trust the knowledge centre's public key at this site (administrator).

    Parameters
    ----------
    session : Session
        The acting administrator.
    public_key : str
        The centre's Ed25519 public key (base64).

    Returns
    -------
    dict
        The key and its fingerprint.
    """
    with acting(session, Permission.SETTINGS) as db:
        key = set_trusted_centre_key(db, public_key, by=session.username)
    return {"centre_public_key": key, "fingerprint": fingerprint(key)}


def _install_apply(
    payload: dict[str, Any], publication: str
) -> Callable[[Database], tuple[set[int], set[str], set[str]]]:
    def apply(db: Database) -> tuple[set[int], set[str], set[str]]:
        result = corr.install(db, payload, publication, by="preview")
        steps = [step_by_id(db, i) for i in [*result.installed, *result.retired]]
        if result.references:  # a reference table concerns every scanner
            every = scanner_rows(db)
            return {s.id for s in every}, {s.serial for s in every}, {"reference"}
        return (
            {st.scanner_id for st in steps},
            {st.serial for st in steps},
            {st.region for st in steps},
        )

    return apply


def preview_install(session: Session, path: Path) -> ChangePreview:
    """Check a corrections file and return what installing it would change (nothing changes).

    Parameters
    ----------
    session : Session
        The user about to install (technician or administrator of the site).
    path : Path
        The corrections file.

    Returns
    -------
    ChangePreview
        Scanners, regions, affected studies, diagnoses that would change category.
    """
    from dxa_app.services.impact import simulate

    with acting(session, Permission.SITE_EXCHANGE) as db:
        payload, publication = corr.read_corrections(path, trusted_centre_key(db))
        return simulate(db, _install_apply(payload, publication))


def install_corrections(
    session: Session, path: Path, *, password: str, reason: str
) -> corr.InstallResult:
    """Check the centre's signature and install the published steps (password, reason); audited.

    Parameters
    ----------
    session : Session
        The acting user (technician or administrator of the site).
    path : Path
        The corrections file.
    password : str
        The user's password, typed again.
    reason : str
        Why (stored in the audit log with the impact).

    Returns
    -------
    InstallResult
        What was installed.

    Raises
    ------
    BundleError
        When no centre key is trusted or the file is not signed by it.
    UsageError
        Without a reason.
    """
    from dxa_app.services.impact import simulate

    why = reason.strip()
    if not why:
        raise UsageError(
            _("Say why (a reason is stored with the decision)."),
            _("Give it with --reason, or in the dialog."),
        )
    with acting(session, Permission.SITE_EXCHANGE) as db:
        confirm_password(db, session, password)
        payload, publication = corr.read_corrections(path, trusted_centre_key(db))
        impact = simulate(db, _install_apply(payload, publication))
        with write_transaction(db):
            result = corr.install(db, payload, publication, by=session.username)
            record(
                db,
                session,
                "corrections_install_decision",
                entity="publication",
                entity_id=publication,
                details={"reason": why, "impact": impact.to_dict()},
            )
        return result


def centre_stats(
    session: Session,
    *,
    csv_path: Path | None = None,
    plot_path: Path | None = None,
    n_baseline: int = 20,
) -> CentreStats:
    """Compute the centre statistics; optionally write the CSV and the plot.

    Parameters
    ----------
    session : Session
        The acting centre analyst.
    csv_path, plot_path : Path, optional
        Where to write the CSV and the plot (SVG or PDF).
    n_baseline : int
        QC baseline length.

    Returns
    -------
    CentreStats
        Per site and month (VFA use and findings, QC alarms) and the ESP spread.
    """
    with acting(session, Permission.CENTRE) as db:
        return _centre_stats(db, csv_path=csv_path, plot_path=plot_path, n_baseline=n_baseline)


def _centre_stats(
    db: Database,
    *,
    csv_path: Path | None,
    plot_path: Path | None,
    n_baseline: int,
) -> CentreStats:
    series = []
    for q in iter_qc(db, n_baseline=n_baseline):  # one scanner's series at a time
        alarms: list[tuple[int, str]] = []
        for seg in q.segments:
            if seg.analysis is not None:
                alarms += [(h.index, h.severity) for h in seg.analysis.hits]
                alarms += [(i, "cusum") for i in seg.analysis.cusum.alarms]
        series.append(QcSeries(q.site, q.serial, q.dates, tuple(alarms)))

    def chain(scanner_id: int, region: str, on: str) -> tuple[float, float]:
        return compose(chain_for(db, scanner_id, region, on))

    stats = centre_statistics(db, series, chain)
    if csv_path is not None:
        corr.write_file(csv_path, stats_csv(stats).encode("utf-8"))
    if plot_path is not None:
        if not plot_path.parent.is_dir():
            raise UsageError(
                _("The folder {folder} does not exist.").format(folder=plot_path.parent), ""
            )
        save_plot(stats, plot_path)
    return stats
