"""Use cases of the knowledge-centre exchange: export, import, national fit, publish, install.

Privacy: a bundle holds no names, CPR numbers, birth dates, accession numbers or UIDs; in-vivo
patients are HMAC-SHA256 pseudonyms under a per-site secret that never leaves the archive,
with age in whole years and sex only. See docs/centre.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from calibration.chain import compose
from dxa_app.archive import write_transaction
from dxa_app.archive.db import audit, now_iso
from dxa_app.centre import corrections as corr
from dxa_app.centre.bundle import read_bundle, write_bundle
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
from dxa_app.domain import Role
from dxa_app.errors import NotFoundError, PermissionDeniedError, UsageError
from dxa_app.i18n import _
from dxa_app.services.calibration import calibrate, chain_for, qc_status

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


def _site_id(db: sqlite_utils.Database, code: str | None) -> tuple[int, str]:
    sites = [
        (int(r["id"]), str(r["code"]))
        for r in db.query(
            "SELECT DISTINCT si.id, si.code FROM sites si JOIN scanners sc ON sc.site_id = si.id"
            " ORDER BY si.code"
        )
    ]
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


def export_bundle(
    db: sqlite_utils.Database, out: Path, *, site: str | None = None, by: str = ""
) -> ExportResult:
    """Write one site's signed, patient-free bundle for the knowledge centre.

    Parameters
    ----------
    db : sqlite_utils.Database
        The site's archive.
    out : Path
        The bundle (zip) to write.
    site : str, optional
        The site code; needed when the archive holds more than one site.
    by : str
        Who exports (audit log).

    Returns
    -------
    ExportResult
        Path, SHA-256, the site's public key and the row counts.
    """
    from dxa_app import __version__

    site_id, code = _site_id(db, site)
    private, public = site_key_pair(db, code, by=by)
    data = collect_site(db, site_id, pseudonym_secret(db, code))
    header = {
        "site": data.site,
        "created_at": now_iso(),
        "program": f"dxa {__version__}",
        "counts": data.counts,
    }
    sha = write_bundle(out, data.members, header, private, public)
    audit(
        db,
        "centre_export",
        username=by,
        entity="site",
        entity_id=code,
        details={"sha256": sha, "counts": data.counts, "file": out.name},
    )
    return ExportResult(str(out), code, sha, public, data.counts)


def site_keys(db: sqlite_utils.Database, site: str | None = None) -> list[dict[str, str]]:
    """Return the site's public key (generated on first use) to register at the centre."""
    codes = (
        [site]
        if site is not None
        else [
            str(r["code"])
            for r in db.query(
                "SELECT DISTINCT si.code FROM sites si JOIN scanners sc ON sc.site_id = si.id"
                " ORDER BY si.code"
            )
        ]
    )
    if site is not None:
        _site_id(db, site)
    out = []
    for code in codes:
        _private, public = site_key_pair(db, code)
        out.append({"site": code, "public_key": public, "fingerprint": fingerprint(public)})
    return out


def centre_keys(db: sqlite_utils.Database) -> dict[str, str]:
    """Return the knowledge centre's public key (generated on first use) for the sites."""
    _private, public = centre_key_pair(db)
    return {"centre_public_key": public, "fingerprint": fingerprint(public)}


def register_site_key(
    db: sqlite_utils.Database, code: str, public_key: str, *, by: str = ""
) -> dict[str, str]:
    """Register a site's public key at the centre (bundles from it are then accepted)."""
    key = register_site(db, code, public_key, by=by)
    return {"site": code, "public_key": key, "fingerprint": fingerprint(key)}


def import_bundles(
    db: sqlite_utils.Database, paths: Sequence[Path], *, by: str = ""
) -> list[BundleImport]:
    """Verify every bundle first, then import them; one refused bundle imports nothing.

    Raises
    ------
    BundleError
        For the first bundle that is damaged, tampered with, signed by an unregistered key,
        or of a newer schema; the archive is then unchanged.
    """
    verified = [read_bundle(Path(p), lambda code: registered_key(db, code)) for p in paths]
    return [store_bundle(db, b, by=by) for b in verified]


