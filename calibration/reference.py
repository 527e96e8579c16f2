"""Versioned T- and Z-score reference tables loaded from JSON with their source and status."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "CSV_COLUMNS",
    "CSV_HEADER",
    "AgeBand",
    "ReferenceTable",
    "load_reference",
    "reference_from_csv",
    "reference_from_dict",
]

#: First line of an installable reference table in CSV form.
CSV_HEADER = "# dxa-reference-table v1"
#: Its columns: the table's metadata (the same on every row) and one age band per row.
CSV_COLUMNS = (
    "name",
    "version",
    "purpose",
    "unit_system",
    "source",
    "status",
    "region",
    "sex",
    "age_min",
    "age_max",
    "mean",
    "sd",
)

#: Sex whose young-adult reference gives T-scores for everyone (ISCD 2023, DKMS).
T_REFERENCE_SEX = "F"


@dataclass(frozen=True)
class AgeBand:
    """Reference mean and SD (g/cm2) for ages ``age_min <= age < age_max + 1``."""

    age_min: int
    age_max: int
    mean: float
    sd: float

    def contains(self, age: float) -> bool:
        """Return True when ``age`` (years, fractional allowed) falls in the band.

        Parameters
        ----------
        age : float
            Age in years.

        Returns
        -------
        bool
            ``age_min <= age < age_max + 1``.
        """
        return self.age_min <= age < self.age_max + 1


@dataclass(frozen=True)
class ReferenceTable:
    """A versioned reference table.

    ``regions`` maps region -> sex -> age bands. A T table holds one young-adult band per
    region for sex ``"F"`` (the female reference used for both sexes); a Z table holds bands
    per region and sex.
    """

    name: str
    version: str
    purpose: Literal["T", "Z"]
    unit_system: str
    source: str
    status: str
    regions: Mapping[str, Mapping[str, tuple[AgeBand, ...]]]

    def lookup(self, region: str, sex: str, age: float | None) -> tuple[float, float]:
        """Return the reference ``(mean, sd)`` for a region, sex and age.

        T tables ignore sex and age: the young-adult female reference is used for women and
        men (ISCD 2023). Z tables need sex ``"F"``/``"M"`` and an age inside a band.

        Parameters
        ----------
        region : str
            Region name, e.g. ``"femoral_neck"`` or ``"L1-L4"``.
        sex : str
            ``"F"`` or ``"M"`` (case-insensitive).
        age : float or None
            Age at the scan date in years (required for Z tables).

        Returns
        -------
        tuple of float
            ``(mean, sd)`` in g/cm2 of the table's unit system.

        Raises
        ------
        KeyError
            If the region, sex or age is not covered; the message names the table.
        """
        where = f"reference table {self.name} {self.version} ({self.purpose})"
        if region not in self.regions:
            have = ", ".join(sorted(self.regions))
            raise KeyError(f"{where} has no region {region!r}; it covers: {have}")
        by_sex = self.regions[region]
        if self.purpose == "T":
            band = by_sex[T_REFERENCE_SEX][0]
            return band.mean, band.sd
        s = sex.strip().upper()
        if s not in by_sex:
            raise KeyError(
                f"{where} has no {region} reference for sex {sex!r}; Z-scores need "
                f"{' or '.join(sorted(by_sex))}"
            )
        if age is None or not math.isfinite(age):
            raise KeyError(f"{where}: a Z-score lookup needs the age at the scan date")
        for band in by_sex[s]:
            if band.contains(age):
                return band.mean, band.sd
        bands = by_sex[s]
        raise KeyError(
            f"{where} covers {region} {s} ages {bands[0].age_min}-{bands[-1].age_max}, not {age:g}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form read by :func:`reference_from_dict`.

        Returns
        -------
        dict
            The table in the file format.
        """
        regions: dict[str, Any] = {}
        for region, by_sex in self.regions.items():
            regions[region] = {
                sex: [{"age": [b.age_min, b.age_max], "mean": b.mean, "sd": b.sd} for b in bands]
                for sex, bands in by_sex.items()
            }
        return {
            "name": self.name,
            "version": self.version,
            "purpose": self.purpose,
            "unit_system": self.unit_system,
            "source": self.source,
            "status": self.status,
            "regions": regions,
        }


def _text(data: Mapping[str, Any], key: str) -> str:
    v = data.get(key)
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"reference table field {key!r} must be a non-empty string")
    return v


def _band(raw: Any, where: str) -> AgeBand:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: each entry must be an object with age, mean and sd")
    age = raw.get("age", [20, 29])
    if (
        not isinstance(age, list)
        or len(age) != 2
        or not all(isinstance(a, int) and not isinstance(a, bool) for a in age)
        or age[0] > age[1]
    ):
        raise ValueError(f"{where}: 'age' must be [first_year, last_year], got {age!r}")
    mean, sd = raw.get("mean"), raw.get("sd")
    for label, v in (("mean", mean), ("sd", sd)):
        if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"{where}: {label} must be a positive number, got {v!r}")
    assert isinstance(mean, int | float) and isinstance(sd, int | float)
    return AgeBand(age_min=age[0], age_max=age[1], mean=float(mean), sd=float(sd))


