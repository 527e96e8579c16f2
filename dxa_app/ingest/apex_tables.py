"""What the APEX reader reads from PatScan.mdb: tables, columns, codes, regions and units.

One home for the table mapping that :mod:`dxa_app.ingest.apex_mdb` applies and
``docs/apex-import.md`` documents. Column names are APEX's (upper case, as mdb-export prints
them). Table facts come from a real APEX 13.2 database (issue 13); units that no document we
could read states are left empty (``""``) rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from dxa_app.domain import Region, ScanType, Side

__all__ = [
    "ADDITIONAL_TABLES",
    "CALIBRATION_SCAN_TYPES",
    "FOREARM_REGIONS",
    "HIP_REGIONS",
    "LABEL_COLUMNS",
    "MEASUREMENT_COLUMNS",
    "REFERENCE_REGIONS",
    "REGION_TABLES",
    "SCAN_TYPES",
    "SCAN_TYPE_NAMES",
    "WBODY_REGIONS",
]

T_PATIENT: Final = "PATIENT"
T_SCAN: Final = "ScanAnalysis"
T_SPINE: Final = "Spine"
T_HIP: Final = "Hip"
T_HIP_HSA: Final = "HipHSA"
T_FOREARM: Final = "Forearm"
T_WBODY: Final = "Wbody"
T_WBODY_COMPOSITION: Final = "WbodyComposition"
T_SUBREGION_BONE: Final = "SubRegionBone"
T_SUBREGION_COMPOSITION: Final = "SubRegionComposition"
T_ANDROID_GYNOID: Final = "AndroidGynoidComposition"
T_OBESITY: Final = "ObesityIndices"
T_LATERAL: Final = "Lateral"
T_REFERENCE: Final = "ReferenceResults"
T_SYSTEM: Final = "SystemId"

AAB: Final = ("AREA", "BMC", "BMD")

HIP_REGIONS: Final[Mapping[str, Region]] = {
    "NECK": Region.FEMORAL_NECK,
    "TROCH": Region.TROCHANTER,
    "INTER": Region.INTERTROCHANTER,
    "WARDS": Region.WARDS,
    "HTOT": Region.TOTAL_HIP,
}
"""Column prefix of the Hip table -> region."""

FOREARM_REGIONS: Final[Mapping[str, Region]] = {
    "R_13": Region.RADIUS_33,
    "R_MID": Region.RADIUS_MID,
    "R_UD": Region.RADIUS_UD,
    "RTOT": Region.RADIUS_TOTAL,
    "U_13": Region.ULNA_33,
    "U_MID": Region.ULNA_MID,
    "U_UD": Region.ULNA_UD,
    "UTOT": Region.ULNA_TOTAL,
    "RU13TOT": Region.RADIUS_ULNA_33,
    "RUMIDTOT": Region.RADIUS_ULNA_MID,
    "RUUDTOT": Region.RADIUS_ULNA_UD,
    "RUTOT": Region.RADIUS_ULNA_TOTAL,
}
"""Column prefix of the Forearm table -> region: all 12 regions APEX computes."""

WBODY_REGIONS: Final[Mapping[str, Region]] = {
    "WBTOT": Region.WHOLE_BODY,
    "SUBTOT": Region.WB_SUBTOTAL,
    "HEAD": Region.WB_HEAD,
    "LARM": Region.WB_LEFT_ARM,
    "RARM": Region.WB_RIGHT_ARM,
    "LRIB": Region.WB_LEFT_RIBS,
    "RRIB": Region.WB_RIGHT_RIBS,
    "T_S": Region.WB_THORACIC_SPINE,
    "L_S": Region.WB_LUMBAR_SPINE,
    "PELV": Region.WB_PELVIS,
    "LLEG": Region.WB_LEFT_LEG,
    "RLEG": Region.WB_RIGHT_LEG,
}
"""Column prefix of the Wbody table -> region: the whole body and its sub-regions."""

REGION_TABLES: Final[Mapping[str, tuple[ScanType, Mapping[str, Region]]]] = {
    T_HIP: (ScanType.HIP, HIP_REGIONS),
    T_FOREARM: (ScanType.FOREARM, FOREARM_REGIONS),
    T_WBODY: (ScanType.WHOLE_BODY, WBODY_REGIONS),
}
"""Result tables whose AREA/BMC/BMD become region results of a scan of their type (Spine,
with its included vertebrae, is mapped apart). A row of such a table whose scan is of another
type (e.g. a prosthetic hip, SCAN_TYPE 21/22, in table Hip) is kept as additional
measurements: it never becomes a diagnostic region."""

REFERENCE_REGIONS: Final[Mapping[tuple[str, str], Region]] = {
    ("S", "1234"): Region.L1_L4,
    ("S", ".234"): Region.L2_L4,
    ("H", "123."): Region.TOTAL_HIP,
    ("H", "1..."): Region.FEMORAL_NECK,
    ("R", "R.."): Region.RADIUS_33,
    ("R", "RRR"): Region.RADIUS_TOTAL,
}
"""(REF_TYPE, BONERANGE) of ReferenceResults -> the region that gets its T- and Z-score."""

#: SCAN_TYPE code -> (scan type, side). Codes not listed are imported as ScanType.OTHER.
#: 21/22 (prosthetic hip) and 8 (supine lateral) are not diagnostic sites: OTHER.
SCAN_TYPES: Final[Mapping[int, tuple[ScanType, Side | None]]] = {
    1: (ScanType.AP_SPINE, None),
    26: (ScanType.AP_SPINE, None),
    2: (ScanType.HIP, Side.LEFT),
    3: (ScanType.HIP, Side.RIGHT),
    5: (ScanType.WHOLE_BODY, None),
    6: (ScanType.FOREARM, Side.LEFT),
    7: (ScanType.FOREARM, Side.RIGHT),
    8: (ScanType.OTHER, None),
    19: (ScanType.OTHER, None),
    21: (ScanType.OTHER, Side.LEFT),
    22: (ScanType.OTHER, Side.RIGHT),
    27: (ScanType.VFA, None),
    28: (ScanType.VFA, None),
    29: (ScanType.VFA, None),
    35: (ScanType.VFA, None),
    36: (ScanType.VFA, None),
    37: (ScanType.VFA, None),
}
CALIBRATION_SCAN_TYPES: Final = frozenset({33, 34})
"""Flattening (calibration) scans: never imported."""

SCAN_TYPE_NAMES: Final[Mapping[int, str]] = {
    1: "AP spine",
    26: "AP spine",
    2: "left hip",
    3: "right hip",
    5: "whole body",
    6: "left forearm",
    7: "right forearm",
    8: "supine lateral",
    21: "left prosthetic hip",
    22: "right prosthetic hip",
    36: "IVA",
    37: "IVA",
}
"""Names of SCAN_TYPE codes in notes (archive data, not translated: APEX's own terms)."""


def _columns(prefixes: Iterable[str], units: Iterable[tuple[str, str]]) -> dict[str, str]:
    units = tuple(units)
    return {f"{p}_{s}": u for p in prefixes for s, u in units}


_AAB_UNITS: Final = (("AREA", "cm²"), ("BMC", "g"), ("BMD", "g/cm²"))
_COMPOSITION_UNITS: Final = (("FAT", "g"), ("LEAN", "g"), ("MASS", "g"), ("PFAT", "%"))
_HSA_UNITS: Final = (
    ("BMD", "g/cm²"),
    ("CSA", "cm²"),
    ("CSMI", "cm⁴"),
    ("WIDTH", "cm"),
    ("ED", "cm"),
    ("ACT", "cm"),
    ("PCD", ""),
    ("CMP", ""),
    ("SECT_MOD", "cm³"),
    ("BR", ""),
)
_ANALYSIS_CONSTANTS: Final = {"FAT_STD": "", "LEAN_STD": "", "BRAIN_FAT": "", "WATER_LBM": ""}
_SUBREGIONS: Final = tuple(f"REG{i}" for i in range(1, 15))
_VERTEBRAE_1_5: Final = tuple(f"L{i}" for i in range(1, 6))
_LATERAL_UNITS: Final = (*_AAB_UNITS, ("VBMD", "g/cm³"))

MEASUREMENT_COLUMNS: Final[Mapping[str, Mapping[str, str]]] = {
    T_HIP_HSA: {
        **_columns(("NN", "IT", "FS"), _HSA_UNITS),
        "SHAFT_NECK_ANGLE": "°",
    },
    T_WBODY_COMPOSITION: {
        **_columns(
            ("HEAD", "LARM", "RARM", "TRUNK", "L_LEG", "R_LEG", "SUBTOT", "WBTOT"),
            _COMPOSITION_UNITS,
        ),
        **_ANALYSIS_CONSTANTS,
    },
    T_SUBREGION_BONE: _columns(("NET_AVG", "GLOBAL", *_SUBREGIONS), _AAB_UNITS),
    T_SUBREGION_COMPOSITION: _columns(("NET_AVG", "GLOBAL", *_SUBREGIONS), _COMPOSITION_UNITS),
    T_ANDROID_GYNOID: {
        "ANDROID_FAT": "g",
        "ANDROID_LEAN": "g",
        "GYNOID_FAT": "g",
        "GYNOID_LEAN": "g",
    },
    T_OBESITY: {
        "TOTAL_PERCENT_FAT": "%",
        "BODY_MASS_INDEX": "kg/m²",
        "ANDROID_GYNOID_RATIO": "",
        "ANDROID_PERCENT_FAT": "%",
        "GYNOID_PERCENT_FAT": "%",
        "FAT_MASS_RATIO": "",
        "TRUNK_LIMB_FAT_MASS_RATIO": "",
        "FAT_MASS_HEIGHT_SQUARED": "kg/m²",
        "TOTAL_FAT_MASS": "g",
        "LEAN_MASS_HEIGHT_SQUARED": "kg/m²",
        "APPENDAGE_LEAN_MASS_HEIGHT_2": "kg/m²",
        "TOTAL_LEAN_MASS": "g",
        **_ANALYSIS_CONSTANTS,
    },
    T_LATERAL: {
        **_columns(_VERTEBRAE_1_5, (*_LATERAL_UNITS, ("WIDTH", "cm"))),
        **_columns(("LTOT",), _LATERAL_UNITS),
        **_columns((f"{v}_MID" for v in _VERTEBRAE_1_5), _LATERAL_UNITS),
        **_columns(("MIDTOT",), _LATERAL_UNITS),
        **_columns((f"{v}_P&A" for v in (*_VERTEBRAE_1_5, "TOTAL")), _AAB_UNITS[:2]),
    },
}
"""Tables kept as additional measurements (never diagnostic): column -> unit."""

ADDITIONAL_TABLES: Final = tuple(MEASUREMENT_COLUMNS)

LABEL_COLUMNS: Final[Mapping[str, Mapping[str, str]]] = {
    table: {f"REG{i}_": f"REG{i}_NAME" for i in range(1, 15)}
    for table in (T_SUBREGION_BONE, T_SUBREGION_COMPOSITION)
}
"""Per table: column prefix -> the text column naming that user-defined sub-region."""

HIP_MEASUREMENTS: Final[Mapping[str, str]] = {"AXIS_LENGTH": "cm"}
"""Columns of table Hip kept as additional measurements (hip axis length)."""


def region_measurement_columns(regions: Mapping[str, Region]) -> dict[str, str]:
    """Return the AREA/BMC/BMD columns of a region table with their units.

    Parameters
    ----------
    regions : Mapping[str, Region]
        Column prefix -> region (e.g. :data:`HIP_REGIONS`).

    Returns
    -------
    dict of str to str
        Column -> unit, for keeping a row of a scan of another type as measurements.
    """
    return _columns(regions, _AAB_UNITS)
