"""Frozen dataclasses that carry everything a DXA report shows (ReportData in, PDF out)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from reports.numbers import printed_bmd as printed_bmd
from reports.numbers import round_half_away as round_half_away

#: The 13 vertebrae of a vertebral fracture assessment, cranial to caudal.
VFA_LEVELS: tuple[str, ...] = (
    "T4",
    "T5",
    "T6",
    "T7",
    "T8",
    "T9",
    "T10",
    "T11",
    "T12",
    "L1",
    "L2",
    "L3",
    "L4",
)

#: Diagnosis category codes.
CATEGORIES: tuple[str, ...] = (
    "normal",
    "low_bone_mass",
    "osteoporosis",
    "severe_osteoporosis",
    "below_expected_range_for_age",
    "within_expected_range_for_age",
)

#: The least difference that counts as a change of bone area (percent).
AREA_FLAG_PCT = 2.0


@dataclass(frozen=True)
class PatientInfo:
    """Patient identification and demographics at the time of the scan."""

    name: str
    identifier: str
    birth_date: date | None
    age: float | None
    sex: str | None
    height_cm: float | None = None
    weight_kg: float | None = None
    menopausal: bool | None = None

    @property
    def bmi(self) -> float | None:
        """Body mass index in kg/m2, or None when height or weight is missing."""
        if not self.height_cm or not self.weight_kg or self.height_cm <= 0:
            return None
        metres = self.height_cm / 100.0
        return self.weight_kg / (metres * metres)


@dataclass(frozen=True)
class ScannerInfo:
    """The scanner that made the study."""

    manufacturer: str
    model: str
    serial: str
    software_version: str = ""
    site: str = ""


@dataclass(frozen=True)
class ResultRow:
    """One measured region: harmonised and raw BMD with the printed T- and Z-scores."""

    region: str
    side: str | None
    bmd: float
    bmd_raw: float
    t: Decimal | None
    z: Decimal | None
    included: bool = True
    category: str | None = None
    #: False when no approved calibration applies: ``bmd`` is then the raw value and is
    #: printed as "not harmonised", never silently in the harmonised column.
    harmonised: bool = True


@dataclass(frozen=True)
class DiagnosisInfo:
    """The WHO/ISCD category and the site and printed score that decided it."""

    category: str
    score_kind: str
    deciding_region: str | None
    printed_score: Decimal | None
    fragility_fracture: bool = False
    deciding_side: str | None = None
    #: The category at the two ends of the scores' 95 % intervals (calibration and precision)
    #: when they differ: "near threshold, category uncertain".
    uncertain_range: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(
                f"unknown diagnosis category {self.category!r}; use one of {', '.join(CATEGORIES)}"
            )
        if self.score_kind not in ("T", "Z"):
            raise ValueError(f"score_kind must be 'T' or 'Z', not {self.score_kind!r}")


@dataclass(frozen=True)
class VfaLevel:
    """One vertebra of a VFA: Genant grade 0-3, or None when not evaluable."""

    level: str
    grade: int | None
    morphology: str | None = None
    not_evaluable_reason: str = ""

    def __post_init__(self) -> None:
        if self.level not in VFA_LEVELS:
            raise ValueError(f"VFA level {self.level!r} is not one of T4..L4")
        if self.grade is not None and self.grade not in (0, 1, 2, 3):
            raise ValueError(f"Genant grade at {self.level} must be 0-3 or None, not {self.grade}")

    @property
    def evaluable(self) -> bool:
        """True when the level has a grade."""
        return self.grade is not None


@dataclass(frozen=True)
class VfaSection:
    """A vertebral fracture assessment read with Genant's semi-quantitative method."""

    levels: tuple[VfaLevel, ...]
    reader: str = ""
    indication_met: bool | None = None
    indication_reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [lv.level for lv in self.levels]
        if len(set(names)) != len(names):
            raise ValueError("each VFA level may appear only once")

    @property
    def ordered(self) -> tuple[VfaLevel, ...]:
        """The levels sorted cranial to caudal (T4 first)."""
        return tuple(sorted(self.levels, key=lambda lv: VFA_LEVELS.index(lv.level)))

    @property
    def sdi(self) -> int:
        """Spinal deformity index: the sum of the Genant grades of the evaluable levels."""
        return sum(lv.grade for lv in self.levels if lv.grade is not None)

    @property
    def fractured(self) -> tuple[VfaLevel, ...]:
        """Levels with grade 2 or 3 (vertebral fracture)."""
        return tuple(lv for lv in self.ordered if lv.grade is not None and lv.grade >= 2)

    @property
    def mild(self) -> tuple[VfaLevel, ...]:
        """Levels with grade 1 (mild deformity, uncertain as a fracture)."""
        return tuple(lv for lv in self.ordered if lv.grade == 1)

    @property
    def not_evaluable(self) -> tuple[VfaLevel, ...]:
        """Levels without a grade."""
        return tuple(lv for lv in self.ordered if lv.grade is None)


