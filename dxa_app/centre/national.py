"""In-vivo Deming fits and step proposals: the one loop for the site's and the centre's pairs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from calibration.fits import LinearFit, in_vivo_fit
from dxa_app.archive.precision import latest_precision
from dxa_app.archive.scanners import serials_by_id
from dxa_app.archive.steps import propose_step

#: The region whose pairs fit each step group; the spine pairs only check the phantom fit.
GROUP_FIT_REGION = {"total_hip": "total_hip", "femoral_neck": "femoral_neck", "spine": "L1-L4"}
EARLIEST = "1900-01-01"
MIN_PAIRS = 10

#: ``drift(scanner_id, region, date, value)`` -> the value after approved drift steps.
DriftCorrection = Callable[[int, str, str, float], float]


@dataclass(frozen=True)
class InVivoFit:
    """One centre in-vivo fit and the step it proposed (None when identical exists/spine)."""

    serial: str
    group: str
    dataset: str
    fit: LinearFit
    step_id: int | None
    n_pairs: int
    sites: tuple[str, ...]
    extra: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (same keys as ``calibrate``'s fits)."""
        return {
            "serial": self.serial,
            "group": self.group,
            "kind": "scanner",
            "dataset": self.dataset,
            "fit": self.fit.to_dict(),
            "proposed_step": self.step_id,
            "n_pairs": self.n_pairs,
            "sites": list(self.sites),
            **self.extra,
        }


def centre_pairs(
    db: sqlite_utils.Database, ref_id: int, other_id: int, region: str, drift: DriftCorrection
) -> tuple[list[tuple[float, float]], tuple[str, ...]]:
    """Return (other, reference) drift-corrected pairs of two scanners and the sites sending them.

    A pair sent by two sites (both hold the two scans, under different pseudonyms) is counted
    once: pairs are told apart by their scanners, dates, side and values.
    """
    rows = db.execute(
        "SELECT scanner_a_id, date_a, bmd_a, scanner_b_id, date_b, bmd_b,"
        " group_concat(DISTINCT site_code) FROM centre_in_vivo_pairs WHERE region = ?"
        " AND ((scanner_a_id = ? AND scanner_b_id = ?) OR (scanner_a_id = ? AND scanner_b_id = ?))"
        " GROUP BY scanner_a_id, date_a, bmd_a, scanner_b_id, date_b, bmd_b, side"
        " ORDER BY date_a, bmd_a, date_b, bmd_b",
        [region, ref_id, other_id, other_id, ref_id],
    ).fetchall()
    pairs: list[tuple[float, float]] = []
    sites: set[str] = set()
    for sa, da, va, sb, db_, vb, site_codes in rows:
        a = drift(int(sa), region, str(da), float(va))
        b = drift(int(sb), region, str(db_), float(vb))
        pairs.append((b, a) if int(sa) == ref_id else (a, b))
        sites.update(str(site_codes).split(","))
    return pairs, tuple(sorted(sites))


@dataclass(frozen=True)
class PairSet:
    """In-vivo pairs of one scanner and region: (this scanner, reference) drift-corrected."""

    pairs: list[tuple[float, float]]
    sites: tuple[str, ...] = ()


#: ``pairs_for(other_scanner_id, region)`` -> the pairs, or None when there are none.
PairsFor = Callable[[int, str], PairSet | None]


