"""In-vivo Deming fits and step proposals: the one loop for the site's and the centre's pairs."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from calibration.chain import compose_covariance
from calibration.fits import LinearFit, in_vivo_fit
from calibration.precision import precision
from dxa_app.archive.database import Database
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
    db: Database, ref_id: int, other_id: int, region: str, drift: DriftCorrection
) -> tuple[list[PairedPatient], tuple[str, ...]]:
    """Return the drift-corrected patients of two scanners and the sites sending them.

    A site sends one row per pair of scans within the in-vivo window (every combination, so
    a patient's repeats arrive as several rows): the rows of one pseudonym, side and region
    give that patient's distinct scans on each scanner. A patient sent by two sites (both
    hold the two scans, under different pseudonyms) is counted once: patients are told apart
    by their scanners, side and scans (dates and values).
    """
    rows = db.execute(
        "SELECT site_code, pseudonym, side, scanner_a_id, date_a, bmd_a, scanner_b_id,"
        " date_b, bmd_b FROM centre_in_vivo_pairs WHERE region = ?"
        " AND ((scanner_a_id = ? AND scanner_b_id = ?) OR (scanner_a_id = ? AND scanner_b_id = ?))"
        " ORDER BY site_code, pseudonym, side, date_a, bmd_a, date_b, bmd_b",
        [region, ref_id, other_id, other_id, ref_id],
    ).fetchall()
    grouped: dict[tuple[str, str, str], tuple[set[tuple[str, float]], set[tuple[str, float]]]] = {}
    for site, pseud, side, sa, da, va, _sb, db_, vb in rows:
        scans = grouped.setdefault((str(site), str(pseud), str(side or "")), (set(), set()))
        a, b = (str(da), float(va)), (str(db_), float(vb))
        ref_scan, other_scan = (a, b) if int(sa) == ref_id else (b, a)
        scans[0].add(other_scan)
        scans[1].add(ref_scan)
    seen: dict[tuple[str, tuple[tuple[str, float], ...], tuple[tuple[str, float], ...]], int] = {}
    patients: list[PairedPatient] = []
    sites: set[str] = set()
    for (site, pseud, side), (other_scans, ref_scans) in sorted(grouped.items()):
        sites.add(site)
        key = (side, tuple(sorted(other_scans)), tuple(sorted(ref_scans)))
        if key in seen:
            continue
        seen[key] = len(patients)
        patients.append(
            PairedPatient(
                tuple(drift(other_id, region, d, v) for d, v in sorted(other_scans)),
                tuple(drift(ref_id, region, d, v) for d, v in sorted(ref_scans)),
                f"{site}:{pseud[:8]}",
            )
        )
    return patients, tuple(sorted(sites))


@dataclass(frozen=True)
class PairedPatient:
    """One patient's drift-corrected scans of a region and side on two scanners.

    Every scan within the in-vivo window counts: the fit uses the mean per scanner, and the
    spread of the repeats estimates each scanner's precision when no study exists.
    """

    other: tuple[float, ...]
    reference: tuple[float, ...]
    label: str = ""

    @property
    def other_mean(self) -> float:
        """Return the mean of the scans on the other scanner."""
        return sum(self.other) / len(self.other)

    @property
    def reference_mean(self) -> float:
        """Return the mean of the scans on the reference scanner."""
        return sum(self.reference) / len(self.reference)


@dataclass(frozen=True)
class PairSet:
    """In-vivo pairs of one scanner and region: (this scanner, reference) drift-corrected.

    ``pairs`` are per-patient means; ``patients`` (when known) hold the scans behind them.
    """

    pairs: list[tuple[float, float]]
    sites: tuple[str, ...] = ()
    patients: tuple[PairedPatient, ...] = ()

    @classmethod
    def of(cls, patients: Sequence[PairedPatient], sites: tuple[str, ...] = ()) -> PairSet:
        """Return the pair set of these patients (their means)."""
        return cls([(p.other_mean, p.reference_mean) for p in patients], sites, tuple(patients))

    def repeats(self) -> tuple[float, float, float | None, float | None]:
        """Return the mean scans per patient (other, reference) and the repeat SDs.

        A repeat SD is the pooled within-patient SD of the patients with two or more scans
        on that scanner, given only with at least :data:`MIN_REPEAT_DF` degrees of freedom.
        """
        if not self.patients:
            return 1.0, 1.0, None, None
        k_o = sum(len(p.other) for p in self.patients) / len(self.patients)
        k_r = sum(len(p.reference) for p in self.patients) / len(self.patients)
        return (
            k_o,
            k_r,
            _repeat_sd([p.other for p in self.patients]),
            _repeat_sd([p.reference for p in self.patients]),
        )


#: The fewest degrees of freedom of repeat scans that give a precision estimate (ISCD asks
#: for 30 in a precision study; 10 is a usable, stated minimum for the variance ratio).
MIN_REPEAT_DF = 10


def _repeat_sd(groups: Sequence[tuple[float, ...]]) -> float | None:
    many = [g for g in groups if len(g) >= 2]
    df = sum(len(g) - 1 for g in many)
    if df < MIN_REPEAT_DF:
        return None
    return precision([list(g) for g in many]).rms_sd


#: ``pairs_for(other_scanner_id, region)`` -> the pairs, or None when there are none.
PairsFor = Callable[[int, str], PairSet | None]


def _fit_pairs(
    db: Database,
    ref_id: int,
    other_id: int,
    region: str,
    found: PairSet,
    *,
    bootstrap: int,
    seed: int,
) -> tuple[Any, dict[str, Any]]:
    """Fit ``ref = a + b * other`` on one pair set; return the fit and its provenance."""
    pairs = found.pairs
    sd_other = latest_precision(db, other_id, region)
    sd_ref = latest_precision(db, ref_id, region)
    k_other, k_ref, rep_other, rep_ref = found.repeats()
    iv = in_vivo_fit(
        [p[0] for p in pairs],
        [p[1] for p in pairs],
        sd_other=None if sd_other is None else sd_other.rms_sd_g_cm2,
        sd_reference=None if sd_ref is None else sd_ref.rms_sd_g_cm2,
        k_other=k_other,
        k_reference=k_ref,
        repeat_sd_other=rep_other,
        repeat_sd_reference=rep_ref,
        bootstrap=bootstrap,
        seed=seed,
    )
    prov: dict[str, Any] = {
        **iv.provenance(),
        "scans_per_patient": {"this": k_other, "reference": k_ref},
        "repeat_sd": {"this": rep_other, "reference": rep_ref},
        "precision_study_sd": {
            "this": None if sd_other is None else sd_other.rms_sd_g_cm2,
            "reference": None if sd_ref is None else sd_ref.rms_sd_g_cm2,
        },
    }
    if found.sites:
        prov["sites"] = list(found.sites)
    return iv, prov


#: ``pairs_between(scanner_a, scanner_b, region)`` -> the pairs of two scanners, or None.
PairsBetween = Callable[[int, int, str], PairSet | None]


def fit_in_vivo_steps(
    db: Database,
    *,
    ref_id: int,
    others: Iterable[int],
    pairs_for: PairsFor,
    dataset_prefix: str,
    model: str,
    by: str,
    bootstrap: int = 2000,
    seed: int = 0,
    pairs_between: PairsBetween | None = None,
) -> list[InVivoFit]:
    """Fit every scanner's groups on the reference scanner from in-vivo pairs; propose steps.

    The one in-vivo loop of the site fit (pairs from its own patients) and the centre fit
    (pseudonymised pairs from the bundles): Deming regression ``reference = a + b * this`` of
    the per-patient means of repeated scans, delta from the two scanners' latest precision
    studies, else from the patients' repeat scans, else 1 with a warning (each divided by the
    mean scans per patient), with Bland-Altman limits and the leave-one-out prediction error,
    at least :data:`MIN_PAIRS` pairs. A step is proposed for the hip and the femoral neck
    (flagged "needs review" when its slope is outside 0.85-1.15: it cannot be approved
    without saying it was reviewed); the spine fit is only reported (the phantom calibrates
    the spine).

    A scanner without enough pairs with the reference (the scale's hip anchor) is linked
    through an in-vivo chain when ``pairs_between`` is given: fitted onto a scanner that was
    fitted onto the reference in this run, and the two lines composed (their uncertainties
    too); the provenance names the scanner it was linked through.

    Parameters
    ----------
    db : Database
        The archive.
    ref_id : int
        The scanner whose readings are the scale (the reference scanner or the hip anchor).
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
    pairs_between : callable, optional
        ``pairs_between(this, via, region)``: pairs of two other scanners, for chains.

    Returns
    -------
    list of InVivoFit
        One per scanner and group with enough pairs (direct or through a chain).
    """
    serial_of = serials_by_id(db)
    out: list[InVivoFit] = []
    others = list(others)
    direct: dict[tuple[int, str], tuple[float, float, float, float, float]] = {}
    for other_id in others:
        for group, region in GROUP_FIT_REGION.items():
            found = pairs_for(other_id, region)
            if found is None or len(found.pairs) < MIN_PAIRS:
                continue
            iv, prov = _fit_pairs(
                db, ref_id, other_id, region, found, bootstrap=bootstrap, seed=seed
            )
            fit = iv.fit
            va, vb, cab = iv.covariance()
            direct[(other_id, group)] = (fit.intercept, fit.slope, va, vb, cab)
            dataset = f"{dataset_prefix}:{serial_of[ref_id]}~{serial_of[other_id]}"
            prov = {**prov, "reference_scanner": serial_of[ref_id], "model": model}
            out.append(_propose(db, other_id, group, dataset, fit, iv, prov, len(found.pairs), by))
    if pairs_between is None:
        return out
    for other_id in others:
        for group, region in GROUP_FIT_REGION.items():
            if group == "spine" or (other_id, group) in direct:
                continue
            for via in sorted(v for (v, g) in direct if g == group and v != other_id):
                found = pairs_between(other_id, via, region)
                if found is None or len(found.pairs) < MIN_PAIRS:
                    continue
                iv, prov = _fit_pairs(
                    db, via, other_id, region, found, bootstrap=bootstrap, seed=seed
                )
                fit = iv.fit
                first = (fit.intercept, fit.slope, *iv.covariance())
                a, b, va, vb, cab = compose_covariance(first, direct[(via, group)])
                dataset = (
                    f"{dataset_prefix}:{serial_of[ref_id]}~{serial_of[via]}~{serial_of[other_id]}"
                )
                prov = {
                    **prov,
                    "reference_scanner": serial_of[ref_id],
                    "linked_via": serial_of[via],
                    "link_fit": {"intercept": fit.intercept, "slope": fit.slope},
                    "via_line": {
                        "intercept": direct[(via, group)][0],
                        "slope": direct[(via, group)][1],
                    },
                    "model": f"{model}; linked through {serial_of[via]} (an in-vivo chain)",
                }
                composed = LinearFit(
                    "deming-chain",
                    a,
                    b,
                    (math.nan, math.nan),
                    (math.nan, math.nan),
                    fit.residual_sd,
                    fit.n,
                    fit.confidence,
                    {
                        "intercept_se_boot": math.sqrt(max(va, 0.0)),
                        "slope_se_boot": math.sqrt(max(vb, 0.0)),
                        "intercept_slope_cov_boot": cab,
                    },
                )
                out.append(
                    _propose(
                        db,
                        other_id,
                        group,
                        dataset,
                        composed,
                        iv,
                        prov,
                        len(found.pairs),
                        by,
                        covariance=(va, vb, cab),
                    )
                )
                break
    return out


def _propose(
    db: Database,
    other_id: int,
    group: str,
    dataset: str,
    fit: LinearFit,
    iv: Any,
    prov: dict[str, Any],
    n: int,
    by: str,
    *,
    covariance: tuple[float, float, float] | None = None,
) -> InVivoFit:
    serial_of = serials_by_id(db)
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
            n=n,
            provenance=prov,
            by=by,
            covariance=covariance or iv.covariance(),
        )
    return InVivoFit(
        serial_of[other_id],
        group,
        dataset,
        fit,
        step_id,
        n,
        tuple(prov.get("sites") or ()),
        {
            "bland_altman": prov["bland_altman"],
            "delta": iv.delta,
            "delta_source": iv.delta_source,
            "leave_one_out": prov["leave_one_out"],
            "warning": iv.warning,
            "needs_review": iv.needs_review,
            "linked_via": prov.get("linked_via"),
        },
    )


def fit_in_vivo(
    db: Database,
    ref_id: int,
    drift: DriftCorrection,
    *,
    by: str,
    bootstrap: int = 2000,
    seed: int = 0,
    scale_version: int = 0,
) -> list[InVivoFit]:
    """Fit every scanner's hip and femoral neck on the scale's anchor from imported pairs.

    The centre's pairs (:func:`centre_pairs`) through :func:`fit_in_vivo_steps`; a scanner
    without pairs with the anchor is linked through an in-vivo chain where pairs allow.

    Parameters
    ----------
    db : Database
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
    links: dict[tuple[int, int], set[str]] = defaultdict(set)
    for a, b, region in db.execute(
        "SELECT DISTINCT scanner_a_id, scanner_b_id, region FROM centre_in_vivo_pairs"
    ).fetchall():
        links[(int(a), int(b))].add(str(region))
        links[(int(b), int(a))].add(str(region))
    others = sorted({a for a, _b in links if a != ref_id})

    def pairs_between(this_id: int, via_id: int, region: str) -> PairSet | None:
        if region not in links.get((this_id, via_id), set()):
            return None
        patients, sites = centre_pairs(db, via_id, this_id, region, drift)
        return PairSet.of(patients, sites)

    def pairs_for(other_id: int, region: str) -> PairSet | None:
        return pairs_between(other_id, ref_id, region)

    return fit_in_vivo_steps(
        db,
        ref_id=ref_id,
        others=others,
        pairs_for=pairs_for,
        dataset_prefix="centre-in-vivo" + (f":scale=v{scale_version}" if scale_version else ""),
        model="reference = intercept + slope * this scanner (Deming, centre pairs)",
        by=by,
        bootstrap=bootstrap,
        seed=seed,
        pairs_between=pairs_between,
    )