@dataclass(frozen=True)
class ComparisonRow:
    """One region compared with the prior study, both on the same calibration."""

    region: str
    prior_date: date
    prior_bmd: float
    current_bmd: float
    lsc_g_cm2: float
    lsc_source: str
    prior_area_cm2: float | None = None
    current_area_cm2: float | None = None
    side: str | None = None
    #: The part of ``lsc_g_cm2`` that is the cross-calibration uncertainty (95 %, g/cm2) when
    #: the prior scan was on another scanner; 0 on the same scanner (the chain cancels).
    cross_calibration_g_cm2: float = 0.0

    def __post_init__(self) -> None:
        if self.lsc_source not in ("precision", "iscd_minimum"):
            raise ValueError(
                f"lsc_source must be 'precision' or 'iscd_minimum', not {self.lsc_source!r}"
            )
        if not self.lsc_g_cm2 > 0:
            raise ValueError(f"the LSC must be positive, not {self.lsc_g_cm2!r}")
        if not self.prior_bmd > 0:
            raise ValueError(f"the prior BMD must be positive, not {self.prior_bmd!r}")

    @property
    def change(self) -> float:
        """Current minus prior BMD in g/cm2."""
        return self.current_bmd - self.prior_bmd

    @property
    def change_pct(self) -> float:
        """Change in percent of the prior BMD."""
        return 100.0 * self.change / self.prior_bmd

    @property
    def significant(self) -> bool:
        """True when the printed change equals or exceeds the printed LSC (ISCD)."""
        return abs(printed_bmd(self.change)) >= printed_bmd(self.lsc_g_cm2)

    @property
    def area_change_pct(self) -> float | None:
        """Change of the bone area in percent of the prior area, when both are known."""
        if not self.prior_area_cm2 or self.current_area_cm2 is None or self.prior_area_cm2 <= 0:
            return None
        return 100.0 * (self.current_area_cm2 - self.prior_area_cm2) / self.prior_area_cm2

    @property
    def area_flag(self) -> bool:
        """True when the bone area changed by more than 2 % (check the regions match)."""
        pct = self.area_change_pct
        return pct is not None and abs(pct) > AREA_FLAG_PCT


@dataclass(frozen=True)
class OtherSidePrior:
    """A hip region of the prior study measured on the other side: named, never compared."""

    region: str
    prior_date: date
    prior_side: str
    current_side: str


@dataclass(frozen=True)
class Comparison:
    """The comparison with the prior study, or a new baseline with its reason.

    ``other_side`` names hip regions the prior study measured on the other side only; they
    are not compared (a left and a right hip are different bones), and the report says so.
    """

    rows: tuple[ComparisonRow, ...]
    new_baseline: bool = False
    new_baseline_reason: str = ""
    cross_calibrated: bool = False
    other_side: tuple[OtherSidePrior, ...] = ()


@dataclass(frozen=True)
class FraxInfo:
    """An externally computed FRAX result, shown exactly as given."""

    major_osteoporotic_pct: float
    hip_pct: float
    model: str
    inputs: Mapping[str, str]