def _drift(db: sqlite_utils.Database) -> Any:
    def apply(scanner_id: int, region: str, on: str, value: float) -> float:
        for step in chain_for(db, scanner_id, region, on):
            if step.kind == "drift":
                value = step.intercept + step.slope * value
        return value

    return apply


def national_fit(
    db: sqlite_utils.Database,
    *,
    reference: str | None = None,
    by: str = "",
    n_baseline: int = 20,
    bootstrap: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the national fit at the centre and propose steps for every scanner.

    Daily-QC drift and the travelling ESP round go through
    :func:`dxa_app.services.calibration.calibrate` (spine scanner step from the ESP, national
    step from the reference scanner's ESP line); the hip and femoral neck are fitted by
    Deming on the imported pseudonymised in-vivo pairs (:mod:`dxa_app.centre.national`).

    Returns
    -------
    dict
        ``calibrate``'s result plus the centre in-vivo fits.
    """
    run = calibrate(
        db, reference=reference, by=by, n_baseline=n_baseline, bootstrap=bootstrap, seed=seed
    )
    ref_id = int(
        next(iter(db.query("SELECT id FROM scanners WHERE serial = ?", [run.reference_serial])))[
            "id"
        ]
    )
    with write_transaction(db):
        fits = fit_in_vivo(db, ref_id, _drift(db), by=by, bootstrap=bootstrap, seed=seed)
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


def publish(db: sqlite_utils.Database, out: Path, *, user: str, role: Role) -> dict[str, Any]:
    """Write the approved steps as a corrections file signed by the centre key.

    Raises
    ------
    PermissionDeniedError
        Unless the user is a centre analyst.
    """
    if role is not Role.CENTRE_ANALYST:
        raise PermissionDeniedError(
            _("Only the knowledge centre publishes corrections."),
            _("Ask a user with the role centre_analyst."),
        )
    from dxa_app.archive import get_setting
    from dxa_app.services.calibration import REFERENCE_SCANNER_KEY

    private, public = centre_key_pair(db, by=user)
    data, payload = corr.build_corrections(
        db, private, public, reference=get_setting(db, REFERENCE_SCANNER_KEY)
    )
    corr.write_file(out, data)
    audit(
        db,
        "centre_publish",
        username=user,
        entity="publication",
        details={"steps": len(payload["steps"]), "file": out.name},
    )
    return {
        "path": str(out),
        "published_at": payload["published_at"],
        "steps": len(payload["steps"]),
        "centre_public_key": public,
    }


def trust_centre(
    db: sqlite_utils.Database, public_key: str, *, user: str, role: Role
) -> dict[str, str]:
    """Trust the knowledge centre's public key at this site (admin role).

    Raises
    ------
    PermissionDeniedError
        Unless the user is an administrator.
    """
    if role is not Role.ADMIN:
        raise PermissionDeniedError(
            _("Only an administrator chooses the trusted knowledge-centre key."),
            _("Ask a user with the role admin."),
        )
    key = set_trusted_centre_key(db, public_key, by=user)
    return {"centre_public_key": key, "fingerprint": fingerprint(key)}


def install_corrections(
    db: sqlite_utils.Database, path: Path, *, by: str = ""
) -> corr.InstallResult:
    """Check the centre's signature and install the published steps for this site's scanners.

    Raises
    ------
    BundleError
        When no centre key is trusted or the file is not signed by it.
    """
    payload, publication = corr.read_corrections(path, trusted_centre_key(db))
    return corr.install(db, payload, publication, by=by)


def centre_stats(
    db: sqlite_utils.Database,
    *,
    csv_path: Path | None = None,
    plot_path: Path | None = None,
    n_baseline: int = 20,
) -> CentreStats:
    """Compute the centre statistics; optionally write the CSV and the plot.

    Returns
    -------
    CentreStats
        Per site and month (VFA use and findings, QC alarms) and the ESP spread.
    """
    series = []
    for q in qc_status(db, n_baseline=n_baseline):
        alarms: list[tuple[int, str]] = []
        if q.analysis is not None:
            alarms = [(h.index, h.severity) for h in q.analysis.hits]
            alarms += [(i, "cusum") for i in q.analysis.cusum.alarms]
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
