"""Deterministic synthetic demo data: sites, scanners with known bias, patients, QC, ESP rounds.

Everything here is invented. Scanner s reports ``raw = intercept_s + slope_s * true + noise``
per region group (spine, hip, femoral neck), where ``true`` is the demo's national scale
(Hologic-equivalent g/cm2). The truth file records every bias, the injected QC step shift and
each patient's true BMD, so tests can check that calibration recovers them. CPR numbers are
obviously fake: serial digits ``99xx``, family names ``DemoNNN``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydicom.uid import generate_uid

from dxa_app.domain import (
    VERTEBRAE,
    CertifiedValue,
    IdType,
    Manufacturer,
    Morphology,
    PatientIdentity,
    PhantomCertificate,
    PhantomIdentity,
    PhantomKind,
    PhantomPurpose,
    PhantomRegion,
    PhantomResult,
    PhantomScanRecord,
    Region,
    RegionResult,
    ScannerIdentity,
    ScanRecord,
    ScanType,
    Sex,
    Side,
    StudyInfo,
    StudyRecord,
    VfaFinding,
    VfaLevel,
    VfaReadingRecord,
)

GENERATOR_VERSION = 1
DEFAULT_SEED = 2026
QC_START = dt.date(2026, 6, 1)
QC_DAYS = 90
N_PATIENTS = 200
N_IN_VIVO = 30
#: In-vivo cross-calibration sets: (reference scanner, other scanner, days between the scans).
#: Every scanner is linked to the reference S1, so every scanner's hip can be calibrated in
#: vivo (a spine phantom does not calibrate the hip). Before the Discovery W's QC step.
IN_VIVO_SETS: tuple[tuple[str, str, int], ...] = (("S1", "S3", 0), ("S1", "S2", 7), ("S1", "S4", 7))
ESP_SCANS_PER_SCANNER = 10
ROUND_NAME = "ESP-2026-R1"

ExportKind = Literal["hologic_xml", "hologic_text", "ge_sr", "csv"]


@dataclass(frozen=True)
class Bias:
    """A scanner's linear response to true BMD: raw = intercept + slope * true + N(0, noise_sd)."""

    slope: float
    intercept: float
    noise_sd: float

    def measure(self, true: float, rng: np.random.Generator, noise_scale: float = 1.0) -> float:
        """Return one noisy raw reading of ``true``."""
        return (
            self.intercept + self.slope * true + float(rng.normal(0.0, self.noise_sd * noise_scale))
        )


@dataclass(frozen=True)
class DemoScanner:
    """One demo scanner, its site, biases, QC phantom and export format."""

    key: str
    identity: ScannerIdentity
    site: str
    export: ExportKind
    spine: Bias
    hip: Bias
    neck: Bias
    qc_phantom: PhantomIdentity
    qc_true_bmd: float

    def bias_for(self, region: Region) -> Bias:
        """Return the bias of the region group a region belongs to."""
        if region.is_vertebra or region in (Region.L1_L4, Region.L2_L4):
            return self.spine
        if region is Region.FEMORAL_NECK:
            return self.neck
        return self.hip


SITES = {
    "SYD": "Demo Syd Hospital",
    "MIDT": "Demo Midt Hospital",
    "NORD": "Demo Nord Hospital",
}


