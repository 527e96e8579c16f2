"""Tests of the generic CSV format: writers, reader, round trips and refusals."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dxa_app.demo.csv_writers import (
    write_patient_results,
    write_phantom_certificates,
    write_phantom_scans,
    write_vfa_readings,
)
from dxa_app.domain import (
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
    SourceIdentity,
    StudyInfo,
    StudyRecord,
    VfaFinding,
    VfaLevel,
    VfaReadingRecord,
)
from dxa_app.errors import ImportProblemError
from dxa_app.ingest.base import Reader
from dxa_app.ingest.generic_csv import (
    READER,
    certificate_source_key,
    derived_study_uid,
    phantom_scan_source_key,
    read,
    scan_source_key,
    vfa_source_key,
)

# ---------------------------------------------------------------------------
# helpers

SITE = "OUH"
SCANNER = ScannerIdentity(
    Manufacturer.HOLOGIC, "Horizon A", "301234", "13.6.0.4", "DXA-1", institution_name=SITE
)


def _with_reader_keys(rec: StudyRecord) -> StudyRecord:
    """Return ``rec`` with the scan source keys, the patient scope and the identity cells.

    Issue 13: the reader also keeps the identity cells exactly as the file gave them.
    """
    scans = tuple(
        dataclasses.replace(
            s, source_key=scan_source_key(rec.study.study_uid, s.scan_type, s.side, s.acquired_at)
        )
        for s in rec.scans
    )
    p, st = rec.patient, rec.study
    identity = SourceIdentity(
        source="csv",
        patient_id=p.identifier,
        study_uid=st.study_uid,
        patient_name=p.name,
        birth_date=p.birth_date.isoformat() if p.birth_date else "",
        sex=str(p.sex) if p.sex else "",
        accession=st.accession,
        study_date=st.study_date.isoformat(),
        referring_physician=st.referrer,
    )
    scope = "" if rec.patient.id_type is IdType.CPR else f"csv:{rec.scanner.institution_name}"
    return dataclasses.replace(
        rec,
        scans=scans,
        patient=dataclasses.replace(rec.patient, scope=scope),
        source_identity=identity,
    )


def _study(uid: str = "1.2.826.0.1.3680043.2.1", cpr: str = "010150-1234") -> StudyRecord:
    t = dt.datetime(2024, 3, 5, 9, 41, 12)
    spine = ScanRecord(
        "ignored",
        ScanType.AP_SPINE,
        t,
        None,
        "Array",
        "ab",
        "13.6.0.4",
        (
            *(
                RegionResult(
                    region, 0.9 + i / 100, 10.5 + i, 14.25, -1.3 + i / 10, 0.2, region != "L3"
                )
                for i, region in enumerate((Region.L1, Region.L2, Region.L3, Region.L4))
            ),
            RegionResult(Region.L1_L4, 0.95123456789, None, None, None, None),
        ),
    )
    hip = ScanRecord(
        "ignored",
        ScanType.HIP,
        t + dt.timedelta(minutes=4),
        Side.LEFT,
        software_version="13.6.0.4",
        results=(
            RegionResult(Region.TOTAL_HIP, 0.812, vendor_t=-1.6),
            RegionResult(Region.FEMORAL_NECK, 0.701, vendor_t=-2.1, vendor_z=-0.9),
        ),
    )
    return StudyRecord(
        scanner=SCANNER,
        patient=PatientIdentity(
            cpr, IdType.CPR, 'Jensen, Ærtebjørg "Åse"', dt.date(1950, 1, 1), Sex.FEMALE
        ),
        study=StudyInfo(
            uid, dt.date(2024, 3, 5), "ACC9", "Dr. Ø", "fracture; steroids", 162.5, 58.0, True
        ),
        scans=(spine, hip),
    )


def _write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


PATIENT_HEADER = (
    "site,manufacturer,model,serial,patient_id,study_date,scan_type,side,acquired_at,"
    "region,bmd_g_cm2"
)


def _patient_file(tmp_path: Path, *rows: str, header: str = PATIENT_HEADER) -> Path:
    lines = ["# dxa-generic-csv v1 patient_results", header, *rows]
    return _write_text(tmp_path / "results.csv", "\n".join(lines) + "\n")


ROW = "OUH,HOLOGIC,Horizon A,301234,0101501234,2024-03-05,ap_spine,,2024-03-05T09:41,L1,0.912"


# ---------------------------------------------------------------------------
# format constants


def test_required_columns_are_columns_of_their_kind() -> None:
    from dxa_app import csv_spec

    assert set(csv_spec.COLUMNS) == set(csv_spec.KINDS) == set(csv_spec.REQUIRED_COLUMNS)
    for kind, required in csv_spec.REQUIRED_COLUMNS.items():
        assert required <= set(csv_spec.COLUMNS[kind])


def test_reader_satisfies_protocol() -> None:
    reader: Reader = READER
    assert reader.name == "generic_csv"


# ---------------------------------------------------------------------------
# round trips


def test_patient_results_round_trip(tmp_path: Path) -> None:
    records = [_study(), _study("1.2.3.4", "020260-2345")]
    path = write_patient_results(tmp_path / "p.csv", SITE, records)
    parsed = read(path)
    assert parsed.reader == "generic_csv"
    assert parsed.path == str(path)
    assert parsed.notes == ()
    assert parsed.studies == tuple(_with_reader_keys(r) for r in records)
    assert path.read_bytes().startswith(b"# dxa-generic-csv v1 patient_results\r\nsite,")


def test_patient_results_danish_excel_round_trip(tmp_path: Path) -> None:
    records = [_study()]
    path = write_patient_results(tmp_path / "p.csv", SITE, records, danish_excel=True)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf# dxa-generic-csv v1")
    assert b";0,9;" in raw
    assert READER.sniff(path, raw[:4096])
    assert read(path).studies == (_with_reader_keys(records[0]),)


def test_phantom_scans_round_trip(tmp_path: Path) -> None:
    esp = PhantomIdentity(PhantomKind.ESP, "ESP-145", "European spine phantom")
    lunar = ScannerIdentity(Manufacturer.GE_LUNAR, "iDXA", "200456", "18", "", "AAUH")
    at = dt.datetime(2024, 5, 2, 8, 15)
    results = tuple(
        PhantomResult(r, 0.5 + i * 0.5, 12.0 + i, 10.1)
        for i, r in enumerate((PhantomRegion.V1, PhantomRegion.V2, PhantomRegion.V3))
    )
    scans = [
        PhantomScanRecord(
            "x", esp, SCANNER, at, PhantomPurpose.TRAVELLING, results, "ESP 2024", "ab"
        ),
        PhantomScanRecord(
            "x", esp, SCANNER, at, PhantomPurpose.TRAVELLING, results[:2], "ESP 2024", "ab", False
        ),
        PhantomScanRecord(
            "x", esp, lunar, at, PhantomPurpose.DAILY_QC, (PhantomResult(PhantomRegion.TOTAL, 1.0),)
        ),
    ]
    path = write_phantom_scans(tmp_path / "ph.csv", None, scans)
    parsed = read(path)
    expected = tuple(
        dataclasses.replace(s, source_key=phantom_scan_source_key(s.scanner.serial, esp, at, no))
        for s, no in zip(scans, (1, 2, 1), strict=True)
    )
    assert parsed.phantom_scans == expected
    assert len({s.source_key for s in parsed.phantom_scans}) == 3


def test_phantom_scans_site_function(tmp_path: Path) -> None:
    esp = PhantomIdentity(PhantomKind.ESP, "ESP-145")
    scan = PhantomScanRecord(
        "x",
        esp,
        dataclasses.replace(SCANNER, institution_name=""),
        dt.datetime(2024, 5, 2, 8, 15),
        PhantomPurpose.ACCEPTANCE,
        (PhantomResult(PhantomRegion.V1, 0.5),),
    )
    path = write_phantom_scans(tmp_path / "ph.csv", lambda s: f"site-{s.serial}", [scan])
    assert read(path).phantom_scans[0].scanner.institution_name == "site-301234"


def test_certificates_round_trip(tmp_path: Path) -> None:
    esp = PhantomIdentity(PhantomKind.ESP, "ESP-145", "the travelling one")
    hol = PhantomIdentity(PhantomKind.HOLOGIC_SPINE, "HSP-1")
    certs = [
        PhantomCertificate(
            esp,
            "QRM 2019-07",
            (
                CertifiedValue(PhantomRegion.V1, 0.5, 0.01),
                CertifiedValue(PhantomRegion.V2, 1.0, 0.02),
                CertifiedValue(PhantomRegion.V3, 1.5),
            ),
        ),
        PhantomCertificate(hol, "factory", (CertifiedValue(PhantomRegion.TOTAL, 1.04),)),
    ]
    parsed = read(write_phantom_certificates(tmp_path / "c.csv", certs))
    assert parsed.certificates == tuple(
        dataclasses.replace(c, source_key=certificate_source_key(c.phantom, c.certificate_ref))
        for c in certs
    )


def test_vfa_round_trip(tmp_path: Path) -> None:
    at = dt.datetime(2024, 3, 6, 14, 0, 30)
    findings = (
        *(VfaFinding(level, 0) for level in VfaLevel if level not in (VfaLevel.T4, VfaLevel.L1)),
        VfaFinding(VfaLevel.T4, None, None, "scapula overlap"),
        VfaFinding(VfaLevel.L1, 2, Morphology.WEDGE),
    )
    readings = [
        VfaReadingRecord("x", "1.2.3", "dr. hansen", at, findings),
        VfaReadingRecord("x", "1.2.3", "dr. jensen", at, findings[:3]),
    ]
    parsed = read(write_vfa_readings(tmp_path / "v.csv", readings))
    assert parsed.vfa_readings == tuple(
        dataclasses.replace(r, source_key=vfa_source_key(r.study_uid, r.reader, r.read_at))
        for r in readings
    )


def test_rereading_gives_identical_source_keys(tmp_path: Path) -> None:
    path = _patient_file(
        tmp_path,
        ROW,
        ROW.replace(",L1,", ",L2,"),
        ROW.replace("ap_spine,,", "hip,R,").replace(",L1,", ",total_hip,"),
    )
    first, second = read(path), read(path)
    keys = [s.source_key for rec in first.studies for s in rec.scans]
    assert keys == [s.source_key for rec in second.studies for s in rec.scans]
    assert len(keys) == len(set(keys)) == 2
    assert first == second


# ---------------------------------------------------------------------------
# property test


#: Text the reader keeps as written: no control characters, and none of the bidirectional
#: formatting characters that the import removes (tests/test_safe_inputs.py).
_clean_text = st.text(
    alphabet=st.characters(
        codec="utf-8",
        exclude_categories=("Cc", "Cs", "Zl", "Zp"),
        exclude_characters="\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
        "\u2066\u2067\u2068\u2069",
    ),
    max_size=12,
).filter(lambda s: s == s.strip())
_maybe_float = st.none() | st.floats(allow_nan=False, allow_infinity=False)


def _maybe_in(low: float, high: float) -> st.SearchStrategy[float | None]:
    """A measurement in its plausible range (resources/ingest/plausible_measurements.json)."""
    return st.none() | st.floats(low, high)


_datetimes = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1))
_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1))


@st.composite
def _patients(draw: st.DrawFn) -> PatientIdentity:
    if draw(st.booleans()):
        birth = draw(_dates)
        serial = draw(st.from_regex(r"[0-9]{4}", fullmatch=True))
        identifier, id_type = birth.strftime("%d%m%y") + "-" + serial, IdType.CPR
    else:
        identifier, id_type = draw(_clean_text.filter(bool)), IdType.OTHER
    return PatientIdentity(
        identifier,
        id_type,
        draw(_clean_text),
        draw(st.none() | _dates),
        draw(st.none() | st.sampled_from(Sex)),
    )


@st.composite
def _scans(draw: st.DrawFn, software_version: str) -> ScanRecord:
    results = draw(
        st.lists(
            st.builds(
                RegionResult,
                st.sampled_from(Region),
                _maybe_in(0.05, 3.0),
                _maybe_in(0.0, 10000.0),
                _maybe_in(0.0, 5000.0),
                _maybe_in(-20.0, 20.0),
                _maybe_in(-20.0, 20.0),
                st.booleans(),
            ),
            min_size=1,
            max_size=4,
            unique_by=lambda r: r.region,
        )
    )
    return ScanRecord(
        "",
        draw(st.sampled_from(ScanType)),
        draw(_datetimes),
        draw(st.none() | st.sampled_from(Side)),
        draw(_clean_text),
        draw(_clean_text),
        software_version,
        tuple(results),
    )


@st.composite
def _studies(draw: st.DrawFn, site: str) -> StudyRecord:
    scanner = ScannerIdentity(
        draw(st.sampled_from(Manufacturer)),
        draw(_clean_text.filter(bool)),
        draw(_clean_text.filter(bool)),
        draw(_clean_text),
        draw(_clean_text),
        site,
    )
    scans = draw(
        st.lists(
            _scans(scanner.software_version),
            min_size=1,
            max_size=3,
            unique_by=lambda s: (s.scan_type, s.side, s.acquired_at),
        )
    )
    info = StudyInfo(
        draw(st.from_regex(r"1\.2\.[0-9]{1,12}", fullmatch=True)),
        draw(_dates),
        draw(_clean_text),
        draw(_clean_text),
        draw(_clean_text),
        draw(_maybe_float),
        draw(_maybe_float),
        draw(st.none() | st.booleans()),
    )
    return StudyRecord(scanner, draw(_patients()), info, tuple(scans))


@st.composite
def _study_sets(draw: st.DrawFn) -> tuple[str, list[StudyRecord]]:
    site = draw(_clean_text.filter(bool))
    studies = draw(
        st.lists(_studies(site), min_size=1, max_size=3, unique_by=lambda r: r.study.study_uid)
    )
    return site, studies


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_study_sets(), danish=st.booleans())
def test_patient_results_round_trip_property(
    tmp_path_factory: pytest.TempPathFactory, data: tuple[str, list[StudyRecord]], danish: bool
) -> None:
    site, records = data
    path = tmp_path_factory.mktemp("prop") / "p.csv"
    write_patient_results(path, site, records, danish_excel=danish)
    assert read(path).studies == tuple(_with_reader_keys(r) for r in records)


# ---------------------------------------------------------------------------
# tolerance


def test_bom_and_crlf_accepted(tmp_path: Path) -> None:
    text = "\ufeff# dxa-generic-csv v1 patient_results\r\n" + PATIENT_HEADER + "\r\n" + ROW + "\r\n"
    path = _write_text(tmp_path / "bom.csv", text)
    assert READER.sniff(path, path.read_bytes())
    (rec,) = read(path).studies
    assert rec.scans[0].results[0].bmd_g_cm2 == 0.912


def test_semicolon_and_decimal_comma(tmp_path: Path) -> None:
    lines = [
        "# dxa-generic-csv v1 patient_results;;;;;;;;;;;;",
        PATIENT_HEADER.replace(",", ";") + ";height_cm",
        ROW.replace(",", ";").replace("0.912", "0,912") + ";162,5",
        ROW.replace(",", ";").replace(";L1;0.912", ";L2;1.004") + ";162,5",
        ";;;;;;;;;;;;",
    ]
    path = _write_text(tmp_path / "excel.csv", "\n".join(lines) + "\n")
    (rec,) = read(path).studies
    assert [r.bmd_g_cm2 for r in rec.scans[0].results] == [0.912, 1.004]
    assert rec.study.height_cm == 162.5
    bad = "\n".join([*lines[:2], lines[2].replace("0,912", "1.234,5")])
    with pytest.raises(ImportProblemError, match=r"line 3, column 'bmd_g_cm2': '1\.234,5' is not"):
        read(_write_text(tmp_path / "bad.csv", bad))


def test_decimal_comma_refused_in_comma_file(tmp_path: Path) -> None:
    path = _patient_file(tmp_path, ROW.replace("0.912", "0,912"))
    with pytest.raises(ImportProblemError, match=r"results\.csv, line 3"):
        read(path)


def test_manufacturer_spellings_and_defaults(tmp_path: Path) -> None:
    path = _patient_file(
        tmp_path,
        ROW,
        ROW.replace("HOLOGIC", "GE Healthcare").replace("301234", "2").replace("0101501234", "X9"),
        ROW.replace("HOLOGIC", "Lunar").replace("301234", "3").replace("0101501234", "010150-1234"),
    )
    studies = read(path).studies
    assert [s.scanner.manufacturer for s in studies] == [
        Manufacturer.HOLOGIC,
        Manufacturer.GE_LUNAR,
        Manufacturer.GE_LUNAR,
    ]
    assert [(s.patient.identifier, s.patient.id_type) for s in studies] == [
        ("010150-1234", IdType.CPR),
        ("X9", IdType.OTHER),
        ("010150-1234", IdType.CPR),
    ]
    first = studies[0]
    assert first.scanner.institution_name == "OUH"
    assert first.patient.sex is None and first.patient.birth_date is None
    assert first.study.height_cm is None and first.study.referrer == ""
    assert first.scans[0].results[0].included is True
    assert first.scans[0].side is None


def test_empty_study_uid_is_derived_and_stable(tmp_path: Path) -> None:
    header = PATIENT_HEADER + ",study_uid"
    path = _patient_file(tmp_path, ROW + ",", ROW.replace(",L1,", ",L2,") + ",", header=header)
    (rec,) = read(path).studies
    uid = derived_study_uid("OUH", "301234", "010150-1234", dt.date(2024, 3, 5))
    assert rec.study.study_uid == uid
    assert uid.startswith("2.25.") and "0101501234" not in uid and "1234" not in uid[-4:]
    assert len(rec.scans) == 1 and len(rec.scans[0].results) == 2
    assert rec.scans[0].source_key.startswith(
        f"csv:patient_results:{uid}:ap_spine::2024-03-05T09:41"
    )


def test_unknown_extra_columns_noted_once(tmp_path: Path) -> None:
    header = PATIENT_HEADER + ",Comment,ward"
    path = _patient_file(
        tmp_path, ROW + ",hello,4", ROW.replace(",L1,", ",L2,") + ",x,5", header=header
    )
    parsed = read(path)
    assert len(parsed.notes) == 1
    assert "comment, ward" in parsed.notes[0].message
    assert len(parsed.studies[0].scans[0].results) == 2


def test_extra_comment_and_blank_lines(tmp_path: Path) -> None:
    text = (
        "# dxa-generic-csv v1 patient_results\n# exported by RIS\n\n"
        + PATIENT_HEADER
        + "\n\n"
        + ROW
        + "\n"
    )
    (rec,) = read(_write_text(tmp_path / "r.csv", text)).studies
    assert len(rec.scans[0].results) == 1


def test_windows_1252_is_read_with_a_note(tmp_path: Path) -> None:
    header = PATIENT_HEADER + ",patient_name"
    text = "\n".join(["# dxa-generic-csv v1 patient_results", header, ROW + ",Søren Ærø"]) + "\n"
    parsed = read(_write_text(tmp_path / "r.csv", text, encoding="cp1252"))
    assert parsed.studies[0].patient.name == "Søren Ærø"
    assert "Windows-1252" in parsed.notes[0].message


def test_sniff() -> None:
    assert READER.sniff(Path("a.csv"), b"# dxa-generic-csv v1 vfa_readings\n")
    assert READER.sniff(Path("a.csv"), b"\xef\xbb\xbf# dxa-generic-csv v2 whatever")
    assert not READER.sniff(Path("a.csv"), b"site,manufacturer\n")
    assert not READER.sniff(Path("a.csv"), b"\n# dxa-generic-csv v1 vfa_readings\n")
    assert not READER.sniff(Path("a.dcm"), b"\0" * 128 + b"DICM")
    assert not READER.sniff(Path("a.csv"), b"")


# ---------------------------------------------------------------------------
# refusals


def test_unknown_version_refused(tmp_path: Path) -> None:
    path = _write_text(
        tmp_path / "new.csv", "# dxa-generic-csv v2 patient_results\n" + PATIENT_HEADER
    )
    with pytest.raises(ImportProblemError, match="written by a newer version") as info:
        read(path)
    assert "new.csv" in info.value.message and info.value.remedy


def test_unknown_kind_and_missing_magic_refused(tmp_path: Path) -> None:
    path = _write_text(tmp_path / "k.csv", "# dxa-generic-csv v1 patients\n" + PATIENT_HEADER)
    with pytest.raises(ImportProblemError, match="unknown kind 'patients'"):
        read(path)
    path = _write_text(tmp_path / "plain.csv", PATIENT_HEADER + "\n" + ROW)
    with pytest.raises(ImportProblemError, match="not a generic CSV file"):
        read(path)
    with pytest.raises(ImportProblemError, match="could not be read"):
        read(tmp_path / "missing.csv")


def test_missing_required_column(tmp_path: Path) -> None:
    header = PATIENT_HEADER.replace(",region", "")
    path = _patient_file(tmp_path, ROW.replace(",L1", ""), header=header)
    with pytest.raises(ImportProblemError, match=r"results\.csv: required column 'region'"):
        read(path)


@pytest.mark.parametrize(
    ("row", "column", "fragment"),
    [
        (ROW.replace("0.912", "0.9x"), "bmd_g_cm2", "'0.9x' is not a number"),
        (ROW.replace("0.912", "nan"), "bmd_g_cm2", "'nan' is not a number"),
        (ROW.replace("2024-03-05,", "05-03-2024,"), "study_date", "is not a date"),
        (ROW.replace("T09:41", " 9.41"), "acquired_at", "is not a date and time"),
        (ROW.replace(",L1,", ",L5,"), "region", "'L5' is not one of"),
        (ROW.replace("ap_spine", "knee"), "scan_type", "'knee' is not one of"),
        (ROW.replace("HOLOGIC", "Hologc"), "manufacturer", "'Hologc' is not one of"),
        (ROW.replace("301234", ""), "serial", "a value is required"),
    ],
)
def test_bad_value_names_file_line_and_column(
    tmp_path: Path, row: str, column: str, fragment: str
) -> None:
    path = _patient_file(tmp_path, ROW.replace(",L1,", ",L2,"), row)
    with pytest.raises(ImportProblemError) as info:
        read(path)
    message = info.value.message
    assert message.startswith(f"results.csv, line 4, column '{column}'")
    assert fragment in message


def test_cpr_type_checked(tmp_path: Path) -> None:
    header = PATIENT_HEADER + ",id_type"
    path = _patient_file(tmp_path, ROW.replace("0101501234", "101501234") + ",cpr", header=header)
    with pytest.raises(ImportProblemError, match="not a CPR number"):
        read(path)


def test_duplicate_region_and_conflicting_study_refused(tmp_path: Path) -> None:
    with pytest.raises(
        ImportProblemError, match="line 4, column 'region': region L1 appears twice"
    ):
        read(_patient_file(tmp_path, ROW, ROW))
    header = PATIENT_HEADER + ",study_uid"
    other = ROW.replace("0101501234", "0202602345").replace(",L1,", ",L2,")
    with pytest.raises(ImportProblemError, match="line 4, column 'patient_id'"):
        read(_patient_file(tmp_path, ROW + ",1.2.3", other + ",1.2.3", header=header))


def test_too_many_values_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportProblemError, match="line 3: the row has 12 values"):
        read(_patient_file(tmp_path, ROW + ",surplus"))


VFA_HEADER = "study_uid,reader,read_at,level,grade,morphology,not_evaluable_reason"


def _vfa_file(tmp_path: Path, *rows: str) -> Path:
    text = "\n".join(["# dxa-generic-csv v1 vfa_readings", VFA_HEADER, *rows]) + "\n"
    return _write_text(tmp_path / "vfa.csv", text)


def test_grade_out_of_range_refused(tmp_path: Path) -> None:
    path = _vfa_file(
        tmp_path, "1.2.3,hansen,2024-03-06T14:00,T5,0,,", "1.2.3,hansen,2024-03-06T14:00,T6,5,,"
    )
    with pytest.raises(ImportProblemError, match=r"vfa\.csv, line 4, column 'grade'.*0, 1, 2 or 3"):
        read(path)


def test_vfa_missing_grade_needs_reason(tmp_path: Path) -> None:
    path = _vfa_file(tmp_path, "1.2.3,hansen,2024-03-06T14:00,T5,,,")
    with pytest.raises(ImportProblemError, match="line 3, column 'not_evaluable_reason'"):
        read(path)
    path = _vfa_file(
        tmp_path,
        "1.2.3,hansen,2024-03-06T14:00,t5,,,overlap",
        "1.2.3,hansen,2024-03-06T14:00,L1,2,Crush,",
    )
    (reading,) = read(path).vfa_readings
    assert reading.findings == (
        VfaFinding(VfaLevel.T5, None, None, "overlap"),
        VfaFinding(VfaLevel.L1, 2, Morphology.CRUSH),
    )


def test_phantom_scans_require_bmd_value(tmp_path: Path) -> None:
    header = (
        "site,manufacturer,model,serial,phantom_kind,phantom_serial,purpose,acquired_at,"
        "region,bmd_g_cm2"
    )
    row = "OUH,Hologic,Horizon A,301234,European spine phantom,ESP-1,qc,2024-05-02T08:15,L1,"
    text = "\n".join(["# dxa-generic-csv v1 phantom_scans", header, row]) + "\n"
    with pytest.raises(ImportProblemError, match="line 3, column 'bmd_g_cm2': a value is required"):
        read(_write_text(tmp_path / "ph.csv", text))
    text = text.replace(",L1,\n", ",L1,0.5\n")
    (scan,) = read(_write_text(tmp_path / "ph.csv", text)).phantom_scans
    assert scan.phantom.kind is PhantomKind.ESP
    assert scan.purpose is PhantomPurpose.DAILY_QC
    assert scan.repositioned is True and scan.round_name == ""
    assert scan.source_key.endswith(":1")


def test_no_data_rows_gives_empty_source_with_note(tmp_path: Path) -> None:
    parsed = read(_patient_file(tmp_path))
    assert parsed.studies == ()
    assert "no data rows" in parsed.notes[0].message


# ---------------------------------------------------------------------------
# the user documentation's examples are real files

DOCS = Path(__file__).resolve().parents[1] / "docs" / "generic-csv.md"


def _doc_examples() -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    return [block.split("```", 1)[0] for block in text.split("```csv\n")[1:]]


def test_documentation_examples_read(tmp_path: Path) -> None:
    examples = _doc_examples()
    assert len(examples) == 5
    parsed = [read(_write_text(tmp_path / f"ex{i}.csv", ex)) for i, ex in enumerate(examples)]
    assert all(p.notes == () for p in parsed)
    (study,) = parsed[0].studies
    assert [s.scan_type for s in study.scans] == [ScanType.AP_SPINE, ScanType.HIP]
    assert [r.included for r in study.scans[0].results] == [True, True, False, True]
    assert parsed[1].studies[0].scans[0].results[0] == study.scans[0].results[0].__class__(
        Region.L1, 0.912
    )
    assert [len(s.results) for s in parsed[2].phantom_scans] == [3, 3]
    assert [s.repositioned for s in parsed[2].phantom_scans] == [True, False]
    assert len(parsed[3].certificates[0].values) == 3
    assert parsed[4].vfa_readings[0].findings[2] == VfaFinding(VfaLevel.L1, 2, Morphology.WEDGE)