def fit_in_vivo_steps(
    db: sqlite_utils.Database,
    *,
    ref_id: int,
    others: Iterable[int],
    pairs_for: PairsFor,
    dataset_prefix: str,
    model: str,
    by: str,
    bootstrap: int = 2000,
    seed: int = 0,
) -> list[InVivoFit]:
    """Fit every scanner's groups on the reference scanner from in-vivo pairs; propose steps.

    The one in-vivo loop of the site fit (pairs from its own patients) and the centre fit
    (pseudonymised pairs from the bundles): Deming regression ``reference = a + b * this``
    (delta from the two scanners' latest precision studies when both exist, else 1) with
    Bland-Altman limits, at least :data:`MIN_PAIRS` pairs; a step is proposed for the hip and
    the femoral neck, the spine fit is only reported (the phantom calibrates the spine).

    Parameters
    ----------
    db : sqlite_utils.Database
        The archive.
    ref_id : int
        The national reference scanner.
    others : iterable of int
        The scanners to fit.
    pairs_for : callable
        ``pairs_for(scanner_id, region)`` returns that scanner's pairs.
    dataset_prefix : str
        Names the data set (``{prefix}:{reference serial}~{serial}``).
    model : str
        The model sentence stored in the provenance.
    by : str
        Who fits (provenance).
    bootstrap, seed : int
        Deming bootstrap resamples and seed.

    Returns
    -------
    list of InVivoFit
        One per scanner and group with enough pairs.
    """
    serial_of = serials_by_id(db)
    out: list[InVivoFit] = []
    for other_id in others:
        for group, region in GROUP_FIT_REGION.items():
            found = pairs_for(other_id, region)
            if found is None or len(found.pairs) < MIN_PAIRS:
                continue
            pairs = found.pairs
            sd_other = latest_precision(db, other_id, region)
            sd_ref = latest_precision(db, ref_id, region)
            iv = in_vivo_fit(
                [p[0] for p in pairs],
                [p[1] for p in pairs],
                sd_other=None if sd_other is None else sd_other.rms_sd_g_cm2,
                sd_reference=None if sd_ref is None else sd_ref.rms_sd_g_cm2,
                bootstrap=bootstrap,
                seed=seed,
            )
            fit = iv.fit
            dataset = f"{dataset_prefix}:{serial_of[ref_id]}~{serial_of[other_id]}"
            prov: dict[str, Any] = {
                **iv.provenance(),
                "reference_scanner": serial_of[ref_id],
                "model": model,
            }
            if found.sites:
                prov["sites"] = list(found.sites)
            step_id = None
            if group != "spine":
                step_id = propose_step(
                    db,
                    scanner_id=other_id,
                    region=group,
                    kind="scanner",
                    intercept=fit.intercept,
                    slope=fit.slope,
                    valid_from=EARLIEST,
                    method="deming-in-vivo",
                    dataset=dataset,
                    n=len(pairs),
                    provenance=prov,
                    by=by,
                )
            out.append(
                InVivoFit(
                    serial_of[other_id],
                    group,
                    dataset,
                    fit,
                    step_id,
                    len(pairs),
                    found.sites,
                    {"bland_altman": prov["bland_altman"], "delta": iv.delta},
                )
            )
    return out


def fit_in_vivo(
    db: sqlite_utils.Database,
    ref_id: int,
    drift: DriftCorrection,
    *,
    by: str,
    bootstrap: int = 2000,
    seed: int = 0,
) -> list[InVivoFit]:
    """Fit every scanner's hip and femoral neck on the reference scanner from imported pairs.

    The centre's pairs (:func:`centre_pairs`) through :func:`fit_in_vivo_steps`.

    Parameters
    ----------
    db : sqlite_utils.Database
        The centre archive (pairs in ``centre_in_vivo_pairs``).
    ref_id : int
        The national reference scanner.
    drift : callable
        Applies the approved drift steps to a value.
    by : str
        Who fits (provenance).
    bootstrap, seed : int
        Deming bootstrap resamples and seed.

    Returns
    -------
    list of InVivoFit
        One per scanner and group with enough pairs.
    """
    partners: dict[int, set[str]] = defaultdict(set)
    for a, b, region in db.execute(
        "SELECT DISTINCT scanner_a_id, scanner_b_id, region FROM centre_in_vivo_pairs"
        " WHERE scanner_a_id = ? OR scanner_b_id = ?",
        [ref_id, ref_id],
    ).fetchall():
        partners[int(b) if int(a) == ref_id else int(a)].add(str(region))

    def pairs_for(other_id: int, region: str) -> PairSet | None:
        if region not in partners[other_id]:
            return None
        pairs, sites = centre_pairs(db, ref_id, other_id, region, drift)
        return PairSet(pairs, sites)

    return fit_in_vivo_steps(
        db,
        ref_id=ref_id,
        others=sorted(partners),
        pairs_for=pairs_for,
        dataset_prefix="centre-in-vivo",
        model="reference = intercept + slope * this scanner (Deming, centre pairs)",
        by=by,
        bootstrap=bootstrap,
        seed=seed,
    )