def demo_scanners() -> tuple[DemoScanner, ...]:
    """Return the four demo scanners (2 Hologic, 2 GE Lunar at 3 sites) with their true bias.

    The GE biases follow the published direction (Lunar reads about 10 % higher on the
    spine and 3 % on the hip than Hologic); the numbers are invented for the demo.
    """
    return (
        DemoScanner(
            key="S1",
            identity=ScannerIdentity(
                Manufacturer.HOLOGIC,
                "Horizon A",
                "HZA-DEMO-101",
                "Apex 5.6.0.5",
                "DXA-SYD-1",
                SITES["SYD"],
            ),
            site="SYD",
            export="hologic_xml",
            spine=Bias(1.000, 0.000, 0.010),
            hip=Bias(1.000, 0.000, 0.008),
            neck=Bias(1.000, 0.000, 0.010),
            qc_phantom=PhantomIdentity(PhantomKind.HOLOGIC_SPINE, "HSP-DEMO-1101"),
            qc_true_bmd=1.020,
        ),
        DemoScanner(
            key="S2",
            identity=ScannerIdentity(
                Manufacturer.HOLOGIC,
                "Discovery W",
                "DSW-DEMO-202",
                "Apex 4.0.2",
                "DXA-MIDT-1",
                SITES["MIDT"],
            ),
            site="MIDT",
            export="hologic_text",
            spine=Bias(1.025, -0.012, 0.011),
            hip=Bias(0.985, 0.008, 0.009),
            neck=Bias(0.990, 0.004, 0.011),
            qc_phantom=PhantomIdentity(PhantomKind.HOLOGIC_SPINE, "HSP-DEMO-2202"),
            qc_true_bmd=1.020,
        ),
        DemoScanner(
            key="S3",
            identity=ScannerIdentity(
                Manufacturer.GE_LUNAR,
                "Lunar iDXA",
                "IDXA-DEMO-303",
                "enCORE 18.0",
                "DXA-SYD-2",
                SITES["SYD"],
            ),
            site="SYD",
            export="ge_sr",
            spine=Bias(1.104, 0.028, 0.010),
            hip=Bias(1.030, 0.038, 0.008),
            neck=Bias(1.157, 0.045, 0.010),
            qc_phantom=PhantomIdentity(PhantomKind.LUNAR_ALUMINIUM, "ASP-DEMO-3303"),
            qc_true_bmd=1.100,
        ),
        DemoScanner(
            key="S4",
            identity=ScannerIdentity(
                Manufacturer.GE_LUNAR,
                "Lunar Prodigy",
                "PRO-DEMO-404",
                "enCORE 16.2",
                "DXA-NORD-1",
                SITES["NORD"],
            ),
            site="NORD",
            export="csv",
            spine=Bias(1.090, 0.035, 0.012),
            hip=Bias(1.020, 0.040, 0.009),
            neck=Bias(1.140, 0.050, 0.012),
            qc_phantom=PhantomIdentity(PhantomKind.LUNAR_ALUMINIUM, "ASP-DEMO-4404"),
            qc_true_bmd=1.100,
        ),
    )


#: The injected QC step shift: scanner key, first day (index into the QC period), factor.
STEP_SHIFT = ("S2", 60, 1.025)

ESP = PhantomIdentity(PhantomKind.ESP, "ESP-DEMO-042", "European Spine Phantom (demo serial)")
#: Demo certificate (invented, close to the nominal 0.5 / 1.0 / 1.5 g/cm2).
ESP_CERTIFIED = {PhantomRegion.V1: 0.497, PhantomRegion.V2: 1.012, PhantomRegion.V3: 1.488}

#: Illustrative vendor young-adult references (mean, SD) used only to fill the scanners'
#: own printed T-scores in the demo files; the product computes T against the national table.
_VENDOR_REF = {
    (Manufacturer.HOLOGIC, "spine"): (1.047, 0.110),
    (Manufacturer.HOLOGIC, "hip"): (0.942, 0.122),
    (Manufacturer.HOLOGIC, "neck"): (0.858, 0.120),
    (Manufacturer.GE_LUNAR, "spine"): (1.180, 0.120),
    (Manufacturer.GE_LUNAR, "hip"): (1.010, 0.125),
    (Manufacturer.GE_LUNAR, "neck"): (1.040, 0.135),
}

_GIVEN_F = (
    "Anne",
    "Birgit",
    "Kirsten",
    "Mette",
    "Hanne",
    "Åse",
    "Bente",
    "Lone",
    "Søs",
    "Inge",
    "Grethe",
    "Jytte",
    "Karen",
    "Ellen",
    "Bodil",
    "Dorthe",
    "Ærtebølle-Lis",
)
_GIVEN_M = ("Søren", "Jørgen", "Niels", "Poul", "Ole", "Bjørn", "Henrik", "Preben", "Åge")
_INDICATIONS = (
    "Postmenopausal kvinde, tidligere håndledsfraktur",
    "Prednisolonbehandling > 3 mdr",
    "Kontrol under behandling",
    "Lav vægt og arvelig disposition",
    "Lavenergifraktur, henvist fra FLS",
    "Reumatoid artritis",
)
_VERTEBRA_SHAPE = {Region.L1: 0.93, Region.L2: 0.99, Region.L3: 1.03, Region.L4: 1.04}
_VERTEBRA_AREA = {Region.L1: 14.0, Region.L2: 15.0, Region.L3: 16.0, Region.L4: 17.5}
_HIP_AREA = {
    Region.TOTAL_HIP: 36.0,
    Region.FEMORAL_NECK: 5.1,
    Region.TROCHANTER: 11.5,
    Region.INTERTROCHANTER: 19.4,
    Region.WARDS: 1.1,
}