def reference_from_dict(data: Mapping[str, Any]) -> ReferenceTable:
    """Build and validate a reference table from its JSON form.

    Format: ``name``, ``version``, ``purpose`` (``"T"``/``"Z"``), ``unit_system``, ``source``,
    ``status``, ``regions``. For T: ``regions[region] = {"F": [{"age": [20, 29], "mean": m,
    "sd": s}]}`` or the short form ``{"mean": m, "sd": s}``. For Z:
    ``regions[region][sex] = [{"age": [a, b], "mean": m, "sd": s}, ...]`` with contiguous,
    non-overlapping bands in increasing age.

    Parameters
    ----------
    data : mapping
        Parsed JSON.

    Returns
    -------
    ReferenceTable
        The validated table.

    Raises
    ------
    ValueError
        On a missing field, unknown purpose, non-positive mean or SD, or bad age bands.
    """
    purpose = _text(data, "purpose")
    if purpose not in ("T", "Z"):
        raise ValueError(f"reference table purpose must be 'T' or 'Z', got {purpose!r}")
    raw_regions = data.get("regions")
    if not isinstance(raw_regions, Mapping) or not raw_regions:
        raise ValueError("reference table 'regions' must be a non-empty object")
    regions: dict[str, Mapping[str, tuple[AgeBand, ...]]] = {}
    for region, entry in raw_regions.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"region {region!r}: expected an object")
        if purpose == "T" and "mean" in entry:
            entry = {T_REFERENCE_SEX: [entry]}
        by_sex: dict[str, tuple[AgeBand, ...]] = {}
        for sex, bands_raw in entry.items():
            where = f"region {region!r} sex {sex!r}"
            if sex not in ("F", "M"):
                raise ValueError(f"{where}: sex must be 'F' or 'M'")
            if not isinstance(bands_raw, list) or not bands_raw:
                raise ValueError(f"{where}: expected a non-empty list of age bands")
            bands = tuple(_band(b, where) for b in bands_raw)
            for prev, nxt in itertools.pairwise(bands):
                if nxt.age_min != prev.age_max + 1:
                    raise ValueError(f"{where}: age bands must be contiguous and increasing")
            by_sex[sex] = bands
        if purpose == "T" and (T_REFERENCE_SEX not in by_sex or len(by_sex["F"]) != 1):
            raise ValueError(f"T table region {region!r} needs exactly one female young-adult band")
        regions[str(region)] = MappingProxyType(by_sex)
    return ReferenceTable(
        name=_text(data, "name"),
        version=_text(data, "version"),
        purpose="T" if purpose == "T" else "Z",
        unit_system=_text(data, "unit_system"),
        source=_text(data, "source"),
        status=_text(data, "status"),
        regions=MappingProxyType(regions),
    )


def load_reference(path: Path) -> ReferenceTable:
    """Load a reference table from a JSON file.

    Parameters
    ----------
    path : Path
        The JSON file (see :func:`reference_from_dict` for the format).

    Returns
    -------
    ReferenceTable
        The validated table.

    Raises
    ------
    ValueError
        If the file is not valid JSON or fails validation (the message names the file).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, Mapping):
            raise ValueError("the file must contain a JSON object")
        return reference_from_dict(data)
    except (json.JSONDecodeError, ValueError) as exc:
        raise ValueError(f"invalid reference table {path}: {exc}") from exc


def reference_from_csv(text: str) -> ReferenceTable:
    """Build and validate a reference table from its CSV form.

    The first line is ``# dxa-reference-table v1``, the second the header
    (:data:`CSV_COLUMNS`, any order), then one row per region, sex and age band. ``name``,
    ``version``, ``purpose`` (T or Z), ``unit_system``, ``source`` and ``status`` must be the
    same on every row; a T table has one female young-adult band per region (ages 20-29 by
    convention), a Z table contiguous bands per region and sex. Example::

        # dxa-reference-table v1
        name,version,purpose,unit_system,source,status,region,sex,age_min,age_max,mean,sd
        DK spine,2027.1,T,Hologic g/cm2,Centre study 2026,verified,L1-L4,F,20,29,1.047,0.110

    Parameters
    ----------
    text : str
        The file's text (UTF-8, comma or semicolon separated).

    Returns
    -------
    ReferenceTable
        The validated table.

    Raises
    ------
    ValueError
        On a missing header or column, metadata that differs between rows, a bad number, or
        anything :func:`reference_from_dict` refuses (the message names the line).
    """
    import csv
    import io

    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip().rstrip(",;") != CSV_HEADER:
        raise ValueError(f"the first line must be {CSV_HEADER!r}")
    body = "\n".join(lines[1:])
    dialect = ";" if body.split("\n", 1)[0].count(";") > body.split("\n", 1)[0].count(",") else ","
    reader = csv.DictReader(io.StringIO(body), delimiter=dialect)
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"missing column(s): {', '.join(missing)}")
    meta_keys = ("name", "version", "purpose", "unit_system", "source", "status")
    meta: dict[str, str] | None = None
    regions: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for n, row in enumerate(reader, start=3):
        values = {k: (row.get(k) or "").strip() for k in CSV_COLUMNS}
        this = {k: values[k] for k in meta_keys}
        if meta is None:
            meta = this
        elif this != meta:
            changed = [k for k in meta_keys if this[k] != meta[k]]
            raise ValueError(f"line {n}: {', '.join(changed)} differ from the first row")
        try:
            band = {
                "age": [int(values["age_min"]), int(values["age_max"])],
                "mean": float(
                    values["mean"].replace(",", ".") if dialect == ";" else values["mean"]
                ),
                "sd": float(values["sd"].replace(",", ".") if dialect == ";" else values["sd"]),
            }
        except ValueError as exc:
            raise ValueError(f"line {n}: age, mean and sd must be numbers ({exc})") from exc
        regions.setdefault(values["region"], {}).setdefault(values["sex"].upper(), []).append(band)
    if meta is None:
        raise ValueError("the table has no rows")
    for by_sex in regions.values():
        for bands in by_sex.values():
            bands.sort(key=lambda b: b["age"][0])
    return reference_from_dict({**meta, "regions": regions})