@dataclass(frozen=True)
class ReferencePoint:
    """Reference mean and SD of BMD at one age."""

    age: float
    mean: float
    sd: float


@dataclass(frozen=True)
class AgeCurve:
    """A BMD-versus-age reference curve with the patient's point.

    ``young_mean`` and ``young_sd`` (the young-adult reference) draw the T-score bands -1.0 and
    -2.5; without them only the age-matched mean and +-1 SD are drawn.
    """

    region: str
    points: tuple[ReferencePoint, ...]
    patient_age: float
    patient_bmd: float
    young_mean: float | None = None
    young_sd: float | None = None
    side: str | None = None


@dataclass(frozen=True)
class TrendPoint:
    """Harmonised BMD at one visit."""

    date: date
    bmd: float


@dataclass(frozen=True)
class Trend:
    """Harmonised BMD across visits, with the LSC band around the first (baseline) visit."""

    region: str
    points: tuple[TrendPoint, ...]
    lsc_g_cm2: float
    side: str | None = None


@dataclass(frozen=True)
class ScanImage:
    """One scanner image printed in the level-B report: a grey PNG and what it shows.

    ``kind`` is the reader's image kind (``ap_spine_image``, ``hip_image``) and ``side`` the
    side (``L``/``R``) or None; the caption is made from them in the report's language.
    """

    kind: str
    png: bytes
    side: str | None = None


@dataclass(frozen=True)
class SignOff:
    """Signature status; amendments are (version, reason, time)."""

    status: str
    version: int
    signed_by: str = ""
    signed_at: datetime | None = None
    amendments: tuple[tuple[int, str, datetime], ...] = ()

    def __post_init__(self) -> None:
        if self.status not in ("draft", "signed", "amended"):
            raise ValueError(
                f"sign-off status must be draft, signed or amended, not {self.status!r}"
            )
        if self.version < 1:
            raise ValueError(f"report version must be 1 or more, not {self.version}")


@dataclass(frozen=True)
class FooterInfo:
    """Reference populations, calibration chain and category rule printed on every page."""

    t_reference: str
    z_reference: str
    chain: str
    category_rule: str
    generated_by: str = ""
    #: The national scale the harmonised values are on (the centre's versioned choice).
    scale: str = ""


@dataclass(frozen=True)
class ReportData:
    """Everything one DXA report (Level A or B) shows, in one language."""

    report_id: str
    lang: str
    level: str
    site_name: str
    department: str
    patient: PatientInfo
    referrer: str
    indication: str
    scan_date: date
    scanner: ScannerInfo
    technologist: str
    scan_mode: str
    technical_notes: tuple[str, ...]
    results: tuple[ResultRow, ...]
    diagnosis: DiagnosisInfo
    vfa: VfaSection | None
    comparison: Comparison | None
    conclusion: str
    recommendation: str
    sign_off: SignOff
    footer: FooterInfo
    frax: FraxInfo | None = None
    risk_factors: tuple[str, ...] = ()
    follow_up_years: float | None = None
    secondary_cause_hints: tuple[str, ...] = ()
    fls_referral: bool = False
    age_curve: AgeCurve | None = None
    trend: Trend | None = None
    image_png: bytes | None = None
    #: The spine and hip images printed at level B (from the scanner's stored files).
    scan_images: tuple[ScanImage, ...] = ()
    #: The rule-made suggestions the physician kept (reimbursement, specialist drugs), with
    #: the rule set's name, version and status in ``suggestion_source``.
    suggestions: tuple[str, ...] = ()
    suggestion_source: str = ""
    #: Who entered the questionnaire and when (printed under the risk factors).
    risk_factors_source: str = ""

    def __post_init__(self) -> None:
        if self.lang not in ("da", "en"):
            raise ValueError(f"report language must be 'da' or 'en', not {self.lang!r}")
        if self.level not in ("A", "B"):
            raise ValueError(f"report level must be 'A' or 'B', not {self.level!r}")