@dataclass
class DemoPatient:
    """A synthetic patient and their true (national-scale) BMD at each visit."""

    identity: PatientIdentity
    latent: float
    visits: list[DemoVisit] = field(default_factory=list)


@dataclass
class DemoVisit:
    """One visit of a demo patient: scanner, date, true BMD per region."""

    scanner_key: str
    date: dt.date
    study_uid: str
    true: dict[str, float]
    in_vivo: bool = False
    vfa: bool = False


@dataclass
class DemoDataset:
    """Everything the demo generates, before it is written to files."""

    seed: int
    scanners: tuple[DemoScanner, ...]
    studies: dict[str, list[StudyRecord]]
    phantom_scans: list[PhantomScanRecord]
    certificates: list[PhantomCertificate]
    vfa_readings: list[VfaReadingRecord]
    patients: list[DemoPatient]
    truth: dict[str, Any]


def _uid(seed: int, *key: object) -> str:
    return str(generate_uid(entropy_srcs=[f"dxa-demo:{seed}", *map(str, key)]))


def _fake_cpr(birth: dt.date, sex: Sex, used: set[str]) -> str:
    """Return an obviously fake CPR number: DDMMYY-99NS (7th digit 9 = 1900s for YY 37-99)."""
    if not 1937 <= birth.year <= 1999:
        raise ValueError("demo patients are born 1937-1999")
    stem = birth.strftime("%d%m%y")
    for n in range(10):
        last = (n % 5) * 2 + (1 if sex is Sex.MALE else 0)
        cpr = f"{stem}-99{n}{last}"
        if cpr not in used:
            used.add(cpr)
            return cpr
    raise ValueError(f"ran out of fake CPR numbers for {stem}")


def _true_values(latent: float, rng: np.random.Generator) -> dict[str, float]:
    spine = 1.047 + 0.110 * (latent + float(rng.normal(0, 0.45)))
    hip_z = latent + float(rng.normal(0, 0.35))
    hip = 0.942 + 0.122 * hip_z
    neck = 0.858 + 0.120 * (hip_z + float(rng.normal(0, 0.25)))
    out = {
        Region.L1_L4.value: max(spine, 0.45),
        Region.TOTAL_HIP.value: max(hip, 0.40),
        Region.FEMORAL_NECK.value: max(neck, 0.35),
    }
    out[Region.TROCHANTER.value] = out[Region.TOTAL_HIP.value] * 0.76
    out[Region.INTERTROCHANTER.value] = out[Region.TOTAL_HIP.value] * 1.13
    out[Region.WARDS.value] = out[Region.FEMORAL_NECK.value] * 0.78
    return out


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _vendor_scores(
    scanner: DemoScanner, group: str, raw: float, age: int, sex: Sex
) -> tuple[float, float]:
    mean, sd = _VENDOR_REF[(scanner.identity.manufacturer, group)]
    t = (raw - mean) / sd
    loss = 0.0 if age < 45 else 0.010 * (age - 45)
    if sex is Sex.MALE:
        loss *= 0.5
    z = (raw - mean * (1.0 - loss)) / sd
    return round(t, 1), round(z, 1)


