"""The generic CSV format, version 1: magic line, kinds and columns (docs/generic-csv.md).

Shared by the reader (dxa_app.ingest.generic_csv) and the writers (dxa_app.demo.csv_writers),
so the two can never disagree about the format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

MAGIC: Final = "# dxa-generic-csv"
FORMAT_VERSION: Final = 1

KIND_PATIENT_RESULTS: Final = "patient_results"
KIND_PHANTOM_SCANS: Final = "phantom_scans"
KIND_PHANTOM_CERTIFICATES: Final = "phantom_certificates"
KIND_VFA_READINGS: Final = "vfa_readings"
KINDS: Final[tuple[str, ...]] = (
    KIND_PATIENT_RESULTS,
    KIND_PHANTOM_SCANS,
    KIND_PHANTOM_CERTIFICATES,
    KIND_VFA_READINGS,
)

RISK_FACTOR_COLUMNS: Final[tuple[str, ...]] = (
    "prior_fracture",
    "prior_fracture_site",
    "prior_fracture_date",
    "parent_hip_fracture",
    "current_smoking",
    "glucocorticoids",
    "glucocorticoid_dose_mg",
    "glucocorticoid_months",
    "rheumatoid_arthritis",
    "secondary_osteoporosis",
    "alcohol_3_units",
    "height_loss_cm",
    "falls_last_year",
    "current_treatment",
)
"""Optional risk-factor questionnaire columns of ``patient_results`` (docs/risk-factors.md);
the same names as the questionnaire's questions (``reports.risk.RISK_FIELDS``). An unreadable
cell is an import note, never a refused file."""

PATIENT_RESULTS_COLUMNS: Final[tuple[str, ...]] = (
    "site",
    "manufacturer",
    "model",
    "serial",
    "software_version",
    "station_name",
    "patient_id",
    "id_type",
    "patient_name",
    "birth_date",
    "sex",
    "study_uid",
    "accession",
    "study_date",
    "referrer",
    "indication",
    "height_cm",
    "weight_kg",
    "menopausal",
    "scan_type",
    "side",
    "acquired_at",
    "scan_mode",
    "operator",
    "region",
    "bmd_g_cm2",
    "bmc_g",
    "area_cm2",
    "vendor_t",
    "vendor_z",
    "included",
    *RISK_FACTOR_COLUMNS,
)
"""Columns of a ``patient_results`` file in the order the writers put them."""

PHANTOM_SCANS_COLUMNS: Final[tuple[str, ...]] = (
    "site",
    "manufacturer",
    "model",
    "serial",
    "software_version",
    "station_name",
    "phantom_kind",
    "phantom_serial",
    "phantom_description",
    "purpose",
    "round",
    "acquired_at",
    "scan_no",
    "operator",
    "repositioned",
    "region",
    "bmd_g_cm2",
    "bmc_g",
    "area_cm2",
)
"""Columns of a ``phantom_scans`` file in the order the writers put them."""

PHANTOM_CERTIFICATES_COLUMNS: Final[tuple[str, ...]] = (
    "phantom_kind",
    "phantom_serial",
    "phantom_description",
    "certificate_ref",
    "region",
    "bmd_g_cm2",
    "uncertainty_g_cm2",
)
"""Columns of a ``phantom_certificates`` file in the order the writers put them."""

VFA_READINGS_COLUMNS: Final[tuple[str, ...]] = (
    "study_uid",
    "reader",
    "read_at",
    "level",
    "grade",
    "morphology",
    "not_evaluable_reason",
)
"""Columns of a ``vfa_readings`` file in the order the writers put them."""

COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    KIND_PATIENT_RESULTS: PATIENT_RESULTS_COLUMNS,
    KIND_PHANTOM_SCANS: PHANTOM_SCANS_COLUMNS,
    KIND_PHANTOM_CERTIFICATES: PHANTOM_CERTIFICATES_COLUMNS,
    KIND_VFA_READINGS: VFA_READINGS_COLUMNS,
}
"""All columns per kind."""

REQUIRED_COLUMNS: Final[Mapping[str, frozenset[str]]] = {
    KIND_PATIENT_RESULTS: frozenset(
        {
            "site",
            "manufacturer",
            "model",
            "serial",
            "patient_id",
            "study_date",
            "scan_type",
            "acquired_at",
            "region",
            "bmd_g_cm2",
        }
    ),
    KIND_PHANTOM_SCANS: frozenset(
        {
            "site",
            "manufacturer",
            "model",
            "serial",
            "phantom_kind",
            "phantom_serial",
            "purpose",
            "acquired_at",
            "region",
            "bmd_g_cm2",
        }
    ),
    KIND_PHANTOM_CERTIFICATES: frozenset(
        {"phantom_kind", "phantom_serial", "certificate_ref", "region", "bmd_g_cm2"}
    ),
    KIND_VFA_READINGS: frozenset({"study_uid", "reader", "read_at", "level", "grade"}),
}
"""Columns that must be in the header row; all other columns may be left out."""