def _spine_scan(
    scanner: DemoScanner,
    visit: DemoVisit,
    patient: DemoPatient,
    rng: np.random.Generator,
    drift: float,
    acquired: dt.datetime,
    source_key: str,
) -> ScanRecord:
    total_true = visit.true[Region.L1_L4.value]
    size = float(rng.normal(1.0, 0.06))
    weights = {v: _VERTEBRA_SHAPE[v] for v in VERTEBRAE}
    area_true = {v: _VERTEBRA_AREA[v] * size for v in VERTEBRAE}
    norm = sum(weights[v] * area_true[v] for v in VERTEBRAE) / sum(area_true.values())
    excluded: Region | None = None
    if rng.random() < 0.07:
        excluded = VERTEBRAE[int(rng.integers(2, 4))]  # L3 or L4 (degenerative change)
    results: list[RegionResult] = []
    bmc_sum = area_sum = 0.0
    birth = patient.identity.birth_date
    assert birth is not None and patient.identity.sex is not None
    age = _age(birth, visit.date)
    for v in VERTEBRAE:
        true_v = total_true * weights[v] / norm
        if v is excluded:
            true_v *= 1.18
        bmd = scanner.spine.measure(true_v, rng, noise_scale=1.6) * drift
        area = area_true[v] * float(rng.normal(1.0, 0.01))
        bmd, area = round(bmd, 3), round(area, 2)
        bmc = round(bmd * area, 2)
        included = v is not excluded
        t, z = _vendor_scores(scanner, "spine", bmd, age, patient.identity.sex)
        results.append(RegionResult(v, bmd, bmc, area, t, z, included))
        if included:
            bmc_sum += bmc
            area_sum += area
    tot = round(bmc_sum / area_sum, 3)
    t, z = _vendor_scores(scanner, "spine", tot, age, patient.identity.sex)
    results.append(RegionResult(Region.L1_L4, tot, round(bmc_sum, 2), round(area_sum, 2), t, z))
    return ScanRecord(
        source_key,
        ScanType.AP_SPINE,
        acquired,
        None,
        "Array",
        "Demo Tekniker",
        scanner.identity.software_version,
        tuple(results),
    )


def _hip_scan(
    scanner: DemoScanner,
    visit: DemoVisit,
    patient: DemoPatient,
    rng: np.random.Generator,
    drift: float,
    acquired: dt.datetime,
    side: Side,
    source_key: str,
) -> ScanRecord:
    birth = patient.identity.birth_date
    assert birth is not None and patient.identity.sex is not None
    age = _age(birth, visit.date)
    regions = [Region.FEMORAL_NECK, Region.TROCHANTER, Region.TOTAL_HIP]
    if scanner.identity.manufacturer is Manufacturer.HOLOGIC:
        regions[2:2] = [Region.INTERTROCHANTER, Region.WARDS]
    results: list[RegionResult] = []
    for r in regions:
        bias = scanner.bias_for(r)
        bmd = round(bias.measure(visit.true[r.value], rng) * drift, 3)
        area = round(_HIP_AREA[r] * float(rng.normal(1.0, 0.03)), 2)
        group = "neck" if r is Region.FEMORAL_NECK else "hip"
        t, z = _vendor_scores(scanner, group, bmd, age, patient.identity.sex)
        if r in (Region.TROCHANTER, Region.INTERTROCHANTER, Region.WARDS):
            t = z = math.nan
        results.append(
            RegionResult(
                r,
                bmd,
                round(bmd * area, 2),
                area,
                None if math.isnan(t) else t,
                None if math.isnan(z) else z,
            )
        )
    return ScanRecord(
        source_key,
        ScanType.HIP,
        acquired,
        side,
        "Array",
        "Demo Tekniker",
        scanner.identity.software_version,
        tuple(results),
    )


def _drift_factor(scanner: DemoScanner, day: dt.date) -> float:
    key, start, factor = STEP_SHIFT
    if scanner.key == key and day >= QC_START + dt.timedelta(days=start):
        return factor
    return 1.0


def generate(seed: int = DEFAULT_SEED) -> DemoDataset:
    """Generate the whole demo data set in memory, deterministically from ``seed``.

    Parameters
    ----------
    seed : int
        The random seed; the same seed always gives the same data.

    Returns
    -------
    DemoDataset
        Studies per scanner, phantom scans, certificates, VFA readings and the truth.
    """
    rng = np.random.default_rng(seed)
    scanners = demo_scanners()
    by_key = {s.key: s for s in scanners}
    used_cpr: set[str] = set()
    patients: list[DemoPatient] = []
    qc_end = QC_START + dt.timedelta(days=QC_DAYS - 1)

    def new_patient(i: int, *, young: bool = False) -> DemoPatient:
        female = young or rng.random() < 0.82
        sex = Sex.FEMALE if female else Sex.MALE
        age = int(rng.integers(38, 48)) if young else int(rng.integers(50, 88))
        birth = dt.date(2026 - age, int(rng.integers(1, 13)), int(rng.integers(1, 29)))
        given = (_GIVEN_F if female else _GIVEN_M)[int(rng.integers(0, 9 if not female else 17))]
        ident = PatientIdentity(
            identifier=_fake_cpr(birth, sex, used_cpr),
            id_type=IdType.CPR,
            name=f"{given} Demo{i:03d}",
            birth_date=birth,
            sex=sex,
        )
        latent = float(rng.normal(-0.4, 0.9)) if young else float(rng.normal(-1.5, 1.0))
        return DemoPatient(ident, latent)

    # regular patients, spread over the four scanners
    for i in range(N_PATIENTS):
        p = new_patient(i + 1, young=(i % 20 == 7))
        s = scanners[i % len(scanners)]
        day = QC_START + dt.timedelta(days=int(rng.integers(0, QC_DAYS)))
        true = _true_values(p.latent, rng)
        if rng.random() < 0.30:  # a prior visit about two years earlier
            prior_day = day - dt.timedelta(days=int(rng.integers(640, 820)))
            prior_scanner = s.key if rng.random() < 0.85 else scanners[(i + 1) % 4].key
            change = 1.0 + (0.03 if rng.random() < 0.7 else float(rng.normal(0, 0.01)))
            prior_true = {k: v * change for k, v in true.items()}
            p.visits.append(
                DemoVisit(prior_scanner, prior_day, _uid(seed, "study", i, 0), prior_true)
            )
        age = _age(p.identity.birth_date or day, day)
        p.visits.append(
            DemoVisit(
                s.key, day, _uid(seed, "study", i, 1), true, vfa=age >= 65 and rng.random() < 0.35
            )
        )
        patients.append(p)
    # in-vivo cross-calibration: per set, 30 patients scanned on the reference and the other
    in_vivo_sets: list[dict[str, Any]] = []
    for n_set, (ref_key, other_key, gap) in enumerate(IN_VIVO_SETS):
        ids: list[str] = []
        for j in range(N_IN_VIVO):
            p = new_patient(N_PATIENTS + n_set * N_IN_VIVO + j + 1)
            day = QC_START + dt.timedelta(days=10 + j)
            true = _true_values(p.latent, rng)
            for k, (key, when) in enumerate(((ref_key, day), (other_key, day + dt.timedelta(gap)))):
                uid = _uid(seed, "invivo", n_set, j, k)
                p.visits.append(DemoVisit(key, when, uid, true, in_vivo=True))
            ids.append(p.identity.identifier)
            patients.append(p)
        in_vivo_sets.append({"reference": ref_key, "other": other_key, "patients": ids})

    questionnaires = demo_questionnaires(seed, patients)
    studies: dict[str, list[StudyRecord]] = {s.key: [] for s in scanners}
    vfa: list[VfaReadingRecord] = []
    for p in patients:
        for visit in p.visits:
            s = by_key[visit.scanner_key]
            drift = _drift_factor(s, visit.date)
            at = dt.datetime.combine(visit.date, dt.time(8, 0)) + dt.timedelta(
                minutes=int(rng.integers(0, 480))
            )
            info = StudyInfo(
                study_uid=visit.study_uid,
                study_date=visit.date,
                accession=f"DEMO-{s.key}-{len(studies[s.key]) + 1:05d}",
                referrer="Demo^Praksislæge",
                indication=_INDICATIONS[int(rng.integers(0, 6))],
                height_cm=round(float(rng.normal(164, 7)), 1),
                weight_kg=round(float(rng.normal(66, 11)), 1),
            )
            side = Side.LEFT if rng.random() < 0.85 or visit.in_vivo else Side.RIGHT
            spine = _spine_scan(s, visit, p, rng, drift, at, f"demo:{visit.study_uid}:spine")
            hip = _hip_scan(
                s,
                visit,
                p,
                rng,
                drift,
                at + dt.timedelta(minutes=6),
                side,
                f"demo:{visit.study_uid}:hip",
            )
            studies[s.key].append(
                StudyRecord(
                    s.identity,
                    p.identity,
                    info,
                    (spine, hip),
                    risk_factors=questionnaires.get(visit.study_uid, ()),
                )
            )
            if visit.vfa:
                vfa.append(_vfa_reading(visit, p, rng, at + dt.timedelta(days=1)))

    phantom_scans = _qc_scans(scanners, rng) + _esp_round(scanners, rng)
    certificates = [
        PhantomCertificate(
            ESP,
            "ESP-DEMO-042 certificate (synthetic)",
            tuple(CertifiedValue(r, v, 0.005) for r, v in ESP_CERTIFIED.items()),
        )
    ]
    truth = _truth(seed, scanners, patients, in_vivo_sets, qc_end)
    return DemoDataset(seed, scanners, studies, phantom_scans, certificates, vfa, patients, truth)


def demo_questionnaires(
    seed: int, patients: list[DemoPatient]
) -> dict[str, tuple[tuple[str, str | float | int | bool], ...]]:
    """Return risk-factor questionnaires for the newest visit of about half the regular patients.

    Drawn from their own random stream (the rest of the demo data does not change with it):
    prior fractures (about a quarter, with site and date), parent hip fracture, smoking,
    glucocorticoids with dose and duration (about one in six), rheumatoid arthritis, secondary
    osteoporosis, alcohol, height loss, falls and current treatment.

    Parameters
    ----------
    seed : int
        The demo's seed.
    patients : list of DemoPatient
        The patients; in-vivo calibration patients get none.

    Returns
    -------
    dict
        Study UID to (question, answer) pairs, as the generic CSV columns carry them.
    """
    rng = np.random.default_rng([seed, 17])
    out: dict[str, tuple[tuple[str, str | float | int | bool], ...]] = {}
    sites = ("wrist", "vertebra", "hip", "humerus", "other")
    treatments = ("alendronat", "zoledronsyre", "denosumab")
    for p in patients:
        if not p.visits or p.visits[-1].in_vivo or rng.random() >= 0.5:
            continue
        visit = p.visits[-1]
        a: dict[str, str | float | int | bool] = {}
        fracture = bool(rng.random() < 0.25)
        a["prior_fracture"] = fracture
        if fracture:
            a["prior_fracture_site"] = sites[int(rng.integers(0, len(sites)))]
            back = int(rng.integers(90, 3650))
            a["prior_fracture_date"] = (visit.date - dt.timedelta(days=back)).isoformat()
        a["parent_hip_fracture"] = bool(rng.random() < 0.15)
        a["current_smoking"] = bool(rng.random() < 0.2)
        steroids = bool(rng.random() < 0.17)
        a["glucocorticoids"] = steroids
        if steroids:
            a["glucocorticoid_dose_mg"] = float(rng.choice([2.5, 5.0, 7.5, 10.0, 20.0]))
            a["glucocorticoid_months"] = float(int(rng.integers(1, 60)))
        a["rheumatoid_arthritis"] = bool(rng.random() < 0.08)
        a["secondary_osteoporosis"] = bool(rng.random() < 0.1)
        a["alcohol_3_units"] = bool(rng.random() < 0.07)
        a["height_loss_cm"] = round(float(abs(rng.normal(2.0, 2.2))), 1)
        a["falls_last_year"] = int(rng.poisson(0.4))
        if rng.random() < 0.2:
            a["current_treatment"] = treatments[int(rng.integers(0, len(treatments)))]
        out[visit.study_uid] = tuple(a.items())
    return out


def _vfa_reading(
    visit: DemoVisit, p: DemoPatient, rng: np.random.Generator, at: dt.datetime
) -> VfaReadingRecord:
    findings: list[VfaFinding] = []
    fractured: dict[str, int] = {}
    if p.latent < -2.0 and rng.random() < 0.6:
        level = ("T11", "T12", "L1", "T8")[int(rng.integers(0, 4))]
        fractured[level] = int(rng.integers(1, 4))
    for level in VfaLevel:
        if level is VfaLevel.T4 and rng.random() < 0.3:
            findings.append(VfaFinding(level, None, None, "overlap"))
            continue
        grade = fractured.get(level.value, 0)
        morph = (
            Morphology.WEDGE
            if grade and level.value != "L1"
            else Morphology.BICONCAVE
            if grade
            else None
        )
        findings.append(VfaFinding(level, grade, morph))
    return VfaReadingRecord(
        f"demo-vfa:{visit.study_uid}",
        visit.study_uid,
        "Demo Læge",
        at.replace(second=0),
        tuple(findings),
    )


def _qc_scans(
    scanners: tuple[DemoScanner, ...], rng: np.random.Generator
) -> list[PhantomScanRecord]:
    out: list[PhantomScanRecord] = []
    for s in scanners:
        for d in range(QC_DAYS):
            day = QC_START + dt.timedelta(days=d)
            drift = _drift_factor(s, day)
            bmd = round(s.spine.measure(s.qc_true_bmd, rng, noise_scale=0.45) * drift, 4)
            at = dt.datetime.combine(day, dt.time(7, 30))
            out.append(
                PhantomScanRecord(
                    f"demo-qc:{s.identity.serial}:{day.isoformat()}",
                    s.qc_phantom,
                    s.identity,
                    at,
                    PhantomPurpose.DAILY_QC,
                    (PhantomResult(PhantomRegion.TOTAL, bmd, round(bmd * 56.0, 3), 56.0),),
                    operator="Demo Tekniker",
                    repositioned=False,
                )
            )
    return out


def _esp_round(
    scanners: tuple[DemoScanner, ...], rng: np.random.Generator
) -> list[PhantomScanRecord]:
    out: list[PhantomScanRecord] = []
    for k, s in enumerate(scanners):
        day = QC_START + dt.timedelta(days=20 + 7 * k)
        drift = _drift_factor(s, day)
        for n in range(ESP_SCANS_PER_SCANNER):
            at = dt.datetime.combine(day, dt.time(16, 0)) + dt.timedelta(minutes=5 * n)
            results = []
            for region, cert in ESP_CERTIFIED.items():
                bmd = round(s.spine.measure(cert, rng, noise_scale=0.4) * drift, 4)
                results.append(PhantomResult(region, bmd, round(bmd * 10.0, 3), 10.0))
            total = round(sum(r.bmd_g_cm2 for r in results) / 3, 4)
            results.append(PhantomResult(PhantomRegion.TOTAL, total, round(total * 30.0, 3), 30.0))
            out.append(
                PhantomScanRecord(
                    f"demo-esp:{ROUND_NAME}:{s.identity.serial}:{n + 1}",
                    ESP,
                    s.identity,
                    at,
                    PhantomPurpose.TRAVELLING,
                    tuple(results),
                    round_name=ROUND_NAME,
                    operator="Demo Fysiker",
                    repositioned=True,
                )
            )
    return out


def _truth(
    seed: int,
    scanners: tuple[DemoScanner, ...],
    patients: list[DemoPatient],
    in_vivo_sets: list[dict[str, Any]],
    qc_end: dt.date,
) -> dict[str, Any]:
    key, start, factor = STEP_SHIFT
    return {
        "generator": "dxa-demo",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "model": "raw = intercept + slope * true + N(0, noise_sd); then x drift factor",
        "national_scale": "demo truth, Hologic-equivalent g/cm2",
        "qc_period": {"start": QC_START.isoformat(), "end": qc_end.isoformat()},
        "scanners": [
            {
                "key": s.key,
                "site": s.site,
                "site_name": SITES[s.site],
                "manufacturer": str(s.identity.manufacturer),
                "model": s.identity.model,
                "serial": s.identity.serial,
                "software_version": s.identity.software_version,
                "export": s.export,
                "bias": {
                    "spine": asdict(s.spine),
                    "hip": asdict(s.hip),
                    "femoral_neck": asdict(s.neck),
                },
                "qc_phantom": {
                    "kind": str(s.qc_phantom.kind),
                    "serial": s.qc_phantom.serial,
                    "true_bmd": s.qc_true_bmd,
                },
            }
            for s in scanners
        ],
        "step_shifts": [
            {
                "scanner": key,
                "serial": next(s.identity.serial for s in scanners if s.key == key),
                "start": (QC_START + dt.timedelta(days=start)).isoformat(),
                "factor": factor,
            }
        ],
        "esp": {
            "kind": str(ESP.kind),
            "serial": ESP.serial,
            "certified": {str(r): v for r, v in ESP_CERTIFIED.items()},
            "round": ROUND_NAME,
            "scans_per_scanner": ESP_SCANS_PER_SCANNER,
        },
        "in_vivo": in_vivo_sets,
        "patients": [
            {
                "cpr": p.identity.identifier,
                "sex": str(p.identity.sex),
                "birth_date": p.identity.birth_date.isoformat() if p.identity.birth_date else None,
                "visits": [
                    {
                        "scanner": v.scanner_key,
                        "date": v.date.isoformat(),
                        "study_uid": v.study_uid,
                        "in_vivo": v.in_vivo,
                        "vfa": v.vfa,
                        "true": {k: round(x, 5) for k, x in v.true.items()},
                    }
                    for v in p.visits
                ],
            }
            for p in patients
        ],
    }


def iter_records(data: DemoDataset) -> Iterator[StudyRecord]:
    """Yield every study record of the demo, scanner by scanner."""
    for key in sorted(data.studies):
        yield from data.studies[key]


def write_truth(data: DemoDataset, path: Path) -> Path:
    """Write the truth file (JSON, sorted keys) and return its path."""
    path.write_text(
        json.dumps(data.truth, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    return path
